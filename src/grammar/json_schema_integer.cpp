// Integer ranges (`type: integer` with minimum / maximum) as digit-by-digit alternations, in the
// shape llama.cpp writes. Unbounded sides are limited to 16 digits, as llama.cpp's integral-part.
// Unlike llama.cpp, magnitudes are never given leading zeros ("-05" is not JSON), and a lower
// bound with inner zeros (105) keeps its width when its tail is matched.
#include <algorithm>
#include <string>

#include "grammar/json_schema_internal.h"

namespace llamas::json_schema_detail {
namespace {

constexpr int kUnbounded = -1;

class RangeWriter {
public:
    explicit RangeWriter(std::string& out) : out_(out) {}

    // from <= to, same number of digits: the numbers between them, written digit by digit.
    void same_width(const std::string& from, const std::string& to) {
        size_t i = 0;
        while (i < from.size() && from[i] == to[i]) ++i;
        if (i > 0) out_ += "\"" + from.substr(0, i) + "\"";
        if (i == from.size()) return;
        if (i > 0) out_ += ' ';
        const size_t rest = from.size() - i - 1;
        if (rest == 0) {
            out_ += std::string("[") + from[i] + "-" + to[i] + "]";
            return;
        }
        const std::string from_tail = from.substr(i + 1), to_tail = to.substr(i + 1);
        const std::string zeros(rest, '0'), nines(rest, '9');
        bool top_done = false;
        out_ += '(';
        if (from_tail == zeros) {
            digit(from[i], static_cast<char>(to[i] - 1));
            out_ += ' ';
            any_digits(static_cast<int>(rest), static_cast<int>(rest));
        } else {
            out_ += std::string("[") + from[i] + "] (";
            same_width(from_tail, nines);
            out_ += ')';
            if (from[i] < to[i] - 1) {
                out_ += " | ";
                top_done = to_tail == nines;
                digit(static_cast<char>(from[i] + 1), top_done ? to[i] : static_cast<char>(to[i] - 1));
                out_ += ' ';
                any_digits(static_cast<int>(rest), static_cast<int>(rest));
            }
        }
        if (!top_done) {
            out_ += " | ";
            digit(to[i], to[i]);
            out_ += ' ';
            same_width(zeros, to_tail);
        }
        out_ += ')';
    }

    // 0 <= lo <= hi.
    void between(int64_t lo, int64_t hi) {
        std::string lo_s = std::to_string(lo);
        const std::string hi_s = std::to_string(hi);
        for (size_t width = lo_s.size(); width < hi_s.size(); ++width) {
            same_width(lo_s, std::string(width, '9'));
            lo_s = "1" + std::string(width, '0');
            out_ += " | ";
        }
        same_width(lo_s, hi_s);
    }

    // Numbers without leading zeros >= lo (lo >= 0), at most `digits` digits past the first.
    void at_least(const std::string& lo, int digits) { at_least_from(lo, digits, '1'); }

private:
    // Digit strings longer than `lo`, or as long and not smaller, whose first digit is at least
    // `first_min`: '1' for a whole number (no leading zero), '0' for the tail after a first
    // digit (where zeros are ordinary digits).
    void at_least_from(const std::string& lo, int digits, char first_min) {
        const int fewer = std::max(digits - 1, 1);
        const char c = lo[0];
        if (lo.size() == 1) {
            if (c == '0') {
                if (first_min == '0') {
                    any_digits(1, digits);
                } else {
                    out_ += "[0] | [1-9] ";
                    any_digits(0, fewer);
                }
                return;
            }
            if (c > first_min) {
                digit(first_min, static_cast<char>(c - 1));
                out_ += ' ';
                any_digits(1, fewer);
                out_ += " | ";
            }
            digit(c, '9');
            out_ += ' ';
            any_digits(0, fewer);
            return;
        }
        const int width = static_cast<int>(lo.size());
        if (c > first_min) {
            digit(first_min, static_cast<char>(c - 1));
            out_ += ' ';
            any_digits(width, fewer);
            out_ += " | ";
        }
        digit(c, c);
        out_ += " (";
        at_least_from(lo.substr(1), fewer, '0');
        out_ += ')';
        if (c < '9') {
            out_ += " | ";
            digit(static_cast<char>(c + 1), '9');
            out_ += ' ';
            any_digits(width - 1, fewer);
        }
    }

    void digit(char lo, char hi) {
        out_ += '[';
        out_ += lo;
        if (hi != lo) {
            out_ += '-';
            out_ += hi;
        }
        out_ += ']';
    }

    void any_digits(int min, int max) {
        out_ += "[0-9]";
        if (min == 1 && max == 1) return;
        out_ += "{" + std::to_string(min);
        if (max != min) {
            out_ += ',';
            if (max != kUnbounded) out_ += std::to_string(max);
        }
        out_ += '}';
    }

    std::string& out_;
};

}  // namespace

void integer_range(bool has_min, int64_t min, bool has_max, int64_t max, std::string& out) {
    RangeWriter w(out);
    constexpr int kDigits = 16;
    if (has_min && has_max) {
        if (max < 0) {
            out += "\"-\" (";
            w.between(-max, -min);
            out += ')';
            return;
        }
        if (min < 0) {
            out += "\"-\" (";
            w.between(0, -min);
            out += ") | ";
            min = 0;
        }
        w.between(min, max);
        return;
    }
    if (has_min) {
        if (min < 0) {
            out += "\"-\" (";
            w.between(0, -min);
            out += ") | ";
            w.at_least("0", kDigits);
        } else {
            w.at_least(std::to_string(min), kDigits);
        }
        return;
    }
    // Only a maximum.
    if (max >= 0) {
        out += "\"-\" [1-9] [0-9]{0,15} | ";
        w.between(0, max);
    } else {
        out += "\"-\" (";
        w.at_least(std::to_string(-max), kDigits);
        out += ')';
    }
}

}  // namespace llamas::json_schema_detail
