// Left recursion check. The matcher expands rule references at the top of a parse stack until
// a character is on top; a rule that can reach itself without consuming a character would
// expand forever, so such grammars are refused up front. "Without consuming" includes going
// through rules that can match the empty string (nullable), e.g. `a ::= b a "x"` with
// `b ::= "y"?` (llama.cpp looks only through rules with an empty alternative).
#include <algorithm>
#include <string>
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

// Elements that consume input: characters and whole tokens.
bool is_char(Op op) { return op == Op::chr || op == Op::chr_not || op == Op::any || is_token_op(op); }

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
    // Left edges: r -> s when s can be expanded at r's start. A tail edge (s is the last
    // element of its alternative) leaves nothing on the parse stack: a cycle of tail edges
    // only revisits the same stacks, which the matcher's expansion skips (`x ::= (y*)*` is
    // fine). A cycle with any other edge grows the stack without end: that is refused.
    struct Edge {
        uint32_t to;
        bool tail;
    };
    std::vector<std::vector<Edge>> edges(n);
    for (uint32_t r = 0; r < n; ++r) {
        for_each_alternative(g, r, [&](size_t b, size_t e) {
            for (size_t i = b; i < e; ++i) {
                const Elem& el = g.elems[i];
                if (el.op != Op::ref) break;  // a character consumes
                edges[r].push_back({el.value, i + 1 == e});
                if (!nullable[el.value]) break;
            }
        });
    }
    // Strongly connected components (Tarjan's algorithm, iterative: grammars can have many
    // thousands of rules).
    constexpr uint32_t kNone = ~0u;
    std::vector<uint32_t> index(n, kNone), low(n, 0), comp(n, kNone);
    std::vector<char> on_stack(n, 0);
    std::vector<uint32_t> st;
    std::vector<std::pair<uint32_t, size_t>> call;
    uint32_t next_index = 0, n_comp = 0;
    for (uint32_t root = 0; root < n; ++root) {
        if (index[root] != kNone) continue;
        call.push_back({root, 0});
        index[root] = low[root] = next_index++;
        st.push_back(root);
        on_stack[root] = 1;
        while (!call.empty()) {
            const uint32_t v = call.back().first;
            size_t& k = call.back().second;
            if (k < edges[v].size()) {
                const uint32_t w = edges[v][k++].to;
                if (index[w] == kNone) {
                    index[w] = low[w] = next_index++;
                    st.push_back(w);
                    on_stack[w] = 1;
                    call.push_back({w, 0});
                } else if (on_stack[w]) {
                    low[v] = std::min(low[v], index[w]);
                }
                continue;
            }
            if (low[v] == index[v]) {
                for (;;) {
                    const uint32_t w = st.back();
                    st.pop_back();
                    on_stack[w] = 0;
                    comp[w] = n_comp;
                    if (w == v) break;
                }
                ++n_comp;
            }
            call.pop_back();
            if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[v]);
        }
    }
    for (uint32_t r = 0; r < n; ++r) {
        for (const Edge& e : edges[r]) {
            if (e.tail || comp[e.to] != comp[r]) continue;
            // r -> e.to is on a cycle: find the way back from e.to to r for the message.
            std::vector<uint32_t> from(n, kNone);
            std::vector<uint32_t> queue{e.to};
            from[e.to] = e.to;
            for (size_t q = 0; q < queue.size() && from[r] == kNone; ++q)
                for (const Edge& f : edges[queue[q]])
                    if (comp[f.to] == comp[r] && from[f.to] == kNone) {
                        from[f.to] = queue[q];
                        queue.push_back(f.to);
                    }
            std::vector<uint32_t> cycle{r};
            for (uint32_t x = r; x != e.to; x = from[x]) cycle.push_back(from[x]);
            std::string text_cycle = g.rule_names[r];
            for (size_t i = cycle.size(); i-- > 0;) text_cycle += " -> " + g.rule_names[cycle[i]];
            fail(Status::invalid_argument, "%s: left recursion: %s", position_of(text, where[r]).c_str(),
                 text_cycle.c_str());
        }
    }
}

}  // namespace llamas::grammar
