#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "sample/fast_math.h"
#include "util/error.h"

namespace llamas {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
// Token ids beyond this are rejected by accept() before any vocabulary size is known, so a
// hostile id cannot make the count table huge.
constexpr int32_t kMaxTokenId = 1 << 24;
// First chunk of the lazy ordered selection: enough for peaked real distributions in one go.
constexpr size_t kFirstChunk = 64;
// Top-k uses a heap scan up to this k; beyond it a selection over all candidates is cheaper.
constexpr int32_t kHeapTopKLimit = 4096;
// Top-p over more candidates than this finds its cut with a histogram instead of sorting.
constexpr size_t kBucketTopPMin = 2048;
constexpr int kBuckets = 1024;

using sample_math::exp_nonpositive;
using sample_math::max_value;

// Descending by key, ties by ascending id so every run orders the same way.
inline bool before(float ka, int32_t ia, float kb, int32_t ib) {
    return ka > kb || (ka == kb && ia < ib);
}

}  // namespace

Sampler::Sampler(SamplerParams params) : params_(std::move(params)), rng_(params_.seed) {
    for (const auto& [tok, delta] : params_.logit_bias) {
        if (tok < 0) fail(Status::invalid_argument, "logit bias for negative token id %d", tok);
        (void)delta;
    }
    if (params_.penalty_last_n > 0) window_.reserve(static_cast<size_t>(params_.penalty_last_n));
}

void Sampler::reset() {
    window_.clear();
    window_head_ = 0;
    std::fill(counts_.begin(), counts_.end(), 0);
    rng_.reseed(params_.seed);
    if (constraint_) constraint_->reset();
}

void Sampler::accept_generated(const int32_t* tokens, size_t n) {
    for (size_t i = 0; i < n; ++i) {
        if (tokens[i] < 0 || tokens[i] >= kMaxTokenId || (n_vocab_ > 0 && tokens[i] >= n_vocab_))
            fail(Status::invalid_argument, "accept: token id %d out of range", tokens[i]);
    }
    if (constraint_) constraint_->accept(tokens, n);
    for (size_t i = 0; i < n; ++i) accept(tokens[i]);
}

void Sampler::set_logit_bias(int32_t token, float bias) {
    if (token < 0) fail(Status::invalid_argument, "logit bias for negative token id %d", token);
    for (auto& [tok, delta] : params_.logit_bias) {
        if (tok == token) {
            delta = bias;
            return;
        }
    }
    params_.logit_bias.emplace_back(token, bias);
}

void Sampler::accept(int32_t token) {
    if (token < 0 || token >= kMaxTokenId || (n_vocab_ > 0 && token >= n_vocab_)) {
        fail(Status::invalid_argument, "accept: token id %d out of range", token);
    }
    const int32_t n = params_.penalty_last_n;
    if (n == 0) return;
    if (static_cast<size_t>(token) >= counts_.size()) counts_.resize(static_cast<size_t>(token) + 1, 0);
    if (n < 0 || window_.size() < static_cast<size_t>(n)) {
        window_.push_back(token);
    } else {
        // Ring full: the oldest token leaves the window.
        int32_t& slot = window_[window_head_];
        counts_[static_cast<size_t>(slot)]--;
        slot = token;
        window_head_ = (window_head_ + 1) % window_.size();
    }
    counts_[static_cast<size_t>(token)]++;
}

// Copies the logits into work_ and applies logit bias, the filter hook, then the penalties
// (llama.cpp's order).
void Sampler::prepare(const float* logits, int32_t n_vocab) {
    if (n_vocab != n_vocab_) {
        n_vocab_ = n_vocab;
        work_.assign(static_cast<size_t>(n_vocab), 0.0f);
        cand_.assign(static_cast<size_t>(n_vocab), Candidate{0, 0.0f, 0.0f});
        stamp_.assign(static_cast<size_t>(n_vocab), 0);
        stamp_id_ = 0;
    }
    float* w = work_.data();
    for (int32_t i = 0; i < n_vocab; ++i) {
        const float l = logits[i];
        w[i] = l == l ? l : kNegInf;  // NaN would break every ordering below
    }
    for (const auto& [tok, delta] : params_.logit_bias) {
        if (tok < n_vocab) w[tok] += delta;
    }
    if (filter_) {
        if (!filter_(w, n_vocab)) fail(Status::cancelled, "the sampler's filter stopped the choice");
        // A filter that wrote NaN must not break the orderings below.
        for (int32_t i = 0; i < n_vocab; ++i)
            if (w[i] != w[i]) w[i] = kNegInf;
    }
    // Greedy picks test the constraint on the argmax first (sample()).
    const bool greedy = params_.greedy || params_.temperature <= 0.0f;
    if (constraint_ && constraint_->active() && !greedy) constraint_->mask(w, n_vocab);

    const bool penalties_on = params_.penalty_last_n != 0 && !window_.empty() &&
                              (params_.repeat_penalty != 1.0f || params_.frequency_penalty != 0.0f ||
                               params_.presence_penalty != 0.0f);
    if (!penalties_on) return;
    if (++stamp_id_ == 0) {  // wrapped: clear the marks
        std::fill(stamp_.begin(), stamp_.end(), 0);
        stamp_id_ = 1;
    }
    for (int32_t tok : window_) {
        if (tok >= n_vocab || stamp_[static_cast<size_t>(tok)] == stamp_id_) continue;
        stamp_[static_cast<size_t>(tok)] = stamp_id_;
        const int32_t count = counts_[static_cast<size_t>(tok)];
        float& l = w[tok];
        // Dividing a negative logit would make the token more likely, hence the two cases.
        if (l <= 0.0f) {
            l *= params_.repeat_penalty;
        } else {
            l /= params_.repeat_penalty;
        }
        l -= static_cast<float>(count) * params_.frequency_penalty +
             (count > 0 ? params_.presence_penalty : 0.0f);
    }
}

