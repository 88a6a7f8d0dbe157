// Models: loading, queries, tokenization.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "api/guard.h"
#include "api/handles.h"
#include "gguf/gguf.h"

using namespace llamas;
using llamas::api::guard;

namespace {

std::string meta_text(const gguf::KeyValue& kv) {
    using gguf::ValueType;
    auto scalar = [](const gguf::KeyValue& v) -> std::string {
        char buf[64];
        switch (v.type) {
            case ValueType::F32: case ValueType::F64: std::snprintf(buf, sizeof buf, "%.9g", v.f); return buf;
            case ValueType::BOOL: return v.u ? "true" : "false";
            case ValueType::STRING: return std::string(v.str);
            case ValueType::I8: case ValueType::I16: case ValueType::I32: case ValueType::I64: return std::to_string(v.i);
            default: return std::to_string(v.u);
        }
    };
    if (kv.type != ValueType::ARRAY) return scalar(kv);
    // Arrays: the first elements, comma-separated, then the count.
    constexpr uint64_t kShow = 16;
    gguf::ArrayView a(&kv);
    std::string out = "[";
    for (uint64_t i = 0; i < kv.arr_count && i < kShow; ++i) {
        if (i) out += ", ";
        if (kv.arr_type == ValueType::STRING) out += std::string(a.string(i));
        else if (kv.arr_type == ValueType::F32 || kv.arr_type == ValueType::F64) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.9g", a.as_f64(i));
            out += buf;
        } else out += std::to_string(a.as_i64(i));
    }
    if (kv.arr_count > kShow) out += ", ... (" + std::to_string(kv.arr_count) + " items)";
    return out + "]";
}

}  // namespace

extern "C" {

// Every field's default (the whole struct of this version).
static void model_defaults(llamas_model_options* o) {
    if (!o) return;
    std::memset(o, 0, sizeof *o);
    o->struct_size = sizeof *o;
    o->use_mmap = 1;
}

LLAMAS_API void llamas_model_options_init_size(llamas_model_options* options, size_t size) {
    api::init_options(options, size, model_defaults);
}

LLAMAS_API llamas_status llamas_model_load(const char* path, const llamas_model_options* options,
                                           llamas_model** out_model) {
    return guard([&] {
        LLAMAS_CHECK_ARG(path, "path is NULL");
        LLAMAS_CHECK_ARG(out_model, "out_model is NULL");
        const llamas_model_options o = api::read_options(options, model_defaults);
        // Progress: 0 here, the weights' preparation in between (from Model), 1 at the end; any
        // report may cancel, and the unique_ptrs free whatever was made.
        const LoadProgress progress = [&o](float fraction) { return o.progress(fraction, o.progress_user_data) == 0; };
        auto report = [&](float fraction) {
            if (o.progress && !progress(fraction)) fail(Status::cancelled, "model load cancelled by the progress callback");
        };
        report(0.0f);
        auto m = std::make_unique<llamas_model>();
        m->model = std::make_unique<Model>(gguf::File::open(path, o.use_mmap != 0), o.n_threads,
                                           o.progress ? progress : LoadProgress{});
        m->arch = m->model->hparams().arch_name;
        if (const gguf::KeyValue* t = m->model->file().find("tokenizer.chat_template");
            t && t->type == gguf::ValueType::STRING) {
            m->chat_template.assign(t->str);
            m->has_chat_template = true;
        }
        report(1.0f);
        api::log(1, "loaded %s (%s, %lld layers)", path, m->arch.c_str(), (long long)m->model->hparams().n_layer);
        *out_model = m.release();
        return LLAMAS_OK;
    });
}

LLAMAS_API void llamas_model_free(llamas_model* model) { delete model; }

LLAMAS_API const char* llamas_model_architecture(const llamas_model* m) { return m ? m->arch.c_str() : nullptr; }
LLAMAS_API int32_t llamas_model_n_vocab(const llamas_model* m) {
    return m ? static_cast<int32_t>(m->model->hparams().n_vocab) : 0;
}
LLAMAS_API int32_t llamas_model_n_ctx_train(const llamas_model* m) {
    return m ? static_cast<int32_t>(m->model->hparams().n_ctx_train) : 0;
}
LLAMAS_API int32_t llamas_model_n_embd(const llamas_model* m) {
    return m ? static_cast<int32_t>(m->model->hparams().n_embd) : 0;
}
LLAMAS_API int32_t llamas_model_bos(const llamas_model* m) { return m ? m->model->tokenizer().bos() : -1; }
LLAMAS_API int32_t llamas_model_eos(const llamas_model* m) { return m ? m->model->tokenizer().eos() : -1; }
LLAMAS_API int llamas_model_is_eog(const llamas_model* m, int32_t token) {
    return m && token >= 0 && token < m->model->tokenizer().n_vocab() && m->model->tokenizer().is_eog(token);
}
LLAMAS_API const char* llamas_model_chat_template(const llamas_model* m) {
    return m && m->has_chat_template ? m->chat_template.c_str() : nullptr;
}

LLAMAS_API llamas_status llamas_model_meta(const llamas_model* m, const char* key, char* buffer, size_t capacity,
                                           size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(key, "key is NULL");
        const gguf::KeyValue* kv = m->model->file().find(key);
        if (!kv) return api::error(LLAMAS_ERR_NOT_FOUND, std::string("no metadata key '") + key + "'");
        return api::copy_out(meta_text(*kv), buffer, capacity, out_length);
    });
}

LLAMAS_API llamas_status llamas_tokenize(const llamas_model* m, const char* text, size_t text_length, int flags,
                                         int32_t* tokens, size_t capacity, size_t* out_count) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(text || text_length == 0, "text is NULL");
        LLAMAS_CHECK_ARG(tokens || capacity == 0, "tokens is NULL");
        const std::vector<int32_t> ids = m->model->tokenizer().encode(
            std::string_view(text ? text : "", text_length), (flags & LLAMAS_TOKENIZE_ADD_SPECIAL) != 0,
            (flags & LLAMAS_TOKENIZE_PARSE_SPECIAL) != 0);
        if (out_count) *out_count = ids.size();
        if (ids.size() > capacity)
            return api::error(LLAMAS_ERR_BUFFER_TOO_SMALL,
                              "token buffer too small: " + std::to_string(ids.size()) + " tokens needed");
        if (!ids.empty()) std::memcpy(tokens, ids.data(), ids.size() * sizeof(int32_t));
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_detokenize(const llamas_model* m, const int32_t* tokens, size_t n_tokens, int flags,
                                           char* buffer, size_t capacity, size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(tokens || n_tokens == 0, "tokens is NULL");
        LLAMAS_CHECK_ARG(buffer || capacity == 0, "buffer is NULL");
        const std::vector<int32_t> ids(tokens, tokens + n_tokens);
        const std::string text =
            m->model->tokenizer().decode(ids, (flags & LLAMAS_DETOKENIZE_SKIP_SPECIAL) != 0);
        if (out_length) *out_length = text.size();
        if (text.size() > capacity || (!buffer && !text.empty()))
            return api::error(LLAMAS_ERR_BUFFER_TOO_SMALL,
                              "text buffer too small: " + std::to_string(text.size()) + " bytes needed");
        if (!text.empty()) std::memcpy(buffer, text.data(), text.size());
        if (text.size() < capacity) buffer[text.size()] = '\0';
        return LLAMAS_OK;
    });
}

}  // extern "C"
