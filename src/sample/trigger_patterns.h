// Regular-expression triggers of lazy grammars, with llama.cpp's meaning (its trigger_patterns):
// a pattern is searched in the whole text generated so far, or matched against all of it when
// it is anchored at both ends (^...$); the grammar then starts at the first non-empty capture
// group, or at the match when there is none. ECMAScript syntax (std::regex).
#pragma once
#include <cstddef>
#include <regex>
#include <string>
#include <vector>

namespace llamas {

class TriggerPatterns {
public:
    // Longest generated text the patterns look at: past it they no longer trigger (a grammar
    // still triggers on words and tokens). Keeps each check's cost and memory bounded.
    static constexpr size_t kMaxText = 4096;
    static constexpr size_t kMaxPattern = 1024;

    TriggerPatterns() = default;
    // Throws Error(invalid_argument) for an empty, too long or invalid pattern.
    explicit TriggerPatterns(const std::vector<std::string>& patterns);

    bool empty() const { return patterns_.empty(); }
    // Where the grammar starts in text (the whole generated text), or npos.
    size_t find(const std::string& text) const;

private:
    struct Pattern {
        std::regex re;
        bool whole;  // ^...$: must match all of the text
    };
    std::vector<Pattern> patterns_;
};

}  // namespace llamas
