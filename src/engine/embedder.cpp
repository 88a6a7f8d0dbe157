#include "engine/embedder.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/embed_weights.h"
#include "engine/model.h"
#include "ops/activations.h"
#include "ops/layer_norm.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/pooling.h"
#include "ops/rope.h"
#include "quant/dequantize.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {

namespace {

std::unique_ptr<float[]> floats(int64_t n) { return std::unique_ptr<float[]>(new float[static_cast<size_t>(n)]); }

// bert and nomic-bert: post-LayerNorm blocks, token types, a LayerNorm on the input.
bool bert_family(const HParams& hp) { return hp.arch == Arch::bert || hp.arch == Arch::nomic_bert; }

RopeParams rope_params(const Model& m, bool swa) {
    const HParams& hp = m.hparams();
    RopeParams rp;
    rp.n_rot = hp.n_rot;
    rp.layout = hp.rope_layout;
    rp.freq_scale = hp.rope_freq_scale;
    rp.freq_factors = m.rope_freqs();
    rp.base = swa ? hp.rope_base_swa : hp.rope_base;
    return rp;
}

}  // namespace

Embedder::Embedder(const Model& model, ThreadPool& pool, int64_t capacity) : model_(model), pool_(pool) {
    const HParams& hp = model.hparams();
    const EmbedWeights* ew = model.embed_weights();
    if (!hp.embedder || !ew) {
        fail(Status::unsupported, "model architecture '%s' does not produce embeddings", hp.arch_name.c_str());
    }
    capacity_ = capacity > 0 ? capacity : std::min<int64_t>(hp.n_ctx_train, 2048);
    if (hp.arch == Arch::bert) capacity_ = std::min(capacity_, ew->position_embd.n_rows);  // absolute positions
    if (capacity_ <= 0) fail(Status::invalid_argument, "embedding capacity must be positive");
    n_embd_out_ = ew->n_embd_out;

    const int64_t C = capacity_, E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff;
    tok_.reset(new int32_t[static_cast<size_t>(C)]);
    pos_.reset(new int32_t[static_cast<size_t>(C)]);
    x_ = floats(C * E);
    cur_ = floats(C * E);
    q_ = floats(C * n_q);
    k_ = floats(C * n_kv);
    v_ = floats(C * n_kv);
    attn_ = floats(C * n_q);
    proj_ = floats(C * E);
    gate_ = floats(C * F);
    up_ = floats(C * F);
    half_.reset(new uint16_t[static_cast<size_t>(C * F)]);
    pooled_ = floats(C * E);
    const int64_t d2 = ew->dense_2.data ? ew->dense_2.n_rows : 0;
    const int64_t d3 = ew->dense_3.data ? ew->dense_3.n_rows : 0;
    dense_a_ = floats(C * std::max<int64_t>(1, d2));
    dense_b_ = floats(C * std::max<int64_t>(1, d3));

    size_t mm = 0;
    for (const WeightView* w : model.matrices()) mm = std::max(mm, matmul_scratch_bytes(*w, C));
    for (const WeightView* w : {&ew->dense_2, &ew->dense_3}) {
        if (w->data) mm = std::max(mm, matmul_scratch_bytes(*w, C));
    }
    mm_scratch_.reset(new uint8_t[mm + 64]);
    attn_scratch_bytes_ = encoder_attention_scratch_bytes(C, hp.n_head_kv, hp.head_dim_k, pool.size());
    attn_scratch_.reset(new uint8_t[attn_scratch_bytes_]);

    if (model.layers()[0].wqkv.data) qkv_ = floats(C * (n_q + 2 * n_kv));
    if (bert_family(hp)) {
        ones_ = floats(E);
        std::fill(ones_.get(), ones_.get() + E, 1.0f);
        type0_ = floats(E);
        if (ew->token_types.data) {
            dequantize_row(ew->token_types.type, ew->token_types.data, type0_.get(), E);
        } else {
            std::memset(type0_.get(), 0, static_cast<size_t>(E) * sizeof(float));
        }
    }
    if (hp.arch != Arch::bert) {  // rotary positions
        const RopeParams rp = rope_params(model, false), rp_swa = rope_params(model, true);
        rope_cs_.resize(static_cast<size_t>(C * hp.n_rot));
        rope_cs_swa_.resize(static_cast<size_t>(C * hp.n_rot));
        for (int64_t p = 0; p < C; ++p) {
            rope_cos_sin(rp, p, rope_cs_.data() + p * hp.n_rot);
            rope_cos_sin(rp_swa, p, rope_cs_swa_.data() + p * hp.n_rot);
        }
    }
}

