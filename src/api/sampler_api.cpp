// Samplers.
#include <cstring>

#include "api/guard.h"
#include "api/handles.h"

using namespace llamas;
using llamas::api::guard;

extern "C" {

LLAMAS_API void llamas_sampler_options_init(llamas_sampler_options* o) {
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

LLAMAS_API llamas_status llamas_sampler_create(const llamas_model* model, const llamas_sampler_options* options,
                                               llamas_sampler** out_sampler) {
    return guard([&] {
        LLAMAS_CHECK_ARG(model, "model is NULL");
        LLAMAS_CHECK_ARG(out_sampler, "out_sampler is NULL");
        const llamas_sampler_options o = api::read_options(options, llamas_sampler_options_init);
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

LLAMAS_API llamas_status llamas_sample(llamas_sampler* s, llamas_context* c, int32_t* out_token) {
    return guard([&] {
        LLAMAS_CHECK_ARG(s, "sampler is NULL");
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(out_token, "out_token is NULL");
        LLAMAS_CHECK_ARG(c->logits, "the context has no logits: decode tokens first");
        LLAMAS_CHECK_ARG(s->n_vocab == c->ctx->n_vocab(), "sampler and context belong to different vocabularies");
        const int32_t t = s->sampler->sample(c->logits, s->n_vocab);
        s->sampler->accept(t);
        *out_token = t;
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_sampler_reset(llamas_sampler* s) {
    if (s) s->sampler->reset();
}

}  // extern "C"
