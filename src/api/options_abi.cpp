// The 0.1 entry points llamas_*_options_init(options), kept for programs built against 0.1.
//
// They cannot know the size of the caller's struct, so each writes exactly the bytes its struct
// had in 0.1 (with struct_size = that size) with the values 0.1 documented (generate's
// parse_special was 0 then); the library gives the fields added since their defaults. Programs built against a newer header never call them: the header maps
// llamas_*_options_init(o) to llamas_*_options_init_size(o, sizeof *o). These sizes are frozen:
// never change them, whatever the structs become.
#include <cstddef>

#include "api/handles.h"

namespace {
constexpr size_t k_model_options_0_1 = 16;     // struct_size, use_mmap, n_threads
constexpr size_t k_context_options_0_1 = 24;   // ..., n_ctx, n_batch, n_threads, kv_type
constexpr size_t k_sampler_options_0_1 = 56;   // unchanged in 0.2
constexpr size_t k_generate_options_0_1 = 24;  // ..., max_tokens, parse_special, skip_special, padding
constexpr size_t k_embed_options_0_1 = 24;     // unchanged in 0.2

// The 0.1 prefix is still the start of each 0.2 struct, field for field.
static_assert(offsetof(llamas_model_options, progress) == k_model_options_0_1, "0.1 model options changed");
static_assert(offsetof(llamas_context_options, n_seq_max) == k_context_options_0_1, "0.1 context options changed");
static_assert(sizeof(llamas_sampler_options) == k_sampler_options_0_1, "0.1 sampler options changed");
static_assert(offsetof(llamas_generate_options, stop) == k_generate_options_0_1, "0.1 generate options changed");
static_assert(sizeof(llamas_embed_options) == k_embed_options_0_1, "0.1 embed options changed");
}  // namespace

extern "C" {

// The parentheses keep the header's function-like macros of the same names from expanding.
LLAMAS_API void(llamas_model_options_init)(llamas_model_options* o) {
    llamas_model_options_init_size(o, k_model_options_0_1);
}
LLAMAS_API void(llamas_context_options_init)(llamas_context_options* o) {
    llamas_context_options_init_size(o, k_context_options_0_1);
}
LLAMAS_API void(llamas_sampler_options_init)(llamas_sampler_options* o) {
    llamas_sampler_options_init_size(o, k_sampler_options_0_1);
}
LLAMAS_API void(llamas_generate_options_init)(llamas_generate_options* o) {
    llamas_generate_options_init_size(o, k_generate_options_0_1);
    // 0.1's default: a 0.1 program's prompts are user text, special-token markers stay text.
    if (o) o->parse_special = 0;
}
LLAMAS_API void(llamas_embed_options_init)(llamas_embed_options* o) {
    llamas_embed_options_init_size(o, k_embed_options_0_1);
}

}  // extern "C"
