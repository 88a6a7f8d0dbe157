// The tiled attention (ops/attention.cpp) against a plain softmax attention written out here in
// double: random queries, keys and values; causal, windowed and non-causal masks; grouped heads;
// soft-capping; short and long (3000-position) contexts; F32, F16 and Q8_0 caches; prompt tiles
// and the one-token path that splits the key range across threads; an encoder's packed batch
// (documents side by side, symmetric windows, F16 rows from pack_kv_rows); every runnable kernel
// path.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops/attention.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "quant/types.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace llamas;

namespace {

struct Case {
    const char* name;
    int64_t n_head, n_head_kv, head_dim;
    int64_t n_tokens, pos0;  // queries at positions pos0 .. pos0 + n_tokens - 1, over pos0 + n_tokens keys
    int64_t n_swa;
    bool causal;
    float softcap;
    GgmlType kv_type;
};

std::vector<float> random_vec(size_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

// A cache of n_kv positions in the case's type, and the floats it decodes to.
struct Cache {
    std::vector<uint8_t> k, v;
    std::vector<float> kf, vf;  // decoded: [pos][kv head][d]
    size_t row_bytes = 0, head_bytes = 0;
};

Cache make_cache(const Case& c, int64_t n_kv, uint32_t seed) {
    const int64_t D = c.head_dim, per_row = c.n_head_kv * D;
    const auto k = random_vec(static_cast<size_t>(n_kv * per_row), seed, 1.0f);
    const auto v = random_vec(static_cast<size_t>(n_kv * per_row), seed + 1, 1.0f);
    Cache out;
    out.head_bytes = row_size(c.kv_type, D);
    out.row_bytes = out.head_bytes * static_cast<size_t>(c.n_head_kv);
    out.k.resize(out.row_bytes * static_cast<size_t>(n_kv));
    out.v.resize(out.k.size());
    out.kf.resize(k.size());
    out.vf.resize(v.size());
    for (int64_t i = 0; i < n_kv * c.n_head_kv; ++i) {
        const size_t off = static_cast<size_t>(i) * out.head_bytes;
        const float* ks = k.data() + i * D;
        const float* vs = v.data() + i * D;
        switch (c.kv_type) {
            case GgmlType::F32:
                std::memcpy(&out.k[off], ks, static_cast<size_t>(D) * sizeof(float));
                std::memcpy(&out.v[off], vs, static_cast<size_t>(D) * sizeof(float));
                break;
            case GgmlType::F16:
                f32_to_fp16_row(ks, reinterpret_cast<uint16_t*>(&out.k[off]), D);
                f32_to_fp16_row(vs, reinterpret_cast<uint16_t*>(&out.v[off]), D);
                break;
            default:  // Q8_0: the Q8_0 table's activation quantizer makes Q8_0 blocks
                scalar_kernels().of(c.kv_type).quantize_activations(ks, &out.k[off], D);
                scalar_kernels().of(c.kv_type).quantize_activations(vs, &out.v[off], D);
                break;
        }
        dequantize_row(c.kv_type, &out.k[off], out.kf.data() + i * D, D);
        dequantize_row(c.kv_type, &out.v[off], out.vf.data() + i * D, D);
    }
    return out;
}

// Plain attention in double: scores of every visible key, softmax, weighted values. The query is
// rounded to the cache's dot-product type first, as attention() documents.
std::vector<double> reference(const Case& c, const std::vector<float>& q, int64_t q_stride, const Cache& kv) {
    const int64_t D = c.head_dim, n_kv = c.pos0 + c.n_tokens, group = c.n_head / c.n_head_kv;
    const TypeKernels& tk = scalar_kernels().of(c.kv_type);
    std::vector<uint8_t> qconv(row_size(tk.vec_dot_type, D));
    std::vector<float> qr(static_cast<size_t>(D));
    std::vector<double> out(static_cast<size_t>(c.n_tokens * c.n_head * D), 0.0), w(static_cast<size_t>(n_kv));
    for (int64_t t = 0; t < c.n_tokens; ++t) {
        const int64_t qpos = c.pos0 + t;
        for (int64_t h = 0; h < c.n_head; ++h) {
            const float* qs = q.data() + t * q_stride + h * D;
            if (tk.vec_dot_type == GgmlType::F32) {
                std::copy(qs, qs + D, qr.begin());
            } else {
                tk.quantize_activations(qs, qconv.data(), D);
                dequantize_row(tk.vec_dot_type, qconv.data(), qr.data(), D);
            }
            const int64_t kh = h / group;
            double mx = -INFINITY;
            for (int64_t j = 0; j < n_kv; ++j) {
                const bool visible = (!c.causal || j <= qpos) && (c.n_swa == 0 || qpos - j < c.n_swa);
                if (!visible) {
                    w[j] = -INFINITY;
                    continue;
                }
                double s = 0;
                for (int64_t d = 0; d < D; ++d) s += double(qr[d]) * kv.kf[(j * c.n_head_kv + kh) * D + d];
                if (c.softcap > 0) s = c.softcap * std::tanh(s / c.softcap);
                w[j] = s / std::sqrt(double(D));
                mx = std::max(mx, w[j]);
            }
            double sum = 0;
            for (int64_t j = 0; j < n_kv; ++j) {
                w[j] = w[j] == -INFINITY ? 0.0 : std::exp(w[j] - mx);
                sum += w[j];
            }
            double* o = out.data() + (t * c.n_head + h) * D;
            for (int64_t j = 0; j < n_kv; ++j) {
                if (w[j] == 0) continue;
                const float* vr = kv.vf.data() + (j * c.n_head_kv + kh) * D;
                for (int64_t d = 0; d < D; ++d) o[d] += w[j] / sum * vr[d];
            }
        }
    }
    return out;
}

void check_case(const Case& c, uint32_t seed) {
    INFO(c.name);
    const int64_t D = c.head_dim, n_kv = c.pos0 + c.n_tokens;
    // Strides wider than a token's heads, to catch stride mix-ups.
    const int64_t q_stride = c.n_head * D + 8, out_stride = c.n_head * D + 24;
    const auto q = random_vec(static_cast<size_t>(c.n_tokens * q_stride), seed, 2.0f);
    const Cache kv = make_cache(c, n_kv, seed + 10);
    const std::vector<double> ref = reference(c, q, q_stride, kv);
    // Outputs are averages of values: judge errors against the values' range.
    const auto [vmin, vmax] = std::minmax_element(kv.vf.begin(), kv.vf.end());
    const double range = double(*vmax) - double(*vmin);

    AttentionParams p;
    p.n_head = c.n_head;
    p.n_head_kv = c.n_head_kv;
    p.head_dim = D;
    p.score_scale = static_cast<float>(1.0 / std::sqrt(double(D)));
    p.softcap = c.softcap;
    p.mask.n_swa = c.n_swa;
    p.mask.causal = c.causal;
    KvLayerView view;
    view.type = c.kv_type;
    view.k = kv.k.data();
    view.v = kv.v.data();
    view.row_bytes = kv.row_bytes;
    view.head_bytes = kv.head_bytes;

    const std::string best = kernels().name;
    for (int threads : {1, 2}) {
        ThreadPool pool(threads);
        std::vector<uint8_t> scratch(attention_scratch_bytes(p, c.kv_type, n_kv, threads));
        for (const char* path : runnable_kernel_paths()) {
            use_kernels(path);
            CAPTURE(path);
            CAPTURE(threads);
            std::vector<float> out(static_cast<size_t>(c.n_tokens * out_stride), 12345.0f);
            attention(p, q.data(), q_stride, c.n_tokens, c.pos0, view, n_kv, out.data(), out_stride, scratch.data(),
                      scratch.size(), pool);
            double worst = 0;
            for (int64_t t = 0; t < c.n_tokens; ++t) {
                for (int64_t i = 0; i < c.n_head * D; ++i) {
                    worst = std::max(worst, std::abs(double(out[t * out_stride + i]) - ref[t * c.n_head * D + i]));
                }
                // The gap between tokens' outputs is left alone.
                for (int64_t i = c.n_head * D; i < out_stride; ++i) CHECK(out[t * out_stride + i] == 12345.0f);
            }
            CHECK(worst <= 1e-5 * range);
        }
    }
    use_kernels(best.c_str());
}

}  // namespace

TEST_SUITE("decoder") {

TEST_CASE("tiled attention matches plain softmax attention") {
    const Case cases[] = {
        // name                                   H  HKV  D   tokens pos0 swa  causal cap  cache
        {"prompt, GQA 4:1, F32", 8, 2, 64, 100, 0, 0, true, 0.0f, GgmlType::F32},
        {"prompt, GQA 4:1, F16", 8, 2, 64, 100, 0, 0, true, 0.0f, GgmlType::F16},
        {"prompt after a long context, F16", 4, 2, 128, 37, 2963, 0, true, 0.0f, GgmlType::F16},
        {"prompt after a long context, F32, window", 4, 2, 128, 37, 2963, 1000, true, 0.0f, GgmlType::F32},
        {"sliding window 8 + soft-cap, F16", 4, 2, 128, 50, 20, 8, true, 50.0f, GgmlType::F16},
        {"multi-head, odd head size, F32", 3, 3, 36, 70, 5, 0, true, 0.0f, GgmlType::F32},
        {"multi-head, odd head size, F16", 3, 3, 36, 70, 5, 0, true, 0.0f, GgmlType::F16},
        {"non-causal with a window", 4, 1, 32, 40, 0, 6, false, 0.0f, GgmlType::F32},
        {"Q8_0 cache", 4, 2, 64, 45, 30, 0, true, 0.0f, GgmlType::Q8_0},
        {"one token at 3000, 1 KV head (split keys)", 8, 1, 64, 1, 2999, 0, true, 0.0f, GgmlType::F16},
        {"one token at 3000, 8 KV heads, F32", 32, 8, 64, 1, 2999, 0, true, 0.0f, GgmlType::F32},
        {"one token at 3000, split keys, window, soft-cap", 2, 1, 128, 1, 2999, 1500, true, 30.0f, GgmlType::F16},
        {"two tokens at 3000, split keys, Q8_0", 4, 1, 64, 2, 2998, 0, true, 0.0f, GgmlType::Q8_0},
        {"one token, first position", 4, 2, 64, 1, 0, 0, true, 0.0f, GgmlType::F16},
        {"one token, 7 heads on 1 KV head, odd head size, F16", 7, 1, 40, 1, 700, 0, true, 0.0f, GgmlType::F16},
        {"one token, 7 heads on 1 KV head, odd head size, F32", 7, 1, 40, 1, 700, 0, true, 0.0f, GgmlType::F32},
        {"three tokens, multi-head, soft-cap", 5, 5, 48, 3, 300, 100, true, 20.0f, GgmlType::F16},
    };
    uint32_t seed = 100;
    for (const Case& c : cases) check_case(c, seed += 7);
}

TEST_CASE("packed documents: each text attends only within itself") {
    // Texts short and long with a gap row between two of them (a query in no document gets
    // zeros), GQA 4:2, bidirectional, with a symmetric window, and causal; K/V packed into F16
    // rows as the embedder does; on every kernel path and 1 or 2 threads.
    const int64_t H = 4, HKV = 2, D = 16;
    const std::vector<TextSpan> docs = {{0, 5}, {5, 40}, {45, 150}, {196, 1}, {197, 33}};  // row 195: no document
    const int64_t n = 230;
    const auto q = random_vec(static_cast<size_t>(n * H * D), 3, 1.0f);
    const auto k = random_vec(static_cast<size_t>(n * HKV * D), 4, 1.0f);
    const auto v = random_vec(static_cast<size_t>(n * HKV * D), 5, 1.0f);
    auto half = [](float x) { return double(fp16_to_f32(f32_to_fp16(x))); };  // rows and queries are F16
    const std::string best = kernels().name;
    for (int variant = 0; variant < 3; ++variant) {
        AttentionParams p;
        p.n_head = H;
        p.n_head_kv = HKV;
        p.head_dim = D;
        p.score_scale = 0.25f;
        p.mask.causal = variant == 2;
        p.mask.n_swa = variant == 1 ? 8 : 0;
        p.mask.swa_symmetric = true;
        p.mask.docs = docs.data();
        p.mask.n_docs = static_cast<int64_t>(docs.size());
        std::vector<double> ref(static_cast<size_t>(n * H * D), 0.0);
        for (const TextSpan& ts : docs) {
            for (int64_t i = 0; i < ts.n; ++i) {
                for (int64_t h = 0; h < H; ++h) {
                    std::vector<double> w(static_cast<size_t>(ts.n), 0.0);
                    auto visible = [&](int64_t j) {
                        return (!p.mask.causal || j <= i) && (p.mask.n_swa == 0 || std::abs(i - j) <= p.mask.n_swa / 2);
                    };
                    double mx = -1e300, sum = 0;
                    for (int64_t j = 0; j < ts.n; ++j) {
                        if (!visible(j)) continue;
                        double s = 0;
                        for (int64_t d = 0; d < D; ++d) {
                            s += half(q[(ts.start + i) * H * D + h * D + d]) * half(k[(ts.start + j) * HKV * D + (h / 2) * D + d]);
                        }
                        w[j] = s * p.score_scale;
                        mx = std::max(mx, w[j]);
                    }
                    for (int64_t j = 0; j < ts.n; ++j) {
                        w[j] = visible(j) ? std::exp(w[j] - mx) : 0.0;
                        sum += w[j];
                    }
                    for (int64_t d = 0; d < D; ++d) {
                        double o = 0;
                        for (int64_t j = 0; j < ts.n; ++j) o += w[j] / sum * half(v[(ts.start + j) * HKV * D + (h / 2) * D + d]);
                        ref[(ts.start + i) * H * D + h * D + d] = o;
                    }
                }
            }
        }
        for (int threads : {1, 2}) {
            ThreadPool pool(threads);
            std::vector<uint16_t> k16(k.size()), v16(v.size());
            const KvLayerView rows = pack_kv_rows(k.data(), v.data(), HKV * D, n, HKV, D, k16.data(), v16.data(), pool);
            std::vector<uint8_t> scratch(attention_scratch_bytes(p, GgmlType::F16, n, threads));
            for (const char* path : runnable_kernel_paths()) {
                use_kernels(path);
                std::vector<float> out(static_cast<size_t>(n * H * D), 12345.0f);
                attention(p, q.data(), H * D, n, 0, rows, n, out.data(), H * D, scratch.data(), scratch.size(), pool);
                double worst = 0;
                for (size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(double(out[i]) - ref[i]));
                CAPTURE(variant);
                CAPTURE(path);
                CAPTURE(threads);
                CHECK(worst < 1e-5);
            }
        }
    }
    use_kernels(best.c_str());
}

TEST_CASE("attention refuses documents out of order") {
    AttentionParams p;
    p.n_head = p.n_head_kv = 1;
    p.head_dim = 16;
    const std::vector<TextSpan> docs = {{4, 4}, {2, 2}};
    p.mask.docs = docs.data();
    p.mask.n_docs = 2;
    ThreadPool pool(1);
    std::vector<float> q(8 * 16, 1.0f), out(8 * 16);
    std::vector<uint16_t> k16(8 * 16), v16(8 * 16);
    const KvLayerView rows = pack_kv_rows(q.data(), q.data(), 16, 8, 1, 16, k16.data(), v16.data(), pool);
    std::vector<uint8_t> scratch(attention_scratch_bytes(p, GgmlType::F16, 8, 1));
    CHECK_THROWS_AS(attention(p, q.data(), 16, 8, 0, rows, 8, out.data(), 16, scratch.data(), scratch.size(), pool), Error);
}

TEST_CASE("attention scratch does not grow with the context") {
    AttentionParams p;
    p.n_head = 32;
    p.n_head_kv = 8;
    p.head_dim = 64;
    CHECK(attention_scratch_bytes(p, GgmlType::F16, 131072, 2) == attention_scratch_bytes(p, GgmlType::F16, 512, 2));
}

}  // TEST_SUITE
