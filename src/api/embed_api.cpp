// Embeddings.
#include <cstring>

#include "api/guard.h"
#include "api/handles.h"

using llamas::api::guard;

extern "C" {

LLAMAS_API void llamas_embed_options_init(llamas_embed_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->pooling = LLAMAS_POOLING_MODEL;
    o->normalize = 1;
    o->dims = 0;
}

LLAMAS_API int32_t llamas_model_n_embd_out(const llamas_model* m) {
    return m ? static_cast<int32_t>(m->model->hparams().n_embd) : 0;
}

LLAMAS_API llamas_status llamas_embed(llamas_context* c, const char* const* texts, size_t n_texts,
                                      const llamas_embed_options* options, float* out, size_t out_capacity) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(texts || n_texts == 0, "texts is NULL");
        LLAMAS_CHECK_ARG(out || out_capacity == 0, "out is NULL");
        return llamas::api::error(LLAMAS_ERR_UNSUPPORTED,
                                  "model architecture '" + c->owner->arch + "' does not produce embeddings");
    });
}

}  // extern "C"
