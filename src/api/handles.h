// What the opaque handles of include/llamas.h are.
#pragma once
#include <atomic>
#include <cstring>
#include <memory>
#include <string>

#include "engine/context.h"
#include "engine/embedder.h"
#include "engine/model.h"
#include "llamas.h"
#include "sample/sampler.h"

struct llamas_model {
    std::unique_ptr<llamas::Model> model;
    std::string arch;
    std::string chat_template;
    bool has_chat_template = false;
};

struct llamas_context {
    llamas_model* owner = nullptr;
    std::unique_ptr<llamas::Context> ctx;
    // Embedding models: made on the first llamas_embed, sharing ctx's thread pool (declared
    // after ctx so that it is destroyed first).
    std::unique_ptr<llamas::Embedder> embedder;
    const float* logits = nullptr;  // after the last decoded token; null when the cache changed
    std::atomic<bool> cancel{false};
};

struct llamas_sampler {
    std::unique_ptr<llamas::Sampler> sampler;
    int32_t n_vocab = 0;
};

namespace llamas::api {

// Reads a caller's option struct that may be older (smaller) or newer (larger) than ours:
// starts from the defaults and copies only the bytes both sides know.
template <class T>
T read_options(const T* given, void (*init)(T*)) {
    T out;
    init(&out);
    if (given) {
        size_t n = given->struct_size < sizeof(T) ? given->struct_size : sizeof(T);
        if (n > sizeof(size_t)) std::memcpy(reinterpret_cast<char*>(&out) + sizeof(size_t),
                                            reinterpret_cast<const char*>(given) + sizeof(size_t), n - sizeof(size_t));
    }
    out.struct_size = sizeof(T);
    return out;
}

}  // namespace llamas::api
