// JSON Schema `pattern` → GBNF. The grammar matches the JSON string literal (quotes included)
// whose decoded text matches the regex, so quotes, backslashes and control characters in the
// regex come out JSON-escaped (llama.cpp emits them raw, which gives invalid JSON).
//
// Supported: literals and escaped metacharacters, \d \w \s, \n \r \t \f \v \0 \xHH \uHHHH,
// classes [..] and [^..] with ranges, `.`, groups (..) and (?:..), alternation, * + ? {m}
// {m,} {m,n} (lazy ? suffixes ignored), and ^ $ at the ends. A pattern without ^ or $ may have
// anything before or after the match, as the JSON Schema spec says. Anything else (lookaround,
// backreferences, \b, anchors inside, named groups) is refused.
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "grammar/json_schema_internal.h"
#include "util/error.h"
#include "util/utf8.h"

namespace llamas::json_schema_detail {
namespace {

using Range = std::pair<uint32_t, uint32_t>;

// A character as it appears inside a JSON string literal.
std::string json_encoded(uint32_t cp) {
    switch (cp) {
        case '"': return "\\\"";
        case '\\': return "\\\\";
        case '\n': return "\\n";
        case '\r': return "\\r";
        case '\t': return "\\t";
        case '\b': return "\\b";
        case '\f': return "\\f";
        default: break;
    }
    if (cp < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
        return buf;
    }
    std::string out;
    append_utf8(out, cp);
    return out;
}

std::string class_ranges(const std::vector<Range>& ranges) {
    std::string out;
    for (const Range& r : ranges) {
        out += gbnf_class_char(r.first);
        if (r.second != r.first) out += "-" + gbnf_class_char(r.second);
    }
    return out;
}

class PatternConverter {
public:
    PatternConverter(const std::string& pattern, const std::string& name, const AddRule& add_rule)
        : p_(pattern), name_(name), add_rule_(add_rule) {}

    std::string convert() {
        size_t begin = 0, end = p_.size();
        const bool anchored_start = end > 0 && p_[0] == '^';
        if (anchored_start) begin = 1;
        // A trailing $ is an anchor unless escaped (an odd number of backslashes before it).
        bool anchored_end = false;
        if (end > begin && p_[end - 1] == '$') {
            size_t slashes = 0;
            while (end - 1 - slashes > begin && p_[end - 2 - slashes] == '\\') ++slashes;
            anchored_end = slashes % 2 == 0;
        }
        if (anchored_end) --end;
        i_ = begin;
        end_ = end;
        std::string body = alternation(0);
        if (i_ != end_) bad("unbalanced ')'");
        std::string prefix, suffix;
        if (!anchored_start || !anchored_end) {
            const std::string any = add_rule_("char", kCharRule) + "*";
            if (!anchored_start) prefix = any + " ";
            if (!anchored_end) suffix = " " + any;
        }
        if (!prefix.empty() || !suffix.empty()) body = prefix + "(" + body + ")" + suffix;
        return "\"\\\"\" (" + body + ") \"\\\"\"";
    }

private:
    struct Item {
        std::string text;  // literal: JSON-encoded bytes; otherwise GBNF
        bool literal;
    };

    [[noreturn]] void bad(const char* what) const {
        fail(Status::invalid_argument, "unsupported pattern '%.200s': %s (at offset %zu)", p_.c_str(), what, i_);
    }

    bool at_end() const { return i_ >= end_; }
    char peek() const { return p_[i_]; }

    std::string alternation(int depth) {
        if (depth > kMaxDepth) bad("groups nested too deeply");
        std::string out = sequence(depth);
        while (!at_end() && peek() == '|') {
            ++i_;
            out += " | " + sequence(depth);
        }
        return out;
    }

