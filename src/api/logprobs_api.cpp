// llamas_logprobs: log-softmax of one row of logits, and its most likely tokens.
#include "api/logprobs_api.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <vector>

#include "api/guard.h"
#include "api/handles.h"

using namespace llamas;
using llamas::api::guard;

namespace llamas::api {

size_t top_logprobs(const LogSoftmax& ls, llamas_token_logprob* out, size_t n) {
    static_assert(sizeof(TokenLogprob) == sizeof(llamas_token_logprob), "same layout as the public struct");
    static_assert(offsetof(TokenLogprob, logprob) == offsetof(llamas_token_logprob, logprob),
                  "same layout as the public struct");
    // The layouts match, but the types differ: go through a copy rather than a cast.
    std::vector<TokenLogprob> tmp(std::min(n, static_cast<size_t>(ls.n_vocab())));
    const size_t k = ls.top(tmp.data(), tmp.size());
    for (size_t i = 0; i < k; ++i) out[i] = llamas_token_logprob{tmp[i].token, tmp[i].logprob};
    return k;
}

}  // namespace llamas::api

extern "C" {

LLAMAS_API llamas_status llamas_logprobs(const llamas_context* c, int32_t i, int32_t token, float* out_logprob,
                                         llamas_token_logprob* top, size_t n_top, size_t* out_n_top) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(top || n_top == 0, "top is NULL");
        const int32_t n_vocab = static_cast<int32_t>(c->ctx->n_vocab());
        LLAMAS_CHECK_ARG(token < n_vocab, "token out of range");
        const float* row = api::logits_row(c, i);
        if (!row)
            return api::error(LLAMAS_ERR_INVALID_ARGUMENT,
                              c->logits ? "row " + std::to_string(i) + " of the last decode kept no logits"
                                        : std::string("the context has no logits: decode tokens first"));
        const LogSoftmax ls(row, n_vocab);
        // Compute everything before writing anything: outputs stay untouched on failure.
        const float lp = token >= 0 ? ls.logprob(token) : 0.0f;
        const size_t k = top ? api::top_logprobs(ls, top, n_top) : 0;
        if (out_logprob && token >= 0) *out_logprob = lp;
        if (out_n_top) *out_n_top = k;
        return LLAMAS_OK;
    });
}

}  // extern "C"
