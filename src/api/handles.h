// What the opaque handles of include/llamas.h are.
#pragma once
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>

#include "engine/context.h"
#include "engine/embedder.h"
#include "engine/model.h"
#include "grammar/token_trie.h"
#include "llamas.h"
#include "sample/sampler.h"
#include "util/cancel.h"
#include "util/error.h"

struct llamas_model {
    std::unique_ptr<llamas::Model> model;
    std::string arch;
    std::string chat_template;
    bool has_chat_template = false;
    // The vocabulary's token trie for grammars, built on first use and shared by every sampler
    // of the model (samplers of several threads may ask at once, hence the mutex).
    mutable std::mutex trie_mutex;
    mutable std::shared_ptr<const llamas::grammar::TokenTrie> trie;
};

struct llamas_context {
    llamas_model* owner = nullptr;
    std::unique_ptr<llamas::Context> ctx;
    // Embedding models: made on the first llamas_embed, sharing ctx's thread pool (declared
    // after ctx so that it is destroyed first).
    std::unique_ptr<llamas::Embedder> embedder;
    const float* logits = nullptr;  // after the last decoded token; null when the cache changed
    llamas::CancelToken cancel;     // each cancellable entry point holds a CancelToken::Scope
    llamas_finish_reason finish = LLAMAS_FINISH_NONE;  // why the last llamas_generate ended
};

struct llamas_sampler {
    std::unique_ptr<llamas::Sampler> sampler;
    int32_t n_vocab = 0;
    const llamas_model* model = nullptr;  // whose vocabulary a grammar is matched against
};

namespace llamas::api {

// Row i of the last decode's logits (i < 0 counts from the end: -1 is the last token), as
// llamas_logits_ith: null when that token kept no logits. (context_api.cpp)
const float* logits_row(const llamas_context* c, int32_t i);
// Decodes tokens after what sequence 0 holds, in n_batch pieces, checking the cancel token
// between them; afterwards c->logits is the last token's row. (context_api.cpp)
void decode_appending(llamas_context* c, const int32_t* tokens, size_t n);

// The *_options_init_size entry points: writes the defaults (from `defaults`, which fills a
// whole struct of this version) into the caller's struct of `size` bytes: only the bytes both
// sides know, zeros beyond ours (a newer caller's fields, asking for nothing new), and
// struct_size = size. Never writes past `size`, so a struct of any version is safe.
template <class T>
void init_options(T* o, size_t size, void (*defaults)(T*)) {
    if (!o || size < sizeof(size_t)) return;  // too small to hold even struct_size
    T d;
    defaults(&d);
    char* bytes = reinterpret_cast<char*>(o);
    std::memcpy(bytes, &d, size < sizeof(T) ? size : sizeof(T));
    if (size > sizeof(T)) std::memset(bytes + sizeof(T), 0, size - sizeof(T));
    std::memcpy(bytes, &size, sizeof size);  // struct_size
}

// Reads a caller's option struct that may be older (smaller) or newer (larger) than ours:
// starts from the defaults and copies only the bytes both sides know. A newer caller's bytes
// beyond ours must be zero (its new fields at their defaults): anything else asks for something
// this library cannot do, and fails rather than being silently ignored.
template <class T>
T read_options(const T* given, void (*init)(T*)) {
    T out;
    init(&out);
    if (given) {
        const size_t size = given->struct_size;
        if (size < sizeof(size_t))
            fail(Status::invalid_argument, "struct_size %zu is too small: fill options with their _init function", size);
        if (size > (size_t{1} << 16))
            fail(Status::invalid_argument, "struct_size %zu is not an option struct's size", size);
        const char* bytes = reinterpret_cast<const char*>(given);
        for (size_t i = sizeof(T); i < size; ++i)
            if (bytes[i] != 0)
                fail(Status::unsupported,
                     "the options set a field at byte %zu that this llamas (%s) does not know: it is older than "
                     "the header the program was built with",
                     i, llamas_version());
        const size_t n = size < sizeof(T) ? size : sizeof(T);
        if (n > sizeof(size_t)) std::memcpy(reinterpret_cast<char*>(&out) + sizeof(size_t), bytes + sizeof(size_t),
                                            n - sizeof(size_t));
    }
    out.struct_size = sizeof(T);
    return out;
}

}  // namespace llamas::api
