// nomic-bert (nomic-embed-text): a tiny random-weight model written with llamas' own GGUF writer
// (BERT WordPiece vocabulary borrowed from ../shared/models/bert-F16.gguf), run through the
// Embedder and compared with a plain reference forward pass written here in double precision:
// embeddings + token type 0, LayerNorm, fused QKV, NeoX RoPE, softmax attention over the text,
// output projection, residual + LayerNorm, SwiGLU, residual + LayerNorm, mean pool.
//
// Set LLAMAS_NOMIC_GGUF_DIR to keep the generated files there (for cross-checks with other
// engines); otherwise they go to a temporary directory that is removed.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cosine.h"
#include "engine/embedder.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "kernels.h"
#include "ops/pooling.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "test_data.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace {

using llamas::GgmlType;

// Shapes of the synthetic model: 4 heads of 32, GQA-free (as nomic-embed-text).
constexpr int64_t kEmbd = 128, kHeads = 4, kHeadDim = kEmbd / kHeads, kFf = 256, kLayers = 2, kTypes = 2;
constexpr float kRopeBase = 1000.0f;  // not the default 10000, so the key must be read
constexpr float kEps = 1e-12f;

// A matrix as the reference sees it: rows of n_cols values, already rounded to the stored type.
struct Mat {
    int64_t n_cols = 0, n_rows = 0;
    std::vector<float> w;
    const float* row(int64_t r) const { return w.data() + r * n_cols; }
};

struct NomicLayer {
    Mat qkv, out, gate, up, down;
    std::vector<float> attn_norm_w, attn_norm_b, out_norm_w, out_norm_b;
    std::vector<float> qkv_b, out_b, up_b, down_b;  // empty unless the model has biases
};

struct NomicWeights {
    Mat tok, types;
    std::vector<float> tok_norm_w, tok_norm_b;
    std::vector<NomicLayer> layers;
};

// Variants of the reference forward pass that must NOT match (to show the comparison can fail).
enum class Variant { exact, rope_normal_layout, no_rope, gate_up_swapped };

class Builder {
public:
    // split: separate attn_q/attn_k/attn_v tensors and biases on every projection, which
    // nomic-embed-text does not have but the newer reference loader accepts.
    Builder(GgmlType wtype, uint32_t seed, bool split = false) : wtype_(wtype), split_(split), rng_(seed) {}

