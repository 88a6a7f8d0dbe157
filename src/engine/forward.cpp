// The forward pass shared by every decoder architecture: switches in HParams select what each
// architecture does differently (see hparams.h). A batch of n tokens runs every layer at once,
// so the weight products are matrix-matrix products; decoding one token is the n = 1 case.
#include <algorithm>
#include <cstring>

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

void add_bias(float* y, const float* b, int64_t n_rows, int64_t width) {
    if (!b) return;
    for (int64_t t = 0; t < n_rows; ++t) {
        float* row = y + t * width;
        for (int64_t i = 0; i < width; ++i) row[i] += b[i];
    }
}

void add_rows(float* x, const float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) x[i] += y[i];
}

}  // namespace

void Context::forward(int64_t b, int64_t n) {
    const int32_t* tokens = tok_.data() + b;
    const int32_t* pos = pos_.data() + b;
    const int32_t* seq = seq_.data() + b;
    const int32_t* slot = slot_.data() + b;
    const HParams& hp = model_.hparams();
    const int64_t E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff, D = hp.head_dim_k;
    ThreadPool& pool = *pool_;
    void* mm_scratch = matmul_scratch_.data();
    auto mul = [&](const WeightView& w, const float* in, float* out, int64_t rows) {
        matmul(w, in, rows, out, mm_scratch, pool);
    };

    Lap lap(profile_);  // time per kind of step, when profiling

    // Token embeddings: one stored row per token, decoded, then scaled (gemma).
    const WeightView& emb = model_.token_embd();
    for (int64_t t = 0; t < n; ++t) {
        float* row = x_.data() + t * E;
        dequantize_row(emb.type, emb.data + static_cast<size_t>(tokens[t]) * emb.row_bytes, row, E);
        if (hp.embd_scale != 1.0f) {
            for (int64_t i = 0; i < E; ++i) row[i] *= hp.embd_scale;
        }
    }

    // RoPE angles for each token's position, for the global and the sliding-window base.
    RopeParams rp;
    rp.n_rot = hp.n_rot;
    rp.layout = hp.rope_layout;
    rp.freq_scale = hp.rope_freq_scale;
    rp.freq_factors = model_.rope_freqs();
    RopeParams rp_swa = rp;
    rp.base = hp.rope_base;
    rp_swa.base = hp.rope_base_swa;
    const bool any_swa = hp.n_swa > 0;
    for (int64_t t = 0; t < n; ++t) {
        rope_cos_sin(rp, pos[t], rope_cs_.data() + t * hp.n_rot);
        if (any_swa) rope_cos_sin(rp_swa, pos[t], rope_cs_swa_.data() + t * hp.n_rot);
    }
    lap(Op::embed);

    AttentionParams ap;
    ap.n_head = hp.n_head;
    ap.n_head_kv = hp.n_head_kv;
    ap.head_dim = D;
    ap.softcap = hp.attn_softcap;
    ap.score_scale = hp.scale_q_first ? 1.0f : hp.attn_scale;
    ap.causal = hp.causal;

    for (int64_t il = 0; il < hp.n_layer; ++il) {
        const LayerWeights& L = model_.layers()[static_cast<size_t>(il)];
        const bool swa = hp.is_swa(il);

        // ---- attention block ----
        for (int64_t t = 0; t < n; ++t) rms_norm(x_.data() + t * E, L.attn_norm, cur_.data() + t * E, E, hp.norm_eps);
        lap(Op::norm);
        if (L.wqkv.data) {
            const int64_t W = n_q + 2 * n_kv;
            mul(L.wqkv, cur_.data(), qkv_.data(), n);
            add_bias(qkv_.data(), L.bqkv, n, W);
            for (int64_t t = 0; t < n; ++t) {
                const float* row = qkv_.data() + t * W;
                std::memcpy(q_.data() + t * n_q, row, static_cast<size_t>(n_q) * sizeof(float));
                std::memcpy(k_.data() + t * n_kv, row + n_q, static_cast<size_t>(n_kv) * sizeof(float));
                std::memcpy(v_.data() + t * n_kv, row + n_q + n_kv, static_cast<size_t>(n_kv) * sizeof(float));
            }
        } else {
            const WeightView* ws[3] = {&L.wq, &L.wk, &L.wv};
            float* ys[3] = {q_.data(), k_.data(), v_.data()};
            matmul_many(ws, ys, 3, cur_.data(), n, mm_scratch, pool);  // one input, one pass
            add_bias(q_.data(), L.bq, n, n_q);
            add_bias(k_.data(), L.bk, n, n_kv);
            add_bias(v_.data(), L.bv, n, n_kv);
        }
        lap(Op::matmul);
        if (L.q_norm) rms_norm_rows(q_.data(), L.q_norm, D, n * hp.n_head, D, hp.norm_eps);
        if (L.k_norm) rms_norm_rows(k_.data(), L.k_norm, D, n * hp.n_head_kv, D, hp.norm_eps);
        lap(Op::norm);
        const RopeParams& rpl = swa ? rp_swa : rp;
        const float* cs = swa ? rope_cs_swa_.data() : rope_cs_.data();
        for (int64_t t = 0; t < n; ++t) {
            rope_apply(rpl, cs + t * hp.n_rot, q_.data() + t * n_q, hp.n_head, D);
            rope_apply(rpl, cs + t * hp.n_rot, k_.data() + t * n_kv, hp.n_head_kv, D);
        }
        if (hp.scale_q_first) {
            for (int64_t i = 0; i < n * n_q; ++i) q_[static_cast<size_t>(i)] *= hp.attn_scale;
        }
        lap(Op::rope);

        // Each sequence's run of tokens continues its own cache rows and attends over them.
        ap.n_swa = swa ? hp.n_swa : 0;
        for (int64_t t0 = 0; t0 < n;) {
            const int64_t s = seq[t0];
            int64_t t1 = t0 + 1;
            while (t1 < n && seq[t1] == s) ++t1;
            const int64_t cnt = t1 - t0, row0 = kv_.n_rows(s);
            kv_.store_k(il, s, row0, k_.data() + t0 * n_kv, cnt, n_kv);
            kv_.store_v(il, s, row0, v_.data() + t0 * n_kv, cnt, n_kv);
            lap(Op::kv_store);
            KvLayerView kvl;
            kvl.type = kv_.type();
            kvl.k = kv_.k_row(il, s, 0);
            kvl.v = kv_.v_row(il, s, 0);
            kvl.row_bytes = kv_.row_bytes();
            kvl.head_bytes = kv_.head_bytes();
            attention(ap, q_.data() + t0 * n_q, n_q, cnt, row0, kvl, row0 + cnt, attn_.data() + t0 * n_q, n_q,
                      attn_scratch_.data(), attn_scratch_.size(), pool);
            lap(Op::attention);
            t0 = t1;
        }

        mul(L.wo, attn_.data(), proj_.data(), n);
        add_bias(proj_.data(), L.bo, n, E);
        lap(Op::matmul);
        if (L.attn_post_norm) rms_norm_rows(proj_.data(), L.attn_post_norm, E, n, E, hp.norm_eps);
        add_rows(x_.data(), proj_.data(), n * E);
        lap(Op::residual);

        // ---- feed-forward block ----
        for (int64_t t = 0; t < n; ++t) rms_norm(x_.data() + t * E, L.ffn_norm, cur_.data() + t * E, E, hp.norm_eps);
        lap(Op::norm);
        if (hp.fused_gate_up) {
            mul(L.ffn_up, cur_.data(), gate_.data(), n);
            lap(Op::matmul);
            for (int64_t t = 0; t < n; ++t) {
                const float* row = gate_.data() + t * 2 * F;
                gated_activation(hp.ffn_act, row, row + F, up_.data() + t * F, F);
            }
        } else {
            const WeightView* ws[2] = {&L.ffn_gate, &L.ffn_up};
            float* ys[2] = {gate_.data(), up_.data()};
            matmul_many(ws, ys, 2, cur_.data(), n, mm_scratch, pool);
            lap(Op::matmul);
            gated_activation(hp.ffn_act, gate_.data(), up_.data(), up_.data(), n * F);
        }
        lap(Op::activation);
        mul(L.ffn_down, up_.data(), proj_.data(), n);
        lap(Op::matmul);
        if (L.ffn_post_norm) rms_norm_rows(proj_.data(), L.ffn_post_norm, E, n, E, hp.norm_eps);
        add_rows(x_.data(), proj_.data(), n * E);
        lap(Op::residual);
    }

    // ---- output: final norm and logits for the tokens that keep them ----
    // Kept tokens have consecutive rows of logits_ (forward's caller numbers them in this order).
    int64_t n_out = 0, first_slot = -1;
    for (int64_t t = 0; t < n; ++t) {
        if (slot[t] < 0) continue;
        if (first_slot < 0) first_slot = slot[t];
        rms_norm(x_.data() + t * E, model_.output_norm(), cur_.data() + n_out * E, E, hp.norm_eps);
        ++n_out;
    }
    if (n_out == 0) return;
    float* out = logits_.data() + static_cast<size_t>(first_slot) * static_cast<size_t>(hp.n_vocab);
    mul(model_.output(), cur_.data(), out, n_out);
    if (hp.final_softcap > 0) softcap(out, n_out * hp.n_vocab, hp.final_softcap);
    lap(Op::output);
}

}  // namespace llamas
