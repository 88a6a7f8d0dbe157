// The decoder's forward pass: token embeddings, the blocks (engine/block.h: one body for every
// architecture, switches in HParams), then the final norm and the logits. A batch of n tokens
// runs every layer at once, so the weight products are matrix-matrix products; decoding one
// token is the n = 1 case. Keys and values go to the KV cache, each sequence's run of tokens
// continuing its own rows.
#include "engine/block.h"
#include "engine/context.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/dequantize.h"
#include "util/thread_pool.h"

namespace llamas {

namespace {

// The decoder's attention: each sequence's run of tokens is stored in its cache rows and
// attends over them.
class CacheAttention final : public AttentionStep {
public:
    CacheAttention(KvCache& kv, const HParams& hp, const int32_t* seq, void* scratch, size_t scratch_bytes,
                   ThreadPool& pool, Lap& lap)
        : kv_(kv), hp_(hp), seq_(seq), scratch_(scratch), scratch_bytes_(scratch_bytes), pool_(pool), lap_(lap) {
        ap_.n_head = hp.n_head;
        ap_.n_head_kv = hp.n_head_kv;
        ap_.head_dim = hp.head_dim_k;
        ap_.softcap = hp.attn_softcap;
        ap_.score_scale = hp.scale_q_first ? 1.0f : hp.attn_scale;
        ap_.mask.causal = hp.causal;
    }

    void attend(int64_t il, const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                int64_t n, float* out) override {
        const int64_t n_q = hp_.n_embd_q();
        ap_.mask.n_swa = hp_.is_swa(il) ? hp_.n_swa : 0;
        for (int64_t t0 = 0; t0 < n;) {
            const int64_t s = seq_[t0];
            int64_t t1 = t0 + 1;
            while (t1 < n && seq_[t1] == s) ++t1;
            const int64_t cnt = t1 - t0, row0 = kv_.n_rows(s);
            kv_.store_k(il, s, row0, k + t0 * kv_stride, cnt, kv_stride);
            kv_.store_v(il, s, row0, v + t0 * kv_stride, cnt, kv_stride);
            lap_(Op::kv_store);
            KvLayerView kvl;
            kvl.type = kv_.type();
            kvl.k = kv_.k_row(il, s, 0);
            kvl.v = kv_.v_row(il, s, 0);
            kvl.row_bytes = kv_.row_bytes();
            kvl.head_bytes = kv_.head_bytes();
            attention(ap_, q + t0 * q_stride, q_stride, cnt, row0, kvl, row0 + cnt, out + t0 * n_q, n_q, scratch_,
                      scratch_bytes_, pool_);
            lap_(Op::attention);
            t0 = t1;
        }
    }

private:
    KvCache& kv_;
    const HParams& hp_;
    const int32_t* seq_;
    void* scratch_;
    size_t scratch_bytes_;
    ThreadPool& pool_;
    Lap& lap_;
    AttentionParams ap_;
};

}  // namespace

void Context::forward(int64_t b, int64_t n) {
    const int32_t* tokens = tok_.data() + b;
    const int32_t* pos = pos_.data() + b;
    const int32_t* seq = seq_.data() + b;
    const int32_t* slot = slot_.data() + b;
    const HParams& hp = model_.hparams();
    const int64_t E = hp.n_embd;
    ThreadPool& pool = *pool_;
    Activations& a = *act_;

    Lap lap(profile_);  // time per kind of step, when profiling

    // Token embeddings: one stored row per token, decoded, then scaled (gemma).
    const WeightView& emb = model_.token_embd();
    for (int64_t t = 0; t < n; ++t) {
        float* row = a.x.get() + t * E;
        dequantize_row(emb.type, emb.data + static_cast<size_t>(tokens[t]) * emb.row_bytes, row, E);
        if (hp.embd_scale != 1.0f) {
            for (int64_t i = 0; i < E; ++i) row[i] *= hp.embd_scale;
        }
    }

    // RoPE angles for each token's position, for the global and the sliding-window base.
    const bool any_swa = hp.n_swa > 0;
    for (int64_t t = 0; t < n; ++t) {
        rope_cos_sin(model_.rope_params(false), pos[t], rope_cs_.data() + t * hp.n_rot);
        if (any_swa) rope_cos_sin(model_.rope_params(true), pos[t], rope_cs_swa_.data() + t * hp.n_rot);
    }
    lap(Op::embed);

    RopeRows rope;
    rope.cs = rope_cs_.data();
    rope.cs_swa = rope_cs_swa_.data();
    CacheAttention cache_attention(kv_, hp, seq, attn_scratch_.data(), attn_scratch_.size(), pool, lap);
    for (int64_t il = 0; il < hp.n_layer; ++il) run_block(model_, il, a, n, rope, cache_attention, pool, lap);

    // ---- output: final norm and logits for the tokens that keep them ----
    // Kept tokens have consecutive rows of logits_ (forward's caller numbers them in this order).
    int64_t n_out = 0, first_slot = -1;
    for (int64_t t = 0; t < n; ++t) {
        if (slot[t] < 0) continue;
        if (first_slot < 0) first_slot = slot[t];
        rms_norm(a.x.get() + t * E, model_.output_norm(), a.cur.get() + n_out * E, E, hp.norm_eps);
        ++n_out;
    }
    if (n_out == 0) return;
    float* out = logits_.data() + static_cast<size_t>(first_slot) * static_cast<size_t>(hp.n_vocab);
    matmul(model_.output(), a.cur.get(), n_out, out, a.matmul_scratch.get(), pool);
    if (hp.final_softcap > 0) softcap(out, n_out * hp.n_vocab, hp.final_softcap);
    lap(Op::output);
}

}  // namespace llamas
