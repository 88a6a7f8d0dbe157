// Pieces shared by the JSON Schema converter's files (src/grammar/json_schema*.cpp).
#pragma once
#include <cstdint>
#include <functional>
#include <string>

namespace llamas::json_schema_detail {

// Bounds that keep hostile schemas from costing unbounded time or memory.
constexpr int kMaxDepth = 64;                  // nested sub-schemas / regex groups
constexpr int kMaxDocumentDepth = 256;         // JSON nesting anywhere in the document
constexpr int64_t kMaxRepeat = 10000;          // minItems, maxItems, minLength, {m,n}, ...
constexpr size_t kMaxVisits = 100000;          // sub-schemas visited ($ref / allOf re-entry)
constexpr size_t kMaxGrammarBytes = 4u << 20;  // total size of the rules
constexpr int64_t kNoMax = -1;                 // "unbounded" for repetition()

// Bodies of the shared primitive rules `char` (one character of a JSON string, escapes
// included) and `dot` (the same without line breaks: a regex `.`).
extern const char* const kCharRule;
extern const char* const kDotRule;

// A GBNF string literal for the given bytes: "..." with \" \\ \r \n escaped.
std::string gbnf_literal(const std::string& bytes);

// A code point inside a GBNF character class: printable ASCII as itself, the rest and the
// class's own metacharacters as \xHH, \uHHHH or \UHHHHHHHH.
std::string gbnf_class_char(uint32_t cp);

// `item` repeated min..max times (max kNoMax: unbounded), with `separator` between items when
// not empty; "" when max is 0. The counts must already be within kMaxRepeat.
std::string repetition(const std::string& item, int64_t min, int64_t max, const std::string& separator = "");

// An integer range as a GBNF alternation (no enclosing parentheses) into `out`, for
// `type: integer` with minimum and/or maximum.
void integer_range(bool has_min, int64_t min, bool has_max, int64_t max, std::string& out);

// Adds a rule (name, body) and returns the name actually used (deduplicated).
using AddRule = std::function<std::string(const std::string& name, const std::string& body)>;

// A regular expression (JSON Schema `pattern`) as the body of a rule matching the JSON string
// literal (quotes included) whose decoded text matches it. Helper rules go through add_rule.
std::string pattern_to_gbnf(const std::string& pattern, const std::string& name, const AddRule& add_rule);

}  // namespace llamas::json_schema_detail
