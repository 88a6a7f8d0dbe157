// The GBNF parser: recursive descent over the text, one generated rule per group and per
// repetition tail, limits checked before anything grows.
#include <algorithm>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <unordered_map>

#include "grammar/gbnf.h"
#include "util/error.h"

namespace llamas::grammar {

std::string position_of(std::string_view text, size_t offset) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < offset && i < text.size(); ++i) {
        if (text[i] == '\n') {
            ++line;
            col = 1;
        } else {
            ++col;
        }
    }
    return "line " + std::to_string(line) + ", column " + std::to_string(col);
}

namespace {

constexpr size_t kUndefined = static_cast<size_t>(-1);

bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

class Parser {
public:
    Parser(std::string_view text, const Limits& limits, const TokenLookup& lookup)
        : text_(text), limits_(limits), lookup_(lookup) {}

    Grammar run(std::string_view root) {
        skip_space(true);
        while (pos_ < text_.size()) parse_rule();
        for (size_t id = 0; id < rules_.size(); ++id)
            if (defined_at_[id] == kUndefined)
                error_at(first_use_[id], "undefined rule '%s'", names_[id].c_str());
        auto it = ids_.find(std::string(root));
        if (it == ids_.end()) error_at(text_.size(), "the grammar has no rule '%.*s'", (int)root.size(), root.data());

        Grammar g;
        g.root = it->second;
        g.rule_names = std::move(names_);
        size_t total = 0;
        for (const auto& r : rules_) total += r.size();
        g.elems.reserve(total);
        for (auto& r : rules_) {
            g.rule_start.push_back(static_cast<uint32_t>(g.elems.size()));
            g.elems.insert(g.elems.end(), r.begin(), r.end());
        }
        check_left_recursion(g, defined_at_, text_);
        return g;
    }

private:
    [[noreturn]] __attribute__((format(printf, 3, 4))) void error_at(size_t at, const char* fmt, ...) {
        char buf[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof buf, fmt, ap);
        va_end(ap);
        fail(Status::invalid_argument, "%s: %s", position_of(text_, at).c_str(), buf);
    }

    char peek(size_t k = 0) const { return pos_ + k < text_.size() ? text_[pos_ + k] : '\0'; }
    bool at_end() const { return pos_ >= text_.size(); }

    // Spaces, tabs and comments; newlines too where a rule cannot end.
    void skip_space(bool newline_ok) {
        while (!at_end()) {
            const char c = peek();
            if (c == '#') {
                while (!at_end() && peek() != '\n' && peek() != '\r') ++pos_;
            } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\n' || c == '\r'))) {
                ++pos_;
            } else {
                break;
            }
        }
    }

    uint32_t symbol(std::string_view name, size_t used_at) {
        auto it = ids_.find(std::string(name));
        if (it != ids_.end()) return it->second;
        return new_rule(std::string(name), used_at, kUndefined);
    }

    uint32_t new_rule(std::string name, size_t used_at, size_t defined_at) {
        if (rules_.size() >= limits_.max_rules) error_at(used_at, "more than %zu rules", limits_.max_rules);
        const uint32_t id = static_cast<uint32_t>(rules_.size());
        ids_.emplace(name, id);
        names_.push_back(std::move(name));
        rules_.emplace_back();
        defined_at_.push_back(defined_at);
        first_use_.push_back(used_at);
        return id;
    }

    // A rule made for a group or a repetition inside rule `base`.
    uint32_t generated(const std::string& base, size_t at) {
        std::string name = base + "_" + std::to_string(rules_.size());
        while (ids_.count(name)) name += "_";
        return new_rule(std::move(name), at, at);
    }

    void grow(size_t n, size_t at) {
        if (n > limits_.max_elements || total_ + n > limits_.max_elements)
            error_at(at, "the grammar expands to more than %zu elements", limits_.max_elements);
        total_ += n;
    }

    void push(std::vector<Elem>& seq, Op op, uint32_t value) {
        grow(1, pos_);
        seq.push_back({op, value});
    }

    std::string_view parse_name() {
        const size_t start = pos_;
        while (!at_end() && is_word(peek())) ++pos_;
        if (pos_ == start) error_at(start, "expected a rule name");
        return text_.substr(start, pos_ - start);
    }

    void parse_rule() {
        const size_t start = pos_;
        const std::string name(parse_name());
        skip_space(false);
        if (!(peek() == ':' && peek(1) == ':' && peek(2) == '=')) error_at(pos_, "expected '::=' after rule name '%s'", name.c_str());
        pos_ += 3;
        skip_space(true);
        const uint32_t id = symbol(name, start);
        if (defined_at_[id] != kUndefined) error_at(start, "rule '%s' is defined twice", name.c_str());
        defined_at_[id] = start;
        parse_alternates(id, name, false);
        if (peek() == '\r') {
            pos_ += peek(1) == '\n' ? 2 : 1;
        } else if (peek() == '\n') {
            ++pos_;
        } else if (!at_end()) {
            error_at(pos_, "unexpected '%c': expected a newline or the end of the rule", peek());
        }
        skip_space(true);
    }

