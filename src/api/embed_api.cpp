// Embeddings: llamas_embed runs texts through an embedding model's encoder (engine/embedder.h),
// then applies the caller's finishing options (Matryoshka truncation, L2 normalisation).
#include <cstring>
#include <string>
#include <vector>

#include "api/guard.h"
#include "api/handles.h"
#include "engine/embed_weights.h"
#include "ops/pooling.h"

using namespace llamas;
using llamas::api::guard;

extern "C" {

// Every field's default (the whole struct of this version).
static void embed_defaults(llamas_embed_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pooling = LLAMAS_POOLING_MODEL;
    o->normalize = 1;
    o->dims = 0;
}

LLAMAS_API void llamas_embed_options_init_size(llamas_embed_options* options, size_t size) {
    api::init_options(options, size, embed_defaults);
}

LLAMAS_API int32_t llamas_model_n_embd_out(const llamas_model* m) {
    if (!m) return 0;
    const EmbedWeights* ew = m->model->embed_weights();
    return static_cast<int32_t>(ew ? ew->n_embd_out : m->model->hparams().n_embd);
}

LLAMAS_API llamas_status llamas_embed(llamas_context* c, const char* const* texts, size_t n_texts,
                                      const llamas_embed_options* options, float* out, size_t out_capacity) {
    const llamas_status s = guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(texts || n_texts == 0, "texts is NULL");
        LLAMAS_CHECK_ARG(out || out_capacity == 0, "out is NULL");
        const Model& model = *c->owner->model;
        const HParams& hp = model.hparams();
        if (!hp.embedder) {
            return api::error(LLAMAS_ERR_UNSUPPORTED, "model architecture '" + c->owner->arch + "' does not produce embeddings");
        }
        const llamas_embed_options o = api::read_options(options, embed_defaults);
        CancelToken::Scope call(c->cancel);
        Pooling pooling;
        switch (o.pooling) {
            case LLAMAS_POOLING_MODEL: pooling = hp.pooling; break;
            case LLAMAS_POOLING_MEAN: pooling = Pooling::mean; break;
            case LLAMAS_POOLING_CLS: pooling = Pooling::cls; break;
            case LLAMAS_POOLING_LAST: pooling = Pooling::last; break;
            case LLAMAS_POOLING_NONE:
                return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "pooling NONE gives one vector per token; llamas_embed returns one per text");
            default: return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "unknown pooling " + std::to_string(o.pooling));
        }
        if (pooling == Pooling::none) {
            return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "the model's pooling type is none; pass a pooling in the options");
        }
        const int64_t full = llamas_model_n_embd_out(c->owner);
        if (o.dims < 0 || o.dims > full) {
            return api::error(LLAMAS_ERR_INVALID_ARGUMENT,
                              "dims = " + std::to_string(o.dims) + " is outside 0.." + std::to_string(full));
        }
        const size_t width = static_cast<size_t>(o.dims > 0 ? o.dims : full);
        if (n_texts > out_capacity / width) {
            return api::error(LLAMAS_ERR_BUFFER_TOO_SMALL, "out holds " + std::to_string(out_capacity) + " floats; " +
                                                               std::to_string(n_texts) + " embeddings of " +
                                                               std::to_string(width) + " need more");
        }
        if (n_texts == 0) return LLAMAS_OK;
        std::vector<std::vector<int32_t>> tokens(n_texts);
        for (size_t i = 0; i < n_texts; ++i) {
            LLAMAS_CHECK_ARG(texts[i], "texts[" + std::to_string(i) + "] is NULL");
            tokens[i] = model.tokenizer().encode(texts[i], /*add_special=*/true, /*parse_special=*/false);
            if (tokens[i].empty()) return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "text " + std::to_string(i) + " gives no tokens");
            if (static_cast<int64_t>(tokens[i].size()) > c->ctx->n_ctx()) {
                return api::error(LLAMAS_ERR_CONTEXT_FULL, "text " + std::to_string(i) + " is " +
                                                               std::to_string(tokens[i].size()) +
                                                               " tokens, longer than the context of " +
                                                               std::to_string(c->ctx->n_ctx()));
            }
        }
        // The embedder shares the context's thread pool; texts of up to n_ctx tokens fit a pass.
        if (!c->embedder) {
            c->embedder = std::make_unique<Embedder>(model, c->ctx->pool(), c->ctx->n_ctx());
            c->embedder->set_cancel(&c->cancel);
        }
        c->ctx->kv_cache().clear();
        c->logits = nullptr;

        if (width == static_cast<size_t>(full)) {
            c->embedder->embed(tokens, pooling, out);
        } else {
            std::vector<float> all(n_texts * static_cast<size_t>(full));
            c->embedder->embed(tokens, pooling, all.data());
            for (size_t i = 0; i < n_texts; ++i) std::memcpy(out + i * width, all.data() + i * full, width * sizeof(float));
        }
        for (size_t i = 0; i < n_texts; ++i) finish_embedding(out + i * width, static_cast<int64_t>(width), 0, o.normalize != 0);
        return LLAMAS_OK;
    });
    return s;
}

}  // extern "C"
