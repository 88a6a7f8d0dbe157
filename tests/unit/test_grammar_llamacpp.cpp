// Compatibility with llama.cpp's GBNF: the accept/reject cases of its grammar integration test
// (restated here as a table; the strings are the ones it tests), and, when LLAMAS_LLAMACPP_DIR
// names a llama.cpp checkout, every grammar in its grammars/ folder must parse and start.
#include <doctest/doctest.h>
#include <dirent.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "unit/grammar_util.h"

using namespace llamas;
using llamas::test::full_match;
using llamas::test::parse_error;

namespace {

struct Compat {
    const char* what;
    const char* gbnf;
    std::vector<std::string> accept, reject;
};

const std::vector<Compat>& compat_cases() {
    static const std::vector<Compat> cases = {
        {"sums of numbers", "root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= number\nnumber ::= [0-9]+",
         {"42", "1+2+3+4+5", "123+456"},
         {"+", "/ 3", "1+2+3+4+5+", "12a45"}},
        {"expressions with calls and optional whitespace",
         "root ::= expression\n"
         "expression ::= term ws ((\"+\"|\"-\") ws term)*\n"
         "term ::= factor ws ((\"*\"|\"/\") ws factor)*\n"
         "factor ::= number | variable | \"(\" expression \")\" | function-call\n"
         "number ::= [0-9]+\n"
         "variable ::= [a-zA-Z_][a-zA-Z0-9_]*\n"
         "function-call ::= variable ws \"(\" (expression (\",\" ws expression)*)? \")\"\n"
         "ws ::= [ \\t\\n\\r]?",
         {"42", "1*2*3*4*5", "x", "x+10", "x1+y2", "(a+b)*(c-d)", "func()", "func(x,y+2)", "a*(b+c)-d/e",
          "f(g(x),h(y,z))", "x + 10", "x1 + y2", "(a + b) * (c - d)", "func(x, y + 2)", "a * (b + c) - d / e",
          "f(g(x), h(y, z))", "123+456", "123*456*789-123/456+789*123",
          "123+456*789-123/456+789*123-456/789+123*456-789/123+456*789-123/456+789*123-456"},
         {"+", "/ 3x", "x + + y", "a * / b", "func(,)", "func(x y)", "(a + b", "x + y)", "a + b * (c - d", "42 +",
          "x +", "x + 10 +", "(a + b) * (c - d", "func(", "func(x, y + 2", "a * (b + c) - d /", "f(g(x), h(y, z)",
          "123+456*789-123/456+789*123-456/789+123*456-789/123+456*789-123/456+789*123-456/"}},
        {"any character counts code points", "root ::= ... \"abc\" ...",
         {"abcabcabc", "aaaabcccc", "🔵🟠✅abc❌🟠🔵"},
         {"aaabcccc", "aaaaabcccc", "aaaabccc", "aaaabccccc", "🔵🟠✅❌abc❌✅🟠🔵", "🔵🟠abc🟠🔵"}},
        {"star", "root ::= \"a\"*",
         {"", "a", "aaaaa", std::string(18, 'a'), std::string(62, 'a')},
         {"b", "ab", "aab", "ba", std::string(62, 'a') + "b"}},
        {"plus", "root ::= \"a\"+",
         {"a", "aaaaa", std::string(18, 'a'), std::string(62, 'a')},
         {"", "b", "ab", "aab", "ba", std::string(62, 'a') + "b"}},
        {"optional", "root ::= \"a\"?", {"", "a"}, {"b", "ab", "aa", "ba"}},
        {"mixed quantifiers",
         "root ::= cons+ vowel* cons? (vowel cons)*\nvowel ::= [aeiouy]\ncons ::= [bcdfghjklmnpqrstvwxyz]",
         {"yes", "no", "noyes", "crwth", "four", "bryyyy"},
         {"yess", "yesno", "forty", "catyyy"}},
        {"exactly four", "root ::= [ab]{4}", {"aaaa", "bbbb", "abab"}, {"a", "b", "aaaaa"}},
        {"at least four", "root ::= [ab]{4,}", {"aaaa", "aaaaab", "bbbb", "ababab"}, {"", "aba"}},
        {"at most four", "root ::= [ab]{0,4}", {"", "a", "aa", "aaa", "aaab"}, {"aaaaa"}},
        {"three to five groups", "root ::= (\"0x\" [A-F0-9]{2} \" \"?){3,5}",
         {"0xFF 0x12 0xAB", "0xFF 0x12 0xAB 0x00 0x00"},
         {"", "0xFF", "0xFF 0x12", "0xFF 0x12 0xAB 0x00 0x00 0x00"}},
        {"repetition of a nullable repetition", "root ::= ( [x]* )*", {"", "x", "xx"}, {"y", "yy"}},
    };
    return cases;
}

}  // namespace

