// Which tokens a grammar state allows: a depth-first walk of the vocabulary's token trie that
// carries the parse stacks down, so that a prefix shared by many tokens is matched once and a
// subtree is skipped as soon as its prefix is refused.
#pragma once
#include <cstdint>
#include <vector>

#include "grammar/matcher.h"
#include "grammar/token_trie.h"

namespace llamas::grammar {

class TokenMasker {
public:
    TokenMasker(const TokenTrie& trie, Matcher& matcher) : trie_(trie), m_(matcher) {}

    // allowed[id] = 1 for every token the state (stacks, partial) can accept, else 0.
    void compute(const StackSet& stacks, PartialUtf8 partial, std::vector<uint8_t>& allowed);
    // Whether one token is allowed (cheap: walks only its own characters).
    bool allows(const StackSet& stacks, PartialUtf8 partial, int32_t token);

private:
    const TokenTrie& trie_;
    Matcher& m_;
    std::vector<StackSet> levels_;  // levels_[d]: the stacks after a trie node's d code points
    StackSet scratch_;
};

}  // namespace llamas::grammar
