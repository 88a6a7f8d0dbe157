#include "engine/context.h"

#include <algorithm>
#include <new>

#include "engine/thread_pool.h"
#include "ops/attention.h"
#include "util/error.h"

namespace llamas {

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      kv_(model.hparams(),
          params.n_ctx > 0 ? params.n_ctx : std::min<int64_t>(model.hparams().n_ctx_train, 4096),
          params.kv_type) {
    const HParams& hp = model.hparams();
    if (params_.n_ctx <= 0) params_.n_ctx = kv_.n_ctx();
    if (params_.n_threads < 1) fail(Status::invalid_argument, "n_threads must be at least 1 (got %d)", params_.n_threads);
    if (params_.n_batch <= 0) fail(Status::invalid_argument, "n_batch must be positive");
    params_.n_batch = std::min(params_.n_batch, params_.n_ctx);
    pool_ = std::make_unique<ThreadPool>(params_.n_threads);
    // An embedding model's context only lends its pool to the Embedder (api/embed_api.cpp), which
    // sizes its own buffers: none of the decoder's are needed.
    if (hp.embedder) return;

    const size_t B = static_cast<size_t>(params_.n_batch);
    const size_t n_q = static_cast<size_t>(hp.n_embd_q()), n_kv = static_cast<size_t>(hp.n_embd_k_gqa());
    try {  // a bad_alloc here would reach the caller as a bare "out of memory": say which request failed
    x_.resize(B * hp.n_embd);
    cur_.resize(B * hp.n_embd);
    if (hp.fused_qkv) qkv_.resize(B * (n_q + 2 * n_kv));
    q_.resize(B * n_q);
    k_.resize(B * n_kv);
    v_.resize(B * n_kv);
    attn_.resize(B * n_q);
    proj_.resize(B * hp.n_embd);
    gate_.resize(B * hp.n_ff * (hp.fused_gate_up ? 2 : 1));
    up_.resize(B * hp.n_ff);
    rope_cs_.resize(B * hp.n_rot);
    rope_cs_swa_.resize(B * hp.n_rot);
    logits_.resize((params_.logits_all ? B : 1) * static_cast<size_t>(hp.n_vocab));

    size_t mm = 0;
    for (const WeightView* w : model.matrices()) mm = std::max(mm, matmul_scratch_bytes(*w, params_.n_batch));
    matmul_scratch_.resize(mm + 64);

    AttentionParams ap;
    ap.n_head = hp.n_head;
    ap.n_head_kv = hp.n_head_kv;
    ap.head_dim = hp.head_dim_k;
    attn_scratch_.resize(attention_scratch_bytes(ap, params_.kv_type, params_.n_ctx, params_.n_threads));
    } catch (const std::bad_alloc&) {
        fail(Status::out_of_memory, "cannot allocate the scratch buffers for n_batch = %lld tokens (n_ctx = %lld)",
             (long long)params_.n_batch, (long long)params_.n_ctx);
    }
}

Context::~Context() = default;

void Context::set_profile(Profile* p) {
    profile_ = p;
    pool_->set_profile(p);
}

const float* Context::decode(const int32_t* tokens, int64_t n, int64_t pos0, bool all_logits) {
    const int64_t n_vocab = model_.hparams().n_vocab;
    if (model_.hparams().embedder) {
        fail(Status::unsupported, "'%s' is an embedding model: it has no logits to decode (embed texts instead)",
             model_.hparams().arch_name.c_str());
    }
    if (n <= 0) fail(Status::invalid_argument, "decode needs at least one token");
    if (pos0 < 0 || pos0 > kv_.n_past()) {
        fail(Status::invalid_argument, "decode at position %lld, but the cache holds %lld positions", (long long)pos0,
             (long long)kv_.n_past());
    }
    if (n > params_.n_ctx - pos0) {  // not pos0 + n: that could overflow for a huge n
        fail(Status::context_full, "%lld tokens at position %lld do not fit a context of %lld", (long long)n,
             (long long)pos0, (long long)params_.n_ctx);
    }
    if (all_logits && (!params_.logits_all || n > params_.n_batch)) {
        fail(Status::invalid_argument, "all-token logits need logits_all and at most n_batch (%lld) tokens",
             (long long)params_.n_batch);
    }
    for (int64_t i = 0; i < n; ++i) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            fail(Status::invalid_argument, "token id %d at index %lld is outside the vocabulary (0..%lld)", tokens[i],
                 (long long)i, (long long)(n_vocab - 1));
        }
    }
    kv_.remove_from(pos0);
    for (int64_t done = 0; done < n; done += params_.n_batch) {
        const int64_t chunk = std::min(params_.n_batch, n - done);
        const bool last_chunk = done + chunk == n;
        forward(tokens + done, chunk, pos0 + done, all_logits, last_chunk);
        kv_.set_n_past(pos0 + done + chunk);
    }
    return logits_.data();
}

}  // namespace llamas
