#include "harness/prompt_run.h"

#include <algorithm>

#include "engine/context.h"
#include "util/error.h"

namespace llamas {

std::vector<std::pair<int32_t, float>> top_k_logits(const float* logits, int64_t n, int k) {
    std::vector<std::pair<int32_t, float>> all;
    all.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) all.emplace_back(static_cast<int32_t>(i), logits[i]);
    const size_t kk = std::min<size_t>(static_cast<size_t>(k), all.size());
    std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(kk), all.end(),
                      [](const auto& a, const auto& b) { return a.second > b.second || (a.second == b.second && a.first < b.first); });
    all.resize(kk);
    return all;
}

int32_t argmax(const float* v, int64_t n) {
    int64_t best = 0;
    for (int64_t i = 1; i < n; ++i) {
        if (v[i] > v[best]) best = i;
    }
    return static_cast<int32_t>(best);
}

PromptRun run_prompt(Context& ctx, const std::vector<int32_t>& tokens, int n_greedy, int top_k) {
    const int64_t n = static_cast<int64_t>(tokens.size());
    const int64_t n_vocab = ctx.n_vocab();
    if (n == 0) fail(Status::invalid_argument, "empty prompt");
    if (n + n_greedy > ctx.n_ctx()) {
        fail(Status::context_full, "the prompt (%lld tokens) and %d generated tokens do not fit a context of %lld",
             (long long)n, n_greedy, (long long)ctx.n_ctx());
    }
    PromptRun out;
    ctx.kv_cache().clear();
    const float* logits = ctx.decode(tokens.data(), n, 0, true);
    for (int64_t i = 0; i < n; ++i) out.top.push_back(top_k_logits(logits + i * n_vocab, n_vocab, top_k));
    out.last_logits.assign(logits + (n - 1) * n_vocab, logits + n * n_vocab);

    int32_t next = argmax(out.last_logits.data(), n_vocab);
    for (int g = 0; g < n_greedy; ++g) {
        out.greedy.push_back(next);
        if (g + 1 == n_greedy) break;
        const float* l = ctx.decode(&next, 1, n + g);
        next = argmax(l, n_vocab);
    }
    return out;
}

}  // namespace llamas