TEST_SUITE("grammar") {

TEST_CASE("llama.cpp compatibility: its integration test's accept and reject cases") {
    for (const Compat& c : compat_cases()) {
        CAPTURE(std::string(c.what));
        const grammar::Grammar g = grammar::parse(c.gbnf);
        for (const auto& s : c.accept) {
            CAPTURE(s);
            CHECK(full_match(g, s));
        }
        for (const auto& s : c.reject) {
            CAPTURE(s);
            CHECK_FALSE(full_match(g, s));
        }
    }
    // The grammars it must refuse: no root, an undefined rule, left recursion, a missing root
    // name; and a custom root that exists.
    CHECK_FALSE(parse_error("rot ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= number\nnumber ::= [0-9]+").empty());
    CHECK(parse_error("root ::= expr\nexpr ::= term (\"+\" term)*\nterm ::= numero\nnumber ::= [0-9]+")
              .find("undefined rule 'numero'") != std::string::npos);
    for (const char* lr : {
             "root ::= \"a\" | root \"a\"",
             "root ::= asdf\nasdf ::= \"a\" | asdf \"a\"",
             "root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | asdf \"d\" | \"e\"",
             "root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | empty asdf \"d\" | \"e\"\nempty ::= \"blah\" | ",
         }) {
        CAPTURE(std::string(lr));
        CHECK(parse_error(lr).find("left recursion") != std::string::npos);
    }
    CHECK_FALSE(parse_error("root ::= \"foobar\"", "nonexistent").empty());
    CHECK_FALSE(parse_error("foobar ::= \"foobar\"", "root").empty());
    CHECK(parse_error("foobar ::= \"foobar\"", "foobar").empty());
}

TEST_CASE("llama.cpp compatibility: every grammar of its grammars/ folder parses (LLAMAS_LLAMACPP_DIR)") {
    const char* dir = std::getenv("LLAMAS_LLAMACPP_DIR");
    if (!dir || !*dir) {
        MESSAGE("LLAMAS_LLAMACPP_DIR is not set: skipped");
        return;
    }
    const std::string folder = std::string(dir) + "/grammars";
    std::vector<std::string> files;
    if (DIR* d = opendir(folder.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".gbnf") == 0) files.push_back(folder + "/" + n);
        }
        closedir(d);
    }
    REQUIRE(!files.empty());
    for (const std::string& f : files) {
        CAPTURE(f);
        const std::string text = test::read_text(f);
        CHECK(parse_error(text).empty());
        const grammar::Grammar g = grammar::parse(text);
        grammar::Matcher m(g);
        grammar::StackSet s;
        m.start(s);
        CHECK(!s.empty());
    }
    // Spot checks of the ones with an obvious language.
    const auto sample = [&](const char* name, const char* text) {
        CAPTURE(std::string(name));
        return full_match(grammar::parse(test::read_text(folder + "/" + name)), text);
    };
    CHECK(sample("json.gbnf", "{\"a\": [1, 2, {\"b\": \"c\"}]}"));
    CHECK(sample("arithmetic.gbnf", "(1+2)*3 = 9\n"));
    CHECK_FALSE(sample("json.gbnf", "{\"a\": }"));
}

}  // TEST_SUITE
