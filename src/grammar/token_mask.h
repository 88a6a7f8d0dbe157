// Which tokens a grammar state allows: a depth-first walk of the vocabulary's token trie that
// carries the parse stacks down, so that a prefix shared by many tokens is matched once and a
// subtree is skipped as soon as its prefix is refused. Steps go through a StateCache, so a
// step taken before (in this walk or an earlier one) is a table lookup, and the whole mask of a
// state seen before is remembered (mask_memo.h). Token references
// (<[id]>, !<[id]>) on top of a stack allow tokens by id, beside the walk.
#pragma once
#include <cstdint>
#include <vector>

#include "grammar/mask_memo.h"
#include "grammar/matcher.h"
#include "grammar/state_cache.h"
#include "grammar/token_trie.h"

namespace llamas::grammar {

class TokenMasker {
public:
    TokenMasker(const TokenTrie& trie, Matcher& matcher) : trie_(trie), m_(matcher), cache_(matcher) {}

    // allowed[id] = 1 for every token the state (stacks, partial) can accept, else 0.
    void compute(const StackSet& stacks, PartialUtf8 partial, std::vector<uint8_t>& allowed);
    // Whether one token is allowed (cheap: walks only its own characters).
    bool allows(const StackSet& stacks, PartialUtf8 partial, int32_t token);

private:
    bool token_ref_allows(const StackSet& stacks, int32_t token) const;
    void allow_token_refs(const StackSet& stacks, std::vector<uint8_t>& allowed) const;

    const TokenTrie& trie_;
    Matcher& m_;
    StateCache cache_;  // kept across calls: states recur (the same string loop, the same key)
    MaskMemo memo_;     // whole masks of recent start states
    struct Frame {
        uint32_t node;
        uint32_t next;  // next index into the trie's kids
        uint32_t set;   // the stack set (cache id) after this node's code points
    };
    std::vector<Frame> frames_;
    StackSet scratch_;
};

}  // namespace llamas::grammar
