#include "harness/embed_bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <random>

#include "engine/embedder.h"
#include "engine/model.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {

double EmbedBenchResult::latency_percentile_ns(double p) const {
    if (latency_ns.empty()) return 0;
    const double rank = std::ceil(p / 100.0 * static_cast<double>(latency_ns.size()));
    const size_t i = static_cast<size_t>(std::clamp(rank, 1.0, static_cast<double>(latency_ns.size()))) - 1;
    return latency_ns[i];
}

EmbedBenchResult run_embed_bench(const Model& model, const EmbedBenchParams& p) {
    if (p.n_tokens < 1 || p.n_threads < 1 || p.reps < 0 || p.n_batch < 1) {
        fail(Status::invalid_argument, "embedding benchmark: bad parameters");
    }
    const HParams& hp = model.hparams();
    EmbedBenchResult r;
    r.n_docs = p.n_docs > 0 ? p.n_docs : std::max(1, p.n_batch / p.n_tokens);
    ThreadPool pool(p.n_threads);
    Embedder emb(model, pool, std::max<int64_t>(p.n_batch, p.n_tokens));

    // Random documents, starting with BOS/CLS where the tokenizer adds one, like llama-bench.
    std::mt19937 rng(p.seed);
    const Tokenizer& tok = model.tokenizer();
    auto document = [&] {
        std::vector<int32_t> d(static_cast<size_t>(p.n_tokens));
        for (auto& t : d) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(hp.n_vocab));
        if (tok.add_bos() && tok.bos() >= 0) d[0] = tok.bos();
        return d;
    };
    std::vector<std::vector<int32_t>> docs;
    for (int i = 0; i < r.n_docs; ++i) docs.push_back(document());
    const Pooling pooling = hp.pooling == Pooling::none ? Pooling::mean : hp.pooling;
    std::vector<float> out(static_cast<size_t>(r.n_docs) * static_cast<size_t>(emb.n_embd_out()));

    using clock = std::chrono::steady_clock;
    emb.embed(docs, pooling, out.data());  // warm-up
    for (int rep = 0; rep < p.reps; ++rep) {
        const auto t0 = clock::now();
        emb.embed(docs, pooling, out.data());
        const double ns = std::chrono::duration<double, std::nano>(clock::now() - t0).count();
        r.samples_ns.push_back(ns);
        r.samples_ts.push_back(1e9 * static_cast<double>(r.n_docs) * p.n_tokens / ns);
    }
    for (int i = 0; i < p.latency_docs; ++i) {
        const std::vector<std::vector<int32_t>> one{docs[static_cast<size_t>(i) % docs.size()]};
        const auto t0 = clock::now();
        emb.embed(one, pooling, out.data());
        r.latency_ns.push_back(std::chrono::duration<double, std::nano>(clock::now() - t0).count());
    }
    std::sort(r.latency_ns.begin(), r.latency_ns.end());
    return r;
}

}  // namespace llamas