    std::vector<float> vec(int64_t n, float mean, float sd) {
        std::normal_distribution<float> nd(mean, sd);
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v) x = nd(rng_);
        return v;
    }
    void add_vec(const std::string& name, const std::vector<float>& v) {
        const int64_t ne[1] = {static_cast<int64_t>(v.size())};
        w_.add_tensor(name, GgmlType::F32, 1, ne, v.data(), v.size() * sizeof(float));
    }
    // A random matrix stored in `type` (rows of n_cols); returns the values as decoded back.
    Mat add_mat(const std::string& name, int64_t n_cols, int64_t n_rows, float sd, GgmlType type) {
        Mat m{n_cols, n_rows, vec(n_cols * n_rows, 0.0f, sd)};
        const size_t rb = llamas::row_size(type, n_cols);
        std::vector<uint8_t> bytes(rb * static_cast<size_t>(n_rows));
        for (int64_t r = 0; r < n_rows; ++r) {
            llamas::quantize_row(type, m.w.data() + r * n_cols, bytes.data() + r * rb, n_cols);
            llamas::dequantize_row(type, bytes.data() + r * rb, m.w.data() + r * n_cols, n_cols);
        }
        const int64_t ne[2] = {n_cols, n_rows};
        w_.add_tensor(name, type, 2, ne, std::move(bytes));
        return m;
    }
    // The fused QKV matrix, as one tensor or as three (q, k, v rows in that order).
    Mat add_qkv(const std::string& p, float sd) {
        if (!split_) return add_mat(p + "attn_qkv.weight", kEmbd, 3 * kEmbd, sd, wtype_);
        Mat m{kEmbd, 3 * kEmbd, {}};
        for (const char* part : {"attn_q.weight", "attn_k.weight", "attn_v.weight"}) {
            const Mat one = add_mat(p + part, kEmbd, kEmbd, sd, wtype_);
            m.w.insert(m.w.end(), one.w.begin(), one.w.end());
        }
        return m;
    }
    std::vector<float> add_bias(const std::string& name, int64_t n) {
        if (!split_) return {};
        std::vector<float> b = vec(n, 0.0f, 0.2f);
        add_vec(name, b);
        return b;
    }

    NomicWeights build(const llamas::gguf::File& vocab_src, const std::string& path) {
        // The vocabulary (tokenizer.*) of the BERT test model; everything else is nomic-bert's.
        for (const auto& kv : vocab_src.metadata()) {
            if (kv.key.rfind("tokenizer.", 0) == 0) w_.copy_kv(kv);
        }
        const int64_t n_vocab = vocab_src.find_tensor("token_embd.weight")->ne[1];
        w_.set_string("general.architecture", "nomic-bert");
        w_.set_string("general.name", "synthetic-nomic-bert");
        w_.set_u32("nomic-bert.context_length", 2048);
        w_.set_u32("nomic-bert.embedding_length", kEmbd);
        w_.set_u32("nomic-bert.block_count", kLayers);
        w_.set_u32("nomic-bert.feed_forward_length", kFf);
        w_.set_u32("nomic-bert.attention.head_count", kHeads);
        w_.set_f32("nomic-bert.attention.layer_norm_epsilon", kEps);
        w_.set_bool("nomic-bert.attention.causal", false);
        w_.set_u32("nomic-bert.pooling_type", 1);  // mean
        w_.set_f32("nomic-bert.rope.freq_base", kRopeBase);
        w_.set_u32("tokenizer.ggml.token_type_count", kTypes);  // newer llama.cpp requires it
        w_.set_u32("general.file_type", wtype_ == GgmlType::F32 ? 0 : wtype_ == GgmlType::F16 ? 1 : 7);

        NomicWeights nw;
        const float s = 1.0f / std::sqrt(static_cast<float>(kEmbd));
        nw.tok = add_mat("token_embd.weight", kEmbd, n_vocab, 1.0f, wtype_);
        nw.types = add_mat("token_types.weight", kEmbd, kTypes, 0.5f, GgmlType::F32);
        nw.tok_norm_w = vec(kEmbd, 1.0f, 0.1f);
        nw.tok_norm_b = vec(kEmbd, 0.0f, 0.1f);
        add_vec("token_embd_norm.weight", nw.tok_norm_w);
        add_vec("token_embd_norm.bias", nw.tok_norm_b);
        for (int64_t il = 0; il < kLayers; ++il) {
            const std::string p = "blk." + std::to_string(il) + ".";
            NomicLayer L;
            L.qkv = add_qkv(p, 2.0f * s);  // peaked attention
            if (split_) {
                for (const char* part : {"attn_q.bias", "attn_k.bias", "attn_v.bias"}) {
                    const std::vector<float> b = add_bias(p + part, kEmbd);
                    L.qkv_b.insert(L.qkv_b.end(), b.begin(), b.end());
                }
            }
            L.out = add_mat(p + "attn_output.weight", kEmbd, kEmbd, s, wtype_);
            L.out_b = add_bias(p + "attn_output.bias", kEmbd);
            L.attn_norm_w = vec(kEmbd, 1.0f, 0.1f);
            L.attn_norm_b = vec(kEmbd, 0.0f, 0.1f);
            add_vec(p + "attn_output_norm.weight", L.attn_norm_w);
            add_vec(p + "attn_output_norm.bias", L.attn_norm_b);
            L.gate = add_mat(p + "ffn_gate.weight", kEmbd, kFf, s, wtype_);
            L.up = add_mat(p + "ffn_up.weight", kEmbd, kFf, s, wtype_);
            L.up_b = add_bias(p + "ffn_up.bias", kFf);
            L.down = add_mat(p + "ffn_down.weight", kFf, kEmbd, 1.0f / std::sqrt(static_cast<float>(kFf)), wtype_);
            L.down_b = add_bias(p + "ffn_down.bias", kEmbd);
            L.out_norm_w = vec(kEmbd, 1.0f, 0.1f);
            L.out_norm_b = vec(kEmbd, 0.0f, 0.1f);
            add_vec(p + "layer_output_norm.weight", L.out_norm_w);
            add_vec(p + "layer_output_norm.bias", L.out_norm_b);
            nw.layers.push_back(std::move(L));
        }
        w_.write(path);
        return nw;
    }

private:
    GgmlType wtype_;
    bool split_;
    std::mt19937 rng_;
    llamas::gguf::Writer w_;
};

