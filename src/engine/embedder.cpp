#include "engine/embedder.h"

#include <algorithm>
#include <cstring>

#include "engine/block.h"
#include "engine/embed_weights.h"
#include "engine/model.h"
#include "ops/attention.h"
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

AttentionParams attention_params(const HParams& hp) {
    AttentionParams ap;
    ap.n_head = hp.n_head;
    ap.n_head_kv = hp.n_head_kv;
    ap.head_dim = hp.head_dim_k;
    ap.score_scale = hp.scale_q_first ? 1.0f : hp.attn_scale;
    ap.mask.causal = hp.causal;
    ap.mask.swa_symmetric = hp.swa_symmetric;
    return ap;
}

// The embedder's attention: the pass's keys and values packed into F16 rows, each text of the
// pass a document that attends over its own rows.
class PackedAttention final : public AttentionStep {
public:
    PackedAttention(const HParams& hp, const std::vector<TextSpan>& spans, uint16_t* k16, uint16_t* v16, void* scratch,
                    size_t scratch_bytes, ThreadPool& pool)
        : hp_(hp), k16_(k16), v16_(v16), scratch_(scratch), scratch_bytes_(scratch_bytes), pool_(pool),
          ap_(attention_params(hp)) {
        ap_.mask.docs = spans.data();
        ap_.mask.n_docs = static_cast<int64_t>(spans.size());
    }

    void attend(int64_t il, const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride,
                int64_t n, float* out) override {
        ap_.mask.n_swa = hp_.is_swa(il) ? hp_.n_swa : 0;
        const KvLayerView rows = pack_kv_rows(k, v, kv_stride, n, hp_.n_head_kv, hp_.head_dim_k, k16_, v16_, pool_);
        attention(ap_, q, q_stride, n, 0, rows, n, out, hp_.n_embd_q(), scratch_, scratch_bytes_, pool_);
    }

private:
    const HParams& hp_;
    uint16_t* k16_;
    uint16_t* v16_;
    void* scratch_;
    size_t scratch_bytes_;
    ThreadPool& pool_;
    AttentionParams ap_;
};

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

    const int64_t C = capacity_, E = hp.n_embd;
    act_ = std::make_unique<Activations>(model, C);
    tok_.reset(new int32_t[static_cast<size_t>(C)]);
    pos_.reset(new int32_t[static_cast<size_t>(C)]);
    pooled_.reset(new float[static_cast<size_t>(C * E)]);
    const int64_t d2 = ew->dense_2.data ? ew->dense_2.n_rows : 0;
    const int64_t d3 = ew->dense_3.data ? ew->dense_3.n_rows : 0;
    dense_a_.reset(new float[static_cast<size_t>(C * std::max<int64_t>(1, d2))]);
    dense_b_.reset(new float[static_cast<size_t>(C * std::max<int64_t>(1, d3))]);
    attn_scratch_bytes_ = attention_scratch_bytes(attention_params(hp), GgmlType::F16, C, pool.size());
    attn_scratch_.reset(new uint8_t[attn_scratch_bytes_]);
    k16_.reset(new uint16_t[static_cast<size_t>(C * hp.n_head_kv * hp.head_dim_k)]);
    v16_.reset(new uint16_t[static_cast<size_t>(C * hp.n_head_kv * hp.head_dim_k)]);

    if (hp.post_layer_norm) {  // bert, nomic-bert: token type 0 is added to every token
        type0_.reset(new float[static_cast<size_t>(E)]);
        if (ew->token_types.data) {
            dequantize_row(ew->token_types.type, ew->token_types.data, type0_.get(), E);
        } else {
            std::memset(type0_.get(), 0, static_cast<size_t>(E) * sizeof(float));
        }
    }
    if (hp.rope) {  // cos/sin of every position a pass can hold
        rope_cs_.resize(static_cast<size_t>(C * hp.n_rot));
        rope_cs_swa_.resize(static_cast<size_t>(C * hp.n_rot));
        for (int64_t p = 0; p < C; ++p) {
            rope_cos_sin(model.rope_params(false), p, rope_cs_.data() + p * hp.n_rot);
            rope_cos_sin(model.rope_params(true), p, rope_cs_swa_.data() + p * hp.n_rot);
        }
    }
}

Embedder::~Embedder() = default;

const float* Embedder::last_hidden() const { return act_->x.get(); }

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
    RopeRows rope;
    rope.cs = rope_cs_.data();
    rope.cs_swa = rope_cs_swa_.data();
    rope.pos = pos_.get();
    PackedAttention attention(hp, spans_, k16_.get(), v16_.get(), attn_scratch_.get(), attn_scratch_bytes_, pool_);
    Lap lap(nullptr);
    for (int64_t il = 0; il < hp.n_layer; ++il) run_block(model_, il, *act_, n, rope, attention, pool_, lap);
    const int64_t E = hp.n_embd;
    if (model_.output_norm()) {
        const float* w = model_.output_norm();
        float* x = act_->x.get();
        parallel_rows(pool_, n, [&](int64_t r0, int64_t r1) {
            for (int64_t t = r0; t < r1; ++t) rms_norm(x + t * E, w, x + t * E, E, hp.norm_eps);
        });
    }

    // Pool, then the dense projections on the pooled rows (one GEMM per projection).
    pool_rows(pooling, act_->x.get(), E, spans_.data(), n_texts, pooled_.get());
    const float* cur = pooled_.get();
    int64_t width = E;
    void* mm = act_->matmul_scratch.get();
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
    float* x = act_->x.get();
    parallel_rows(pool_, n, [&](int64_t r0, int64_t r1) {
        for (int64_t t = r0; t < r1; ++t) {
            float* row = x + t * E;
            dequantize_row(emb.type, emb.data + static_cast<size_t>(tok_[static_cast<size_t>(t)]) * emb.row_bytes, row, E);
            if (hp.arch == Arch::bert) {
                // token + type 0 + absolute position, then LayerNorm (cur_ row as a temporary).
                float* prow = act_->cur.get() + t * E;
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

}  // namespace llamas