int32_t Sampler::argmax() const {
    const float* w = work_.data();
    const float m = max_value(w, n_vocab_);
    int32_t best = 0;
    while (best < n_vocab_ - 1 && w[best] != m) ++best;  // first index holding the maximum
    return best;
}

void Sampler::build_all_candidates() {
    Candidate* c = cand_.data();
    const float* w = work_.data();
    for (int32_t i = 0; i < n_vocab_; ++i) c[i] = Candidate{i, w[i], w[i]};
    size_ = static_cast<size_t>(n_vocab_);
    ordered_ = 0;
}

size_t Sampler::extend_ordered(size_t m) {
    m = std::min(m, size_);
    if (m <= ordered_) return ordered_;
    auto cmp = [](const Candidate& a, const Candidate& b) { return before(a.key, a.id, b.key, b.id); };
    Candidate* first = cand_.data() + ordered_;
    Candidate* mid = cand_.data() + m;
    Candidate* last = cand_.data() + size_;
    if (mid < last) std::nth_element(first, mid, last, cmp);
    std::sort(first, mid, cmp);
    ordered_ = m;
    return ordered_;
}

// The k largest logits, found with a bounded min-heap in one pass over work_ (most logits are
// rejected by a single comparison with the heap's minimum).
void Sampler::top_k(int32_t k) {
    if (k <= 0 || k >= n_vocab_) {
        build_all_candidates();
        return;
    }
    if (k > kHeapTopKLimit) {
        build_all_candidates();
        extend_ordered(static_cast<size_t>(k));
        size_ = static_cast<size_t>(k);
        return;
    }
    // With this "comes before" order, std's heap keeps the worst candidate (smallest logit,
    // then largest id) at the front.
    auto better = [](const Candidate& a, const Candidate& b) {
        return before(a.logit, a.id, b.logit, b.id);
    };
    Candidate* heap = cand_.data();
    const float* w = work_.data();
    for (int32_t i = 0; i < k; ++i) heap[i] = Candidate{i, w[i], w[i]};
    std::make_heap(heap, heap + k, better);
    float threshold = heap[0].logit;
    constexpr int32_t kBlock = 32;
    int32_t i = k;
    for (; i < n_vocab_; ++i) {
        // Skip whole blocks whose largest logit cannot enter the heap (the common case).
        if ((i % kBlock) == 0 && i + kBlock <= n_vocab_ && max_value(w + i, kBlock) <= threshold) {
            i += kBlock - 1;
            continue;
        }
        // Ties keep the earlier (smaller) id, matching the ordering used everywhere else.
        if (w[i] > threshold) {
            std::pop_heap(heap, heap + k, better);
            heap[k - 1] = Candidate{i, w[i], w[i]};
            std::push_heap(heap, heap + k, better);
            threshold = heap[0].logit;
        }
    }
    std::sort(heap, heap + k, better);  // descending
    size_ = static_cast<size_t>(k);
    ordered_ = size_;
}

