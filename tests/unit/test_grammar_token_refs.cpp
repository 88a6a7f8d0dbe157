// Whole-token references in grammars (llama.cpp's <[id]>, <text>, !<[id]>) and regular-expression
// triggers of lazy grammars (llama.cpp's trigger_patterns): parser errors, which tokens the mask
// allows, how accepting advances, and where a pattern starts the grammar.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "engine/model.h"
#include "grammar/gbnf.h"
#include "sample/grammar_stage.h"
#include "sample/trigger_patterns.h"
#include "tokenizer/tokenizer.h"
#include "unit/grammar_util.h"
#include "util/error.h"

using namespace llamas;

namespace {

int32_t one_token(const Tokenizer& tok, const std::string& text) {
    const std::vector<int32_t> ids = tok.encode(text, false);
    REQUIRE(ids.size() == 1);
    return ids[0];
}

size_t count(const std::vector<uint8_t>& mask) {
    size_t n = 0;
    for (uint8_t m : mask) n += m;
    return n;
}

}  // namespace

TEST_SUITE("grammar") {

TEST_CASE("token references: syntax and errors") {
    const grammar::Grammar g = grammar::parse("root ::= <[12]> !<[7]> \"x\"");
    REQUIRE(g.elems.size() >= 3);
    CHECK(g.elems[g.rule_start[g.root]].op == grammar::Op::token);
    CHECK(g.elems[g.rule_start[g.root]].value == 12);
    CHECK(g.elems[g.rule_start[g.root] + 1].op == grammar::Op::token_not);
    CHECK(g.elems[g.rule_start[g.root] + 1].value == 7);
    // Repetitions apply to a token reference like to any other item.
    CHECK(test::parse_error("root ::= <[1]>{2,3} (<[2]> | \"a\")*").empty());

    CHECK(test::parse_error("root ::= <[]>").find("line 1, column 12: expected a token id") == 0);
    CHECK(test::parse_error("root ::= <[12>").find("expected ']>'") != std::string::npos);
    CHECK(test::parse_error("root ::= <[99999999999]>").find("too large") != std::string::npos);
    CHECK(test::parse_error("root ::= <think").find("unterminated token reference") != std::string::npos);
    CHECK(test::parse_error("root ::= ! \"x\"").find("line 1, column 10") == 0);
    // <text> needs a vocabulary to find its id.
    CHECK(test::parse_error("root ::= <think>").find("needs a model's vocabulary") != std::string::npos);
    const grammar::TokenLookup lookup = [](std::string_view t) { return t == "<think>" ? 42 : -1; };
    const grammar::Grammar withtext = grammar::parse("root ::= <think> [a-z]* !<think>", "root", {}, lookup);
    CHECK(withtext.elems[withtext.rule_start[withtext.root]].value == 42);
    try {
        (void)grammar::parse("root ::= \"a\" <nothink>", "root", {}, lookup);
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("line 1, column 14: <nothink> is not exactly one token") != std::string::npos);
    }
    // A token consumes input: a rule that starts with one is not left-recursive.
    CHECK(test::parse_error("root ::= <[3]> root | \"x\"").empty());
    CHECK(test::parse_error("root ::= root <[3]> | \"x\"").find("left recursion") != std::string::npos);
}

TEST_CASE("token references: the mask allows tokens by id, beside the text") {
    auto model = Model::load(test::data_path("models/qwen2-Q8_0.gguf"));
    const Tokenizer& tok = model->tokenizer();
    const auto trie = build_token_trie(tok);
    const int32_t n = tok.n_vocab();
    const int32_t yes = one_token(tok, "the"), no = one_token(tok, "and"), seven = one_token(tok, "7");

    // <[id]>: that token only, whatever its text; then the rest of the rule.
    GrammarStage one(trie, grammar::parse("root ::= <[" + std::to_string(yes) + "]> [0-9]"));
    CHECK(count(one.allowed()) == 1);
    CHECK(one.allowed()[static_cast<size_t>(yes)]);
    for (int32_t t = 0; t < n; ++t) CHECK((one.allowed()[static_cast<size_t>(t)] != 0) == one.allows(t));
    CHECK_THROWS_AS(one.accept(&no, 1), Error);
    one.accept(&yes, 1);
    CHECK(one.allows(seven));
    CHECK_FALSE(one.allows(yes));
    one.accept(&seven, 1);
    CHECK(one.allows(tok.eos()));

    // !<[id]>: any one token but that one (never an end-of-generation token), then the rest.
    GrammarStage but(trie, grammar::parse("root ::= !<[" + std::to_string(yes) + "]> \"!\""));
    const std::vector<uint8_t>& mask = but.allowed();
    CHECK_FALSE(mask[static_cast<size_t>(yes)]);
    CHECK_FALSE(mask[static_cast<size_t>(tok.eos())]);
    CHECK(mask[static_cast<size_t>(no)]);
    CHECK(count(mask) > static_cast<size_t>(n) / 2);
    for (int32_t t = 0; t < n; t += 7) CHECK((mask[static_cast<size_t>(t)] != 0) == but.allows(t));
    but.accept(&no, 1);
    CHECK(count(but.allowed()) >= 1);
    CHECK(but.allows(one_token(tok, "!")));
    CHECK_FALSE(but.allows(no));

    // Two negations side by side: every token is "not the other one".
    GrammarStage both(trie, grammar::parse("root ::= (!<[" + std::to_string(yes) + "]> | !<[" + std::to_string(no) +
                                           "]>) \"!\""));
    CHECK(both.allows(yes));
    CHECK(both.allows(no));
    CHECK(both.allowed()[static_cast<size_t>(yes)]);
    CHECK(both.allowed()[static_cast<size_t>(no)]);
    CHECK_FALSE(both.allowed()[static_cast<size_t>(tok.eos())]);

    // A token reference and characters side by side: "and" by its text or "the" by id.
    GrammarStage mixed(trie, grammar::parse("root ::= (<[" + std::to_string(yes) + "]> | \"and\") \"7\""));
    CHECK(count(mixed.allowed()) >= 2);
    CHECK(mixed.allows(yes));
    CHECK(mixed.allows(no));
    CHECK_FALSE(mixed.allows(seven));
    mixed.accept(&no, 1);
    CHECK(mixed.allows(seven));

    // Ids outside the vocabulary are refused when the grammar meets the vocabulary.
    CHECK_THROWS_AS(GrammarStage(trie, grammar::parse("root ::= <[" + std::to_string(n) + "]>")), Error);
}