    std::string sequence(int depth) {
        std::vector<Item> items;
        bool after_quantifier = false;
        while (!at_end() && peek() != '|' && peek() != ')') {
            const char c = peek();
            if (c == '*' || c == '+' || c == '?') {
                ++i_;
                if (after_quantifier) {
                    if (c == '?') continue;  // lazy: matches the same strings
                    bad("quantifier after a quantifier");
                }
                if (items.empty()) bad("nothing to repeat");
                Item& last = items.back();
                last.text = as_gbnf(last) + c;
                last.literal = false;
                after_quantifier = true;
                continue;
            }
            if (c == '{') {
                int64_t min = 0, max = 0;
                braces(min, max);
                if (after_quantifier) bad("quantifier after a quantifier");
                if (items.empty()) bad("nothing to repeat");
                Item& last = items.back();
                std::string item = as_gbnf(last);
                if (!last.literal) {
                    std::string& id = sub_rules_[item];
                    if (id.empty()) id = add_rule_(name_ + "-" + std::to_string(sub_rules_.size()), item);
                    item = id;
                }
                last.text = repetition(item, min, max);
                if (last.text.empty()) last.text = "\"\"";  // {0}: nothing
                last.literal = false;
                after_quantifier = true;
                continue;
            }
            after_quantifier = false;
            items.push_back(atom(depth));
        }
        // Consecutive literals merge into one string.
        std::string out;
        std::string run;
        bool have_run = false;
        auto flush = [&] {
            if (!have_run) return;
            if (!out.empty()) out += ' ';
            out += gbnf_literal(run);
            run.clear();
            have_run = false;
        };
        for (const Item& item : items) {
            if (item.literal) {
                run += item.text;
                have_run = true;
                continue;
            }
            flush();
            if (!out.empty()) out += ' ';
            out += item.text;
        }
        flush();
        return out.empty() ? "\"\"" : out;
    }

    static std::string as_gbnf(const Item& item) { return item.literal ? gbnf_literal(item.text) : item.text; }

    // {m}, {m,} or {m,n} at i_.
    void braces(int64_t& min, int64_t& max) {
        ++i_;
        auto number = [&](int64_t& v) {
            if (at_end() || peek() < '0' || peek() > '9') return false;
            v = 0;
            while (!at_end() && peek() >= '0' && peek() <= '9') {
                v = v * 10 + (peek() - '0');
                if (v > kMaxRepeat) bad("repetition count too large");
                ++i_;
            }
            return true;
        };
        if (!number(min)) bad("malformed {m,n}");
        max = min;
        if (!at_end() && peek() == ',') {
            ++i_;
            if (!number(max)) max = kNoMax;
        }
        if (at_end() || peek() != '}') bad("malformed {m,n}");
        ++i_;
        if (max != kNoMax && max < min) bad("{m,n} with n < m");
    }

    Item atom(int depth) {
        const char c = peek();
        switch (c) {
            case '.': ++i_; return {add_rule_("dot", kDotRule), false};
            case '(': {
                ++i_;
                if (!at_end() && peek() == '?') {
                    if (i_ + 1 < end_ && p_[i_ + 1] == ':') i_ += 2;
                    else bad("lookaround, named groups and flags are not supported");
                }
                std::string inner = alternation(depth + 1);
                if (at_end() || peek() != ')') bad("unbalanced '('");
                ++i_;
                return {"(" + inner + ")", false};
            }
            case '[': return {char_class(), false};
            case '^':
            case '$': bad("anchors are supported only at the start and end");
            case '\\': return escape();
            default: break;
        }
        // A literal character: one whole UTF-8 sequence, so that a quantifier repeats all of it.
        const unsigned char lead = static_cast<unsigned char>(c);
        size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (i_ + len > end_) len = end_ - i_;
        std::string bytes = p_.substr(i_, len);
        i_ += len;
        if (len == 1) return {json_encoded(lead), true};
        return {bytes, true};
    }

    // The code point of an escape that stands for one character; false for a shorthand class
    // (\d, \w, \s), whose ranges go to `ranges`.
    bool escaped_char(uint32_t& cp, std::vector<Range>& ranges) {
        ++i_;  // the backslash
        if (at_end()) bad("trailing backslash");
        const char e = peek();
        ++i_;
        auto hex = [&](int n) {
            uint32_t v = 0;
            for (int k = 0; k < n; ++k) {
                if (at_end()) bad("short hex escape");
                const char h = peek();
                int d = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : h >= 'A' && h <= 'F' ? h - 'A' + 10 : -1;
                if (d < 0) bad("bad hex escape");
                v = v * 16 + static_cast<uint32_t>(d);
                ++i_;
            }
            return v;
        };
        switch (e) {
            case 'd': ranges = {{'0', '9'}}; return false;
            case 'w': ranges = {{'0', '9'}, {'A', 'Z'}, {'a', 'z'}, {'_', '_'}}; return false;
            case 's': ranges = {{' ', ' '}, {'\t', '\r'}}; return false;
            case 'n': cp = '\n'; return true;
            case 'r': cp = '\r'; return true;
            case 't': cp = '\t'; return true;
            case 'f': cp = '\f'; return true;
            case 'v': cp = '\v'; return true;
            case '0': cp = 0; return true;
            case 'x': cp = hex(2); return true;
            case 'u': cp = hex(4); return true;
            default: break;
        }
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '1' && e <= '9'))
            bad("unsupported escape (\\D \\W \\S \\b \\B, backreferences, ...)");
        if (static_cast<unsigned char>(e) >= 0x80) bad("escaped non-ASCII character");
        cp = static_cast<unsigned char>(e);
        return true;
    }

