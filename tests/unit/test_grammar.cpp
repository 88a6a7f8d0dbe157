// The GBNF parser (syntax, errors with line and column, left recursion, hostile inputs) and
// the matcher on whole strings, over the grammar files in tests/data/grammars.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/matcher.h"
#include "unit/grammar_util.h"
#include "util/error.h"
#include "test_data.h"

using namespace llamas;
using namespace llamas::grammar;
using llamas::test::full_match;
using llamas::test::grammar_file;
using llamas::test::parse_error;

namespace {

struct Cases {
    const char* file;
    std::vector<std::string> accept, reject;
};

const std::vector<Cases>& file_cases() {
    static const std::vector<Cases> cases = {
        {"json.gbnf",
         {"{}", "[]", "null", "  true ", "-0.5e+10", "{\"a\": [1, 2.25, {\"b\": null}], \"c\": \"x\\n\\u00e9\"}",
          "\"caf\xc3\xa9 \xe2\x98\x95\"", "[\n  1,\n  2\n]"},
         {"", "{", "{\"a\" 1}", "[1,]", "01", "\"unterminated", "{\"a\":1}}", "tru", "\"bad \\q escape\"",
          "\"tab\tinside\"", "1.", "--1"}},
        {"json_object.gbnf",
         {"{\"name\": \"Ann\", \"age\": 42, \"tags\": [\"a\", \"b\"], \"address\": {\"city\": \"Oslo\", \"zip\": \"0150\"}}",
          "{\"name\":\"\",\"age\":-1,\"tags\":[],\"address\":{\"city\":\"\",\"zip\":\"\"}}"},
         {"{\"name\": \"Ann\"}", "{\"age\": 42, \"name\": \"Ann\", \"tags\": [], \"address\": {\"city\": \"\", \"zip\": \"\"}}"}},
        {"arithmetic.gbnf",
         {"1", "1+2*3", "(1 + 2) * -3", "10 % 3 - (4 / (2+2))", "-(-(7))"},
         {"", "1+", "(1", "1 2", "a+1", "1++2", "()"}},
        {"list.gbnf",
         {"- one\n", "- eggs\n- milk\n- bread\n", "- a line with some words in it\n"},
         {"", "- \n", "one\n", "- a\n- b", "-- x\n", "- a\n- b\n- c\n- d\n- e\n", "- this line is longer than the grammar allows\n"}},
        {"chess.gbnf",
         {"1. e4", "1. e4 e5 2. Nf3 Nc6 3. Bb5 a6", "12. O-O-O Qxd8#", "5. exd5 Nxd5 6. e8=Q+", "7. Nbd2 R1e1"},
         {"", "1.e4", "1. e9", "1. Zf3", "0. e4", "1. e4  e5", "1. O-O-O-O"}},
        {"c.gbnf",
         {"int main() {}", "int add(int a, int b) {\n  return a + b;\n}",
          "void f(float x) { int y = 3; if (x > y) { y = g(x, 2); } else { return; } }"},
         {"main() {}", "int f() { return }", "int f() { x = ; }", "int f() {", "int f(int) {}"}},
        {"japanese.gbnf",
         {"こんにちは。", "東京（とうきょう）へ行きます！", "カタカナとひらがな？\n漢字です。"},
         {"", "hello。", "こんにちは", "東京（トウキョウ）。", "こんにちは。\n"}},
    };
    return cases;
}

}  // namespace

