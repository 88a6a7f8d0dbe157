// A tiny, slow GBNF recognizer for tests of the JSON Schema converter: it answers "does this
// grammar accept this whole text?" by computing, for each sub-expression and start offset, the
// set of offsets where a match can end (memoized per rule). It understands the GBNF subset the
// converter writes and stands in for the engine's grammar matcher where that is not available.
// Left-recursive grammars are not supported (the converter rejects them).
#pragma once
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace llamas::test {

class GbnfOracle {
public:
    explicit GbnfOracle(const std::string& grammar) {
        size_t pos = 0;
        while (pos < grammar.size()) {
            size_t eol = grammar.find('\n', pos);
            if (eol == std::string::npos) eol = grammar.size();
            const std::string line = grammar.substr(pos, eol - pos);
            pos = eol + 1;
            const size_t sep = line.find(" ::= ");
            if (sep == std::string::npos) continue;
            s_ = line.substr(sep + 5);
            i_ = 0;
            rules_[line.substr(0, sep)] = alternatives();
            if (i_ != s_.size()) throw std::runtime_error("oracle: cannot parse rule " + line);
        }
    }

    bool accepts(const std::string& text) {
        text_ = &text;
        memo_.clear();
        const auto ends = match_rule("root", 0);
        return ends.count(text.size()) > 0;
    }

private:
    struct Node {
        enum Kind { seq, alt, lit, cls, ref, rep } kind = seq;
        std::vector<Node> kids;
        std::string text;  // lit bytes, ref name
        bool negated = false;
        std::vector<std::pair<uint32_t, uint32_t>> ranges;
        long min = 0, max = -1;
    };

    static Node make(Node::Kind kind) {
        Node n;
        n.kind = kind;
        return n;
    }

    // ---- parsing ----
    void skip() {
        while (i_ < s_.size() && s_[i_] == ' ') ++i_;
    }
    Node alternatives() {
        Node a = make(Node::alt);
        a.kids.push_back(sequence());
        for (skip(); i_ < s_.size() && s_[i_] == '|'; skip()) {
            ++i_;
            a.kids.push_back(sequence());
        }
        return a;
    }
    Node sequence() {
        Node q = make(Node::seq);
        for (skip(); i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')'; skip()) {
            Node e = element();
            while (i_ < s_.size() && (s_[i_] == '*' || s_[i_] == '+' || s_[i_] == '?' || s_[i_] == '{')) {
                Node r = make(Node::rep);
                r.kids.push_back(std::move(e));
                const char c = s_[i_++];
                if (c == '*') r.min = 0, r.max = -1;
                if (c == '+') r.min = 1, r.max = -1;
                if (c == '?') r.min = 0, r.max = 1;
                if (c == '{') {
                    const size_t close = s_.find('}', i_);
                    const std::string body = s_.substr(i_, close - i_);
                    i_ = close + 1;
                    const size_t comma = body.find(',');
                    r.min = std::stol(body.substr(0, comma));
                    r.max = comma == std::string::npos ? r.min : comma + 1 == body.size() ? -1 : std::stol(body.substr(comma + 1));
                }
                e = std::move(r);
            }
            q.kids.push_back(std::move(e));
        }
        return q;
    }
    uint32_t escaped() {  // at a backslash
        const char c = s_[++i_];
        ++i_;
        auto hex = [&](int n) {
            uint32_t v = std::stoul(s_.substr(i_, n), nullptr, 16);
            i_ += n;
            return v;
        };
        switch (c) {
            case 'n': return '\n';
            case 'r': return '\r';
            case 't': return '\t';
            case 'x': return hex(2);
            case 'u': return hex(4);
            case 'U': return hex(8);
            default: return static_cast<unsigned char>(c);
        }
    }
    uint32_t code_point() {
        if (s_[i_] == '\\') return escaped();
        return decode(s_, i_);
    }
    Node element() {
        const char c = s_[i_];
        if (c == '"') {
            Node l = make(Node::lit);
            ++i_;
            while (s_[i_] != '"') append_utf8(code_point(), l.text);
            ++i_;
            return l;
        }
        if (c == '[') {
            Node k = make(Node::cls);
            ++i_;
            if (s_[i_] == '^') k.negated = true, ++i_;
            while (s_[i_] != ']') {
                const uint32_t lo = code_point();
                uint32_t hi = lo;
                if (s_[i_] == '-' && s_[i_ + 1] != ']') {
                    ++i_;
                    hi = code_point();
                }
                k.ranges.push_back({lo, hi});
            }
            ++i_;
            return k;
        }
        if (c == '(') {
            ++i_;
            Node a = alternatives();
            ++i_;  // )
            return a;
        }
        Node r = make(Node::ref);
        while (i_ < s_.size() && (isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-')) r.text += s_[i_++];
        if (r.text.empty()) throw std::runtime_error("oracle: unexpected character in " + s_);
        return r;
    }

    static uint32_t decode(const std::string& s, size_t& i) {
        const unsigned char lead = static_cast<unsigned char>(s[i]);
        const size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        uint32_t cp = len == 1 ? lead : len == 2 ? lead & 0x1F : len == 3 ? lead & 0x0F : lead & 0x07;
        for (size_t k = 1; k < len && i + k < s.size(); ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
        i += len;
        return cp;
    }
    static void append_utf8(uint32_t cp, std::string& out) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    // ---- matching ----
    using Ends = std::set<size_t>;
    const Ends& match_rule(const std::string& name, size_t pos) {
        const auto key = std::make_pair(name, pos);
        auto it = memo_.find(key);
        if (it != memo_.end()) return it->second;
        auto rule = rules_.find(name);
        if (rule == rules_.end()) throw std::runtime_error("oracle: undefined rule " + name);
        Ends ends = match(rule->second, pos);
        return memo_[key] = std::move(ends);
    }
    Ends match(const Node& n, size_t pos) {
        const std::string& t = *text_;
        switch (n.kind) {
            case Node::lit:
                if (t.compare(pos, n.text.size(), n.text) == 0) return {pos + n.text.size()};
                return {};
            case Node::cls: {
                if (pos >= t.size()) return {};
                size_t next = pos;
                const uint32_t cp = decode(t, next);
                bool in = false;
                for (const auto& r : n.ranges) in = in || (cp >= r.first && cp <= r.second);
                if (in != n.negated) return {next};
                return {};
            }
            case Node::ref: return match_rule(n.text, pos);
            case Node::alt: {
                Ends out;
                for (const Node& k : n.kids) {
                    Ends e = match(k, pos);
                    out.insert(e.begin(), e.end());
                }
                return out;
            }
            case Node::seq: {
                Ends cur{pos};
                for (const Node& k : n.kids) {
                    Ends next;
                    for (size_t p : cur) {
                        Ends e = match(k, p);
                        next.insert(e.begin(), e.end());
                    }
                    cur = std::move(next);
                    if (cur.empty()) break;
                }
                return cur;
            }
            case Node::rep: {
                Ends out, cur{pos}, seen{pos};
                if (n.min == 0) out.insert(pos);
                for (long k = 1; n.max < 0 || k <= n.max; ++k) {
                    Ends next;
                    for (size_t p : cur) {
                        Ends e = match(n.kids[0], p);
                        next.insert(e.begin(), e.end());
                    }
                    if (k >= n.min) out.insert(next.begin(), next.end());
                    if (k >= n.min) {  // past the minimum only new offsets matter
                        Ends fresh;
                        for (size_t p : next)
                            if (seen.insert(p).second) fresh.insert(p);
                        next = std::move(fresh);
                    }
                    if (next.empty()) break;
                    cur = std::move(next);
                }
                return out;
            }
        }
        return {};
    }

    std::map<std::string, Node> rules_;
    std::string s_;
    size_t i_ = 0;
    const std::string* text_ = nullptr;
    std::map<std::pair<std::string, size_t>, Ends> memo_;
};

}  // namespace llamas::test
