// Samplers.
#include <cstring>
#include <string>

#include "api/guard.h"
#include "api/handles.h"

using namespace llamas;
using llamas::api::guard;

extern "C" {

// Every field's default (the whole struct of this version).
static void sampler_defaults(llamas_sampler_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    const SamplerParams d;
    o->struct_size = sizeof *o;
    o->temperature = d.temperature;
    o->top_k = d.top_k;
    o->top_p = d.top_p;
    o->min_p = d.min_p;
    o->typical_p = d.typical_p;
    o->repeat_penalty = d.repeat_penalty;
    o->frequency_penalty = d.frequency_penalty;
    o->presence_penalty = d.presence_penalty;
    o->penalty_last_n = d.penalty_last_n;
    o->seed = 0;
}

LLAMAS_API void llamas_sampler_options_init_size(llamas_sampler_options* options, size_t size) {
    api::init_options(options, size, sampler_defaults);
}

LLAMAS_API llamas_status llamas_sampler_create(const llamas_model* model, const llamas_sampler_options* options,
                                               llamas_sampler** out_sampler) {
    return guard([&] {
        LLAMAS_CHECK_ARG(model, "model is NULL");
        LLAMAS_CHECK_ARG(out_sampler, "out_sampler is NULL");
        const llamas_sampler_options o = api::read_options(options, sampler_defaults);
        SamplerParams p;
        p.temperature = o.temperature;
        p.greedy = o.temperature <= 0;
        p.top_k = o.top_k;
        p.top_p = o.top_p;
        p.min_p = o.min_p;
        p.typical_p = o.typical_p;
        p.repeat_penalty = o.repeat_penalty;
        p.frequency_penalty = o.frequency_penalty;
        p.presence_penalty = o.presence_penalty;
        p.penalty_last_n = o.penalty_last_n;
        p.seed = o.seed;
        auto s = std::make_unique<llamas_sampler>();
        s->n_vocab = static_cast<int32_t>(model->model->hparams().n_vocab);
        s->model = model;
        s->sampler = std::make_unique<Sampler>(p);
        *out_sampler = s.release();
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_sampler_free(llamas_sampler* s) { delete s; }

LLAMAS_API llamas_status llamas_sampler_set_logit_bias(llamas_sampler* s, int32_t token, float bias) {
    return guard([&] {
        LLAMAS_CHECK_ARG(s, "sampler is NULL");
        LLAMAS_CHECK_ARG(token >= 0 && token < s->n_vocab, "token out of range");
        s->sampler->set_logit_bias(token, bias);
        return LLAMAS_OK;
    });
}

namespace {

// The choice shared by llamas_sample and llamas_sampler_choose: row i of the context's logits,
// through the sampler's chain, nothing recorded.
llamas_status choose(llamas_sampler* s, const llamas_context* c, int32_t i, int32_t* out_token) {
    LLAMAS_CHECK_ARG(s, "sampler is NULL");
    LLAMAS_CHECK_ARG(c, "context is NULL");
    LLAMAS_CHECK_ARG(out_token, "out_token is NULL");
    LLAMAS_CHECK_ARG(s->n_vocab == c->ctx->n_vocab(), "sampler and context belong to different vocabularies");
    const float* row = api::logits_row(c, i);
    if (!row) {
        return api::error(LLAMAS_ERR_INVALID_ARGUMENT,
                          c->logits ? "row " + std::to_string(i) + " of the last decode kept no logits"
                                    : std::string("the context has no logits: decode tokens first"));
    }
    *out_token = s->sampler->sample(row, s->n_vocab);
    return LLAMAS_OK;
}

}  // namespace

LLAMAS_API llamas_status llamas_sample(llamas_sampler* s, llamas_context* c, int32_t* out_token) {
    return guard([&] {
        int32_t t = -1;
        const llamas_status st = choose(s, c, -1, &t);
        if (st != LLAMAS_OK) return st;
        s->sampler->accept_generated(&t, 1);
        *out_token = t;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_sampler_choose(llamas_sampler* s, const llamas_context* c, int32_t i,
                                               int32_t* out_token) {
    return guard([&] { return choose(s, c, i, out_token); });
}

namespace {

// All or nothing: every id is checked before anything is recorded.
llamas_status check_tokens(const llamas_sampler* s, const int32_t* tokens, size_t n_tokens) {
    LLAMAS_CHECK_ARG(s, "sampler is NULL");
    LLAMAS_CHECK_ARG(tokens || n_tokens == 0, "tokens is NULL");
    for (size_t k = 0; k < n_tokens; ++k)
        if (tokens[k] < 0 || tokens[k] >= s->n_vocab)
            return api::error(LLAMAS_ERR_INVALID_ARGUMENT,
                              "token " + std::to_string(tokens[k]) + " at index " + std::to_string(k) + " is out of range");
    return LLAMAS_OK;
}

}  // namespace

LLAMAS_API llamas_status llamas_sampler_accept(llamas_sampler* s, const int32_t* tokens, size_t n_tokens) {
    return guard([&] {
        const llamas_status st = check_tokens(s, tokens, n_tokens);
        if (st != LLAMAS_OK) return st;
        s->sampler->accept_generated(tokens, n_tokens);  // the grammar refuses before anything changes
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_sampler_accept_prompt(llamas_sampler* s, const int32_t* tokens, size_t n_tokens) {
    return guard([&] {
        const llamas_status st = check_tokens(s, tokens, n_tokens);
        if (st != LLAMAS_OK) return st;
        for (size_t k = 0; k < n_tokens; ++k) s->sampler->accept(tokens[k]);
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_sampler_set_filter(llamas_sampler* s, llamas_sampler_filter filter,
                                                   void* user_data) {
    return guard([&] {
        LLAMAS_CHECK_ARG(s, "sampler is NULL");
        if (!filter) {
            s->sampler->set_filter({});
        } else {
            s->sampler->set_filter(
                [filter, user_data](float* logits, int32_t n_vocab) { return filter(logits, n_vocab, user_data) == 0; });
        }
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_sampler_reset(llamas_sampler* s) {
    if (s) s->sampler->reset();
}

}  // extern "C"
