#include "chat/json_parse.h"

#include <charconv>
#include <cmath>
#include <cstdint>

#include "util/error.h"
#include "util/utf8.h"

namespace llamas {

namespace {

// Recursive descent with an explicit depth bound; reports failure through `error` instead of
// throwing, so parse_json_prefix can probe model output cheaply.
class Reader {
public:
    explicit Reader(std::string_view s) : s_(s) {}

    bool value(jinja::Value& out, int depth) {
        if (depth > kMaxJsonDepth) return err("nesting deeper than 64 levels");
        ws();
        if (pos_ >= s_.size()) return err("unexpected end of input");
        const char c = s_[pos_];
        if (c == '{') return object(out, depth);
        if (c == '[') return array(out, depth);
        if (c == '"') {
            std::string str;
            if (!string(str)) return false;
            out = jinja::Value(std::move(str));
            return true;
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        if (word("true")) return out = jinja::Value(true), true;
        if (word("false")) return out = jinja::Value(false), true;
        if (word("null")) return out = jinja::Value::none(), true;
        return err("unexpected character");
    }

    void ws() {
        while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
    }
    size_t pos() const { return pos_; }
    const char* error() const { return error_; }
    bool err(const char* msg) {
        if (!error_) error_ = msg;
        return false;
    }

private:
    bool word(std::string_view w) {
        if (s_.substr(pos_, w.size()) != w) return false;
        pos_ += w.size();
        return true;
    }

    bool object(jinja::Value& out, int depth) {
        ++pos_;  // {
        jinja::Dict entries;
        ws();
        if (pos_ < s_.size() && s_[pos_] == '}') {
            ++pos_;
            out = jinja::Value::dict(std::move(entries));
            return true;
        }
        for (;;) {
            ws();
            if (pos_ >= s_.size() || s_[pos_] != '"') return err("expected a string key");
            std::string key;
            if (!string(key)) return false;
            ws();
            if (pos_ >= s_.size() || s_[pos_] != ':') return err("expected ':'");
            ++pos_;
            jinja::Value v;
            if (!value(v, depth + 1)) return false;
            // Duplicate keys: the last one wins, as in Python's json module.
            bool replaced = false;
            for (auto& [k, old] : entries) {
                if (k == key) {
                    old = std::move(v);
                    replaced = true;
                    break;
                }
            }
            if (!replaced) entries.emplace_back(std::move(key), std::move(v));
            ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == '}') {
                ++pos_;
                out = jinja::Value::dict(std::move(entries));
                return true;
            }
            return err("expected ',' or '}'");
        }
    }

    bool array(jinja::Value& out, int depth) {
        ++pos_;  // [
        jinja::List items;
        ws();
        if (pos_ < s_.size() && s_[pos_] == ']') {
            ++pos_;
            out = jinja::Value::list(std::move(items));
            return true;
        }
        for (;;) {
            jinja::Value v;
            if (!value(v, depth + 1)) return false;
            items.push_back(std::move(v));
            ws();
            if (pos_ < s_.size() && s_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < s_.size() && s_[pos_] == ']') {
                ++pos_;
                out = jinja::Value::list(std::move(items));
                return true;
            }
            return err("expected ',' or ']'");
        }
    }

    bool hex4(uint32_t& cp) {
        if (pos_ + 4 > s_.size()) return err("truncated \\u escape");
        cp = 0;
        for (int i = 0; i < 4; ++i) {
            const char h = s_[pos_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
            else return err("bad \\u escape");
        }
        return true;
    }

    bool string(std::string& out) {
        ++pos_;  // opening quote
        for (;;) {
            if (pos_ >= s_.size()) return err("unterminated string");
            const char c = s_[pos_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return err("control character in a string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= s_.size()) return err("unterminated string");
            const char e = s_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00 && s_.substr(pos_, 2) == "\\u") {
                        const size_t save = pos_;
                        pos_ += 2;
                        uint32_t lo;
                        if (!hex4(lo)) return false;
                        if (lo >= 0xDC00 && lo < 0xE000) {
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        } else {
                            pos_ = save;  // a lone high surrogate followed by another escape
                        }
                    }
                    // Lone surrogates cannot be UTF-8: write U+FFFD as Python's decoder would
                    // replace them on output.
                    if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD;
                    append_utf8(out, cp);
                    break;
                }
                default: return err("bad escape in a string");
            }
        }
    }

    bool number(jinja::Value& out) {
        const size_t start = pos_;
        if (s_[pos_] == '-') ++pos_;
        auto digits = [&] {
            const size_t d = pos_;
            while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
            return pos_ - d;
        };
        const size_t int_start = pos_;
        const size_t n_int = digits();
        if (n_int == 0) return err("bad number");
        if (n_int > 1 && s_[int_start] == '0') return err("leading zero in a number");
        bool is_float = false;
        if (pos_ < s_.size() && s_[pos_] == '.') {
            ++pos_;
            if (digits() == 0) return err("bad number");
            is_float = true;
        }
        if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
            if (digits() == 0) return err("bad number");
            is_float = true;
        }
        const char* b = s_.data() + start;
        const char* e = s_.data() + pos_;
        if (!is_float) {
            int64_t i = 0;
            const auto r = std::from_chars(b, e, i);
            if (r.ec == std::errc() && r.ptr == e) {
                out = jinja::Value(i);
                return true;
            }
            // Too large for int64: fall through to a float, as most JSON readers do.
        }
        double f = 0;
        const auto r = std::from_chars(b, e, f);
        if (r.ptr != e) return err("bad number");
        // Out-of-range values come back as ERANGE with f left unset: use infinity (Python does).
        if (r.ec == std::errc::result_out_of_range) {
            f = (*b == '-') ? -HUGE_VAL : HUGE_VAL;
            // Underflow (1e-400) is zero, not infinity.
            const std::string_view text(b, static_cast<size_t>(e - b));
            const size_t ex = text.find_first_of("eE");
            if (ex != std::string_view::npos && text.substr(ex + 1, 1) == "-") f = 0.0;
        }
        out = jinja::Value(f);
        return true;
    }

    std::string_view s_;
    size_t pos_ = 0;
    const char* error_ = nullptr;
};

}  // namespace

jinja::Value parse_json(std::string_view text, const char* what) {
    Reader r(text);
    jinja::Value v;
    if (r.value(v, 1)) {
        r.ws();
        if (r.pos() != text.size()) r.err("trailing characters after the value");
    }
    if (r.error()) fail(Status::invalid_argument, "%s: invalid JSON at byte %zu: %s", what, r.pos(), r.error());
    return v;
}

std::optional<JsonPrefix> parse_json_prefix(std::string_view text) {
    Reader r(text);
    JsonPrefix p;
    if (!r.value(p.value, 1)) return std::nullopt;
    p.consumed = r.pos();
    return p;
}

}  // namespace llamas
