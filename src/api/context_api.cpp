// Contexts: creation, decoding, logits, KV cache edits, cancellation.
#include <algorithm>
#include <cstring>
#include <thread>

#include "api/guard.h"
#include "api/handles.h"
#include "engine/kv_edit.h"

using namespace llamas;
using llamas::api::guard;

namespace llamas::api {

void decode_appending(llamas_context* c, const int32_t* tokens, size_t n) {
    Context& ctx = *c->ctx;
    const int64_t n_past = ctx.kv_cache().n_past();
    // Compared unsigned: a huge n (SIZE_MAX from a caller's bad arithmetic) must not wrap negative.
    if (n > static_cast<size_t>(ctx.n_ctx() - n_past))
        fail(Status::context_full, "%zu tokens do not fit: the context holds %lld of %lld positions", n,
             (long long)n_past, (long long)ctx.n_ctx());
    const int32_t n_vocab = static_cast<int32_t>(ctx.n_vocab());
    for (size_t i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= n_vocab)
            fail(Status::invalid_argument, "token %d at index %zu is out of range [0, %d)", tokens[i], i, n_vocab);
    c->logits = nullptr;
    const size_t step = static_cast<size_t>(ctx.params().n_batch);
    for (size_t done = 0; done < n; done += step) {
        if (c->cancel.cancelled()) fail(Status::cancelled, "cancelled");
        const size_t chunk = std::min(step, n - done);
        c->logits = ctx.decode(tokens + done, static_cast<int64_t>(chunk), ctx.kv_cache().n_past());
    }
}

const float* logits_row(const llamas_context* c, int32_t i) {
    // c->logits is null after an edit of the cache: the rows no longer describe it.
    return c->logits ? c->ctx->output(i) : nullptr;
}

}  // namespace llamas::api

extern "C" {

// Every field's default (the whole struct of this version).
static void context_defaults(llamas_context_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->n_batch = 512;
    o->kv_type = LLAMAS_KV_F16;
}

LLAMAS_API void llamas_context_options_init_size(llamas_context_options* options, size_t size) {
    api::init_options(options, size, context_defaults);
}

LLAMAS_API llamas_status llamas_context_create(llamas_model* model, const llamas_context_options* options,
                                               llamas_context** out_context) {
    return guard([&] {
        LLAMAS_CHECK_ARG(model, "model is NULL");
        LLAMAS_CHECK_ARG(out_context, "out_context is NULL");
        const llamas_context_options o = api::read_options(options, context_defaults);
        LLAMAS_CHECK_ARG(o.n_ctx >= 0, "n_ctx must not be negative");
        LLAMAS_CHECK_ARG(o.n_batch >= 0, "n_batch must not be negative");
        LLAMAS_CHECK_ARG(o.n_threads >= 0 && o.n_threads <= 512, "n_threads must be in 0..512");
        LLAMAS_CHECK_ARG(o.n_seq_max >= 0 && o.n_seq_max <= 4096, "n_seq_max must be in 0..4096");
        ContextParams p;
        p.n_ctx = o.n_ctx;
        p.n_seq = o.n_seq_max > 0 ? o.n_seq_max : 1;
        p.n_batch = o.n_batch > 0 ? o.n_batch : 512;
        p.n_threads = o.n_threads > 0 ? o.n_threads : std::max(1u, std::thread::hardware_concurrency());
        switch (o.kv_type) {
            case LLAMAS_KV_F16: p.kv_type = GgmlType::F16; break;
            case LLAMAS_KV_F32: p.kv_type = GgmlType::F32; break;
            case LLAMAS_KV_Q8_0: p.kv_type = GgmlType::Q8_0; break;
            default: return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "unknown kv_type " + std::to_string(o.kv_type));
        }
        auto c = std::make_unique<llamas_context>();
        c->owner = model;
        c->ctx = std::make_unique<Context>(*model->model, p);
        *out_context = c.release();
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_context_free(llamas_context* c) { delete c; }

LLAMAS_API int32_t llamas_context_n_ctx(const llamas_context* c) {
    return c ? static_cast<int32_t>(c->ctx->n_ctx()) : 0;
}
LLAMAS_API int32_t llamas_context_n_past(const llamas_context* c) {
    return c ? static_cast<int32_t>(c->ctx->kv_cache().n_past()) : 0;
}

LLAMAS_API llamas_status llamas_decode(llamas_context* c, const int32_t* tokens, size_t n_tokens) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(tokens || n_tokens == 0, "tokens is NULL");
        CancelToken::Scope call(c->cancel);
        api::decode_appending(c, tokens, n_tokens);
        return LLAMAS_OK;
    });
}