Embedder::~Embedder() = default;

template <class F>
void Embedder::parallel_rows(int64_t n, F&& f) {
    const int nt = pool_.size();
    if (nt == 1 || n < 2) {
        f(int64_t(0), n);
        return;
    }
    pool_.run([&](int ith, int nth) {
        const int64_t per = (n + nth - 1) / nth;
        const int64_t r0 = std::min(n, per * ith), r1 = std::min(n, r0 + per);
        if (r0 < r1) f(r0, r1);
    });
}

void Embedder::embed(const std::vector<std::vector<int32_t>>& texts, Pooling pooling, float* out) {
    std::vector<const int32_t*> ptrs;
    std::vector<int64_t> lens;
    for (const auto& t : texts) {
        ptrs.push_back(t.data());
        lens.push_back(static_cast<int64_t>(t.size()));
    }
    embed(ptrs.data(), lens.data(), static_cast<int64_t>(texts.size()), pooling, out);
}

void Embedder::embed(const int32_t* const* tokens, const int64_t* lengths, int64_t n_texts, Pooling pooling,
                     float* out) {
    if (pooling == Pooling::none) fail(Status::invalid_argument, "pooling 'none' gives no single vector per text");
    const int64_t n_vocab = model_.hparams().n_vocab;
    for (int64_t i = 0; i < n_texts; ++i) {
        if (lengths[i] <= 0) fail(Status::invalid_argument, "text %lld has no tokens", (long long)i);
        if (lengths[i] > capacity_) {
            fail(Status::context_full, "text %lld is %lld tokens, more than the %lld an embedding pass holds", (long long)i,
                 (long long)lengths[i], (long long)capacity_);
        }
        for (int64_t j = 0; j < lengths[i]; ++j) {
            if (tokens[i][j] < 0 || tokens[i][j] >= n_vocab) {
                fail(Status::invalid_argument, "token id %d in text %lld is outside the vocabulary (0..%lld)", tokens[i][j],
                     (long long)i, (long long)(n_vocab - 1));
            }
        }
    }
    // Pack consecutive texts while they fit.
    for (int64_t first = 0; first < n_texts;) {
        int64_t used = 0, count = 0;
        while (first + count < n_texts && used + lengths[first + count] <= capacity_) used += lengths[first + count++];
        if (cancel_ && cancel_->cancelled()) fail(Status::cancelled, "cancelled");
        run_pass(tokens, lengths, first, count, pooling, out + first * n_embd_out_);
        first += count;
    }
}