    void parse_alternates(uint32_t id, const std::string& name, bool nested) {
        if (++depth_ > limits_.max_depth) error_at(pos_, "groups nested deeper than %u", limits_.max_depth);
        std::vector<Elem> body;
        parse_sequence(body, name, nested);
        while (peek() == '|') {
            push(body, Op::alt, 0);
            ++pos_;
            skip_space(true);
            parse_sequence(body, name, nested);
        }
        push(body, Op::end, 0);
        rules_[id] = std::move(body);
        --depth_;
    }

    uint32_t parse_hex(int digits) {
        uint32_t v = 0;
        for (int i = 0; i < digits; ++i) {
            const char c = peek();
            int d;
            if (c >= '0' && c <= '9') d = c - '0';
            else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
            else error_at(pos_, "expected %d hex digits", digits);
            v = v * 16 + static_cast<uint32_t>(d);
            ++pos_;
        }
        return v;
    }

    // One character of a literal or a set: an escape or one UTF-8 encoded code point.
    uint32_t parse_char() {
        const size_t start = pos_;
        const unsigned char c = static_cast<unsigned char>(peek());
        if (at_end()) error_at(pos_, "unexpected end of the grammar");
        if (c == '\\') {
            const char e = peek(1);
            pos_ += 2;
            switch (e) {
                case 'x': return parse_hex(2);
                case 'u': return parse_hex(4);
                case 'U': return parse_hex(8);
                case 't': return '\t';
                case 'r': return '\r';
                case 'n': return '\n';
                case '\\': case '"': case '[': case ']': return static_cast<unsigned char>(e);
                default: error_at(start, "unknown escape '\\%c'", e ? e : '0');
            }
        }
        if (c == 0) error_at(pos_, "NUL byte in the grammar");
        int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0) error_at(pos_, "invalid UTF-8");
        uint32_t v = n == 1 ? c : c & (0x7F >> n);
        for (int i = 1; i < n; ++i) {
            const unsigned char b = static_cast<unsigned char>(peek(i));
            if (pos_ + i >= text_.size() || (b & 0xC0) != 0x80) error_at(pos_, "invalid UTF-8");
            v = (v << 6) | (b & 0x3F);
        }
        pos_ += n;
        return v;
    }

    uint64_t parse_int() {
        const size_t start = pos_;
        uint64_t v = 0;
        while (is_digit(peek())) {
            v = v * 10 + static_cast<uint64_t>(peek() - '0');
            if (v > limits_.max_repeat) error_at(start, "repetition count above %u", limits_.max_repeat);
            ++pos_;
        }
        if (pos_ == start) error_at(pos_, "expected a number");
        return v;
    }

    void parse_sequence(std::vector<Elem>& seq, const std::string& name, bool nested) {
        size_t sym = seq.size();  // where the last symbol (what a repetition applies to) starts
        while (!at_end()) {
            const char c = peek();
            const size_t start = pos_;
            if (c == '"') {
                ++pos_;
                sym = seq.size();
                while (peek() != '"') {
                    if (at_end()) error_at(start, "unterminated string literal");
                    push(seq, Op::chr, parse_char());
                }
                ++pos_;
            } else if (c == '[') {
                ++pos_;
                sym = seq.size();
                Op first = Op::chr;
                if (peek() == '^') {
                    first = Op::chr_not;
                    ++pos_;
                }
                while (peek() != ']') {
                    if (at_end()) error_at(start, "unterminated character class");
                    push(seq, seq.size() > sym ? Op::chr_alt : first, parse_char());
                    if (peek() == '-' && peek(1) != ']') {
                        ++pos_;
                        if (at_end()) error_at(start, "unterminated character class");
                        const uint32_t lo = seq.back().value;
                        const size_t at = pos_;
                        const uint32_t hi = parse_char();
                        if (hi < lo) error_at(at, "range end below its start");
                        push(seq, Op::rng_upper, hi);
                    }
                }
                // An empty class would silently match the empty string in a flat element list.
                if (seq.size() == sym) error_at(start, "empty character class");
                ++pos_;
            } else if (is_word(c)) {
                const std::string_view ref = parse_name();
                sym = seq.size();
                push(seq, Op::ref, symbol(ref, start));
            } else if (c == '(') {
                ++pos_;
                skip_space(true);
                const uint32_t sub = generated(name, start);
                parse_alternates(sub, name, true);
                if (peek() != ')') error_at(pos_, at_end() ? "unexpected end of the grammar: expected ')'" : "expected ')'");
                ++pos_;
                sym = seq.size();
                push(seq, Op::ref, sub);
            } else if (c == '<' || (c == '!' && peek(1) == '<')) {
                sym = seq.size();
                parse_token_ref(seq);
            } else if (c == '.') {
                ++pos_;
                sym = seq.size();
                push(seq, Op::any, 0);
            } else if (c == '*' || c == '+' || c == '?') {
                ++pos_;
                repeat(seq, sym, c == '+' ? 1 : 0, c == '?' ? 1 : kUnbounded, name, start);
            } else if (c == '{') {
                ++pos_;
                skip_space(nested);
                const uint64_t lo = parse_int();
                uint64_t hi = lo;
                skip_space(nested);
                if (peek() == ',') {
                    ++pos_;
                    skip_space(nested);
                    hi = is_digit(peek()) ? parse_int() : kUnbounded;
                    skip_space(nested);
                }
                if (peek() != '}') error_at(pos_, "expected '}'");
                ++pos_;
                if (hi < lo) error_at(start, "repetition {%llu,%llu} has its maximum below its minimum",
                                      (unsigned long long)lo, (unsigned long long)hi);
                repeat(seq, sym, lo, hi, name, start);
            } else {
                break;
            }
            skip_space(nested);
        }
    }

    // <[id]>, <text> (one token of the vocabulary), each with an optional leading `!`.
    void parse_token_ref(std::vector<Elem>& seq) {
        const size_t start = pos_;
        const Op op = peek() == '!' ? Op::token_not : Op::token;
        if (op == Op::token_not) ++pos_;
        const size_t open = pos_++;
        if (peek() == '[') {
            ++pos_;
            const size_t at = pos_;
            uint64_t id = 0;
            while (is_digit(peek())) {
                id = id * 10 + static_cast<uint64_t>(peek() - '0');
                if (id > INT32_MAX) error_at(at, "token id too large");
                ++pos_;
            }
            if (pos_ == at) error_at(pos_, "expected a token id in <[id]>");
            if (peek() != ']' || peek(1) != '>') error_at(pos_, "expected ']>' after the token id");
            pos_ += 2;
            push(seq, op, static_cast<uint32_t>(id));
            return;
        }
        while (!at_end() && peek() != '>' && peek() != '\n') ++pos_;
        if (peek() != '>') error_at(start, "unterminated token reference: expected '>'");
        ++pos_;
        const std::string_view tok = text_.substr(open, pos_ - open);
        if (!lookup_) error_at(start, "the token reference %.*s needs a model's vocabulary (<[id]> does not)",
                               (int)tok.size(), tok.data());
        const int32_t id = lookup_(tok);
        if (id < 0) error_at(start, "%.*s is not exactly one token of the vocabulary", (int)tok.size(), tok.data());
        push(seq, op, static_cast<uint32_t>(id));
    }

    static constexpr uint64_t kUnbounded = ~uint64_t{0};

    // Rewrites seq[sym..] (the last symbol S) as S{lo,hi}:
    //   S{m,n}: S repeated m times, then T(n-m) where T(k) ::= S T(k-1) | "" and T(1) ::= S | ""
    //   S{m,} : S repeated m times, then T where T ::= S T | ""
    void repeat(std::vector<Elem>& seq, size_t sym, uint64_t lo, uint64_t hi, const std::string& name, size_t at) {
        if (sym == seq.size()) error_at(at, "'%c' without an item before it", text_[at]);
        const std::vector<Elem> s(seq.begin() + static_cast<std::ptrdiff_t>(sym), seq.end());
        const bool unbounded = hi == kUnbounded;
        const uint64_t n_opt = unbounded ? 1 : hi - lo;
        // Everything this adds, counted before anything is built.
        const uint64_t extra = (lo > 0 ? (lo - 1) * s.size() : 0) + n_opt * (s.size() + 3) + 1;
        grow(static_cast<size_t>(std::min<uint64_t>(extra, limits_.max_elements + 1)), at);
        if (lo == 0) seq.resize(sym);
        for (uint64_t i = 1; i < lo; ++i) seq.insert(seq.end(), s.begin(), s.end());
        uint32_t prev = 0;
        for (uint64_t i = 0; i < n_opt; ++i) {
            const uint32_t id = generated(name, at);
            std::vector<Elem> body(s);
            if (unbounded) body.push_back({Op::ref, id});
            else if (i > 0) body.push_back({Op::ref, prev});
            body.push_back({Op::alt, 0});
            body.push_back({Op::end, 0});
            rules_[id] = std::move(body);
            prev = id;
        }
        if (n_opt > 0) seq.push_back({Op::ref, prev});
    }

    std::string_view text_;
    Limits limits_;
    const TokenLookup& lookup_;
    size_t pos_ = 0;
    uint32_t depth_ = 0;
    size_t total_ = 0;
    std::vector<std::vector<Elem>> rules_;
    std::vector<std::string> names_;
    std::vector<size_t> defined_at_;  // text offset of the definition; kUndefined until defined
    std::vector<size_t> first_use_;
    std::unordered_map<std::string, uint32_t> ids_;
};

}  // namespace

Grammar parse(std::string_view text, std::string_view root, const Limits& limits, const TokenLookup& lookup) {
    return Parser(text, limits, lookup).run(root.empty() ? std::string_view("root") : root);
}

}  // namespace llamas::grammar
