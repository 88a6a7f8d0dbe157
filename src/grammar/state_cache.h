// Memoized matcher steps: stack sets are interned (one id per distinct set) and each
// (set, character class) step is computed once, then looked up. A character class is a run
// of code points between two consecutive bounds of the grammar's character sets: every set of
// the grammar treats all code points of a class alike, so one step serves the whole class
// (for a JSON grammar, all of the non-ASCII code points of a 150k vocabulary are one class).
// The mask walk visits many trie nodes whose step is the same as one seen before (every
// character inside a JSON string leads back to the same set), so after the first steps most
// nodes cost one lookup in a small dense table. The cache only grows with distinct sets and
// steps, and is dropped when it gets large.
#pragma once
#include <cstdint>
#include <vector>

#include "grammar/matcher.h"

namespace llamas::grammar {

class StateCache {
public:
    static constexpr uint32_t kDead = ~0u;  // the step's result: no stack accepts the character

    explicit StateCache(Matcher& m);

    uint32_t intern(const StackSet& s);
    const StackSet& set(uint32_t id) const { return sets_[id]; }
    // The set after code point cp from set id (kDead when refused).
    uint32_t next(uint32_t id, uint32_t cp);
    // Drops everything when the cache holds more than its budget (then returns true: ids from
    // before are invalid).
    bool trim();
    size_t n_sets() const { return sets_.size(); }

private:
    uint32_t class_of(uint32_t cp) const;
    static uint64_t hash_set(const StackSet& s);
    static bool same(const StackSet& a, const StackSet& b);

    Matcher& m_;
    std::vector<StackSet> sets_;
    std::vector<uint64_t> set_hash_;
    std::vector<uint32_t> bounds_;  // sorted: class k is [bounds_[k-1], bounds_[k])
    uint32_t ascii_class_[128];
    // Steps of the first kDenseSets sets for classes below width_ (the usual case, the hot
    // path): 0 = not computed yet, 1 = refused, else the next id + 2. Others: the hash table.
    static constexpr uint32_t kDenseSets = 1 << 14;
    uint32_t width_ = 0;
    std::vector<uint32_t> dense_;
    std::vector<uint32_t> set_table_;  // id + 1 by hash (open addressing), 0 = free
    // Steps: key (id << 22 | class) + 1, 0 = free; value the next id.
    std::vector<uint64_t> step_key_;
    std::vector<uint32_t> step_val_;
    size_t n_steps_ = 0;
    size_t n_elements_ = 0;
    StackSet tmp_;
};

}  // namespace llamas::grammar
