#include "sample/stop_strings.h"

#include <algorithm>

namespace llamas {

namespace {

// Moves a cut point back until it does not split a UTF-8 character.
size_t char_floor(const std::string& s, size_t pos) {
    while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
    return pos;
}

}  // namespace

StopStrings::StopStrings(std::vector<std::string> stops) {
    for (auto& s : stops)
        if (!s.empty()) stops_.push_back(std::move(s));
}

std::string StopStrings::push(std::string_view text) {
    if (matched_) return {};
    held_.append(text);
    if (stops_.empty()) {
        std::string out;
        out.swap(held_);
        return out;
    }

    // The earliest occurrence of any stop string ends the stream.
    size_t first = std::string::npos;
    for (const std::string& s : stops_) first = std::min(first, held_.find(s));
    if (first != std::string::npos) {
        matched_ = true;
        std::string out = held_.substr(0, char_floor(held_, first));
        held_.clear();
        return out;
    }

    // Hold back from the earliest position whose tail is a (proper) prefix of a stop string.
    // Everything before it cannot take part in any later match: an occurrence starting there
    // would have to continue with exactly the bytes that follow, and it does not.
    size_t keep_from = held_.size();
    for (const std::string& s : stops_) {
        for (size_t len = std::min(s.size() - 1, held_.size()); len > 0; --len) {
            if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
                keep_from = std::min(keep_from, held_.size() - len);
                break;  // the longest such tail of this stop string
            }
        }
    }
    keep_from = char_floor(held_, keep_from);
    std::string out = held_.substr(0, keep_from);
    held_.erase(0, keep_from);
    return out;
}

std::string StopStrings::flush() {
    std::string out;
    out.swap(held_);
    return out;
}

}  // namespace llamas