void Embedder::run_pass(const int32_t* const* tokens, const int64_t* lengths, int64_t first, int64_t n_texts,
                        Pooling pooling, float* out) {
    const HParams& hp = model_.hparams();
    const EmbedWeights& ew = *model_.embed_weights();
    spans_.clear();
    int64_t n = 0;
    for (int64_t i = 0; i < n_texts; ++i) {
        const int64_t len = lengths[first + i];
        spans_.push_back(TextSpan{n, len});
        std::memcpy(tok_.get() + n, tokens[first + i], static_cast<size_t>(len) * sizeof(int32_t));
        for (int64_t j = 0; j < len; ++j) pos_[static_cast<size_t>(n + j)] = static_cast<int32_t>(j);
        n += len;
    }

    input_embeddings(n);
    for (int64_t il = 0; il < hp.n_layer; ++il) {
        if (bert_family(hp)) {
            bert_layer(il, n);
        } else {
            gemma_layer(il, n);
        }
    }
    const int64_t E = hp.n_embd;
    if (model_.output_norm()) {
        const float* w = model_.output_norm();
        float* x = x_.get();
        parallel_rows(n, [&](int64_t r0, int64_t r1) {
            for (int64_t t = r0; t < r1; ++t) rms_norm(x + t * E, w, x + t * E, E, hp.norm_eps);
        });
    }

    // Pool, then the dense projections on the pooled rows (one GEMM per projection).
    pool_rows(pooling, x_.get(), E, spans_.data(), n_texts, pooled_.get());
    const float* cur = pooled_.get();
    int64_t width = E;
    void* mm = mm_scratch_.get();
    if (ew.dense_2.data) {
        matmul(ew.dense_2, cur, n_texts, dense_a_.get(), mm, pool_);
        width = ew.dense_2.n_rows;
        if (ew.dense_2_b) {
            for (int64_t t = 0; t < n_texts; ++t) {
                for (int64_t i = 0; i < width; ++i) dense_a_[static_cast<size_t>(t * width + i)] += ew.dense_2_b[i];
            }
        }
        cur = dense_a_.get();
    }
    if (ew.dense_3.data) {
        matmul(ew.dense_3, cur, n_texts, dense_b_.get(), mm, pool_);
        width = ew.dense_3.n_rows;
        cur = dense_b_.get();
    }
    std::memcpy(out, cur, static_cast<size_t>(n_texts * width) * sizeof(float));
}

void Embedder::input_embeddings(int64_t n) {
    const HParams& hp = model_.hparams();
    const EmbedWeights& ew = *model_.embed_weights();
    const WeightView& emb = model_.token_embd();
    const int64_t E = hp.n_embd;
    float* x = x_.get();
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* row = x + t * E;
            dequantize_row(emb.type, emb.data + static_cast<size_t>(tok_[static_cast<size_t>(t)]) * emb.row_bytes, row, E);
            if (hp.arch == Arch::bert) {
                // token + type 0 + absolute position, then LayerNorm (cur_ row as a temporary).
                float* prow = cur_.get() + t * E;
                const WeightView& pe = ew.position_embd;
                dequantize_row(pe.type, pe.data + static_cast<size_t>(pos_[static_cast<size_t>(t)]) * pe.row_bytes, prow, E);
                for (int64_t i = 0; i < E; ++i) row[i] = prow[i] + (row[i] + type0_[static_cast<size_t>(i)]);
                layer_norm(row, ew.tok_norm, ew.tok_norm_b, row, E, hp.norm_eps);
            } else if (hp.arch == Arch::nomic_bert) {
                // token + type 0, then LayerNorm (positions are rotary, applied in the layers)
                for (int64_t i = 0; i < E; ++i) row[i] += type0_[static_cast<size_t>(i)];
                layer_norm(row, ew.tok_norm, ew.tok_norm_b, row, E, hp.norm_eps);
            } else if (hp.embd_scale != 1.0f) {
                for (int64_t i = 0; i < E; ++i) row[i] *= hp.embd_scale;
            }
        }
    });
}