TEST_CASE("trigger patterns: searched in all generated text, or matched whole when ^...$; start at the group") {
    TriggerPatterns anywhere({"<call>"});
    CHECK(anywhere.find("text <call>x") == 5);
    CHECK(anywhere.find("text <cal") == std::string::npos);
    TriggerPatterns group({"[\\s\\S]*?(\\[TOOL\\])"});
    CHECK(group.find("abc [TOOL]{") == 4);
    TriggerPatterns whole({"^\\s*(\\{\"name\")[\\s\\S]*$"});
    CHECK(whole.find("  {\"name\": 1") == 2);
    CHECK(whole.find("x {\"name\": 1") == std::string::npos);  // not at the start
    // No capture group: the match's start.
    CHECK(TriggerPatterns({"[0-9]+"}).find("ab12") == 2);
    // Past the window, patterns no longer look.
    CHECK(anywhere.find(std::string(TriggerPatterns::kMaxText, ' ') + "<call>") == std::string::npos);
    // Bad patterns are refused with the reason.
    CHECK_THROWS_AS(TriggerPatterns({"(unclosed"}), Error);
    CHECK_THROWS_AS(TriggerPatterns({""}), Error);
    CHECK_THROWS_AS(TriggerPatterns({std::string(TriggerPatterns::kMaxPattern + 1, 'a')}), Error);
    // Hostile patterns on a whole window stay polynomial (this would take ages when backtracking).
    TriggerPatterns hostile({"^(a|a)*(a|a)*(a|a)*b$"});
    CHECK(hostile.find(std::string(2000, 'a')) == std::string::npos);
}

TEST_CASE("lazy grammar with trigger patterns: free text, then constrained from the pattern's group on") {
    auto model = Model::load(test::data_path("models/qwen2-Q8_0.gguf"));
    const Tokenizer& tok = model->tokenizer();
    const auto trie = build_token_trie(tok);
    const std::string gbnf = "root ::= \"{\\\"name\\\": \" [0-9]+ \"}\"";
    LazyTriggers t;
    t.patterns = {"^\\s*(\\{\"name\")[\\s\\S]*$"};  // a call only at the start of the reply
    GrammarStage st(trie, grammar::parse(gbnf), true, t);

    const std::vector<int32_t> call = tok.encode("  {\"name\": 1", false);
    std::vector<int32_t> first_two(call.begin(), call.begin() + 1);
    st.accept(first_two.data(), first_two.size());
    CHECK_FALSE(st.active());
    st.accept(call.data() + 1, call.size() - 1);
    CHECK(st.active());
    CHECK(st.allows(one_token(tok, "2")));
    CHECK_FALSE(st.allows(one_token(tok, "x")));
    const int32_t close = one_token(tok, "}");
    st.accept(&close, 1);
    CHECK(st.allows(tok.eos()));

    // The same call after other text does not trigger this anchored pattern.
    st.reset();
    const std::vector<int32_t> late = tok.encode("Sure. {\"name\": 1}", false);
    st.accept(late.data(), late.size());
    CHECK_FALSE(st.active());

    // Invalid patterns fail when the stage is made.
    LazyTriggers bad;
    bad.patterns = {"[a-"};
    CHECK_THROWS_AS(GrammarStage(trie, grammar::parse(gbnf), true, bad), Error);
}

}  // TEST_SUITE
