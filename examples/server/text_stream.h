// Turns the bytes of generated tokens into text a client may see: whole UTF-8 characters only,
// and never a byte of a stop string. Text that could still grow into a stop string is held back
// until it cannot; when a stop string appears, the text before it is the last that goes out.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

namespace server {

class TextStream {
public:
    explicit TextStream(std::vector<std::string> stops) : stops_(std::move(stops)) {
        stops_.erase(std::remove(stops_.begin(), stops_.end(), std::string()), stops_.end());
    }

    // Adds a token's bytes; returns the text now safe to send. Sets *stopped once a stop string
    // has appeared (nothing after it is ever returned).
    std::string push(const std::string& bytes, bool* stopped) {
        *stopped = false;
        if (done_) return {};
        held_ += bytes;
        size_t first = std::string::npos;
        for (const std::string& s : stops_) first = std::min(first, held_.find(s));
        if (first != std::string::npos) {
            done_ = true;
            *stopped = true;
            std::string out = held_.substr(0, complete_prefix(held_.substr(0, first)));
            held_.clear();
            return out;
        }
        size_t keep = 0;  // the longest tail of held_ that begins some stop string
        for (const std::string& s : stops_)
            for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k)
                if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
                    keep = k;
                    break;
                }
        const size_t n = complete_prefix(held_.substr(0, held_.size() - keep));
        std::string out = held_.substr(0, n);
        held_.erase(0, n);
        return out;
    }

    // At the end of generation: whatever is still held (an unfinished stop string is text).
    std::string flush() {
        if (done_) return {};
        done_ = true;
        std::string out;
        out.swap(held_);
        return out;
    }

private:
    // The length of the longest prefix of s that does not end inside a UTF-8 character.
    static size_t complete_prefix(const std::string& s) {
        size_t n = s.size();
        size_t i = n;
        int back = 0;
        while (i > 0 && back < 4) {
            const unsigned char c = static_cast<unsigned char>(s[i - 1]);
            if ((c & 0xC0) != 0x80) {  // a lead byte (or ASCII): is its character complete?
                const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
                return (n - (i - 1)) >= len ? n : i - 1;
            }
            --i;
            ++back;
        }
        return n;  // only continuation bytes: not UTF-8 we can repair; send as is
    }

    std::vector<std::string> stops_;
    std::string held_;
    bool done_ = false;
};

}  // namespace server
