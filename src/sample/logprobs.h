// Log-probabilities of one row of logits: log-softmax at temperature 1 of the raw values.
//
// Numerically careful: the maximum is subtracted before exponentiating and the normalizer is
// summed in double, so a huge vocabulary of tiny probabilities still adds up. The top-N
// alternatives come from a bounded heap scan (a partial selection), never a full sort.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llamas {

struct TokenLogprob {
    int32_t token;
    float logprob;
};

class LogSoftmax {
public:
    // Scans the row once for its maximum and normalizer. NaN logits count as -inf. Throws
    // Error(invalid_argument) when the row is empty or holds no finite logit.
    LogSoftmax(const float* logits, int32_t n_vocab);

    // log p(token); token must be in [0, n_vocab).
    float logprob(int32_t token) const;

    // Writes the min(n, n_vocab) most likely tokens to out, most likely first (ties: smaller id
    // first), and returns how many it wrote.
    size_t top(TokenLogprob* out, size_t n) const;

    int32_t n_vocab() const { return n_vocab_; }

private:
    const float* logits_;
    int32_t n_vocab_;
    float max_;
    double log_sum_;  // log of sum(exp(l - max_))
};

}  // namespace llamas
