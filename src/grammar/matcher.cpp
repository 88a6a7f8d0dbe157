#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>

#include "util/error.h"

namespace llamas::grammar {

namespace {

bool is_end(Op op) { return op == Op::alt || op == Op::end; }

uint64_t hash_stack(const uint32_t* s, size_t n) {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (size_t i = 0; i < n; ++i) h = (h ^ s[i]) * 0x100000001b3ull + (h >> 29);
    return h;
}

}  // namespace

bool StackSet::add(const uint32_t* s, size_t n) {
    const uint64_t h = hash_stack(s, n);
    auto same = [&](size_t i) {
        return hashes_[i] == h && length(i) == n && (n == 0 || std::memcmp(begin(i), s, n * sizeof *s) == 0);
    };
    if (table_.empty()) {
        for (size_t i = 0; i < hashes_.size(); ++i)
            if (same(i)) return false;
    } else {
        for (size_t slot = h & (table_.size() - 1); table_[slot]; slot = (slot + 1) & (table_.size() - 1))
            if (same(table_[slot] - 1)) return false;
    }
    data_.insert(data_.end(), s, s + n);
    ends_.push_back(static_cast<uint32_t>(data_.size()));
    hashes_.push_back(h);
    // Small sets (the usual case) are searched linearly; large ones through an open-addressing
    // table of indices, kept at most half full.
    if (hashes_.size() >= kLinearMax && hashes_.size() * 2 > table_.size()) {
        table_.assign(std::max<size_t>(64, table_.size() * 2), 0);
        for (size_t i = 0; i < hashes_.size(); ++i) {
            size_t slot = hashes_[i] & (table_.size() - 1);
            while (table_[slot]) slot = (slot + 1) & (table_.size() - 1);
            table_[slot] = static_cast<uint32_t>(i + 1);
        }
    } else if (!table_.empty()) {
        size_t slot = h & (table_.size() - 1);
        while (table_[slot]) slot = (slot + 1) & (table_.size() - 1);
        table_[slot] = static_cast<uint32_t>(hashes_.size());
    }
    return true;
}

Matcher::Matcher(const Grammar& g, MatcherLimits limits) : g_(g), limits_(limits) {}

bool Matcher::match(uint32_t pos, uint32_t cp) const {
    const Elem* e = g_.elems.data();
    if (e[pos].op == Op::any) return true;
    if (is_token_op(e[pos].op)) return false;  // a token reference takes whole tokens, not characters
    const bool positive = e[pos].op == Op::chr;
    for (;;) {
        bool in;
        if (e[pos + 1].op == Op::rng_upper) {
            in = e[pos].value <= cp && cp <= e[pos + 1].value;
            pos += 2;
        } else {
            in = e[pos].value == cp;
            pos += 1;
        }
        if (in) return positive;
        if (e[pos].op != Op::chr_alt) return !positive;
    }
}

uint32_t Matcher::after_set(uint32_t pos) const {
    const Elem* e = g_.elems.data();
    ++pos;
    while (e[pos].op == Op::rng_upper || e[pos].op == Op::chr_alt) ++pos;
    return pos;
}

// Whether the set at pos can match some character that starts with the bits in p. For a
// negated set this is conservative the way llama.cpp's is: a set that excludes any character
// of the possible range refuses it.
bool Matcher::match_partial(uint32_t pos, PartialUtf8 p) const {
    const Elem* e = g_.elems.data();
    if (p.n_remain < 0 || (p.n_remain == 1 && p.value < 2)) return false;  // invalid or overlong
    if (e[pos].op == Op::any) return true;
    if (is_token_op(e[pos].op)) return false;
    const int shift = p.n_remain * 6;
    uint32_t low = p.value << shift;
    const uint32_t high = low | ((1u << shift) - 1);
    if (low == 0) {  // overlong forms are not characters
        if (p.n_remain == 2) low = 1u << 11;
        else if (p.n_remain == 3) low = 1u << 16;
    }
    const bool positive = e[pos].op == Op::chr;
    for (;;) {
        bool overlap;
        if (e[pos + 1].op == Op::rng_upper) {
            overlap = e[pos].value <= high && low <= e[pos + 1].value;
            pos += 2;
        } else {
            overlap = low <= e[pos].value && e[pos].value <= high;
            pos += 1;
        }
        if (overlap) return positive;
        if (e[pos].op != Op::chr_alt) return !positive;
    }
}

bool Matcher::accepts_partial(const StackSet& s, PartialUtf8 p) const {
    for (size_t i = 0; i < s.size(); ++i)
        if (s.length(i) > 0 && match_partial(s.top(i), p)) return true;
    return false;
}

bool Matcher::can_end(const StackSet& s) {
    for (size_t i = 0; i < s.size(); ++i)
        if (s.length(i) == 0) return true;
    return false;
}

void Matcher::expand(const uint32_t* s, size_t n, StackSet& out) {
    const Elem* e = g_.elems.data();
    work_.assign(s, s + n);
    work_ends_.assign(1, static_cast<uint32_t>(n));
    seen_.clear();
    size_t steps = 0;
    while (!work_ends_.empty()) {
        const uint32_t end = work_ends_.back();
        work_ends_.pop_back();
        const uint32_t begin = work_ends_.empty() ? 0 : work_ends_.back();
        const size_t len = end - begin;
        if (len == 0 || e[work_[end - 1]].op != Op::ref) {
            if (out.add(work_.data() + begin, len) && out.size() > limits_.max_stacks)
                fail(Status::invalid_argument, "the grammar is too ambiguous: more than %zu parse stacks at once",
                     limits_.max_stacks);
            work_.resize(begin);
            continue;
        }
        // A cycle of rules that match the empty string in tail position (`(x*)*`) comes back
        // to a stack expanded before: expanding it again would add nothing.
        if (!seen_.add(work_.data() + begin, len)) {
            work_.resize(begin);
            continue;
        }
        if (++steps > limits_.max_expansions || len + 1 > limits_.max_stack_depth)
            fail(Status::invalid_argument, "the grammar is too ambiguous or too deeply nested to match");
        const uint32_t top = work_[end - 1];
        const uint32_t next = top + 1;
        const bool has_next = !is_end(e[next].op);
        // The popped stack's elements below the top are reused in place for the first
        // alternative and copied for the others.
        uint32_t a = g_.rule_start[e[top].value];
        bool first = true;
        for (;;) {
            if (first) {
                work_.resize(end - 1);
                first = false;
            } else {
                for (size_t k = begin; k + 1 < end; ++k) work_.push_back(work_[k]);
            }
            if (has_next) work_.push_back(next);
            if (!is_end(e[a].op)) work_.push_back(a);
            work_ends_.push_back(static_cast<uint32_t>(work_.size()));
            while (!is_end(e[a].op)) ++a;
            if (e[a].op == Op::end) break;
            ++a;
        }
    }
}

void Matcher::start(StackSet& out) {
    out.clear();
    const Elem* e = g_.elems.data();
    uint32_t a = g_.rule_start[g_.root];
    for (;;) {
        const uint32_t stack[1] = {a};
        expand(stack, is_end(e[a].op) ? 0 : 1, out);
        while (!is_end(e[a].op)) ++a;
        if (e[a].op == Op::end) break;
        ++a;
    }
}

void Matcher::accept(const StackSet& in, uint32_t cp, StackSet& out) {
    out.clear();
    const Elem* e = g_.elems.data();
    for (size_t i = 0; i < in.size(); ++i) {
        const size_t n = in.length(i);
        if (n == 0 || !match(in.top(i), cp)) continue;
        const uint32_t* s = in.begin(i);
        const uint32_t next = after_set(s[n - 1]);
        cur_.assign(s, s + n - 1);
        if (!is_end(e[next].op)) cur_.push_back(next);
        expand(cur_.data(), cur_.size(), out);
    }
}

bool Matcher::accept_text(StackSet& stacks, PartialUtf8& partial, std::string_view text) {
    cps_.clear();
    const PartialUtf8 p = decode_utf8(text, partial, cps_);
    if (p.n_remain < 0) return false;
    for (const uint32_t cp : cps_) {
        accept(stacks, cp, tmp_);
        if (tmp_.empty()) return false;
        std::swap(stacks, tmp_);
    }
    if (p.n_remain > 0 && !accepts_partial(stacks, p)) return false;
    partial = p;
    return true;
}

bool Matcher::has_token_refs(const StackSet& s) const {
    for (size_t i = 0; i < s.size(); ++i)
        if (s.length(i) > 0 && is_token_op(g_.elems[s.top(i)].op)) return true;
    return false;
}

void Matcher::accept_token_refs(const StackSet& in, int32_t token, StackSet& out) {
    const Elem* e = g_.elems.data();
    for (size_t i = 0; i < in.size(); ++i) {
        const size_t n = in.length(i);
        if (n == 0 || !is_token_op(e[in.top(i)].op) || !match_token(in.top(i), token)) continue;
        const uint32_t* s = in.begin(i);
        const uint32_t next = s[n - 1] + 1;
        cur_.assign(s, s + n - 1);
        if (!is_end(e[next].op)) cur_.push_back(next);
        expand(cur_.data(), cur_.size(), out);
    }
}

bool Matcher::accept_token(StackSet& stacks, PartialUtf8& partial, int32_t token, std::string_view piece) {
    by_token_.clear();
    // A token reference takes a token that starts on a character boundary (as in llama.cpp).
    if (partial.n_remain == 0 && has_token_refs(stacks)) accept_token_refs(stacks, token, by_token_);
    PartialUtf8 p = partial;
    const bool by_text = !piece.empty() && accept_text(stacks, p, piece);
    if (!by_text) {
        if (by_token_.empty()) return false;
        std::swap(stacks, by_token_);
        partial = {};
        return true;
    }
    for (size_t i = 0; i < by_token_.size(); ++i) stacks.add(by_token_.begin(i), by_token_.length(i));
    partial = p;
    return true;
}

}  // namespace llamas::grammar