    Item escape() {
        uint32_t cp = 0;
        std::vector<Range> ranges;
        if (escaped_char(cp, ranges)) return {json_encoded(cp), true};
        return {class_rule(ranges, false), false};
    }

    std::string char_class() {
        ++i_;  // [
        bool negated = false;
        if (!at_end() && peek() == '^') {
            negated = true;
            ++i_;
        }
        std::vector<Range> ranges;
        auto one = [&](uint32_t& cp) -> bool {  // false: a shorthand was added to ranges
            if (peek() == '\\') {
                std::vector<Range> shorthand;
                if (escaped_char(cp, shorthand)) return true;
                ranges.insert(ranges.end(), shorthand.begin(), shorthand.end());
                return false;
            }
            const unsigned char lead = static_cast<unsigned char>(peek());
            if (lead < 0x80) {
                cp = lead;
                ++i_;
                return true;
            }
            const size_t len = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
            if (i_ + len > end_) bad("truncated UTF-8");
            cp = len == 2 ? lead & 0x1F : len == 3 ? lead & 0x0F : lead & 0x07;
            for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(p_[i_ + k]) & 0x3F);
            i_ += len;
            return true;
        };
        while (!at_end() && peek() != ']') {
            uint32_t lo = 0;
            if (!one(lo)) continue;
            if (i_ + 1 < end_ && peek() == '-' && p_[i_ + 1] != ']') {
                ++i_;
                uint32_t hi = 0;
                if (!one(hi)) bad("range ending in a class shorthand");
                if (hi < lo) bad("range out of order in class");
                ranges.push_back({lo, hi});
            } else {
                ranges.push_back({lo, lo});
            }
        }
        if (at_end()) bad("unterminated character class");
        ++i_;  // ]
        if (ranges.empty()) bad("empty character class");
        return class_rule(ranges, negated);
    }

    // A class as GBNF over the JSON encoding: characters that JSON escapes (quote, backslash,
    // controls) become their escape sequences; a negated class never produces them.
    static std::string class_rule(const std::vector<Range>& ranges, bool negated) {
        if (negated) return "[^" + class_ranges(ranges) + "\"\\x5C\\x00-\\x1F]";
        std::vector<Range> plain;
        std::vector<std::string> escaped;
        for (const Range& r : ranges) {
            uint32_t lo = r.first;
            for (uint32_t cp = r.first; cp <= r.second; ++cp) {
                if (cp >= 0x20 && cp != '"' && cp != '\\') {
                    if (cp >= 0x5D) break;  // nothing special past the backslash
                    continue;
                }
                if (cp > lo) plain.push_back({lo, cp - 1});
                escaped.push_back(gbnf_literal(json_encoded(cp)));
                lo = cp + 1;
            }
            if (lo <= r.second) plain.push_back({lo, r.second});
        }
        std::string out;
        if (!plain.empty()) out = "[" + class_ranges(plain) + "]";
        if (escaped.empty()) return out;
        std::string alts = out;
        for (const std::string& e : escaped) alts += (alts.empty() ? "" : " | ") + e;
        return "(" + alts + ")";
    }

    const std::string& p_;
    const std::string& name_;
    const AddRule& add_rule_;
    size_t i_ = 0, end_ = 0;
    std::map<std::string, std::string> sub_rules_;
};

}  // namespace

std::string pattern_to_gbnf(const std::string& pattern, const std::string& name, const AddRule& add_rule) {
    return PatternConverter(pattern, name, add_rule).convert();
}

}  // namespace llamas::json_schema_detail