TEST_SUITE("grammar") {

TEST_CASE("the grammar files parse, and their matchers accept and reject whole strings") {
    for (const Cases& c : file_cases()) {
        CAPTURE(c.file);
        const std::string text = grammar_file(c.file);
        REQUIRE(!text.empty());
        const Grammar g = parse(text);
        for (const auto& s : c.accept) {
            CAPTURE(s);
            CHECK(full_match(g, s));
        }
        for (const auto& s : c.reject) {
            CAPTURE(s);
            CHECK_FALSE(full_match(g, s));
        }
    }
}

TEST_CASE("syntax: repetitions, classes, escapes, any character, comments, custom root") {
    struct Row {
        const char* grammar;
        std::vector<std::string> accept, reject;
    };
    const std::vector<Row> rows = {
        {"root ::= \"a\"{3}", {"aaa"}, {"aa", "aaaa"}},
        {"root ::= \"ab\"{2,}", {"abab", "ababab"}, {"ab", "aba"}},
        {"root ::= [x]{1,3} \"y\"", {"xy", "xxxy"}, {"y", "xxxxy"}},
        {"root ::= [a-cx-z]+", {"abz", "y"}, {"d", ""}},
        {"root ::= [^a-c]", {"d", "\xe2\x82\xac"}, {"a", "b"}},
        {"root ::= \"\\x41\\u00e9\\U0001F600\\t\\\\\\\"\\[\\]\"", {"A\xc3\xa9\xf0\x9f\x98\x80\t\\\"[]"}, {"A"}},
        {"root ::= [\\x30-\\x39\\u0100]", {"5", "\xc4\x80"}, {"a"}},
        {"root ::= . \"!\"", {"x!", "\xe6\x97\xa5!"}, {"!", "ab!"}},
        {"# comment\nroot ::= a | b # trailing\na ::= \"x\"\n\n# more\nb ::= (\n  \"y\" |\n  \"z\"\n)", {"x", "y", "z"}, {"w"}},
        {"root ::= [-+]? [0-9]", {"-1", "+2", "3"}, {"--1"}},
        {"root ::= ( [x]* )*", {"", "x", "xx"}, {"y"}},  // nullable repetition of a nullable item
        {"root ::= \"a\" \"b\"? \"c\"", {"ac", "abc"}, {"abbc"}},
        {"root ::= x\r\nx ::= \"q\"\r\n", {"q"}, {""}},
    };
    for (const Row& r : rows) {
        CAPTURE(r.grammar);
        const Grammar g = parse(r.grammar);
        for (const auto& s : r.accept) {
            CAPTURE(s);
            CHECK(full_match(g, s));
        }
        for (const auto& s : r.reject) {
            CAPTURE(s);
            CHECK_FALSE(full_match(g, s));
        }
    }
    const Grammar custom = parse("start ::= \"ok\"", "start");
    CHECK(full_match(custom, "ok"));
}

TEST_CASE("errors name the line and column") {
    struct Row {
        const char* grammar;
        const char* message;
    };
    const std::vector<Row> rows = {
        {"root ::= \"a\"\nfoo ::= bar\n", "line 2, column 9: undefined rule 'bar'"},
        {"root ::= \"abc", "line 1, column 10: unterminated string literal"},
        {"root ::= [abc", "line 1, column 10: unterminated character class"},
        {"root ::= \"a\"\n  x = \"b\"", "line 2, column 5: expected '::=' after rule name 'x'"},
        {"root ::= (\"a\" | \"b\"", "line 1, column 20: unexpected end of the grammar: expected ')'"},
        {"root ::= \"\\q\"", "line 1, column 11: unknown escape '\\q'"},
        {"root ::= \"\\x4\"", "line 1, column 14: expected 2 hex digits"},
        {"root ::= *", "line 1, column 10: '*' without an item before it"},
        {"root ::= \"a\"{3,1}", "line 1, column 13: repetition {3,1} has its maximum below its minimum"},
        {"root ::= \"a\"{2", "line 1, column 15: expected '}'"},
        {"root ::= [z-a]", "line 1, column 13: range end below its start"},
        {"root ::= []", "line 1, column 10: empty character class"},
        {"root ::= \"a\" )", "line 1, column 14: unexpected ')': expected a newline or the end of the rule"},
        {"root ::= \"a\"\nroot ::= \"b\"", "line 2, column 1: rule 'root' is defined twice"},
        {"foo ::= \"a\"", "the grammar has no rule 'root'"},
        {"root ::= \"a\"{10001}", "line 1, column 14: repetition count above 10000"},
        {"root ::= \"\xff\"", "line 1, column 11: invalid UTF-8"},
    };
    for (const Row& r : rows) {
        CAPTURE(r.grammar);
        const std::string e = parse_error(r.grammar);
        CHECK(e.find(r.message) != std::string::npos);
        if (e.find(r.message) == std::string::npos) MESSAGE(e);
    }
    CHECK(parse_error("root ::= \"a\"", "nonexistent").find("no rule 'nonexistent'") != std::string::npos);
}

TEST_CASE("left recursion is refused, direct, indirect and through nullable rules") {
    struct Row {
        const char* grammar;
        const char* cycle;
    };
    const std::vector<Row> rows = {
        {"root ::= \"a\" | root \"a\"", "left recursion: root -> root"},
        {"root ::= asdf\nasdf ::= \"a\" | asdf \"a\"", "line 2, column 1: left recursion: asdf -> asdf"},
        {"root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | asdf \"d\" | \"e\"", "left recursion: "},
        {"root ::= asdf\nasdf ::= \"a\" | foo \"b\"\nfoo ::= \"c\" | empty asdf \"d\" | \"e\"\nempty ::= \"blah\" | ",
         "left recursion: "},
        // Nullable through a repetition rather than an empty alternative.
        {"root ::= opt root \"x\" | \"y\"\nopt ::= \"q\"?", "left recursion: root -> root"},
        {"root ::= (\"a\"? root) \"b\" | \"c\"", "left recursion: "},
    };
    for (const Row& r : rows) {
        CAPTURE(r.grammar);
        const std::string e = parse_error(r.grammar);
        CHECK(e.find(r.cycle) != std::string::npos);
        if (e.find(r.cycle) == std::string::npos) MESSAGE(e);
    }
    // Right recursion and recursion after a character are fine.
    CHECK(parse_error("root ::= \"a\" root | \"b\"").empty());
    CHECK(parse_error("root ::= \"(\" root \")\" | \"x\"").empty());
}

TEST_CASE("hostile grammars are refused quickly, before they cost memory") {
    const auto t0 = std::chrono::steady_clock::now();
    std::string deep = "root ::= ";
    for (int i = 0; i < 100000; ++i) deep += "(";
    CHECK(parse_error(deep).find("nested deeper than") != std::string::npos);
    CHECK(parse_error("root ::= \"a\"{100000000000000000000}").find("repetition count above") != std::string::npos);
    CHECK(parse_error("root ::= \"a\"{0,99999}").find("repetition count above") != std::string::npos);
    // Repeating a group repeats one reference; repeating a long literal copies it: refused by
    // the element limit before anything is built.
    CHECK(parse_error("root ::= \"" + std::string(200, 'a') + "\"{10000}").find("more than") != std::string::npos);
    std::string wide = "root ::=";
    for (int i = 0; i < 16; ++i) wide += " [a-z0-9_]{0,10000}";
    CHECK(parse_error(wide).find("more than") != std::string::npos);
    std::string many = "root ::= x0\n";
    for (int i = 0; i < 300; ++i)
        many += "x" + std::to_string(i) + " ::= x" + std::to_string(i + 1) + "{0,10000}\n";
    many += "x300 ::= \"a\"\n";
    CHECK(parse_error(many).find("more than") != std::string::npos);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    CHECK(s < llamas::test::quick_seconds());

    // An ambiguous grammar whose parse stacks would multiply fails in the matcher, not by
    // exhausting memory.
    const Grammar g = parse("root ::= x{0,10000}\nx ::= \"a\"? \"a\"?");
    Matcher m(g);
    StackSet st;
    bool refused = false;
    try {
        m.start(st);
        PartialUtf8 p;
        m.accept_text(st, p, std::string(50, 'a'));
    } catch (const Error& e) {
        refused = e.status() == Status::invalid_argument;
    }
    CHECK(refused);
}

TEST_CASE("characters split across pieces: partial UTF-8 is carried and checked") {
    const Grammar g = parse(grammar_file("japanese.gbnf"));
    Matcher m(g);
    StackSet s;
    m.start(s);
    PartialUtf8 p;
    const std::string text = "日本。";  // e6 97 a5 | e6 9c ac | e3 80 82
    CHECK(m.accept_text(s, p, text.substr(0, 1)));
    CHECK(p.n_remain == 2);
    CHECK(m.accept_text(s, p, text.substr(1, 3)));
    CHECK(m.accept_text(s, p, text.substr(4, 4)));
    CHECK(m.accept_text(s, p, text.substr(8)));
    CHECK(p.n_remain == 0);
    CHECK(Matcher::can_end(s));

    // A lead byte of a character the grammar cannot start is refused at once.
    StackSet s2;
    m.start(s2);
    PartialUtf8 p2;
    CHECK_FALSE(m.accept_text(s2, p2, "\xd0"));  // Cyrillic range
    // Bytes that are not UTF-8 are refused.
    StackSet s3;
    m.start(s3);
    PartialUtf8 p3;
    CHECK_FALSE(m.accept_text(s3, p3, "\x80"));
}

}  // TEST_SUITE
