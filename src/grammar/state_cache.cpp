#include "grammar/state_cache.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace llamas::grammar {

namespace {

constexpr size_t kMaxSets = 1 << 16;
constexpr size_t kMaxSteps = 1 << 22;
constexpr size_t kMaxElements = 1 << 23;  // stack elements over all interned sets (32 MiB)

inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

}  // namespace

StateCache::StateCache(Matcher& m) : m_(m) {
    // Every comparison a character set makes (cp == v, v <= cp, cp <= u) changes its answer
    // only at v, v + 1 or u + 1: those are the class bounds.
    for (const Elem& e : m.grammar().elems) {
        if (e.op == Op::chr || e.op == Op::chr_not || e.op == Op::chr_alt) {
            bounds_.push_back(e.value);
            bounds_.push_back(e.value + 1);
        } else if (e.op == Op::rng_upper) {
            bounds_.push_back(e.value + 1);
        }
    }
    std::sort(bounds_.begin(), bounds_.end());
    bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
    for (uint32_t cp = 0; cp < 128; ++cp)
        ascii_class_[cp] = static_cast<uint32_t>(std::upper_bound(bounds_.begin(), bounds_.end(), cp) - bounds_.begin());
    width_ = static_cast<uint32_t>(std::min<size_t>(bounds_.size() + 1, 256));
}

uint32_t StateCache::class_of(uint32_t cp) const {
    if (cp < 128) return ascii_class_[cp];
    return static_cast<uint32_t>(std::upper_bound(bounds_.begin(), bounds_.end(), cp) - bounds_.begin());
}

uint64_t StateCache::hash_set(const StackSet& s) {
    uint64_t h = s.size();
    for (size_t i = 0; i < s.size(); ++i) {
        h = mix(h + 0x9e3779b97f4a7c15ull + s.length(i));
        const uint32_t* p = s.begin(i);
        for (size_t k = 0; k < s.length(i); ++k) h = mix(h ^ p[k]);
    }
    return h;
}

bool StateCache::same(const StackSet& a, const StackSet& b) {
    if (a.size() != b.size() || a.total_length() != b.total_length()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a.length(i) != b.length(i)) return false;
        if (a.length(i) && std::memcmp(a.begin(i), b.begin(i), a.length(i) * sizeof(uint32_t)) != 0) return false;
    }
    return true;
}

uint32_t StateCache::intern(const StackSet& s) {
    const uint64_t h = hash_set(s);
    if (set_table_.empty()) set_table_.assign(1024, 0);
    size_t mask = set_table_.size() - 1;
    size_t slot = h & mask;
    for (; set_table_[slot]; slot = (slot + 1) & mask) {
        const uint32_t id = set_table_[slot] - 1;
        if (set_hash_[id] == h && same(sets_[id], s)) return id;
    }
    // trim() runs between walks; within one walk the cache can only grow, so a grammar whose
    // parse state for one step is this large fails instead of exhausting memory.
    if (n_elements_ + s.total_length() > 4 * kMaxElements)
        fail(Status::invalid_argument, "the grammar needs more than %zu MiB of parse stacks for one step",
             4 * kMaxElements * sizeof(uint32_t) >> 20);
    const auto id = static_cast<uint32_t>(sets_.size());
    sets_.push_back(s);
    set_hash_.push_back(h);
    if (sets_.size() <= kDenseSets) dense_.resize(sets_.size() * width_, 0);  // beyond: the hash table serves
    n_elements_ += s.total_length();
    set_table_[slot] = id + 1;
    if (sets_.size() * 2 > set_table_.size()) {  // keep the table at most half full
        set_table_.assign(set_table_.size() * 2, 0);
        mask = set_table_.size() - 1;
        for (uint32_t k = 0; k < sets_.size(); ++k) {
            size_t p = set_hash_[k] & mask;
            while (set_table_[p]) p = (p + 1) & mask;
            set_table_[p] = k + 1;
        }
    }
    return id;
}

uint32_t StateCache::next(uint32_t id, uint32_t cp) {
    const uint32_t cls = class_of(cp);
    if (cls < width_ && id < kDenseSets) {
        const uint32_t known = dense_[static_cast<size_t>(id) * width_ + cls];
        if (known) return known == 1 ? kDead : known - 2;
        m_.accept(sets_[id], cp, tmp_);
        const uint32_t out = tmp_.empty() ? kDead : intern(tmp_);  // may grow dense_: index after
        dense_[static_cast<size_t>(id) * width_ + cls] = out == kDead ? 1 : out + 2;
        return out;
    }
    if (step_key_.empty()) {
        step_key_.assign(1 << 12, 0);
        step_val_.assign(1 << 12, 0);
    }
    const uint64_t key = ((static_cast<uint64_t>(id) << 22) | cls) + 1;
    size_t mask = step_key_.size() - 1;
    size_t slot = mix(key) & mask;
    for (; step_key_[slot]; slot = (slot + 1) & mask)
        if (step_key_[slot] == key) return step_val_[slot];
    m_.accept(sets_[id], cp, tmp_);
    const uint32_t out = tmp_.empty() ? kDead : intern(tmp_);
    step_key_[slot] = key;
    step_val_[slot] = out;
    if (++n_steps_ * 2 > step_key_.size()) {
        std::vector<uint64_t> keys(step_key_.size() * 2, 0);
        std::vector<uint32_t> vals(keys.size(), 0);
        mask = keys.size() - 1;
        for (size_t k = 0; k < step_key_.size(); ++k) {
            if (!step_key_[k]) continue;
            size_t p = mix(step_key_[k]) & mask;
            while (keys[p]) p = (p + 1) & mask;
            keys[p] = step_key_[k];
            vals[p] = step_val_[k];
        }
        step_key_.swap(keys);
        step_val_.swap(vals);
    }
    return out;
}

bool StateCache::trim() {
    if (sets_.size() <= kMaxSets && n_steps_ <= kMaxSteps && n_elements_ <= kMaxElements) return false;
    sets_.clear();
    set_hash_.clear();
    set_table_.clear();
    dense_.clear();
    step_key_.clear();
    step_val_.clear();
    n_steps_ = 0;
    n_elements_ = 0;
    return true;
}

}  // namespace llamas::grammar
