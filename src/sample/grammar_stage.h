// The sampler's grammar stage: a GBNF grammar matched against a model's vocabulary, as a
// TokenConstraint. Optionally lazy (llama.cpp's lazy grammars): unconstrained until a trigger
// word appears in the generated text or a trigger token is generated, then constrained, with
// the text from the trigger on fed to the grammar first.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "grammar/token_trie.h"
#include "sample/sampler.h"
#include "sample/trigger_patterns.h"

namespace llamas {

class Tokenizer;

// Every token's text (specials rendered) in a trie; built once per vocabulary and shared.
std::shared_ptr<const grammar::TokenTrie> build_token_trie(const Tokenizer& tok);

struct LazyTriggers {
    std::vector<std::string> words;
    std::vector<int32_t> tokens;
    std::vector<std::string> patterns;  // regular expressions (trigger_patterns.h)
};

class GrammarStage final : public TokenConstraint {
public:
    // Throws Error(invalid_argument) when the grammar cannot even start (too ambiguous), refers
    // to a token id outside the vocabulary, or a trigger pattern is not a valid regex.
    GrammarStage(std::shared_ptr<const grammar::TokenTrie> trie, grammar::Grammar g, bool lazy = false,
                 LazyTriggers triggers = {});

    bool active() const override { return !state_.awaiting; }
    bool allows(int32_t token) override;
    void mask(float* logits, int32_t n_vocab) override;
    void accept(const int32_t* tokens, size_t n) override;
    void reset() override { state_ = initial_; }

    // The tokens the current state allows (1/0 per id), for tests.
    const std::vector<uint8_t>& allowed();

private:
    struct State {
        grammar::StackSet stacks;
        grammar::PartialUtf8 partial;
        bool awaiting = false;  // lazy, no trigger seen yet
        std::string pending;    // lazy: generated text that may still hold the start of a trigger word
        std::string text;       // lazy with patterns: all generated text (up to TriggerPatterns::kMaxText + 1)
    };
    void step(State& s, int32_t token);

    std::shared_ptr<const grammar::TokenTrie> trie_;
    grammar::Grammar g_;
    grammar::Matcher m_;
    grammar::TokenMasker masker_;
    LazyTriggers triggers_;
    TriggerPatterns patterns_;
    size_t longest_word_ = 0;
    State initial_, state_;
    std::vector<uint8_t> allowed_;
};

}  // namespace llamas
