// Token sampler: turns one step's logits into a token id.
//
// The chain and its semantics follow llama.cpp's default sampler chain:
//   logit bias -> [filter hook] -> [constraint: grammar] -> penalties -> top-k -> typical -> top-p -> min-p ->
//   temperature -> draw.
// Every filter sees the temperature-1 distribution (temperature is applied after them), and
// typical / top-p / min-p always keep at least `min_keep` tokens (and never fewer than one).
// Greedy (or temperature <= 0) returns the argmax after bias and penalties.
//
// The sampler owns its scratch buffers (sized once per vocabulary size) and avoids sorting the
// whole vocabulary: top-k is a heap scan, top-p / typical sort lazily in growing chunks.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "sample/rng.h"

namespace llamas {

struct SamplerParams {
    float temperature = 0.8f;       // <= 0: greedy
    int32_t top_k = 40;             // <= 0: off
    float top_p = 0.95f;            // >= 1: off
    float min_p = 0.05f;            // <= 0: off
    float typical_p = 1.0f;         // >= 1: off
    float repeat_penalty = 1.0f;    // 1: off. Divides positive logits, multiplies negative ones.
    float frequency_penalty = 0.0f; // subtracted once per occurrence in the window
    float presence_penalty = 0.0f;  // subtracted once if the token occurs in the window
    int32_t penalty_last_n = 64;    // window of accepted tokens the penalties look at; < 0: all
    int32_t min_keep = 0;           // typical / top-p / min-p keep at least this many tokens
    uint64_t seed = 0x11a3a5;       // the draw is reproducible for a given seed
    bool greedy = false;            // argmax, ignoring the filters and temperature
    std::vector<std::pair<int32_t, float>> logit_bias;  // token -> added to its logit (-inf bans)
};

// A stage that restricts which tokens may come next (a grammar), with state advanced by the
// tokens the caller keeps. mask() and allows() must agree: allows(t) is true exactly when
// mask() leaves t's logit alone.
class TokenConstraint {
public:
    virtual ~TokenConstraint() = default;
    // False while the constraint does not restrict anything (a lazy grammar before its trigger).
    virtual bool active() const = 0;
    virtual bool allows(int32_t token) = 0;
    // Sets every forbidden token's logit to -inf.
    virtual void mask(float* logits, int32_t n_vocab) = 0;
    // Advances the state by generated tokens, all or nothing: throws Error(invalid_argument)
    // and changes nothing when one of them is not allowed.
    virtual void accept(const int32_t* tokens, size_t n) = 0;
    virtual void reset() = 0;
};

class Sampler {
public:
    explicit Sampler(SamplerParams params = {});

    // Picks a token from `n_vocab` logits without recording it (accept() does that). Throws
    // Error(invalid_argument) on bad input or when every token has been banned, and
    // Error(cancelled) when the filter asks to stop.
    int32_t sample(const float* logits, int32_t n_vocab);

    // A stage run on every sample() after the logit biases and before the penalties, on the
    // sampler's own working copy of the logits (no extra copy of the vocabulary). It may lower
    // logits (-inf forbids a token); returning false fails the sample with Error(cancelled).
    // An empty function removes it.
    using Filter = std::function<bool(float* logits, int32_t n_vocab)>;
    void set_filter(Filter filter) { filter_ = std::move(filter); }

    // Applied on every sample() after the filter hook, before the penalties; never returns a
    // token it forbids. Greedy sampling first tries the unconstrained argmax and masks only when
    // the constraint refuses it (the same result: masking only lowers other logits). Null removes it.
    void set_constraint(std::shared_ptr<TokenConstraint> c) { constraint_ = std::move(c); }
    TokenConstraint* constraint() const { return constraint_.get(); }

    // Records a token in the penalty window only (prompt tokens: the constraint is untouched).
    void accept(int32_t token);
    // Records generated tokens: advances the constraint (all or nothing, throws when it
    // refuses one), then the penalty window.
    void accept_generated(const int32_t* tokens, size_t n);

    // Forgets the penalty window, restarts the random stream from the seed and the constraint
    // from its start.
    void reset();

    // Adds (or replaces) a bias for one token: added to its logit before everything else.
    void set_logit_bias(int32_t token, float bias);

    const SamplerParams& params() const { return params_; }

    // The tokens the last sampling draw chose among (after every filter), for tests and
    // diagnostics. Empty after a greedy pick.
    std::vector<int32_t> survivors() const;

private:
    struct Candidate {
        int32_t id;
        float logit;
        float key;  // sort key for the lazy ordered selections (logit, or typicality)
    };

    void prepare(const float* logits, int32_t n_vocab);
    int32_t argmax() const;
    void build_all_candidates();
    void top_k(int32_t k);
    void typical(float p);
    void top_p(float p, float min_p);
    bool top_p_buckets(float p);
    void min_p(float p);
    int32_t draw();

    // Makes cand_[0..m) the m largest keys of cand_[0..size_) in descending order, extending
    // the already ordered prefix in chunks; returns the new ordered length (<= size_).
    size_t extend_ordered(size_t m);

    SamplerParams params_;
    Rng rng_;
    Filter filter_;
    std::shared_ptr<TokenConstraint> constraint_;

    // Penalty window: a ring buffer of accepted tokens plus per-token counts.
    std::vector<int32_t> window_;
    size_t window_head_ = 0;  // index of the oldest token once the ring is full
    std::vector<int32_t> counts_;
    std::vector<uint32_t> stamp_;  // marks tokens already penalised in this call
    uint32_t stamp_id_ = 0;

    // Scratch, sized once per vocabulary size.
    int32_t n_vocab_ = 0;
    std::vector<float> work_;  // adjusted logits, indexed by token
    std::vector<Candidate> cand_;
    size_t size_ = 0;     // live candidates in cand_
    size_t ordered_ = 0;  // cand_[0..ordered_) is sorted by key, descending, and holds the top
    std::vector<Candidate> boundary_;  // top-p: the candidates of the bucket holding the cut
    std::vector<double> bucket_mass_;
    std::vector<uint32_t> bucket_count_;
};

}  // namespace llamas
