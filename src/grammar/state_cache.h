// Memoized matcher steps: stack sets are interned (one id per distinct set) and each
// (set, code point) step is computed once, then looked up. The mask walk visits many trie
// nodes whose step is the same as one seen before (every character inside a JSON string
// leads back to the same set), so after the first steps most nodes cost one table lookup.
// The cache only grows with distinct sets and steps, and is dropped when it gets large.
#pragma once
#include <cstdint>
#include <vector>

#include "grammar/matcher.h"

namespace llamas::grammar {

class StateCache {
public:
    static constexpr uint32_t kDead = ~0u;  // the step's result: no stack accepts the character

    explicit StateCache(Matcher& m) : m_(m) {}

    uint32_t intern(const StackSet& s);
    const StackSet& set(uint32_t id) const { return sets_[id]; }
    // The set after code point cp from set id (kDead when refused).
    uint32_t next(uint32_t id, uint32_t cp);
    // Drops everything when the cache holds more than its budget (then returns true: ids from
    // before are invalid).
    bool trim();
    size_t n_sets() const { return sets_.size(); }

private:
    static uint64_t hash_set(const StackSet& s);
    static bool same(const StackSet& a, const StackSet& b);

    Matcher& m_;
    std::vector<StackSet> sets_;
    std::vector<uint64_t> set_hash_;
    std::vector<uint32_t> set_table_;  // id + 1 by hash (open addressing), 0 = free
    // Steps: key (id << 21 | cp) + 1, 0 = free; value the next id.
    std::vector<uint64_t> step_key_;
    std::vector<uint32_t> step_val_;
    size_t n_steps_ = 0;
    size_t n_elements_ = 0;
    StackSet tmp_;
};

}  // namespace llamas::grammar
