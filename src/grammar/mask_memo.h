// Whole token masks remembered per parse state. A state recurs often while generating: every
// token inside a JSON string leaves the grammar in the same stack set, and those are the states
// that allow most of the vocabulary, whose trie walk costs the most. So the mask of a state
// (an interned StateCache id, no unfinished character) is kept as a bitset after its first walk.
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace llamas::grammar {

class MaskMemo {
public:
    static constexpr size_t kMaxMasks = 64;  // 64 × n_vocab bits: 1.2 MiB for 150k tokens

    // Writes the remembered mask of state `set` to allowed (0/1 per token); false when unknown.
    bool load(uint32_t set, std::vector<uint8_t>& allowed) const {
        const auto it = masks_.find(set);
        if (it == masks_.end()) return false;
        const std::vector<uint64_t>& bits = it->second;
        for (size_t i = 0; i < allowed.size(); ++i) allowed[i] = static_cast<uint8_t>((bits[i >> 6] >> (i & 63)) & 1);
        return true;
    }
    void store(uint32_t set, const std::vector<uint8_t>& allowed) {
        if (masks_.size() >= kMaxMasks) masks_.clear();  // simple and bounded; states that recur come back
        std::vector<uint64_t>& bits = masks_[set];
        bits.assign((allowed.size() + 63) / 64, 0);
        for (size_t i = 0; i < allowed.size(); ++i) bits[i >> 6] |= static_cast<uint64_t>(allowed[i] != 0) << (i & 63);
    }
    void clear() { masks_.clear(); }

private:
    std::unordered_map<uint32_t, std::vector<uint64_t>> masks_;
};

}  // namespace llamas::grammar
