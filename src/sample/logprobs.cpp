#include "sample/logprobs.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "util/error.h"

namespace llamas {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

inline float clean(float l) { return l == l ? l : kNegInf; }

// "a comes before b": larger logit, then smaller id (a deterministic order for ties).
inline bool before(const TokenLogprob& a, const TokenLogprob& b) {
    return a.logprob > b.logprob || (a.logprob == b.logprob && a.token < b.token);
}

}  // namespace

LogSoftmax::LogSoftmax(const float* logits, int32_t n_vocab) : logits_(logits), n_vocab_(n_vocab) {
    if (!logits || n_vocab <= 0) fail(Status::invalid_argument, "logprobs: no logits (n_vocab %d)", n_vocab);
    float m = kNegInf;
    for (int32_t i = 0; i < n_vocab; ++i) m = std::max(m, clean(logits[i]));
    if (!std::isfinite(m)) fail(Status::invalid_argument, "logprobs: the row has no finite largest logit");
    max_ = m;
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(clean(logits[i])) - m);
    log_sum_ = std::log(sum);  // sum >= 1: the maximum contributes exp(0)
}

float LogSoftmax::logprob(int32_t token) const {
    if (token < 0 || token >= n_vocab_) fail(Status::invalid_argument, "logprobs: token %d out of range", token);
    return static_cast<float>(static_cast<double>(clean(logits_[token])) - max_ - log_sum_);
}

size_t LogSoftmax::top(TokenLogprob* out, size_t n) const {
    const size_t k = std::min(n, static_cast<size_t>(n_vocab_));
    if (k == 0) return 0;
    // A min-heap (by `before`) of the k best raw logits seen so far: its front is the worst
    // kept one, and most of the vocabulary is rejected by one comparison with it.
    for (size_t i = 0; i < k; ++i) out[i] = TokenLogprob{static_cast<int32_t>(i), clean(logits_[i])};
    std::make_heap(out, out + k, before);
    for (int32_t i = static_cast<int32_t>(k); i < n_vocab_; ++i) {
        const TokenLogprob cand{i, clean(logits_[i])};
        if (before(cand, out[0])) {
            std::pop_heap(out, out + k, before);
            out[k - 1] = cand;
            std::push_heap(out, out + k, before);
        }
    }
    std::sort_heap(out, out + k, before);  // ascending by "worse": best first
    for (size_t i = 0; i < k; ++i)
        out[i].logprob = static_cast<float>(static_cast<double>(out[i].logprob) - max_ - log_sum_);
    return k;
}

}  // namespace llamas
