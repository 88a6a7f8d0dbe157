// A structural check of the GBNF the JSON Schema converter writes. It parses only the subset the
// converter emits (one rule per line; names, "literals", [classes], groups, * + ? {m,n}) and
// verifies what a grammar engine needs: `root` and every referenced rule are defined, every rule
// can finish (derives some string: a $ref cycle without a base case cannot), and no rule reaches
// itself before consuming input (left recursion: an anyOf that refers back to itself).
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "grammar/json_schema.h"
#include "util/error.h"

namespace llamas {
namespace {

struct Alternatives;

struct Element {
    enum Kind { ref, terminal, empty, group } kind = terminal;
    int rule = -1;                          // ref
    std::unique_ptr<Alternatives> inner;    // group
    bool optional = false;                  // * ? {0,..}
};

struct Alternatives {
    std::vector<std::vector<Element>> seqs;
};

class Parser {
public:
    Parser(const std::string& body, const std::string& rule, std::map<std::string, int>& ids,
           std::vector<std::string>& names)
        : s_(body), rule_(rule), ids_(ids), names_(names) {}

    Alternatives parse() {
        Alternatives a = alternatives();
        skip();
        if (i_ != s_.size()) bad("unexpected character");
        return a;
    }

private:
    [[noreturn]] void bad(const char* what) const {
        fail(Status::invalid_argument, "malformed grammar rule '%s': %s at offset %zu", rule_.c_str(), what, i_);
    }
    void skip() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
    }
    static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    }

    Alternatives alternatives() {
        Alternatives a;
        a.seqs.push_back(sequence());
        for (skip(); i_ < s_.size() && s_[i_] == '|'; skip()) {
            ++i_;
            a.seqs.push_back(sequence());
        }
        return a;
    }

    std::vector<Element> sequence() {
        std::vector<Element> seq;
        for (skip(); i_ < s_.size() && s_[i_] != '|' && s_[i_] != ')'; skip()) {
            Element e = element();
            quantifiers(e);
            seq.push_back(std::move(e));
        }
        return seq;
    }

    Element element() {
        Element e;
        const char c = s_[i_];
        if (c == '"' || c == '[') {
            const char close = c == '"' ? '"' : ']';
            const size_t start = ++i_;
            while (i_ < s_.size() && s_[i_] != close) i_ += s_[i_] == '\\' ? 2 : 1;
            if (i_ >= s_.size()) bad("unterminated literal or class");
            e.kind = c == '"' && i_ == start ? Element::empty : Element::terminal;
            ++i_;
        } else if (c == '(') {
            ++i_;
            e.kind = Element::group;
            e.inner = std::make_unique<Alternatives>(alternatives());
            if (i_ >= s_.size() || s_[i_] != ')') bad("unbalanced '('");
            ++i_;
        } else if (name_char(c)) {
            const size_t start = i_;
            while (i_ < s_.size() && name_char(s_[i_])) ++i_;
            const std::string name = s_.substr(start, i_ - start);
            auto it = ids_.find(name);
            if (it == ids_.end()) {
                it = ids_.emplace(name, static_cast<int>(names_.size())).first;
                names_.push_back(name);
            }
            e.kind = Element::ref;
            e.rule = it->second;
        } else {
            bad("unexpected character");
        }
        return e;
    }

    void quantifiers(Element& e) {
        while (i_ < s_.size()) {
            const char c = s_[i_];
            if (c == '*' || c == '?') {
                e.optional = true;
                ++i_;
            } else if (c == '+') {
                ++i_;
            } else if (c == '{') {
                ++i_;
                if (i_ >= s_.size() || s_[i_] < '0' || s_[i_] > '9') bad("malformed {m,n}");
                if (s_[i_] == '0' && (i_ + 1 >= s_.size() || s_[i_ + 1] == ',' || s_[i_ + 1] == '}')) e.optional = true;
                while (i_ < s_.size() && s_[i_] != '}') ++i_;
                if (i_ >= s_.size()) bad("malformed {m,n}");
                ++i_;
            } else {
                break;
            }
        }
    }

    const std::string& s_;
    const std::string& rule_;
    std::map<std::string, int>& ids_;
    std::vector<std::string>& names_;
    size_t i_ = 0;
};

// Facts about each rule, computed to a fixed point: can it derive "" (nullable), can it derive
// anything at all (productive).
struct Facts {
    std::vector<char> nullable, productive;
};

bool seq_nullable(const std::vector<Element>& seq, const Facts& f);
bool seq_productive(const std::vector<Element>& seq, const Facts& f);

bool alts_nullable(const Alternatives& a, const Facts& f) {
    for (const auto& seq : a.seqs)
        if (seq_nullable(seq, f)) return true;
    return false;
}
bool alts_productive(const Alternatives& a, const Facts& f) {
    for (const auto& seq : a.seqs)
        if (seq_productive(seq, f)) return true;
    return false;
}
bool elem_nullable(const Element& e, const Facts& f) {
    if (e.optional || e.kind == Element::empty) return true;
    if (e.kind == Element::ref) return f.nullable[e.rule];
    if (e.kind == Element::group) return alts_nullable(*e.inner, f);
    return false;
}
bool elem_productive(const Element& e, const Facts& f) {
    if (e.optional || e.kind == Element::empty || e.kind == Element::terminal) return true;
    if (e.kind == Element::ref) return f.productive[e.rule];
    return alts_productive(*e.inner, f);
}
bool seq_nullable(const std::vector<Element>& seq, const Facts& f) {
    for (const auto& e : seq)
        if (!elem_nullable(e, f)) return false;
    return true;
}
bool seq_productive(const std::vector<Element>& seq, const Facts& f) {
    for (const auto& e : seq)
        if (!elem_productive(e, f)) return false;
    return true;
}

