// The top-N part of llamas_logprobs, shared with llamas_generate's token callback.
#pragma once
#include <cstddef>

#include "llamas.h"
#include "sample/logprobs.h"

namespace llamas::api {

// Writes the min(n, n_vocab) most likely tokens of a row and their log-probabilities to out,
// most likely first; returns how many. (logprobs_api.cpp)
size_t top_logprobs(const LogSoftmax& ls, llamas_token_logprob* out, size_t n);

}  // namespace llamas::api
