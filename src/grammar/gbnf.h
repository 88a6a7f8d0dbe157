// GBNF grammars in llama.cpp's syntax, parsed into a flat element array.
//
//   root  ::= item ("," ws item)*      # rules, sequences, alternatives, groups, comments
//   item  ::= [a-z]+ | "\"" [^"]* "\"" | .{1,3}
//
// A rule's body is its alternatives one after another, each a sequence of elements, separated
// by `alt` and closed by `end`. Character sets are a `chr` (or `chr_not`) element followed by
// `rng_upper` (making the previous character the lower bound of a range) and `chr_alt`
// elements. Groups and repetitions become generated rules (named after the rule they appear
// in), as llama.cpp does, so the matcher only knows sequences, alternatives and references.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace llamas::grammar {

enum class Op : uint8_t {
    end,        // end of a rule
    alt,        // end of one alternative; the next starts after it
    ref,        // value: rule id
    chr,        // value: a code point; starts a positive character set
    chr_not,    // value: a code point; starts a negated character set
    rng_upper,  // value: upper bound of a range whose lower bound is the previous element
    chr_alt,    // value: another code point (or range start) of the set
    any,        // `.`: any code point
    token,      // value: a token id; `<[id]>` or `<text>`: exactly that token, as a whole
    token_not,  // value: a token id; `!<[id]>` or `!<text>`: any one token but that one
};

inline bool is_token_op(Op op) { return op == Op::token || op == Op::token_not; }

struct Elem {
    Op op;
    uint32_t value;
};

// Limits that keep hostile grammars from costing unbounded memory or time: each is refused
// with an error naming where in the text it was exceeded.
struct Limits {
    uint32_t max_depth = 64;              // nested groups
    uint32_t max_repeat = 10000;          // m and n in {m,n}
    size_t max_elements = size_t{1} << 20;  // elements of all rules together, after expansion
    size_t max_rules = size_t{1} << 17;
};

struct Grammar {
    std::vector<Elem> elems;              // every rule, concatenated
    std::vector<uint32_t> rule_start;     // rule id -> offset of its first element in elems
    std::vector<std::string> rule_names;  // rule id -> name (generated rules: "name_N")
    uint32_t root = 0;
};

// The id of the one token whose text is `text` (a `<text>` reference, brackets included, as
// llama.cpp tokenizes it with special tokens parsed), or -1 when it is not exactly one token.
using TokenLookup = std::function<int32_t(std::string_view text)>;

// Parses GBNF text. Throws Error(invalid_argument) whose message starts with
// "line L, column C: " for syntax errors, undefined rules, a missing root rule, left
// recursion (direct or through nullable prefixes) and exceeded limits. `<text>` token
// references need `lookup` (a vocabulary); `<[id]>` ones do not (ids are checked against the
// vocabulary by the sampler stage).
Grammar parse(std::string_view text, std::string_view root = "root", const Limits& limits = {},
              const TokenLookup& lookup = {});

// Throws Error(invalid_argument) naming the cycle when a rule can reach itself without
// consuming a character. `where` maps a rule id to the text offset it was defined at.
void check_left_recursion(const Grammar& g, const std::vector<size_t>& where, std::string_view text);

// The GBNF text with `prefix` put before every rule name (definitions and references alike),
// to merge separately made grammars into one. Expects text that parses.
std::string prefix_rule_names(const std::string& text, const std::string& prefix);

// "line L, column C" (1-based; columns count bytes) of a byte offset in text.
std::string position_of(std::string_view text, size_t offset);

}  // namespace llamas::grammar
