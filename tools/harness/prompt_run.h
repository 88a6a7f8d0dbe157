// Running one prompt the way the conformance data was produced: the whole prompt in one pass
// (logits after every token), then greedy decoding one token at a time.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

namespace llamas {

class Context;

struct PromptRun {
    // top[i] = the k largest logits after token i, as (id, value), largest first.
    std::vector<std::vector<std::pair<int32_t, float>>> top;
    std::vector<float> last_logits;  // n_vocab logits after the last prompt token
    std::vector<int32_t> greedy;     // argmax continuation, each token fed back
};

// Clears the context's cache, runs `tokens` as one batch from position 0 (the context needs
// logits_all and n_batch >= tokens.size()), then n_greedy argmax steps. Throws
// Error(context_full) when the prompt plus continuation do not fit the context.
PromptRun run_prompt(Context& ctx, const std::vector<int32_t>& tokens, int n_greedy, int top_k = 8);

// The k largest of n values as (index, value), largest first; ties go to the lower index.
std::vector<std::pair<int32_t, float>> top_k_logits(const float* logits, int64_t n, int k);

// Index of the largest value (the first one on ties).
int32_t argmax(const float* v, int64_t n);

}  // namespace llamas
