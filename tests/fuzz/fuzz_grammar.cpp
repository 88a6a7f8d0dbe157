// libFuzzer target: the GBNF parser and matcher on arbitrary input. The input is a grammar, a
// NUL byte, then a text: the grammar is parsed (and refused with a llamas::Error, never a
// crash or runaway memory); when it parses, the text is fed to the matcher in pieces of
// varying length (exercising characters split across pieces), and over a small fixed
// vocabulary the trie mask must agree with matching each token alone. Limits are tighter than
// the defaults so that one input runs in milliseconds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "grammar/token_mask.h"
#include "grammar/token_trie.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace llamas::grammar;
    const std::string in(reinterpret_cast<const char*>(data), size);
    const size_t nul = in.find('\0');
    const std::string gbnf = in.substr(0, nul);
    const std::string text = nul == std::string::npos ? std::string() : in.substr(nul + 1);
    Limits limits;
    limits.max_elements = 1 << 16;
    limits.max_repeat = 1000;
    limits.max_rules = 1 << 12;
    MatcherLimits mlimits;
    mlimits.max_stacks = 256;
    mlimits.max_expansions = 1 << 14;
    mlimits.max_stack_depth = 1 << 10;
    try {
        const Grammar g = parse(gbnf, "root", limits);
        Matcher m(g, mlimits);
        StackSet s;
        m.start(s);
        PartialUtf8 p;
        for (size_t i = 0, step = 1; i < text.size(); i += step, step = step % 5 + 1) {
            if (!m.accept_text(s, p, text.substr(i, step))) break;
        }
        (void)Matcher::can_end(s);

        static const TokenTrie trie(
            {"a", "ab", "abc", "{", "}", "\"", " ", "\n", "0", "12", "x", "\xe6", "\x97\xa5", "\xe6\x97\xa5", "\xc3\xa9",
             "-", "[", "]", ",", ":", "true", "\xff", "", "\\", "\xf0\x9f\x98"},
            {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        Matcher m2(g, mlimits);
        TokenMasker masker(trie, m2);
        StackSet start;
        m2.start(start);
        std::vector<uint8_t> allowed;
        masker.compute(start, {}, allowed);
        for (int32_t t = 0; t < trie.n_tokens(); ++t)
            if ((allowed[static_cast<size_t>(t)] != 0) != masker.allows(start, {}, t)) __builtin_trap();
    } catch (const llamas::Error&) {
        return 0;  // a refused grammar or a matcher limit: the expected outcome for most inputs
    }
    return 0;
}
