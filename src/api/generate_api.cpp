// llamas_generate: options, argument checks and the finish reason; the loop is generation.cpp.
#include <algorithm>
#include <cstring>

#include "api/generation.h"
#include "api/guard.h"
#include "api/handles.h"

using namespace llamas;
using llamas::api::guard;

namespace {

// The reason a failed generation leaves behind.
llamas_finish_reason reason_of_failure(llamas_status s) {
    switch (s) {
        case LLAMAS_ERR_CONTEXT_FULL: return LLAMAS_FINISH_CONTEXT_FULL;
        case LLAMAS_ERR_CANCELLED: return LLAMAS_FINISH_CANCELLED;
        default: return LLAMAS_FINISH_NONE;
    }
}

}  // namespace

extern "C" {

// Every field's default (the whole struct of this version).
static void generate_defaults(llamas_generate_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_tokens = 256;
    o->parse_special = 1;
    o->skip_special = 1;
}

LLAMAS_API void llamas_generate_options_init_size(llamas_generate_options* options, size_t size) {
    api::init_options(options, size, generate_defaults);
}

LLAMAS_API llamas_status llamas_generate(llamas_context* c, llamas_sampler* s, const char* prompt,
                                         const llamas_generate_options* options, llamas_piece_callback callback,
                                         void* user_data, int32_t* out_n_generated) {
    int32_t n_generated = 0;
    llamas_finish_reason reason = LLAMAS_FINISH_NONE;
    const llamas_status status = guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        c->finish = LLAMAS_FINISH_NONE;
        LLAMAS_CHECK_ARG(s, "sampler is NULL");
        LLAMAS_CHECK_ARG(prompt, "prompt is NULL");
        LLAMAS_CHECK_ARG(s->n_vocab == c->ctx->n_vocab(), "sampler and context belong to different vocabularies");
        llamas_generate_options o = api::read_options(options, generate_defaults);
        LLAMAS_CHECK_ARG(o.max_tokens >= 0, "max_tokens must not be negative");
        LLAMAS_CHECK_ARG(o.n_probs >= 0, "n_probs must not be negative");
        LLAMAS_CHECK_ARG(o.stop || o.n_stop == 0, "stop is NULL but n_stop is not 0");
        for (size_t i = 0; i < o.n_stop; ++i)
            LLAMAS_CHECK_ARG(o.stop[i] && o.stop[i][0], "a stop string is NULL or empty");
        o.n_probs = std::min(o.n_probs, s->n_vocab);  // more alternatives than tokens: all of them
        CancelToken::Scope call(c->cancel);
        reason = api::run_generation(api::GenerateCall{c, s, o, callback, user_data}, prompt, n_generated);
        return LLAMAS_OK;
    });
    if (c) c->finish = status == LLAMAS_OK ? reason : reason_of_failure(status);
    if (out_n_generated) *out_n_generated = n_generated;
    return status;
}

LLAMAS_API llamas_finish_reason llamas_context_finish_reason(const llamas_context* c) {
    return c ? c->finish : LLAMAS_FINISH_NONE;
}

}  // extern "C"