// ---- the reference forward pass, plain loops in double ----

using Vec = std::vector<double>;

// m x (+ bias, when not empty)
Vec matvec(const Mat& m, const Vec& x, const std::vector<float>& bias = {}) {
    Vec y(static_cast<size_t>(m.n_rows), 0.0);
    for (int64_t r = 0; r < m.n_rows; ++r) {
        double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(r)];
        for (int64_t c = 0; c < m.n_cols; ++c) acc += static_cast<double>(m.row(r)[c]) * x[static_cast<size_t>(c)];
        y[static_cast<size_t>(r)] = acc;
    }
    return y;
}

void layer_norm_ref(Vec& x, const std::vector<float>& w, const std::vector<float>& b) {
    const double n = static_cast<double>(x.size());
    double mean = 0, var = 0;
    for (double v : x) mean += v;
    mean /= n;
    for (double v : x) var += (v - mean) * (v - mean);
    var /= n;
    const double inv = 1.0 / std::sqrt(var + kEps);
    for (size_t i = 0; i < x.size(); ++i) x[i] = (x[i] - mean) * inv * w[i] + b[i];
}

// Rotates one head of kHeadDim values at position pos. NeoX pairs (i, i + D/2); the normal
// layout pairs (2i, 2i + 1).
void rope_ref(double* h, int64_t pos, bool neox) {
    const int64_t half = kHeadDim / 2;
    for (int64_t i = 0; i < half; ++i) {
        const double theta = static_cast<double>(pos) * std::pow(static_cast<double>(kRopeBase), -2.0 * i / kHeadDim);
        const double c = std::cos(theta), s = std::sin(theta);
        const int64_t a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
        const double x0 = h[a], x1 = h[b];
        h[a] = x0 * c - x1 * s;
        h[b] = x0 * s + x1 * c;
    }
}

// Mean-pooled embedding of one text.
std::vector<float> reference_embedding(const NomicWeights& nw, const std::vector<int32_t>& tokens, Variant variant) {
    const size_t n = tokens.size();
    std::vector<Vec> x(n, Vec(kEmbd));
    for (size_t t = 0; t < n; ++t) {
        for (int64_t i = 0; i < kEmbd; ++i) {
            x[t][static_cast<size_t>(i)] = static_cast<double>(nw.tok.row(tokens[t])[i]) + nw.types.row(0)[i];
        }
        layer_norm_ref(x[t], nw.tok_norm_w, nw.tok_norm_b);
    }
    for (const NomicLayer& L : nw.layers) {
        std::vector<Vec> q(n), k(n), v(n);
        for (size_t t = 0; t < n; ++t) {
            const Vec qkv = matvec(L.qkv, x[t], L.qkv_b);
            q[t].assign(qkv.begin(), qkv.begin() + kEmbd);
            k[t].assign(qkv.begin() + kEmbd, qkv.begin() + 2 * kEmbd);
            v[t].assign(qkv.begin() + 2 * kEmbd, qkv.end());
            if (variant != Variant::no_rope) {
                const bool neox = variant != Variant::rope_normal_layout;
                for (int64_t h = 0; h < kHeads; ++h) {
                    rope_ref(q[t].data() + h * kHeadDim, static_cast<int64_t>(t), neox);
                    rope_ref(k[t].data() + h * kHeadDim, static_cast<int64_t>(t), neox);
                }
            }
        }
        std::vector<Vec> attn(n, Vec(kEmbd, 0.0));
        const double scale = 1.0 / std::sqrt(static_cast<double>(kHeadDim));
        for (size_t i = 0; i < n; ++i) {
            for (int64_t h = 0; h < kHeads; ++h) {
                Vec sc(n);
                double mx = -1e300;
                for (size_t j = 0; j < n; ++j) {
                    double d = 0;
                    for (int64_t e = 0; e < kHeadDim; ++e) d += q[i][static_cast<size_t>(h * kHeadDim + e)] * k[j][static_cast<size_t>(h * kHeadDim + e)];
                    sc[j] = d * scale;
                    mx = std::max(mx, sc[j]);
                }
                double sum = 0;
                for (double& s : sc) sum += (s = std::exp(s - mx));
                for (size_t j = 0; j < n; ++j) {
                    for (int64_t e = 0; e < kHeadDim; ++e) {
                        attn[i][static_cast<size_t>(h * kHeadDim + e)] += sc[j] / sum * v[j][static_cast<size_t>(h * kHeadDim + e)];
                    }
                }
            }
        }
        for (size_t t = 0; t < n; ++t) {
            const Vec o = matvec(L.out, attn[t], L.out_b);
            for (size_t i = 0; i < o.size(); ++i) x[t][i] += o[i];
            layer_norm_ref(x[t], L.attn_norm_w, L.attn_norm_b);
            Vec g = matvec(L.gate, x[t]), u = matvec(L.up, x[t], L.up_b);
            if (variant == Variant::gate_up_swapped) std::swap(g, u);
            Vec act(g.size());
            for (size_t i = 0; i < g.size(); ++i) act[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
            const Vec d = matvec(L.down, act, L.down_b);
            for (size_t i = 0; i < d.size(); ++i) x[t][i] += d[i];
            layer_norm_ref(x[t], L.out_norm_w, L.out_norm_b);
        }
    }
    std::vector<float> pooled(kEmbd);
    for (int64_t i = 0; i < kEmbd; ++i) {
        double s = 0;
        for (size_t t = 0; t < n; ++t) s += x[t][static_cast<size_t>(i)];
        pooled[static_cast<size_t>(i)] = static_cast<float>(s / static_cast<double>(n));
    }
    return pooled;
}

using llamas::test::cosine;

// Where the synthetic files go: LLAMAS_NOMIC_GGUF_DIR (kept) or a temporary directory (removed).
struct OutDir {
    std::filesystem::path dir;
    bool keep = false;
    OutDir() {
        if (const char* env = std::getenv("LLAMAS_NOMIC_GGUF_DIR"); env && *env) {
            dir = env;
            keep = true;
        } else {
            dir = std::filesystem::temp_directory_path() / ("llamas-nomic-" + std::to_string(getpid()));
        }
        std::filesystem::create_directories(dir);
    }
    ~OutDir() {
        std::error_code ec;
        if (!keep) std::filesystem::remove_all(dir, ec);
    }
};

std::vector<std::string> texts() {
    return {"hello world",
            "search_query: What is the capital of France?",
            "search_document: The quick brown fox jumps over the lazy dog while the cat sleeps on the warm "
            "windowsill, and nobody in the house seems to notice the commotion in the garden outside.",
            "Rotary position embeddings rotate pairs of query and key dimensions by an angle that grows "
            "with the position, so the product of a query and a key depends on their distance. This text "
            "is long enough that positions far from zero matter, and that the attention of each token "
            "spreads over many others in the same sequence rather than just a handful of neighbours.",
            "a"};
}

}  // namespace

