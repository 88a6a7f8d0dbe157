#include "engine/context.h"

#include <algorithm>
#include <new>

#include "engine/block.h"
#include "ops/attention.h"
#include "util/cancel.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {

Context::Context(const Model& model, const ContextParams& params)
    : model_(model),
      params_(params),
      kv_(model.hparams(),
          params.n_ctx > 0 ? params.n_ctx : std::min<int64_t>(model.hparams().n_ctx_train, 4096),
          params.kv_type, params.n_seq) {
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
    try {  // a bad_alloc here would reach the caller as a bare "out of memory": say which request failed
    act_ = std::make_unique<Activations>(model, params_.n_batch);
    rope_cs_.resize(B * hp.n_rot);
    rope_cs_swa_.resize(B * hp.n_rot);
    // One logits row per sequence covers one decode step of every sequence; more grows on demand.
    logits_.resize((params_.logits_all ? std::max<size_t>(B, params_.n_seq) : params_.n_seq) *
                   static_cast<size_t>(hp.n_vocab));
    for (auto* v : {&tok_, &pos_, &seq_, &slot_, &slot_of_, &pos_in_, &pos_arg_}) v->reserve(B);
    want_in_.reserve(B);
    seq_count_.assign(static_cast<size_t>(params_.n_seq), 0);
    seq_next_.assign(static_cast<size_t>(params_.n_seq), 0);

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
    pos_arg_.resize(static_cast<size_t>(n));
    want_in_.assign(static_cast<size_t>(n), all_logits ? 1 : 0);
    want_in_.back() = 1;
    for (int64_t t = 0; t < n; ++t) pos_arg_[static_cast<size_t>(t)] = static_cast<int32_t>(pos0 + t);
    Batch b;
    b.tokens = tokens;
    b.pos = pos_arg_.data();
    b.want = want_in_.data();
    b.n = n;
    decode_batch(b);
    return all_logits ? output(0) : last_out_;
}

void Context::decode_batch(const Batch& b, const CancelToken* cancel) {
    const HParams& hp = model_.hparams();
    const int64_t n = b.n, n_seq = params_.n_seq;
    if (hp.embedder) {
        fail(Status::unsupported, "'%s' is an embedding model: it has no logits to decode (embed texts instead)",
             hp.arch_name.c_str());
    }
    if (n <= 0) fail(Status::invalid_argument, "decode needs at least one token");
    if (!b.tokens) fail(Status::invalid_argument, "the batch has no tokens");

    // ---- check everything before touching the cache ----
    std::fill(seq_count_.begin(), seq_count_.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
        const int32_t t = b.tokens[i];
        if (t < 0 || t >= hp.n_vocab)
            fail(Status::invalid_argument, "token id %d at index %lld is outside the vocabulary (0..%lld)", t,
                 (long long)i, (long long)(hp.n_vocab - 1));
        const int32_t s = b.seq ? b.seq[i] : 0;
        if (s < 0 || s >= n_seq)
            fail(Status::invalid_argument, "sequence id %d at index %lld is outside 0..%lld", s, (long long)i,
                 (long long)(n_seq - 1));
        ++seq_count_[static_cast<size_t>(s)];
    }
    // Each sequence's positions: given or continuing, increasing; the first decides which cached
    // rows are dropped, and the rows that stay plus the new ones must fit n_ctx.
    constexpr int32_t kUnset = -1;
    std::fill(seq_next_.begin(), seq_next_.end(), kUnset);  // last position seen in this batch
    pos_in_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
        const size_t s = static_cast<size_t>(b.seq ? b.seq[i] : 0);
        const int32_t prev = seq_next_[s];
        int64_t p;
        if (b.pos) {
            p = b.pos[i];
        } else {
            p = prev == kUnset ? kv_.next_pos(static_cast<int64_t>(s)) : int64_t{prev} + 1;
        }
        if (p < 0 || p >= (int64_t{1} << 30))
            fail(Status::invalid_argument, "position %lld at index %lld is outside 0..2^30", (long long)p, (long long)i);
        if (prev != kUnset && p <= prev)
            fail(Status::invalid_argument,
                 "positions of sequence %zu must increase along the batch (%d then %lld at index %lld)", s, prev,
                 (long long)p, (long long)i);
        const bool swa = hp.n_swa > 0;
        if (prev == kUnset) {
            const int64_t keep = kv_.row_of(static_cast<int64_t>(s), p);
            if (seq_count_[s] > params_.n_ctx - keep)
                fail(Status::context_full, "sequence %zu: %lld tokens after %lld cached do not fit a context of %lld", s,
                     (long long)seq_count_[s], (long long)keep, (long long)params_.n_ctx);
            if (swa && keep > 0 && p != int64_t{kv_.pos(static_cast<int64_t>(s), keep - 1)} + 1)
                fail(Status::invalid_argument,
                     "sequence %zu: position %lld leaves a gap after %d, which a model with sliding-window layers "
                     "cannot attend across",
                     s, (long long)p, kv_.pos(static_cast<int64_t>(s), keep - 1));
        } else if (swa && p != int64_t{prev} + 1) {
            fail(Status::invalid_argument,
                 "sequence %zu: positions %d and %lld leave a gap, which a model with sliding-window layers cannot "
                 "attend across",
                 s, prev, (long long)p);
        }
        seq_next_[s] = static_cast<int32_t>(p);
        pos_in_[static_cast<size_t>(i)] = static_cast<int32_t>(p);
    }

    // ---- drop what the new tokens replace; lay the batch out in sequence order ----
    std::fill(seq_next_.begin(), seq_next_.end(), kUnset);
    for (int64_t i = 0; i < n; ++i) {  // the first position of each sequence in the batch
        const size_t s = static_cast<size_t>(b.seq ? b.seq[i] : 0);
        if (seq_next_[s] == kUnset) {
            seq_next_[s] = pos_in_[static_cast<size_t>(i)];
            kv_.truncate(static_cast<int64_t>(s), kv_.row_of(static_cast<int64_t>(s), seq_next_[s]));
        }
    }
    // Counting sort by sequence (stable: each sequence keeps batch order, so positions increase).
    for (auto* v : {&tok_, &pos_, &seq_, &slot_}) v->resize(static_cast<size_t>(n));
    slot_of_.assign(static_cast<size_t>(n), -1);
    {
        int32_t at = 0;
        for (int64_t s = 0; s < n_seq; ++s) {
            seq_next_[static_cast<size_t>(s)] = at;  // now: where sequence s starts in the order
            at += static_cast<int32_t>(seq_count_[static_cast<size_t>(s)]);
        }
    }
    for (int64_t i = 0; i < n; ++i) {
        const size_t s = static_cast<size_t>(b.seq ? b.seq[i] : 0);
        const size_t o = static_cast<size_t>(seq_next_[s]++);
        tok_[o] = b.tokens[i];
        pos_[o] = pos_in_[static_cast<size_t>(i)];
        seq_[o] = static_cast<int32_t>(s);
        slot_[o] = static_cast<int32_t>(i);  // the caller's index, for now
    }
    // Rows of logits in sequence order, so that each pass's kept rows are contiguous.
    int32_t n_out = 0;
    for (int64_t o = 0; o < n; ++o) {
        const size_t k = static_cast<size_t>(o);
        const int32_t i = slot_[k];
        const bool last_of_seq = o + 1 == n || seq_[k + 1] != seq_[k];
        const bool want = b.want ? b.want[i] != 0 : last_of_seq;
        slot_[k] = want ? n_out : -1;
        if (want) slot_of_[static_cast<size_t>(i)] = n_out++;
    }
    const size_t need = static_cast<size_t>(n_out) * static_cast<size_t>(hp.n_vocab);
    if (logits_.size() < need) {
        try {
            logits_.resize(need);
        } catch (const std::bad_alloc&) {
            fail(Status::out_of_memory, "cannot allocate logits for %d tokens", n_out);
        }
    }

    // ---- the passes ----
    last_out_ = nullptr;
    for (int64_t done = 0; done < n; done += params_.n_batch) {
        if (cancel && cancel->cancelled()) fail(Status::cancelled, "cancelled");
        const int64_t chunk = std::min(params_.n_batch, n - done);
        forward(done, chunk);
        for (int64_t o = done; o < done + chunk;) {  // the rows each sequence now holds
            const int64_t s = seq_[static_cast<size_t>(o)];
            int64_t e = o;
            while (e < done + chunk && seq_[static_cast<size_t>(e)] == s) ++e;
            kv_.set_rows(s, kv_.n_rows(s), pos_.data() + o, e - o);
            o = e;
        }
    }
    for (int64_t i = n - 1; i >= 0 && !last_out_; --i) last_out_ = output(i);
}

const float* Context::output(int64_t i) const {
    const int64_t n = static_cast<int64_t>(slot_of_.size());
    if (i < 0) i += n;
    if (i < 0 || i >= n || slot_of_[static_cast<size_t>(i)] < 0) return nullptr;
    return logits_.data() + static_cast<size_t>(slot_of_[static_cast<size_t>(i)]) * static_cast<size_t>(n_vocab());
}

void Context::set_single_output(const float* logits) {
    slot_of_.assign(1, 0);
    std::copy(logits, logits + n_vocab(), logits_.begin());
    last_out_ = logits_.data();
}

}  // namespace llamas
