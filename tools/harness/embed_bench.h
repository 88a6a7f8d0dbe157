// The embedding benchmark behind `llamas-bench --embed`: documents of n_tokens random tokens,
// embedded n_docs at a time (one packed pass when they fit), timed like llama-bench times a
// prompt (tokens per second of wall time), plus the latency of embedding one document alone.
#pragma once
#include <cstdint>
#include <vector>

namespace llamas {

class Model;

struct EmbedBenchParams {
    int n_tokens = 16;    // tokens per document, special tokens included
    int n_docs = 0;       // documents per timed call; 0 = as many as fill n_batch tokens (at least 1)
    int n_batch = 512;    // tokens per forward pass
    int n_threads = 2;
    int reps = 3;         // timed calls (after one warm-up)
    int latency_docs = 50;  // single-document calls timed for the latency percentiles
    uint32_t seed = 1234;
};

struct EmbedBenchResult {
    int n_docs = 0;                   // documents per timed call
    std::vector<double> samples_ns;   // wall time of each timed call
    std::vector<double> samples_ts;   // tokens per second of each timed call
    std::vector<double> latency_ns;   // one document alone, each call, sorted
    double latency_percentile_ns(double p) const;  // p in [0, 100], nearest rank
};

// Throws Error(unsupported) for a model that is not an embedding model.
EmbedBenchResult run_embed_bench(const Model& model, const EmbedBenchParams& p);

}  // namespace llamas
