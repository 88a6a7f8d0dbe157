#include "sample/trigger_patterns.h"

#include "util/error.h"

namespace llamas {

namespace {

std::regex::flag_type flags() {
#ifdef __GLIBCXX__
    // libstdc++'s breadth-first matcher: polynomial time and no recursion per input character
    // (its default backtracking one can take exponential time or overflow the stack).
    return std::regex::ECMAScript | std::regex_constants::__polynomial;
#else
    return std::regex::ECMAScript;
#endif
}

size_t start_of(const std::smatch& m) {
    for (size_t i = 1; i < m.size(); ++i)
        if (m.length(i) > 0) return static_cast<size_t>(m.position(i));
    return static_cast<size_t>(m.position(0));
}

}  // namespace

TriggerPatterns::TriggerPatterns(const std::vector<std::string>& patterns) {
    for (const std::string& p : patterns) {
        if (p.empty() || p.size() > kMaxPattern)
            fail(Status::invalid_argument, "a trigger pattern must have 1 to %zu bytes", kMaxPattern);
        try {
            patterns_.push_back({std::regex(p, flags()), p.front() == '^' && p.back() == '$'});
        } catch (const std::regex_error& e) {
            fail(Status::invalid_argument, "trigger pattern \"%s\": %s", p.c_str(), e.what());
        }
    }
}

size_t TriggerPatterns::find(const std::string& text) const {
    if (text.size() > kMaxText) return std::string::npos;
    for (const Pattern& p : patterns_) {
        std::smatch m;
        if (p.whole ? std::regex_match(text, m, p.re) : std::regex_search(text, m, p.re)) return start_of(m);
    }
    return std::string::npos;
}

}  // namespace llamas
