// Grammar-constrained sampling (GBNF, llama.cpp's format).
#include <string>
#include <vector>

#include "api/guard.h"
#include "api/handles.h"
#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "sample/grammar_stage.h"
#include "tokenizer/tokenizer.h"

using namespace llamas;
using llamas::api::guard;

namespace {

const char* root_or_default(const char* root) { return root && *root ? root : "root"; }

std::shared_ptr<const grammar::TokenTrie> token_trie(const llamas_model* m) {
    std::lock_guard<std::mutex> lock(m->trie_mutex);
    if (!m->trie) m->trie = build_token_trie(m->model->tokenizer());
    return m->trie;
}

llamas_status set_grammar(llamas_sampler* s, const char* gbnf, const char* root, bool lazy, LazyTriggers triggers) {
    LLAMAS_CHECK_ARG(s, "sampler is NULL");
    if (!gbnf) {
        s->sampler->set_constraint(nullptr);
        return LLAMAS_OK;
    }
    LLAMAS_CHECK_ARG(s->model, "the sampler has no model");
    const Tokenizer& tok = s->model->model->tokenizer();
    // <text> token references: the text must be exactly one token, special tokens parsed.
    const grammar::TokenLookup lookup = [&tok](std::string_view text) {
        const std::vector<int32_t> ids = tok.encode(text, false, true);
        return ids.size() == 1 ? ids[0] : -1;
    };
    grammar::Grammar g = grammar::parse(gbnf, root_or_default(root), {}, lookup);
    auto stage = std::make_shared<GrammarStage>(token_trie(s->model), std::move(g), lazy, std::move(triggers));
    s->sampler->set_constraint(std::move(stage));
    return LLAMAS_OK;
}

// The two lazy setters: `kind` "word" (literal trigger words) or "pattern" (regular expressions).
llamas_status set_lazy_grammar(llamas_sampler* s, const char* gbnf, const char* root, const std::string& kind,
                               const char* const* triggers, size_t n_triggers, const int32_t* trigger_tokens,
                               size_t n_trigger_tokens) {
    LLAMAS_CHECK_ARG(s, "sampler is NULL");
    LLAMAS_CHECK_ARG(triggers || n_triggers == 0, "trigger_" + kind + "s is NULL");
    LLAMAS_CHECK_ARG(trigger_tokens || n_trigger_tokens == 0, "trigger_tokens is NULL");
    LazyTriggers t;
    std::vector<std::string>& texts = kind == "word" ? t.words : t.patterns;
    for (size_t i = 0; i < n_triggers; ++i) {
        LLAMAS_CHECK_ARG(triggers[i] && *triggers[i], "a trigger " + kind + " is NULL or empty");
        texts.emplace_back(triggers[i]);
    }
    for (size_t i = 0; i < n_trigger_tokens; ++i) {
        LLAMAS_CHECK_ARG(trigger_tokens[i] >= 0 && trigger_tokens[i] < s->n_vocab, "trigger token out of range");
        t.tokens.push_back(trigger_tokens[i]);
    }
    LLAMAS_CHECK_ARG(!texts.empty() || !t.tokens.empty() || !gbnf, "a lazy grammar needs a trigger " + kind + " or token");
    return set_grammar(s, gbnf, root, true, std::move(t));
}

}  // namespace

extern "C" {

LLAMAS_API llamas_status llamas_grammar_validate(const char* gbnf, const char* root) {
    return guard([&] {
        LLAMAS_CHECK_ARG(gbnf, "gbnf is NULL");
        const grammar::Grammar g = grammar::parse(gbnf, root_or_default(root));
        grammar::Matcher m(g);
        grammar::StackSet start;
        m.start(start);  // a grammar too ambiguous to even start fails here
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_sampler_set_grammar(llamas_sampler* s, const char* gbnf, const char* root) {
    return guard([&] { return set_grammar(s, gbnf, root, false, {}); });
}

LLAMAS_API llamas_status llamas_sampler_set_grammar_lazy(llamas_sampler* s, const char* gbnf, const char* root,
                                                         const char* const* trigger_words, size_t n_trigger_words,
                                                         const int32_t* trigger_tokens, size_t n_trigger_tokens) {
    return guard([&] {
        return set_lazy_grammar(s, gbnf, root, "word", trigger_words, n_trigger_words, trigger_tokens, n_trigger_tokens);
    });
}

LLAMAS_API llamas_status llamas_sampler_set_grammar_lazy_patterns(llamas_sampler* s, const char* gbnf, const char* root,
                                                                  const char* const* trigger_patterns,
                                                                  size_t n_trigger_patterns, const int32_t* trigger_tokens,
                                                                  size_t n_trigger_tokens) {
    return guard([&] {
        return set_lazy_grammar(s, gbnf, root, "pattern", trigger_patterns, n_trigger_patterns, trigger_tokens,
                                n_trigger_tokens);
    });
}

}  // extern "C"
