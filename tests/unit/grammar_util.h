// Helpers for the grammar tests: the grammar files under tests/data/grammars and whole-string
// matching.
#pragma once
#include <string>
#include <string_view>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "test_data.h"
#include "util/error.h"

namespace llamas::test {

inline std::string grammar_file(const std::string& name) {
    return read_text(std::string(LLAMAS_SOURCE_DIR) + "/tests/data/grammars/" + name);
}

// Whether the grammar matches the whole text (every character accepted, and it can end there).
inline bool full_match(const grammar::Grammar& g, std::string_view text) {
    grammar::Matcher m(g);
    grammar::StackSet s;
    m.start(s);
    grammar::PartialUtf8 p;
    return m.accept_text(s, p, text) && p.n_remain == 0 && grammar::Matcher::can_end(s);
}

// The message of the error parse() throws, or "" when it parses.
inline std::string parse_error(std::string_view text, std::string_view root = "root") {
    try {
        (void)grammar::parse(text, root);
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace llamas::test