TEST_SUITE("embed") {

TEST_CASE("nomic-bert matches a plain reference forward pass (F32, F16, Q8_0 weights, every kernel path)") {
    const auto vocab = llamas::gguf::File::open(llamas::test::data_path("models/bert-F16.gguf"));
    OutDir out;
    const std::string best = llamas::kernels().name;
    struct Case {
        GgmlType type;
        const char* name;
        double min_cos;
        bool split;
    };
    for (const Case& c : {Case{GgmlType::F32, "F32", 0.9999, false}, Case{GgmlType::F16, "F16", 0.9999, false},
                          Case{GgmlType::Q8_0, "Q8_0", 0.999, false}, Case{GgmlType::F16, "F16-split-biases", 0.9999, true}}) {
        CAPTURE(c.name);
        const std::string path = (out.dir / (std::string("nomic-bert-tiny-") + c.name + ".gguf")).string();
        const NomicWeights nw = Builder(c.type, 1234, c.split).build(*vocab, path);
        double worst_cos = 1, worst_wrong = -1;

        for (const char* kpath : llamas::runnable_kernel_paths()) {
            // Under a sanitizer the scalar and default paths only: the kernel tests run every
            // path there, and all of them through this model took most of the suite's time.
            if (llamas::test::under_sanitizer() && std::string(kpath) != "scalar" && kpath != best) continue;
            CAPTURE(kpath);
            llamas::use_kernels(kpath);
            auto model = llamas::Model::load(path);
            REQUIRE(model->hparams().arch == llamas::Arch::nomic_bert);
            REQUIRE(model->hparams().pooling == llamas::Pooling::mean);
            llamas::ThreadPool pool(2);
            llamas::Embedder emb(*model, pool);
            REQUIRE(emb.n_embd_out() == kEmbd);

            std::vector<std::vector<int32_t>> tokens;
            for (const std::string& t : texts()) tokens.push_back(model->tokenizer().encode(t, true, true));
            REQUIRE(tokens[3].size() > 60);
            std::vector<float> batch(tokens.size() * kEmbd), one(kEmbd);
            emb.embed(tokens, llamas::Pooling::mean, batch.data());
            for (size_t i = 0; i < tokens.size(); ++i) {
                CAPTURE(i);
                const std::vector<float> ref = reference_embedding(nw, tokens[i], Variant::exact);
                const float* got = batch.data() + i * kEmbd;
                const double cs = cosine(got, ref.data(), kEmbd);
                CHECK(cs >= c.min_cos);
                worst_cos = std::min(worst_cos, cs);
                // After L2 normalisation (what callers get with --normalize) the vectors agree too.
                std::vector<float> a(got, got + kEmbd), b = ref;
                llamas::l2_normalize(a.data(), kEmbd);
                llamas::l2_normalize(b.data(), kEmbd);
                double worst = 0;
                for (int64_t j = 0; j < kEmbd; ++j) worst = std::max(worst, std::fabs(static_cast<double>(a[j]) - b[j]));
                CHECK(worst < (c.type == GgmlType::Q8_0 ? 0.01 : 0.003));

                // One text at a time gives the same vector as the packed batch.
                emb.embed({tokens[i]}, llamas::Pooling::mean, one.data());
                CHECK(cosine(one.data(), got, kEmbd) >= 0.99999);
            }
            // The comparison can fail: a wrong RoPE layout, no RoPE, or gate and up swapped
            // give clearly different vectors on the long text.
            if (std::string(kpath) == best) {
                const float* got = batch.data() + 3 * kEmbd;
                for (Variant v : {Variant::rope_normal_layout, Variant::no_rope, Variant::gate_up_swapped}) {
                    CAPTURE(static_cast<int>(v));
                    const std::vector<float> wrong = reference_embedding(nw, tokens[3], v);
                    const double cs = cosine(got, wrong.data(), kEmbd);
                    CHECK(cs < 0.999);
                    worst_wrong = std::max(worst_wrong, cs);
                }
            }
        }
        llamas::use_kernels(best.c_str());
        char msg[160];
        std::snprintf(msg, sizeof msg, "%s: lowest cosine to the reference %.7f (wrong variants: at most %.4f)", c.name,
                      worst_cos, worst_wrong);
        MESSAGE(msg);
    }
}

TEST_CASE("nomic-bert: a missing ffn_gate or a wrong attn_qkv shape is a format error") {
    const auto vocab = llamas::gguf::File::open(llamas::test::data_path("models/bert-F16.gguf"));
    OutDir out;
    const std::string path = (out.dir / "nomic-bert-tiny-check.gguf").string();
    Builder(GgmlType::F32, 7).build(*vocab, path);
    const auto good = llamas::gguf::File::open(path);
    auto edited = [&](const std::string& drop, const std::string& reshape) {
        llamas::gguf::Writer w;
        w.copy_metadata(*good);
        for (const auto& t : good->tensors()) {
            if (t.name == drop) continue;
            int64_t ne[4] = {t.ne[0], t.ne[1], t.ne[2], t.ne[3]};
            size_t bytes = t.n_bytes;
            if (t.name == reshape) {  // one row fewer
                ne[1] -= 1;
                bytes -= static_cast<size_t>(t.n_bytes / static_cast<size_t>(t.ne[1]));
            }
            w.add_tensor_ref(t.name, t.type, t.n_dims, ne, t.data, bytes);
        }
        const std::string p = (out.dir / "edited.gguf").string();
        w.write(p);
        return p;
    };
    CHECK_NOTHROW(llamas::Model::load(path));
    for (const auto& edit : {std::pair<std::string, std::string>{"blk.1.ffn_gate.weight", ""},
                             {"", "blk.0.attn_qkv.weight"},
                             {"token_embd_norm.bias", ""}}) {
        const std::string& drop = edit.first;  // not a structured binding: CAPTURE's lambda takes it
        const std::string& reshape = edit.second;
        CAPTURE(drop);
        CAPTURE(reshape);
        try {
            llamas::Model::load(edited(drop, reshape));
            FAIL("loaded a broken model");
        } catch (const llamas::Error& e) {
            CHECK(e.status() == llamas::Status::bad_format);
        }
    }
}

}  // TEST_SUITE