// Locally typical sampling: keeps the tokens whose information content is closest to the
// distribution's entropy, until their mass exceeds p.
void Sampler::typical(float p) {
    if (p >= 1.0f || size_ <= 1) return;
    Candidate* c = cand_.data();
    float max_l = kNegInf;
    for (size_t i = 0; i < size_; ++i) max_l = std::max(max_l, c[i].logit);
    double sum = 0;
    for (size_t i = 0; i < size_; ++i) sum += std::exp(static_cast<double>(c[i].logit - max_l));
    const double log_sum = std::log(sum);
    double entropy = 0;
    for (size_t i = 0; i < size_; ++i) {
        const double lp = static_cast<double>(c[i].logit - max_l) - log_sum;
        if (std::isfinite(lp)) entropy -= std::exp(lp) * lp;
    }
    for (size_t i = 0; i < size_; ++i) {
        const double lp = static_cast<double>(c[i].logit - max_l) - log_sum;
        // Larger key = more typical; impossible tokens go last.
        c[i].key = std::isfinite(lp) ? -static_cast<float>(std::fabs(-lp - entropy)) : kNegInf;
    }
    ordered_ = 0;
    const size_t min_keep = static_cast<size_t>(std::max(params_.min_keep, 0));
    double cum = 0;
    size_t keep = size_;
    size_t chunk = kFirstChunk;
    for (size_t i = 0; i < size_; ++i) {
        if (i >= ordered_) {
            extend_ordered(ordered_ + chunk);
            chunk *= 4;
        }
        cum += std::exp(static_cast<double>(c[i].logit - max_l) - log_sum);
        if (cum > p && (min_keep == 0 || i + 1 >= min_keep)) {
            keep = i + 1;
            break;
        }
    }
    size_ = keep;
    // Back to logit order for the filters that follow.
    for (size_t i = 0; i < size_; ++i) c[i].key = c[i].logit;
    ordered_ = 0;
}

// Nucleus: the smallest set of most likely tokens whose mass reaches p. Large sets find the cut
// with a histogram (one pass, then a sort of one bucket). Small ones walk the candidates in
// order; when min-p runs next, that walk may stop at min-p's cutoff, since tokens past it are
// dropped either way.
void Sampler::top_p(float p, float min_p) {
    if (p >= 1.0f || size_ <= 1) return;
    if (size_ >= kBucketTopPMin && top_p_buckets(p)) return;
    Candidate* c = cand_.data();
    float max_l = kNegInf;
    for (size_t i = 0; i < size_; ++i) max_l = std::max(max_l, c[i].logit);
    double sum = 0;
    for (size_t i = 0; i < size_; ++i) sum += exp_nonpositive(c[i].logit - max_l);
    const float min_p_logit = min_p > 0.0f ? max_l + std::log(min_p) : kNegInf;
    const size_t min_keep = static_cast<size_t>(std::max(params_.min_keep, 0));
    const double target = p * sum;
    double cum = 0;
    size_t keep = size_;
    size_t chunk = kFirstChunk;
    for (size_t i = 0; i < size_; ++i) {
        if (i >= ordered_) {
            extend_ordered(ordered_ + chunk);
            chunk *= 4;
        }
        if (c[i].logit < min_p_logit && i >= min_keep && i > 0) {
            keep = i;  // min-p will cut here anyway (and keeps >= min_keep itself)
            break;
        }
        cum += exp_nonpositive(c[i].logit - max_l);
        if (cum >= target && i + 1 >= min_keep) {
            keep = i + 1;
            break;
        }
    }
    size_ = keep;
    ordered_ = std::min(ordered_, size_);
}

// Histogram top-p: buckets of equal width in logit below the maximum; the bucket where the
// cumulative mass crosses p*sum is sorted and walked, everything above it is kept unsorted.
// Returns false (nothing changed) when the histogram cannot decide, e.g. all logits equal.
bool Sampler::top_p_buckets(float p) {
    Candidate* c = cand_.data();
    float max_l = kNegInf, min_l = std::numeric_limits<float>::infinity();
    for (size_t i = 0; i < size_; ++i) {
        max_l = std::max(max_l, c[i].logit);
        if (c[i].logit > kNegInf) min_l = std::min(min_l, c[i].logit);
    }
    // Logits more than 40 below the maximum carry < 1e-17 of the mass each: one last bucket.
    const float lo = std::max(min_l, max_l - 40.0f);
    if (!(max_l > lo)) return false;
    const float scale = static_cast<float>(kBuckets - 1) / (max_l - lo);
    auto bucket_of = [&](float l) {
        const float d = std::min((max_l - l) * scale, static_cast<float>(kBuckets - 1));
        return static_cast<int>(d);
    };
    bucket_mass_.assign(kBuckets, 0.0);
    bucket_count_.assign(kBuckets, 0);
    double sum = 0;
    for (size_t i = 0; i < size_; ++i) {
        const float e = exp_nonpositive(c[i].logit - max_l);
        c[i].key = e;
        const int b = bucket_of(c[i].logit);
        bucket_mass_[static_cast<size_t>(b)] += e;
        bucket_count_[static_cast<size_t>(b)]++;
        sum += e;
    }
    const double target = p * sum;
    double cum = 0;
    size_t above = 0;  // candidates in buckets before the cut bucket
    int cut = kBuckets - 1;
    for (int b = 0; b < kBuckets; ++b) {
        if (cum + bucket_mass_[static_cast<size_t>(b)] >= target) {
            cut = b;
            break;
        }
        cum += bucket_mass_[static_cast<size_t>(b)];
        above += bucket_count_[static_cast<size_t>(b)];
    }
    const size_t min_keep = static_cast<size_t>(std::max(params_.min_keep, 0));
    if (above + bucket_count_[static_cast<size_t>(cut)] < min_keep) return false;

    // Compact: buckets above the cut in place, the cut bucket aside.
    boundary_.clear();
    size_t out = 0;
    for (size_t i = 0; i < size_; ++i) {
        const int b = bucket_of(c[i].logit);
        if (b < cut) {
            c[out++] = c[i];
        } else if (b == cut) {
            boundary_.push_back(c[i]);
        }
    }
    std::sort(boundary_.begin(), boundary_.end(), [](const Candidate& a, const Candidate& b) {
        return before(a.logit, a.id, b.logit, b.id);
    });
    for (const Candidate& cd : boundary_) {
        c[out++] = cd;
        cum += cd.key;
        if (cum >= target && out >= min_keep) break;
    }
    size_ = out;
    for (size_t i = 0; i < size_; ++i) c[i].key = c[i].logit;
    ordered_ = 0;
    return true;
}

