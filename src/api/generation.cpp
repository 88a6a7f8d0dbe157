#include "api/generation.h"

#include <string>
#include <vector>

#include "api/logprobs_api.h"
#include "sample/logprobs.h"
#include "sample/stop_strings.h"
#include "tokenizer/tokenizer.h"

namespace llamas::api {

namespace {

// Tokenizes the prompt (BOS only at the start of the cache, and not twice when a rendered chat
// template already starts with it), evaluates it and feeds it to the sampler's penalties.
void evaluate_prompt(const GenerateCall& g, const char* prompt) {
    const Tokenizer& tok = g.c->owner->model->tokenizer();
    const bool at_start = g.c->ctx->kv_cache().n_past() == 0;
    std::vector<int32_t> ids = tok.encode(prompt, false, g.o.parse_special != 0);
    if (at_start && tok.add_bos() && tok.bos() >= 0 && (ids.empty() || ids[0] != tok.bos()))
        ids.insert(ids.begin(), tok.bos());
    if (ids.empty()) {
        if (!g.c->logits) fail(Status::invalid_argument, "empty prompt and nothing evaluated yet");
    } else {
        decode_appending(g.c, ids.data(), ids.size());
    }
    // Penalties only (llamas_sampler_accept_prompt): a grammar constrains the answer, not the prompt.
    for (const int32_t t : ids) g.s->sampler->accept(t);
}

// Evaluates one generated token after the cache's last one.
void append(const GenerateCall& g, int32_t t, int32_t n_generated) {
    const Context& ctx = *g.c->ctx;
    if (ctx.kv_cache().n_past() >= ctx.n_ctx())
        fail(Status::context_full, "the context is full after %d generated tokens (n_ctx %lld)", n_generated,
             (long long)ctx.n_ctx());
    decode_appending(g.c, &t, 1);
}

std::vector<std::string> stop_strings(const llamas_generate_options& o) {
    std::vector<std::string> out;
    for (size_t i = 0; i < o.n_stop; ++i) out.emplace_back(o.stop[i]);
    return out;
}

}  // namespace

llamas_finish_reason run_generation(const GenerateCall& g, const char* prompt, int32_t& n_generated) {
    evaluate_prompt(g, prompt);

    const Tokenizer& tok = g.c->owner->model->tokenizer();
    Sampler& sampler = *g.s->sampler;
    Detokenizer detok(tok, g.o.skip_special != 0);
    StopStrings stops(stop_strings(g.o));
    std::vector<llamas_token_logprob> top(g.o.token_callback ? static_cast<size_t>(g.o.n_probs) : 0);
    auto emit = [&](const std::string& text, int32_t t) {
        return g.callback && g.callback(text.data(), text.size(), t, g.user_data) != 0;
    };
    // Text still held (an unfinished character, a possible stop-string start) goes out at the
    // end, unless the caller's callback asked to stop or a stop string matched.
    auto release_rest = [&] {
        std::string rest = stops.push(detok.flush());
        rest += stops.flush();  // a separate statement: the order matters
        if (!rest.empty()) emit(rest, -1);
    };

    llamas_finish_reason reason = LLAMAS_FINISH_MAX_TOKENS;
    try {
        for (int32_t i = 0; i < g.o.max_tokens; ++i) {
            if (g.c->cancel.cancelled()) fail(Status::cancelled, "cancelled");
            const float* row = logits_row(g.c, -1);
            const int32_t t = sampler.sample(row, g.s->n_vocab);
            sampler.accept_generated(&t, 1);  // advances the grammar, if any
            if (g.o.token_callback) {
                // Under the raw logits of the row it was chosen from (read before the decode
                // below replaces them).
                const LogSoftmax ls(row, g.s->n_vocab);
                llamas_token_info info{};
                info.token = t;
                info.logprob = ls.logprob(t);
                info.n_top = static_cast<int32_t>(top_logprobs(ls, top.data(), top.size()));
                info.top = top.data();
                g.o.token_callback(&info, g.o.token_user_data);
            }
            // Decode before delivering: whatever the caller has seen is in the cache.
            append(g, t, n_generated);
            if (tok.is_eog(t)) {  // in the cache (a chat template renders it), never delivered
                reason = LLAMAS_FINISH_EOG;
                break;
            }
            ++n_generated;
            const std::string piece = stops.push(detok.push(t));
            if (emit(piece, t)) return LLAMAS_FINISH_CALLBACK;
            if (stops.matched()) return LLAMAS_FINISH_STOP_STRING;
        }
    } catch (const Error& e) {
        if (e.status() == Status::cancelled || e.status() == Status::context_full) release_rest();
        throw;
    }
    release_rest();
    return reason;
}

}  // namespace llamas::api