// Every rule referenced anywhere (for the dependency graph), and the rules that can come first.
void all_refs(const Alternatives& a, std::vector<int>& out) {
    for (const auto& seq : a.seqs)
        for (const auto& e : seq) {
            if (e.kind == Element::ref) out.push_back(e.rule);
            if (e.kind == Element::group) all_refs(*e.inner, out);
        }
}
void first_refs(const Alternatives& a, const Facts& f, std::vector<int>& out) {
    for (const auto& seq : a.seqs)
        for (const auto& e : seq) {
            if (e.kind == Element::ref) out.push_back(e.rule);
            if (e.kind == Element::group) first_refs(*e.inner, f, out);
            if (!elem_nullable(e, f)) break;
        }
}

}  // namespace

void json_schema_check_gbnf(const std::string& grammar) {
    std::map<std::string, int> ids;
    std::vector<std::string> names;
    std::vector<std::unique_ptr<Alternatives>> bodies;  // by rule id; null: not defined (yet)
    size_t pos = 0;
    while (pos < grammar.size()) {
        size_t eol = grammar.find('\n', pos);
        if (eol == std::string::npos) eol = grammar.size();
        const std::string line = grammar.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
        const size_t sep = line.find(" ::= ");
        if (sep == std::string::npos) fail(Status::invalid_argument, "malformed grammar line: %.100s", line.c_str());
        const std::string name = line.substr(0, sep);
        const std::string body = line.substr(sep + 5);
        auto it = ids.find(name);
        if (it == ids.end()) {
            it = ids.emplace(name, static_cast<int>(names.size())).first;
            names.push_back(name);
        }
        const int id = it->second;
        Alternatives parsed = Parser(body, name, ids, names).parse();
        if (bodies.size() < names.size()) bodies.resize(names.size());
        if (bodies[id]) fail(Status::invalid_argument, "grammar rule '%s' is defined twice", name.c_str());
        bodies[id] = std::make_unique<Alternatives>(std::move(parsed));
    }
    bodies.resize(names.size());
    if (!ids.count("root") || !bodies[ids["root"]]) fail(Status::invalid_argument, "the grammar has no root rule");
    for (size_t r = 0; r < names.size(); ++r)
        if (!bodies[r]) fail(Status::invalid_argument, "grammar rule '%s' is used but not defined", names[r].c_str());

    // Fixed point with a work queue: a rule is looked at again only when a rule it uses changed.
    const size_t n = names.size();
    std::vector<std::vector<int>> users(n);
    for (size_t r = 0; r < n; ++r) {
        std::vector<int> refs;
        all_refs(*bodies[r], refs);
        for (int d : refs) users[d].push_back(static_cast<int>(r));
    }
    Facts f{std::vector<char>(n, 0), std::vector<char>(n, 0)};
    std::deque<int> queue;
    std::vector<char> queued(n, 1);
    for (size_t r = 0; r < n; ++r) queue.push_back(static_cast<int>(r));
    while (!queue.empty()) {
        const int r = queue.front();
        queue.pop_front();
        queued[r] = 0;
        bool changed = false;
        if (!f.nullable[r] && alts_nullable(*bodies[r], f)) f.nullable[r] = changed = true;
        if (!f.productive[r] && alts_productive(*bodies[r], f)) f.productive[r] = changed = true;
        if (!changed) continue;
        for (int u : users[r])
            if (!queued[u]) {
                queued[u] = 1;
                queue.push_back(u);
            }
    }
    for (size_t r = 0; r < n; ++r)
        if (!f.productive[r])
            fail(Status::invalid_argument,
                 "grammar rule '%s' can never finish (a $ref cycle with no way out?)", names[r].c_str());

    // Left recursion: a cycle in "can start with" (iterative depth-first search).
    std::vector<std::vector<int>> starts(n);
    for (size_t r = 0; r < n; ++r) first_refs(*bodies[r], f, starts[r]);
    std::vector<char> color(n, 0);  // 0 new, 1 on the stack, 2 done
    for (size_t root = 0; root < n; ++root) {
        if (color[root]) continue;
        std::vector<std::pair<int, size_t>> stack{{static_cast<int>(root), 0}};
        color[root] = 1;
        while (!stack.empty()) {
            auto& [r, next] = stack.back();
            if (next == starts[r].size()) {
                color[r] = 2;
                stack.pop_back();
                continue;
            }
            const int d = starts[r][next++];
            if (color[d] == 1)
                fail(Status::invalid_argument,
                     "grammar rule '%s' refers to itself before consuming input (left recursion, e.g. an "
                     "anyOf that refers back to itself)", names[d].c_str());
            if (color[d] == 0) {
                color[d] = 1;
                stack.push_back({d, 0});
            }
        }
    }
}

}  // namespace llamas