void Embedder::gemma_layer(int64_t il, int64_t n) {
    const HParams& hp = model_.hparams();
    const LayerWeights& L = model_.layers()[static_cast<size_t>(il)];
    const int64_t E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff, D = hp.head_dim_k;
    const bool swa = hp.is_swa(il);
    void* mm = mm_scratch_.get();
    float *x = x_.get(), *cur = cur_.get(), *q = q_.get(), *k = k_.get(), *v = v_.get();
    float *proj = proj_.get(), *gate = gate_.get(), *up = up_.get();

    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) rms_norm(x + t * E, L.attn_norm, cur + t * E, E, hp.norm_eps);
    });
    {
        const WeightView* w[3] = {&L.wq, &L.wk, &L.wv};
        float* y[3] = {q, k, v};
        matmul_many(w, y, 3, cur, n, mm, pool_);
    }

    const RopeParams rp = rope_params(model_, swa);
    const float* cs = swa ? rope_cs_swa_.data() : rope_cs_.data();
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* qt = q + t * n_q;
            float* kt = k + t * n_kv;
            if (L.q_norm) {
                for (int64_t h = 0; h < hp.n_head; ++h) rms_norm(qt + h * D, L.q_norm, qt + h * D, D, hp.norm_eps);
            }
            if (L.k_norm) {
                for (int64_t h = 0; h < hp.n_head_kv; ++h) rms_norm(kt + h * D, L.k_norm, kt + h * D, D, hp.norm_eps);
            }
            const float* c = cs + static_cast<int64_t>(pos_[static_cast<size_t>(t)]) * hp.n_rot;
            rope_apply(rp, c, qt, hp.n_head, D);
            rope_apply(rp, c, kt, hp.n_head_kv, D);
            if (hp.scale_q_first) {
                for (int64_t i = 0; i < n_q; ++i) qt[i] *= hp.attn_scale;
            }
        }
    });

    EncoderAttentionParams ap;
    ap.n_head = hp.n_head;
    ap.n_head_kv = hp.n_head_kv;
    ap.head_dim = D;
    ap.score_scale = hp.scale_q_first ? 1.0f : hp.attn_scale;
    ap.causal = hp.causal;
    ap.n_swa = swa ? hp.n_swa : 0;
    ap.swa_symmetric = hp.swa_symmetric;
    encoder_attention(ap, q, n_q, k, v, n_kv, spans_.data(), static_cast<int64_t>(spans_.size()), attn_.get(), n_q,
                      attn_scratch_.get(), attn_scratch_bytes_, pool_);

    matmul(L.wo, attn_.get(), n, proj, mm, pool_);
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* p = proj + t * E;
            float* xt = x + t * E;
            if (L.attn_post_norm) rms_norm(p, L.attn_post_norm, p, E, hp.norm_eps);
            for (int64_t i = 0; i < E; ++i) xt[i] += p[i];
            rms_norm(xt, L.ffn_norm, cur + t * E, E, hp.norm_eps);
        }
    });
    {
        const WeightView* w[2] = {&L.ffn_gate, &L.ffn_up};
        float* y[2] = {gate, up};
        matmul_many(w, y, 2, cur, n, mm, pool_);
    }
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        if (hp.ffn_act == FfnActivation::gelu) {
            gelu_mul_row(gate + r0 * F, up + r0 * F, up + r0 * F, (r1 - r0) * F, half_.get() + r0 * F);
        } else {
            gated_activation(hp.ffn_act, gate + r0 * F, up + r0 * F, up + r0 * F, (r1 - r0) * F);
        }
    });
    matmul(L.ffn_down, up, n, proj, mm, pool_);
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* p = proj + t * E;
            float* xt = x + t * E;
            if (L.ffn_post_norm) rms_norm(p, L.ffn_post_norm, p, E, hp.norm_eps);
            for (int64_t i = 0; i < E; ++i) xt[i] += p[i];
        }
    });
}

