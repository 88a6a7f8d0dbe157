// llamas_generate: prompt in, pieces out through a callback.
#include <cstring>
#include <vector>

#include "api/guard.h"
#include "api/handles.h"
#include "tokenizer/tokenizer.h"

using namespace llamas;
using llamas::api::guard;

extern "C" {

LLAMAS_API void llamas_generate_options_init(llamas_generate_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->max_tokens = 256;
    o->parse_special = 0;
    o->skip_special = 1;
}

LLAMAS_API llamas_status llamas_generate(llamas_context* c, llamas_sampler* s, const char* prompt,
                                         const llamas_generate_options* options, llamas_piece_callback callback,
                                         void* user_data, int32_t* out_n_generated) {
    int32_t n_generated = 0;
    llamas_status status = guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(s, "sampler is NULL");
        LLAMAS_CHECK_ARG(prompt, "prompt is NULL");
        const llamas_generate_options o = api::read_options(options, llamas_generate_options_init);
        LLAMAS_CHECK_ARG(o.max_tokens >= 0, "max_tokens must not be negative");
        const Tokenizer& tok = c->owner->model->tokenizer();
        CancelToken::Scope call(c->cancel);

        // BOS (and the model's other default special tokens) only at the start of the cache, and
        // not twice when the prompt's text (a rendered chat template) already starts with BOS.
        const bool at_start = c->ctx->kv_cache().n_past() == 0;
        std::vector<int32_t> ids = tok.encode(prompt, false, o.parse_special != 0);
        if (at_start && tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids[0] != tok.bos()))
            ids.insert(ids.begin(), tok.bos());
        if (ids.empty()) {
            LLAMAS_CHECK_ARG(c->logits, "empty prompt and nothing evaluated yet");
        } else {
            api::decode_appending(c, ids.data(), ids.size());
        }
        for (const int32_t t : ids) s->sampler->accept(t);

        Detokenizer detok(tok, o.skip_special != 0);
        for (int32_t i = 0; i < o.max_tokens; ++i) {
            if (c->cancel.cancelled()) fail(Status::cancelled, "cancelled");
            const int32_t t = s->sampler->sample(c->logits, s->n_vocab);
            s->sampler->accept(t);
            if (tok.is_eog(t)) break;
            ++n_generated;
            const std::string piece = detok.push(t);
            if (callback && callback(piece.data(), piece.size(), t, user_data) != 0) break;
            if (c->ctx->kv_cache().n_past() >= c->ctx->n_ctx()) {
                fail(Status::context_full, "the context is full after %d generated tokens (n_ctx %lld)", n_generated,
                     (long long)c->ctx->n_ctx());
            }
            api::decode_appending(c, &t, 1);
        }
        const std::string rest = detok.flush();
        if (!rest.empty() && callback) callback(rest.data(), rest.size(), -1, user_data);
        return LLAMAS_OK;
    });
    if (out_n_generated) *out_n_generated = n_generated;
    return status;
}

}  // extern "C"
