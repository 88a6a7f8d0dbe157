#include "grammar/token_mask.h"

#include <algorithm>

namespace llamas::grammar {

bool TokenMasker::allows(const StackSet& stacks, PartialUtf8 partial, int32_t token) {
    if (token < 0 || token >= trie_.n_tokens()) return false;
    if (trie_.is_eog(token)) return partial.n_remain == 0 && Matcher::can_end(stacks);
    const std::string& piece = trie_.piece(token);
    if (piece.empty()) return false;
    if (partial.n_remain == 0 && token_ref_allows(stacks, token)) return true;
    scratch_ = stacks;
    return m_.accept_text(scratch_, partial, piece);
}

bool TokenMasker::token_ref_allows(const StackSet& stacks, int32_t token) const {
    for (size_t i = 0; i < stacks.size(); ++i)
        if (stacks.length(i) > 0 && is_token_op(m_.grammar().elems[stacks.top(i)].op) && m_.match_token(stacks.top(i), token))
            return true;
    return false;
}

// Stacks with a token reference on top allow whole tokens by id: <[id]> that one, !<[id]> all
// others. End-of-generation tokens and tokens without text are never allowed this way (as in
// llama.cpp, where they never reach the grammar's candidates).
void TokenMasker::allow_token_refs(const StackSet& stacks, std::vector<uint8_t>& allowed) const {
    const Elem* e = m_.grammar().elems.data();
    const int32_t n = trie_.n_tokens();
    auto usable = [&](int32_t t) { return !trie_.is_eog(t) && !trie_.piece(t).empty(); };
    // Negations are combined first, so that many stacks cost one pass over the vocabulary: with
    // two different ids excluded, every token is some stack's "other" token.
    int32_t not_id = -1;
    bool any_token = false;
    for (size_t i = 0; i < stacks.size(); ++i) {
        if (stacks.length(i) == 0) continue;
        const Elem& top = e[stacks.top(i)];
        const auto id = static_cast<int32_t>(top.value);
        if (top.op == Op::token) {
            if (id < n && usable(id)) allowed[static_cast<size_t>(id)] = 1;
        } else if (top.op == Op::token_not) {
            if (not_id >= 0 && not_id != id) any_token = true;
            not_id = id;
        }
    }
    if (not_id < 0) return;
    for (int32_t t = 0; t < n; ++t)
        if ((any_token || t != not_id) && usable(t)) allowed[static_cast<size_t>(t)] = 1;
}

void TokenMasker::compute(const StackSet& stacks, PartialUtf8 partial, std::vector<uint8_t>& allowed) {
    allowed.assign(static_cast<size_t>(trie_.n_tokens()), 0);
    if (partial.n_remain < 0) return;
    if (partial.n_remain > 0) {
        // Inside a character: only tokens that continue it qualify (rare; checked one by one).
        for (const int32_t t : trie_.continuation_tokens())
            if (allows(stacks, partial, t)) allowed[static_cast<size_t>(t)] = 1;
        return;
    }
    if (cache_.trim()) memo_.clear();  // the memo's keys are the cache's ids
    const uint32_t start = cache_.intern(stacks);
    if (memo_.load(start, allowed)) return;
    if (Matcher::can_end(stacks))
        for (const int32_t t : trie_.eog_tokens()) allowed[static_cast<size_t>(t)] = 1;
    if (m_.has_token_refs(stacks)) allow_token_refs(stacks, allowed);

    const auto& nodes = trie_.nodes();
    const auto& kids = trie_.kids();
    const auto& toks = trie_.tokens();
    const auto& partials = trie_.partial_tokens();

    auto enter = [&](uint32_t node, uint32_t set) {
        const TokenTrie::Node& nd = nodes[node];
        for (uint32_t i = nd.toks_begin; i < nd.toks_end; ++i) allowed[static_cast<size_t>(toks[i])] = 1;
        if (nd.partial_begin == nd.partial_end) return;
        const StackSet& s = cache_.set(set);
        for (uint32_t i = nd.partial_begin; i < nd.partial_end; ++i)
            if (m_.accepts_partial(s, partials[i].partial)) allowed[static_cast<size_t>(partials[i].token)] = 1;
    };

    frames_.clear();
    frames_.push_back({0, nodes[0].kids_begin, start});
    enter(0, start);
    while (!frames_.empty()) {
        Frame& f = frames_.back();
        if (f.next == nodes[f.node].kids_end) {
            frames_.pop_back();
            continue;
        }
        const uint32_t kid = kids[f.next++];
        const uint32_t set = cache_.next(f.set, nodes[kid].cp);
        if (set == StateCache::kDead) continue;
        enter(kid, set);
        if (nodes[kid].kids_begin != nodes[kid].kids_end) frames_.push_back({kid, nodes[kid].kids_begin, set});
    }
    memo_.store(start, allowed);
}

}  // namespace llamas::grammar
