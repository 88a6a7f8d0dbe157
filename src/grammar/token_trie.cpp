#include "grammar/token_trie.h"

#include <algorithm>
#include <numeric>

namespace llamas::grammar {

TokenTrie::TokenTrie(std::vector<std::string> pieces, const std::vector<char>& eog)
    : pieces_(std::move(pieces)), eog_flag_(pieces_.size(), 0) {
    struct Entry {
        std::vector<uint32_t> cps;
        PartialUtf8 partial;
        int32_t token;
    };
    std::vector<Entry> entries;
    entries.reserve(pieces_.size());
    for (size_t id = 0; id < pieces_.size(); ++id) {
        const auto t = static_cast<int32_t>(id);
        if (id < eog.size() && eog[id]) {
            eog_flag_[id] = 1;
            eog_.push_back(t);
            continue;
        }
        const std::string& p = pieces_[id];
        if (p.empty()) continue;  // matches nothing: never allowed (as in llama.cpp)
        if ((static_cast<unsigned char>(p[0]) & 0xC0) == 0x80) {
            continuation_.push_back(t);
            continue;
        }
        Entry e;
        e.partial = decode_utf8(p, {}, e.cps);
        if (e.partial.n_remain < 0) continue;  // not UTF-8: never allowed
        e.token = t;
        entries.push_back(std::move(e));
    }
    std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
        return a.cps != b.cps ? a.cps < b.cps : a.token < b.token;
    });

    // Nodes in depth-first order: with sorted entries, a node's children are created in
    // ascending code point order.
    std::vector<uint32_t> parent{0}, cp{0}, node_of(entries.size());
    std::vector<uint32_t> path{0};
    const std::vector<uint32_t>* prev = nullptr;
    for (size_t i = 0; i < entries.size(); ++i) {
        const auto& cps = entries[i].cps;
        size_t common = 0;
        if (prev)
            while (common < cps.size() && common < prev->size() && cps[common] == (*prev)[common]) ++common;
        path.resize(common + 1);
        for (size_t d = common; d < cps.size(); ++d) {
            parent.push_back(path.back());
            cp.push_back(cps[d]);
            path.push_back(static_cast<uint32_t>(cp.size() - 1));
        }
        node_of[i] = path.back();
        prev = &cps;
    }
    const size_t n = cp.size();
    nodes_.assign(n, Node{});
    // Counting sorts (stable) group children by parent and tokens by node.
    std::vector<uint32_t> count(n + 1, 0);
    for (size_t k = 1; k < n; ++k) count[parent[k] + 1]++;
    std::partial_sum(count.begin(), count.end(), count.begin());
    kids_.resize(n > 0 ? n - 1 : 0);
    for (size_t k = 0; k < n; ++k) {
        nodes_[k].cp = cp[k];
        nodes_[k].kids_begin = count[k];
        nodes_[k].kids_end = count[k + 1];
    }
    std::vector<uint32_t> fill(count.begin(), count.end() - 1);
    for (size_t k = 1; k < n; ++k) kids_[fill[parent[k]]++] = static_cast<uint32_t>(k);

    std::vector<uint32_t> full(n + 1, 0), part(n + 1, 0);
    for (size_t i = 0; i < entries.size(); ++i) (entries[i].partial.n_remain ? part : full)[node_of[i] + 1]++;
    std::partial_sum(full.begin(), full.end(), full.begin());
    std::partial_sum(part.begin(), part.end(), part.begin());
    toks_.resize(full[n]);
    partial_.resize(part[n]);
    for (size_t k = 0; k < n; ++k) {
        nodes_[k].toks_begin = full[k];
        nodes_[k].toks_end = full[k + 1];
        nodes_[k].partial_begin = part[k];
        nodes_[k].partial_end = part[k + 1];
    }
    for (size_t i = 0; i < entries.size(); ++i) {
        const uint32_t k = node_of[i];
        if (entries[i].partial.n_remain) {
            partial_[part[k]++] = {entries[i].token, entries[i].partial};
        } else {
            toks_[full[k]++] = entries[i].token;
        }
    }
}

}  // namespace llamas::grammar
