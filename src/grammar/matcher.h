// The grammar matcher: llama.cpp's pushdown semantics over Unicode code points.
//
// A parse stack is a list of element positions (top last): each is where to continue in some
// rule once what is above it has matched. Expanding rule references on top of a stack (one
// new stack per alternative) until a character set is on top gives the stacks a character is
// tested against; a stack that becomes empty means the grammar may end there. The set of all
// live stacks is the matcher's state; it is deduplicated after every step, and its size is
// bounded (an ambiguous grammar that would need more stacks fails with an error).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/utf8_stream.h"

namespace llamas::grammar {

// Parse stacks stored back to back in one array, so that copying and clearing a set allocates
// nothing once its buffers have grown.
class StackSet {
public:
    size_t size() const { return ends_.size(); }
    bool empty() const { return ends_.empty(); }
    const uint32_t* begin(size_t i) const { return data_.data() + (i ? ends_[i - 1] : 0); }
    size_t length(size_t i) const { return ends_[i] - (i ? ends_[i - 1] : 0); }
    uint32_t top(size_t i) const { return data_[ends_[i] - 1]; }  // stack i must not be empty
    void clear() {
        data_.clear();
        ends_.clear();
        hashes_.clear();
        table_.clear();
    }
    // Adds a stack unless an equal one is there; returns whether it was added.
    bool add(const uint32_t* s, size_t n);
    size_t total_length() const { return data_.size(); }

private:
    std::vector<uint32_t> data_;
    std::vector<uint32_t> ends_;
    std::vector<uint64_t> hashes_;
    std::vector<uint32_t> table_;  // index + 1 by hash, once the set is large; 0 = free slot
    static constexpr size_t kLinearMax = 32;
};

struct MatcherLimits {
    size_t max_stacks = 4096;        // live stacks after one step
    size_t max_stack_depth = 1 << 16;
    size_t max_expansions = 1 << 20;  // stacks visited while expanding one step
};

// Operations over a parsed grammar; holds scratch space only (not thread-safe, cheap to make).
class Matcher {
public:
    explicit Matcher(const Grammar& g, MatcherLimits limits = {});

    const Grammar& grammar() const { return g_; }

    // The stacks before any character (the root rule, expanded).
    void start(StackSet& out);
    // The stacks after code point cp; out is empty when no stack accepts it. in and out must
    // differ. Throws Error(invalid_argument) when a limit is exceeded.
    void accept(const StackSet& in, uint32_t cp, StackSet& out);
    // Whether some stack's top character set can be the character whose first bytes `p` holds.
    bool accepts_partial(const StackSet& s, PartialUtf8 p) const;
    static bool can_end(const StackSet& s);

    // Whether the character set at pos matches cp.
    bool match(uint32_t pos, uint32_t cp) const;
    // The position after the character set starting at pos.
    uint32_t after_set(uint32_t pos) const;

    // Feeds a whole string from state (stacks, partial); returns false (state unspecified)
    // when the grammar rejects it.
    bool accept_text(StackSet& stacks, PartialUtf8& partial, std::string_view text);
    // Feeds one generated token: its text through the character stacks, and the token itself
    // to stacks with a token reference on top (<[id]>, !<[id]>); the result is both together.
    // Returns false (state unspecified) when neither accepts it.
    bool accept_token(StackSet& stacks, PartialUtf8& partial, int32_t token, std::string_view piece);
    // The stacks after a whole token from those with a token reference on top (added to out).
    void accept_token_refs(const StackSet& in, int32_t token, StackSet& out);
    // Whether some stack has a token reference on top.
    bool has_token_refs(const StackSet& s) const;
    // Whether the token reference at pos matches token.
    bool match_token(uint32_t pos, int32_t token) const {
        const Elem& e = g_.elems[pos];
        return (e.value == static_cast<uint32_t>(token)) == (e.op == Op::token);
    }

private:
    // Expands stack s (its top may be a rule reference) into out.
    void expand(const uint32_t* s, size_t n, StackSet& out);
    bool match_partial(uint32_t pos, PartialUtf8 p) const;

    const Grammar& g_;
    MatcherLimits limits_;
    std::vector<uint32_t> work_;           // stacks waiting to be expanded, back to back
    std::vector<uint32_t> work_ends_;
    std::vector<uint32_t> cps_;
    std::vector<uint32_t> cur_;
    StackSet seen_;  // stacks with a rule reference on top expanded by the current expand()
    StackSet tmp_;
    StackSet by_token_;
};

}  // namespace llamas::grammar