// Keeps tokens whose probability is at least p times the most likely one's.
void Sampler::min_p(float p) {
    if (p <= 0.0f || size_ <= 1) return;
    Candidate* c = cand_.data();
    float max_l = kNegInf;
    if (ordered_ > 0) {
        max_l = c[0].logit;
    } else {
        for (size_t i = 0; i < size_; ++i) max_l = std::max(max_l, c[i].logit);
    }
    const float threshold = max_l + std::log(p);
    const size_t min_keep = static_cast<size_t>(std::max(params_.min_keep, 0));
    size_t count = 0;
    for (size_t i = 0; i < size_; ++i) count += c[i].logit >= threshold;
    if (count >= min_keep) {
        // Stable compaction: an ordered prefix that passes stays in place.
        size_t out = 0;
        for (size_t i = 0; i < size_; ++i) {
            if (c[i].logit >= threshold) c[out++] = c[i];
        }
        size_ = out;
        ordered_ = std::min(ordered_, size_);
    } else {
        extend_ordered(min_keep);
        size_ = std::min(min_keep, size_);
        ordered_ = size_;
    }
}

// Softmax over the survivors and one draw from it.
int32_t Sampler::draw() {
    Candidate* c = cand_.data();
    float max_l = kNegInf;
    for (size_t i = 0; i < size_; ++i) max_l = std::max(max_l, c[i].logit);
    if (!(max_l > kNegInf)) fail(Status::invalid_argument, "sample: every token has probability zero");
    double sum = 0;
    for (size_t i = 0; i < size_; ++i) c[i].key = exp_nonpositive(c[i].logit - max_l);
    for (size_t i = 0; i < size_; ++i) sum += c[i].key;
    const double target = rng_.uniform() * sum;
    double cum = 0;
    size_t last_nonzero = 0;
    for (size_t i = 0; i < size_; ++i) {
        if (c[i].key <= 0.0f) continue;
        cum += c[i].key;
        last_nonzero = i;
        if (target < cum) return c[i].id;
    }
    return c[last_nonzero].id;  // rounding left target at the very end
}

std::vector<int32_t> Sampler::survivors() const {
    std::vector<int32_t> ids;
    ids.reserve(size_);
    for (size_t i = 0; i < size_; ++i) ids.push_back(cand_[i].id);
    return ids;
}

int32_t Sampler::sample(const float* logits, int32_t n_vocab) {
    if (!logits || n_vocab <= 0) fail(Status::invalid_argument, "sample: no logits (n_vocab %d)", n_vocab);
    prepare(logits, n_vocab);

    if (params_.greedy || params_.temperature <= 0.0f) {
        size_ = 0;
        int32_t best = argmax();
        if (constraint_ && constraint_->active() && !constraint_->allows(best)) {
            // Masking after the penalties gives what masking before them would: they leave -inf
            // at -inf and do not depend on other tokens' logits.
            constraint_->mask(work_.data(), n_vocab);
            best = argmax();
        }
        if (!(work_[static_cast<size_t>(best)] > kNegInf)) {
            fail(Status::invalid_argument, "sample: every token has probability zero");
        }
        return best;
    }

    top_k(params_.top_k);
    typical(params_.typical_p);
    top_p(params_.top_p, params_.min_p);
    min_p(params_.min_p);

    if (params_.temperature != 1.0f) {
        const float inv = 1.0f / params_.temperature;
        for (size_t i = 0; i < size_; ++i) cand_[i].logit *= inv;
    }
    return draw();
}

}  // namespace llamas
