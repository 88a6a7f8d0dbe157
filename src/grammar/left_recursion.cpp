// Left recursion check. The matcher expands rule references at the top of a parse stack until
// a character is on top; a rule that can reach itself without consuming a character would
// expand forever, so such grammars are refused up front. "Without consuming" includes going
// through rules that can match the empty string (nullable), e.g. `a ::= b a "x"` with
// `b ::= "y"?`.
#include <vector>

#include "grammar/gbnf.h"
#include "util/error.h"

namespace llamas::grammar {

namespace {

// Calls f(alternative_begin, alternative_end) for each alternative of rule id.
template <class F>
void for_each_alternative(const Grammar& g, uint32_t id, F&& f) {
    size_t i = g.rule_start[id];
    size_t begin = i;
    for (;; ++i) {
        const Op op = g.elems[i].op;
        if (op == Op::alt || op == Op::end) {
            f(begin, i);
            if (op == Op::end) return;
            begin = i + 1;
        }
    }
}

bool is_char(Op op) { return op == Op::chr || op == Op::chr_not || op == Op::any; }

}  // namespace

void check_left_recursion(const Grammar& g, const std::vector<size_t>& where, std::string_view text) {
    const size_t n = g.rule_start.size();
    // Nullable rules, to a fixed point.
    std::vector<char> nullable(n, 0);
    for (bool changed = true; changed;) {
        changed = false;
        for (uint32_t r = 0; r < n; ++r) {
            if (nullable[r]) continue;
            for_each_alternative(g, r, [&](size_t b, size_t e) {
                bool all = true;
                for (size_t i = b; i < e && all; ++i) {
                    if (is_char(g.elems[i].op)) all = false;
                    else if (g.elems[i].op == Op::ref && !nullable[g.elems[i].value]) all = false;
                }
                if (all && !nullable[r]) nullable[r] = changed = true;
            });
        }
    }
    // Left edges: r -> s when s can be expanded at r's start.
    std::vector<std::vector<uint32_t>> edges(n);
    for (uint32_t r = 0; r < n; ++r) {
        for_each_alternative(g, r, [&](size_t b, size_t e) {
            for (size_t i = b; i < e; ++i) {
                const Elem& el = g.elems[i];
                if (el.op != Op::ref) break;  // a character (or a range element of one) consumes
                edges[r].push_back(el.value);
                if (!nullable[el.value]) break;
            }
        });
    }
    // Iterative depth-first search for a cycle (grammars can have many thousands of rules).
    std::vector<char> color(n, 0);  // 0 unseen, 1 on the path, 2 done
    std::vector<std::pair<uint32_t, size_t>> path;
    for (uint32_t start = 0; start < n; ++start) {
        if (color[start]) continue;
        path.push_back({start, 0});
        color[start] = 1;
        while (!path.empty()) {
            auto& [r, k] = path.back();
            if (k == edges[r].size()) {
                color[r] = 2;
                path.pop_back();
                continue;
            }
            const uint32_t s = edges[r][k++];
            if (color[s] == 1) {
                std::string cycle;
                bool on = false;
                for (const auto& [q, unused] : path) {
                    (void)unused;
                    if (q == s) on = true;
                    if (on) cycle += g.rule_names[q] + " -> ";
                }
                cycle += g.rule_names[s];
                fail(Status::invalid_argument, "%s: left recursion: %s", position_of(text, where[s]).c_str(),
                     cycle.c_str());
            }
            if (color[s] == 0) {
                color[s] = 1;
                path.push_back({s, 0});
            }
        }
    }
}

}  // namespace llamas::grammar
