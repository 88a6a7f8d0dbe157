#include "grammar/token_mask.h"

#include <algorithm>

namespace llamas::grammar {

bool TokenMasker::allows(const StackSet& stacks, PartialUtf8 partial, int32_t token) {
    if (token < 0 || token >= trie_.n_tokens()) return false;
    if (trie_.is_eog(token)) return partial.n_remain == 0 && Matcher::can_end(stacks);
    const std::string& piece = trie_.piece(token);
    if (piece.empty()) return false;
    scratch_ = stacks;
    return m_.accept_text(scratch_, partial, piece);
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
    if (Matcher::can_end(stacks))
        for (const int32_t t : trie_.eog_tokens()) allowed[static_cast<size_t>(t)] = 1;

    const auto& nodes = trie_.nodes();
    const auto& kids = trie_.kids();
    const auto& toks = trie_.tokens();
    const auto& partials = trie_.partial_tokens();
    if (levels_.empty()) levels_.resize(1);
    levels_[0] = stacks;

    auto enter = [&](uint32_t node, const StackSet& s) {
        const TokenTrie::Node& nd = nodes[node];
        for (uint32_t i = nd.toks_begin; i < nd.toks_end; ++i) allowed[static_cast<size_t>(toks[i])] = 1;
        for (uint32_t i = nd.partial_begin; i < nd.partial_end; ++i)
            if (m_.accepts_partial(s, partials[i].partial)) allowed[static_cast<size_t>(partials[i].token)] = 1;
    };

    struct Frame {
        uint32_t node;
        uint32_t next;  // next index into kids
    };
    std::vector<Frame> frames;
    frames.push_back({0, nodes[0].kids_begin});
    enter(0, levels_[0]);
    while (!frames.empty()) {
        Frame& f = frames.back();
        if (f.next == nodes[f.node].kids_end) {
            frames.pop_back();
            continue;
        }
        const uint32_t kid = kids[f.next++];
        const size_t d = frames.size();
        if (levels_.size() <= d) levels_.resize(d + 1);
        m_.accept(levels_[d - 1], nodes[kid].cp, levels_[d]);
        if (levels_[d].empty()) continue;
        enter(kid, levels_[d]);
        if (nodes[kid].kids_begin != nodes[kid].kids_end) frames.push_back({kid, nodes[kid].kids_begin});
    }
}

}  // namespace llamas::grammar
