#include "engine/block.h"

#include <algorithm>

#include "ops/activations.h"
#include "ops/layer_norm.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "util/thread_pool.h"

namespace llamas {

namespace {

std::unique_ptr<float[]> floats(int64_t n) { return std::unique_ptr<float[]>(new float[static_cast<size_t>(n)]); }

// rows [r0, r1) of y (width floats each) += b, when there is a b.
void add_bias(float* y, const float* b, int64_t r0, int64_t r1, int64_t width) {
    if (!b) return;
    for (int64_t t = r0; t < r1; ++t) {
        float* row = y + t * width;
        for (int64_t i = 0; i < width; ++i) row[i] += b[i];
    }
}

}  // namespace

Activations::Activations(const Model& model, int64_t n) : rows(n) {
    const HParams& hp = model.hparams();
    const int64_t E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff;
    x = floats(n * E);
    cur = floats(n * E);
    if (model.layers()[0].wqkv.data) qkv = floats(n * (n_q + 2 * n_kv));
    q = floats(n * n_q);
    k = floats(n * n_kv);
    v = floats(n * n_kv);
    attn = floats(n * n_q);
    proj = floats(n * E);
    gate = floats(n * F * (hp.fused_gate_up ? 2 : 1));
    up = floats(n * F);
    if (hp.post_layer_norm) {
        ones = floats(E);
        std::fill(ones.get(), ones.get() + E, 1.0f);
    }
    size_t mm = 0;
    for (const WeightView* w : model.matrices()) mm = std::max(mm, matmul_scratch_bytes(*w, n));
    matmul_scratch.reset(new uint8_t[mm + 64]);
}

void run_block(const Model& model, int64_t il, Activations& a, int64_t n, const RopeRows& rope, AttentionStep& attention,
               ThreadPool& pool, Lap& lap) {
    const HParams& hp = model.hparams();
    const LayerWeights& L = model.layers()[static_cast<size_t>(il)];
    const int64_t E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff, D = hp.head_dim_k;
    const bool pre_norm = !hp.post_layer_norm;
    const bool swa = hp.is_swa(il);
    void* mm = a.matmul_scratch.get();
    float *x = a.x.get(), *cur = a.cur.get(), *proj = a.proj.get(), *gate = a.gate.get(), *up = a.up.get();
    // Pre-norm blocks read the normalised rows, post-norm blocks the residual stream itself.
    const float* in = pre_norm ? cur : x;

    // A sublayer's output rows in proj (+ bias, post norm) join the residual stream: pre-norm
    // blocks add them to x and, when next_norm is given, normalise x into cur for the next
    // sublayer; post-norm blocks replace x by LayerNorm(proj + x) with (ln_w, ln_b).
    const float* ones = a.ones.get();
    auto residual = [&](const float* bias, const float* post_norm, const float* next_norm, const float* ln_w,
                        const float* ln_b) {
        parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
            add_bias(proj, bias, r0, r1, E);
            for (int64_t t = r0; t < r1; ++t) {
                float* p = proj + t * E;
                float* xt = x + t * E;
                if (post_norm) rms_norm(p, post_norm, p, E, hp.norm_eps);
                if (pre_norm) {
                    for (int64_t i = 0; i < E; ++i) xt[i] += p[i];
                    if (next_norm) rms_norm(xt, next_norm, cur + t * E, E, hp.norm_eps);
                } else {
                    for (int64_t i = 0; i < E; ++i) p[i] += xt[i];
                    layer_norm_fast(ones, p, ln_w, ln_b, xt, E, hp.norm_eps);
                }
            }
        });
    };

    // ---- attention ----
    if (pre_norm) {
        parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
            for (int64_t t = r0; t < r1; ++t) rms_norm(x + t * E, L.attn_norm, cur + t * E, E, hp.norm_eps);
        });
        lap(Op::norm);
    }
    // q, k and v rows are q_stride / kv_stride apart: one fused product writes them side by side.
    float *q, *k, *v;
    int64_t q_stride, kv_stride;
    if (L.wqkv.data) {
        const int64_t W = n_q + 2 * n_kv;
        matmul(L.wqkv, in, n, a.qkv.get(), mm, pool);
        q = a.qkv.get();
        k = q + n_q;
        v = k + n_kv;
        q_stride = kv_stride = W;
        parallel_rows(pool, n, [&](int64_t r0, int64_t r1) { add_bias(q, L.bqkv, r0, r1, W); });
    } else {
        q = a.q.get();
        k = a.k.get();
        v = a.v.get();
        q_stride = n_q;
        kv_stride = n_kv;
        const WeightView* ws[3] = {&L.wq, &L.wk, &L.wv};
        float* ys[3] = {q, k, v};
        matmul_many(ws, ys, 3, in, n, mm, pool);  // one input, one pass
        if (L.bq || L.bk || L.bv) {
            parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
                add_bias(q, L.bq, r0, r1, n_q);
                add_bias(k, L.bk, r0, r1, n_kv);
                add_bias(v, L.bv, r0, r1, n_kv);
            });
        }
    }
    lap(Op::matmul);
    // Per-head Q/K norms, RoPE and q's scale, row by row.
    const RopeParams& rp = model.rope_params(swa);
    const float* cs = swa ? rope.cs_swa : rope.cs;
    parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* qt = q + t * q_stride;
            float* kt = k + t * kv_stride;
            if (L.q_norm) rms_norm_rows(qt, L.q_norm, D, hp.n_head, D, hp.norm_eps);
            if (L.k_norm) rms_norm_rows(kt, L.k_norm, D, hp.n_head_kv, D, hp.norm_eps);
            if (hp.rope) {
                const float* c = cs + (rope.pos ? static_cast<int64_t>(rope.pos[t]) : t) * hp.n_rot;
                rope_apply(rp, c, qt, hp.n_head, D);
                rope_apply(rp, c, kt, hp.n_head_kv, D);
            }
            if (hp.scale_q_first) {
                for (int64_t i = 0; i < n_q; ++i) qt[i] *= hp.attn_scale;
            }
        }
    });
    lap(Op::rope);
    attention.attend(il, q, q_stride, k, v, kv_stride, n, a.attn.get());

    // Output projection, then the residual (and the FFN's input norm).
    matmul(L.wo, a.attn.get(), n, proj, mm, pool);
    lap(Op::matmul);
    residual(L.bo, L.attn_post_norm, L.ffn_norm, L.attn_out_norm, L.attn_out_norm_b);
    lap(Op::residual);

    // ---- feed-forward: act(gate) * up, or act(up) without a gate (bert) ----
    if (hp.fused_gate_up) {
        matmul(L.ffn_up, in, n, gate, mm, pool);
    } else if (L.ffn_gate.data) {
        const WeightView* ws[2] = {&L.ffn_gate, &L.ffn_up};
        float* ys[2] = {gate, up};
        matmul_many(ws, ys, 2, in, n, mm, pool);
    } else {
        matmul(L.ffn_up, in, n, up, mm, pool);
    }
    lap(Op::matmul);
    parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
        add_bias(up, L.ffn_up_b, r0, r1, F);
        float* u = up + r0 * F;
        if (hp.fused_gate_up) {
            for (int64_t t = r0; t < r1; ++t) {
                const float* row = gate + t * 2 * F;
                gated_activation(hp.ffn_act, row, row + F, up + t * F, F);
            }
        } else if (L.ffn_gate.data) {
            gated_activation(hp.ffn_act, gate + r0 * F, u, u, (r1 - r0) * F);
        } else {
            gelu_row(u, u, (r1 - r0) * F);
        }
    });
    lap(Op::activation);
    matmul(L.ffn_down, up, n, proj, mm, pool);
    lap(Op::matmul);
    residual(L.ffn_down_b, L.ffn_post_norm, nullptr, L.out_norm, L.out_norm_b);
    lap(Op::residual);
}

}  // namespace llamas
