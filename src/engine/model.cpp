#include "engine/model.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>

#include "engine/embed_weights.h"
#include "gguf/gguf.h"
#include "quant/dequantize.h"
#include "util/error.h"

namespace llamas {

std::unique_ptr<Model> Model::load(const std::string& path) {
    return std::make_unique<Model>(gguf::File::open(path));
}

namespace {

// Packs every matrix (pack_weight) on up to n_threads threads: each takes the next matrix not yet
// taken. The first error any thread meets is rethrown here, after all threads have finished.
// Progress is reported only from this (the loading) thread, after each matrix it packs, as the
// share of all matrices finished so far: a count that only grows, so the reports never go back.
std::vector<std::shared_ptr<const void>> pack_all(const std::vector<WeightView*>& mats, int n_threads,
                                                  const LoadProgress& progress) {
    std::vector<std::shared_ptr<const void>> owners(mats.size());
    std::atomic<size_t> next{0}, done{0};
    std::atomic<bool> cancelled{false};
    std::exception_ptr error;
    std::mutex error_mutex;
    auto work = [&](bool reporter) {
        for (;;) {
            const size_t i = next.fetch_add(1);
            if (i >= mats.size()) return;
            try {
                owners[i] = pack_weight(*mats[i]);
            } catch (...) {
                const std::lock_guard<std::mutex> lock(error_mutex);
                if (!error) error = std::current_exception();
                next = mats.size();  // the others stop after their current matrix
            }
            const size_t d = done.fetch_add(1) + 1;
            // Reports stay inside (0, 1): the caller reports the ends.
            if (reporter && progress && !progress(0.05f + 0.9f * static_cast<float>(d) / static_cast<float>(mats.size()))) {
                cancelled = true;
                next = mats.size();
                return;
            }
        }
    };
    std::vector<std::thread> threads;
    for (int t = 1; t < n_threads && static_cast<size_t>(t) < mats.size(); ++t) {
        try {
            threads.emplace_back(work, false);
        } catch (const std::system_error&) {
            break;  // fewer threads than asked for: the ones running (and this one) do the rest
        }
    }
    work(true);
    for (std::thread& t : threads) t.join();
    if (error) std::rethrow_exception(error);
    if (cancelled) fail(Status::cancelled, "model load cancelled by the progress callback");
    return owners;
}

}  // namespace

template <class Self>
auto Model::matrices_of(Self& self) {
    std::vector<decltype(&self.output_)> out;
    if (self.output_.data) out.push_back(&self.output_);  // embedding models have none
    for (auto& L : self.layers_) {
        for (auto* w : L.matrices()) {
            if (w->data) out.push_back(w);
        }
    }
    if (self.embed_) {
        for (auto* w : {&self.embed_->dense_2, &self.embed_->dense_3}) {
            if (w->data) out.push_back(w);
        }
    }
    return out;
}

Model::~Model() = default;

Model::Model(std::unique_ptr<gguf::File> file, int n_threads, const LoadProgress& progress) : file_(std::move(file)) {
    hp_ = read_hparams(*file_);
    tokenizer_ = std::make_unique<Tokenizer>(*file_);
    const int64_t n_embd = hp_.n_embd;

    const gguf::TensorInfo* te = file_->find_tensor("token_embd.weight");
    if (!te) fail(Status::bad_format, "%s model: tensor 'token_embd.weight' is missing", hp_.arch_name.c_str());
    hp_.n_vocab = te->ne[1];
    if (hp_.n_vocab <= 0) fail(Status::bad_format, "tensor 'token_embd.weight' has no rows");
    token_embd_ = matrix("token_embd.weight", n_embd, hp_.n_vocab, true);
    if (!can_dequantize(token_embd_.type)) {
        fail(Status::unsupported, "tensor 'token_embd.weight' has type %s, which llamas cannot decode", type_info(token_embd_.type).name);
    }
    if (hp_.embedder) {
        bind_embedder();
    } else {
        bind_decoder();
    }
    rope_.n_rot = hp_.n_rot;
    rope_.layout = hp_.rope_layout;
    rope_.freq_scale = hp_.rope_freq_scale;
    rope_.freq_factors = rope_freqs_;
    rope_swa_ = rope_;
    rope_.base = hp_.rope_base;
    rope_swa_.base = hp_.rope_base_swa;

    // Packed copies for the kernels' fast products (token_embd stays as stored when it is not
    // the output: embedding lookups read its rows).
    const std::vector<WeightView*> mats = matrices_of(*this);
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    for (auto& p : pack_all(mats, n_threads > 0 ? std::min(n_threads, cores) : cores, progress)) {
        if (p) packed_.push_back(std::move(p));
    }
}

void Model::bind_decoder() {
    const int64_t n_embd = hp_.n_embd;
    output_norm_ = vector("output_norm.weight", n_embd, true);
    output_ = matrix("output.weight", n_embd, hp_.n_vocab, false);
    if (!output_.data) {
        output_ = token_embd_;
        tied_ = true;
    }
    rope_freqs_ = vector("rope_freqs.weight", hp_.n_rot / 2, false);

    const int64_t n_q = hp_.n_embd_q(), n_ff = hp_.n_ff;
    layers_.resize(static_cast<size_t>(hp_.n_layer));
    for (int64_t il = 0; il < hp_.n_layer; ++il) {
        LayerWeights& L = layers_[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        L.attn_norm = vector(p + "attn_norm.weight", n_embd, true);
        bind_qkv(L, p, hp_.fused_qkv, false);
        if (hp_.qk_norm) {
            L.q_norm = vector(p + "attn_q_norm.weight", hp_.head_dim_k, true);
            L.k_norm = vector(p + "attn_k_norm.weight", hp_.head_dim_k, true);
        }
        L.wo = matrix(p + "attn_output.weight", n_q, n_embd, true);
        L.bo = vector(p + "attn_output.bias", n_embd, false);
        if (hp_.post_norms) L.attn_post_norm = vector(p + "post_attention_norm.weight", n_embd, true);

        L.ffn_norm = vector(p + "ffn_norm.weight", n_embd, true);
        if (hp_.fused_gate_up) {
            L.ffn_up = matrix(p + "ffn_up.weight", n_embd, 2 * n_ff, true);
        } else {
            L.ffn_gate = matrix(p + "ffn_gate.weight", n_embd, n_ff, true);
            L.ffn_up = matrix(p + "ffn_up.weight", n_embd, n_ff, true);
        }
        L.ffn_down = matrix(p + "ffn_down.weight", n_ff, n_embd, true);
        if (hp_.post_norms) L.ffn_post_norm = vector(p + "post_ffw_norm.weight", n_embd, true);
    }
}

void Model::bind_qkv(LayerWeights& L, const std::string& p, bool fused, bool biases_required) {
    const int64_t E = hp_.n_embd, n_q = hp_.n_embd_q(), n_kv = hp_.n_embd_k_gqa();
    if (fused) {
        L.wqkv = matrix(p + "attn_qkv.weight", E, n_q + 2 * n_kv, true);
        L.bqkv = vector(p + "attn_qkv.bias", n_q + 2 * n_kv, false);
    } else {
        L.wq = matrix(p + "attn_q.weight", E, n_q, true);
        L.wk = matrix(p + "attn_k.weight", E, n_kv, true);
        L.wv = matrix(p + "attn_v.weight", E, n_kv, true);
        L.bq = vector(p + "attn_q.bias", n_q, biases_required);
        L.bk = vector(p + "attn_k.bias", n_kv, biases_required);
        L.bv = vector(p + "attn_v.bias", n_kv, biases_required);
    }
}

WeightView Model::matrix(const std::string& name, int64_t n_cols, int64_t n_rows, bool required) {
    const gguf::TensorInfo* t = file_->find_tensor(name);
    if (!t) {
        if (required) fail(Status::bad_format, "%s model: tensor '%s' is missing", hp_.arch_name.c_str(), name.c_str());
        return WeightView{};
    }
    if (t->ne[0] != n_cols || t->ne[1] != n_rows || t->ne[2] != 1 || t->ne[3] != 1) {
        fail(Status::bad_format, "tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]", name.c_str(),
             (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3], (long long)n_cols,
             (long long)n_rows);
    }
    if (!can_multiply(t->type)) {
        fail(Status::unsupported, "tensor '%s' has type %s, which llamas cannot multiply", name.c_str(), type_info(t->type).name);
    }
    if (n_cols % type_info(t->type).block_size != 0) {
        fail(Status::bad_format, "tensor '%s': row length %lld is not a multiple of the %s block size", name.c_str(),
             (long long)n_cols, type_info(t->type).name);
    }
    return WeightView{t->type, n_cols, n_rows, row_size(t->type, n_cols), t->data};
}

const float* Model::vector(const std::string& name, int64_t n, bool required) {
    const gguf::TensorInfo* t = file_->find_tensor(name);
    if (!t) {
        if (required) fail(Status::bad_format, "%s model: tensor '%s' is missing", hp_.arch_name.c_str(), name.c_str());
        return nullptr;
    }
    if (static_cast<int64_t>(t->n_elements) != n || t->ne[0] != n) {
        fail(Status::bad_format, "tensor '%s' has %lld elements, expected a vector of %lld", name.c_str(),
             (long long)t->n_elements, (long long)n);
    }
    if (t->type == GgmlType::F32) return reinterpret_cast<const float*>(t->data);
    if (!can_dequantize(t->type) || n % type_info(t->type).block_size != 0) {
        fail(Status::unsupported, "tensor '%s' has type %s, which llamas cannot decode", name.c_str(), type_info(t->type).name);
    }
    converted_.emplace_back(new float[static_cast<size_t>(n)]);
    dequantize_row(t->type, t->data, converted_.back().get(), n);
    return converted_.back().get();
}

std::vector<const WeightView*> Model::matrices() const { return matrices_of(*this); }

}  // namespace llamas
