// The body of llamas_generate: prompt in, tokens chosen, decoded and streamed out.
#pragma once
#include <cstdint>

#include "api/handles.h"

namespace llamas::api {

struct GenerateCall {
    llamas_context* c;
    llamas_sampler* s;
    const llamas_generate_options& o;  // already read and checked
    llamas_piece_callback callback;
    void* user_data;
};

// Runs one generation and returns why it ended. n_generated counts the tokens passed on so far
// (kept current when it throws: Error(cancelled), Error(context_full), ...).
//
// Every token handed to the callback is in the cache first (decode, then deliver), so the cache
// always holds exactly the text the caller has seen, plus the end-of-generation token and the
// tokens behind held-back or stop-string text. (generation.cpp)
llamas_finish_reason run_generation(const GenerateCall& g, const char* prompt, int32_t& n_generated);

}  // namespace llamas::api