LLAMAS_API const float* llamas_logits(const llamas_context* c) { return c ? c->logits : nullptr; }

LLAMAS_API int32_t llamas_context_n_seq_max(const llamas_context* c) {
    return c ? static_cast<int32_t>(c->ctx->kv_cache().n_seq()) : 0;
}

LLAMAS_API llamas_status llamas_decode_batch(llamas_context* c, const int32_t* tokens, const int32_t* positions,
                                             const int32_t* seq_ids, const int8_t* want_logits, size_t n_tokens) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(tokens, "tokens is NULL");
        LLAMAS_CHECK_ARG(n_tokens > 0, "the batch is empty");
        LLAMAS_CHECK_ARG(n_tokens <= (size_t{1} << 30), "the batch is too large");
        CancelToken::Scope call(c->cancel);
        Batch b;
        b.tokens = tokens;
        b.pos = positions;
        b.seq = seq_ids;
        b.want = want_logits;
        b.n = static_cast<int64_t>(n_tokens);
        c->logits = nullptr;
        c->ctx->decode_batch(b, &c->cancel);
        c->logits = c->ctx->last_output();
        return LLAMAS_OK;
    });
}

LLAMAS_API const float* llamas_logits_ith(const llamas_context* c, int32_t i) {
    return c ? api::logits_row(c, i) : nullptr;
}

LLAMAS_API int32_t llamas_seq_pos_min(const llamas_context* c, int32_t seq) {
    if (!c || seq < 0 || seq >= c->ctx->kv_cache().n_seq()) return -1;
    return c->ctx->kv_cache().pos_min(seq);
}

LLAMAS_API int32_t llamas_seq_pos_max(const llamas_context* c, int32_t seq) {
    if (!c || seq < 0 || seq >= c->ctx->kv_cache().n_seq()) return -1;
    return c->ctx->kv_cache().pos_max(seq);
}

LLAMAS_API llamas_status llamas_seq_remove(llamas_context* c, int32_t seq, int32_t p0, int32_t p1, int shift) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        kv_remove(*c->ctx, seq, p0, p1, shift != 0);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_seq_copy(llamas_context* c, int32_t src, int32_t dst, int32_t p1) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        kv_copy(*c->ctx, src, dst, p1);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_seq_keep(llamas_context* c, int32_t seq) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        kv_keep(*c->ctx, seq);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_seq_shift(llamas_context* c, int32_t seq, int32_t p0, int32_t p1, int32_t delta) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        kv_shift(*c->ctx, seq, p0, p1, delta);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_kv_clear(llamas_context* c) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        c->ctx->kv_cache().clear();
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_kv_remove(llamas_context* c, int32_t p0, int32_t p1) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(p0 >= 0 && (p1 < 0 || p1 >= p0), "[p0, p1) is not a range");
        kv_remove(*c->ctx, 0, p0, p1, true);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_kv_keep_shift(llamas_context* c, int32_t n_keep, int32_t n_discard) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(n_keep >= 0 && n_discard >= 0, "n_keep and n_discard must not be negative");
        const int64_t n_past = c->ctx->kv_cache().n_past();
        LLAMAS_CHECK_ARG(static_cast<int64_t>(n_keep) + n_discard <= n_past,
                         "n_keep + n_discard exceeds the tokens in the cache");
        kv_remove(*c->ctx, 0, n_keep, static_cast<int64_t>(n_keep) + n_discard, true);
        c->logits = nullptr;
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_context_cancel(llamas_context* c) {
    if (c) c->cancel.cancel();  // lock-free atomics: safe from a signal handler
}

}  // extern "C"