// A post-LayerNorm block. bert: separate q/k/v with biases, GELU FFN with biases. nomic-bert:
// fused q/k/v, NeoX RoPE on q and k, SwiGLU FFN, no biases (any present are added).
void Embedder::bert_layer(int64_t il, int64_t n) {
    const HParams& hp = model_.hparams();
    const LayerWeights& L = model_.layers()[static_cast<size_t>(il)];
    const BertLayerWeights& B = model_.embed_weights()->bert_layers[static_cast<size_t>(il)];
    const int64_t E = hp.n_embd, n_q = hp.n_embd_q(), n_kv = hp.n_embd_k_gqa(), F = hp.n_ff, D = hp.head_dim_k;
    void* mm = mm_scratch_.get();
    float *x = x_.get(), *proj = proj_.get(), *gate = gate_.get(), *up = up_.get();

    // q, k, v: rows q_stride / kv_stride apart (one fused product writes them side by side).
    float *q, *k, *v;
    int64_t q_stride, kv_stride;
    if (L.wqkv.data) {
        const int64_t W = n_q + 2 * n_kv;
        matmul(L.wqkv, x, n, qkv_.get(), mm, pool_);
        q = qkv_.get();
        k = q + n_q;
        v = k + n_kv;
        q_stride = kv_stride = W;
        if (L.bqkv) {
            parallel_rows(n, [&](int64_t r0, int64_t r1) {
                for (int64_t t = r0; t < r1; ++t) {
                    for (int64_t i = 0; i < W; ++i) q[t * W + i] += L.bqkv[i];
                }
            });
        }
    } else {
        q = q_.get();
        k = k_.get();
        v = v_.get();
        q_stride = n_q;
        kv_stride = n_kv;
        const WeightView* w[3] = {&L.wq, &L.wk, &L.wv};
        float* y[3] = {q, k, v};
        matmul_many(w, y, 3, x, n, mm, pool_);
        if (L.bq || L.bk || L.bv) {
            parallel_rows(n, [&](int64_t r0, int64_t r1) {
                for (int64_t t = r0; t < r1; ++t) {
                    if (L.bq) for (int64_t i = 0; i < n_q; ++i) q[t * n_q + i] += L.bq[i];
                    if (L.bk) for (int64_t i = 0; i < n_kv; ++i) k[t * n_kv + i] += L.bk[i];
                    if (L.bv) for (int64_t i = 0; i < n_kv; ++i) v[t * n_kv + i] += L.bv[i];
                }
            });
        }
    }
    if (hp.arch == Arch::nomic_bert) {
        const RopeParams rp = rope_params(model_, false);
        parallel_rows(n, [&](int64_t r0, int64_t r1) {
            for (int64_t t = r0; t < r1; ++t) {
                const float* c = rope_cs_.data() + static_cast<int64_t>(pos_[static_cast<size_t>(t)]) * hp.n_rot;
                rope_apply(rp, c, q + t * q_stride, hp.n_head, D);
                rope_apply(rp, c, k + t * kv_stride, hp.n_head_kv, D);
            }
        });
    }

    EncoderAttentionParams ap;
    ap.n_head = hp.n_head;
    ap.n_head_kv = hp.n_head_kv;
    ap.head_dim = D;
    ap.score_scale = hp.attn_scale;
    ap.causal = hp.causal;
    encoder_attention(ap, q, q_stride, k, v, kv_stride, spans_.data(), static_cast<int64_t>(spans_.size()), attn_.get(),
                      n_q, attn_scratch_.get(), attn_scratch_bytes_, pool_);

    // attention output (+ bias) + residual, LayerNorm
    matmul(L.wo, attn_.get(), n, proj, mm, pool_);
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* p = proj + t * E;
            float* xt = x + t * E;
            if (L.bo) {
                for (int64_t i = 0; i < E; ++i) p[i] = (p[i] + L.bo[i]) + xt[i];
            } else {
                for (int64_t i = 0; i < E; ++i) p[i] += xt[i];
            }
            layer_norm_fast(ones_.get(), p, B.attn_out_norm, B.attn_out_norm_b, xt, E, hp.norm_eps);
        }
    });
    // FFN: bert: up + bias, GELU; nomic-bert: silu(gate) * up. Then down (+ bias), residual,
    // LayerNorm.
    if (L.ffn_gate.data) {
        const WeightView* w[2] = {&L.ffn_gate, &L.ffn_up};
        float* y[2] = {gate, up};
        matmul_many(w, y, 2, x, n, mm, pool_);
    } else {
        matmul(L.ffn_up, x, n, up, mm, pool_);
    }
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* u = up + t * F;
            if (B.ffn_up_b) {
                for (int64_t i = 0; i < F; ++i) u[i] += B.ffn_up_b[i];
            }
            if (L.ffn_gate.data) {
                gated_activation(hp.ffn_act, gate + t * F, u, u, F);
            } else {
                gelu_row(u, u, F, half_.get() + t * F);
            }
        }
    });
    matmul(L.ffn_down, up, n, proj, mm, pool_);
    parallel_rows(n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* p = proj + t * E;
            float* xt = x + t * E;
            if (B.ffn_down_b) {
                for (int64_t i = 0; i < E; ++i) p[i] = (p[i] + B.ffn_down_b[i]) + xt[i];
            } else {
                for (int64_t i = 0; i < E; ++i) p[i] += xt[i];
            }
            layer_norm_fast(ones_.get(), p, B.out_norm, B.out_norm_b, xt, E, hp.norm_eps);
        }
    });
}

}  // namespace llamas
