// JSON Schema → GBNF: a table of schemas (many of them llama.cpp's test-json-schema-to-grammar
// inputs), each with JSON texts the grammar must accept and texts it must reject, checked end to
// end with a GBNF recognizer; errors for unsupported schemas; hostile schemas fail fast.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "unit/grammar_util.h"
#include "util/error.h"
#include "test_data.h"

using llamas::json_schema_to_gbnf;
using ojson = nlohmann::ordered_json;

namespace {

struct Case {
    const char* name;
    const char* schema;
    std::vector<std::string> accept;
    std::vector<std::string> reject;
};

const std::vector<Case>& cases() {
    static const std::vector<Case> table = {
        {"min 0", R"({"type": "integer", "minimum": 0})", {"0", "7", "10", "123456"}, {"-1", "01", "1.5", "\"1\""}},
        {"min 3", R"({"type": "integer", "minimum": 3})", {"3", "9", "10", "25"}, {"2", "0", "-3"}},
        {"min 25", R"({"type": "integer", "minimum": 25})", {"25", "26", "99", "100", "250"}, {"24", "3", "0"}},
        {"min 105", R"({"type": "integer", "minimum": 105})", {"105", "110", "999", "1000"}, {"15", "104", "100"}},
        {"max 30", R"({"type": "integer", "maximum": 30})", {"30", "0", "-5", "-100"}, {"31", "100"}},
        {"max -5", R"({"type": "integer", "maximum": -5})", {"-5", "-6", "-10", "-123"}, {"-4", "0", "5", "-05"}},
        {"min -123", R"({"type": "integer", "minimum": -123})", {"-123", "-1", "0", "999"}, {"-124", "-200"}},
        {"min 15 max 300", R"({"type": "integer", "minimum": 15, "maximum": 300})", {"15", "99", "100", "300"}, {"14", "301", "1000"}},
        {"min -10 max 10", R"({"type": "integer", "minimum": -10, "maximum": 10})", {"-10", "-1", "0", "10"}, {"-11", "11"}},
        {"exclusive bounds", R"({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 10})", {"1", "9"}, {"0", "10"}},
        {"empty schema (object)", "{}", {"{}", R"({"a": [1, "x", null]})"}, {"1", "[]"}},
        {"boolean", R"({"type": "boolean"})", {"true", "false"}, {"1", "\"true\"", "null"}},
        {"null", R"({"type": "null"})", {"null"}, {"0", "\"\""}},
        {"number", R"({"type": "number"})", {"0", "-1.5", "3e10", "2.5E-3"}, {"01", ".5", "1.", "+1"}},
        {"integer", R"({"type": "integer"})", {"0", "-12"}, {"1.0", "--1"}},
        {"string", R"({"type": "string"})", {R"("")", R"("a \"q\" \\ \n \u00e9")", "\"é\""}, {"a", R"("\x")", "\"\n\""}},
        {"string min length 3", R"({"type": "string", "minLength": 3})", {R"("abc")", R"("abcdef")"}, {R"("ab")"}},
        {"string min & max length", R"({"type": "string", "minLength": 1, "maxLength": 4})", {R"("a")", R"("abcd")"}, {R"("")", R"("abcde")"}},
        {"string const", R"({"const": "foo"})", {R"("foo")"}, {R"("bar")", "foo"}},
        {"non-string const", R"({"const": true})", {"true"}, {"false"}},
        {"non-string enum", R"({"enum": ["red", "amber", "green", null, 42, ["foo"]]})", {R"("red")", "null", "42", R"(["foo"])"}, {R"("blue")", "43"}},
        {"string array", R"({"type": "array", "prefixItems": {"type": "string"}})", {"[]", R"(["a", "b"])"}, {"[1]", R"("a")"}},
        {"nullable string array", R"({"type": ["array", "null"], "prefixItems": {"type": "string"}})", {"null", R"(["a"])"}, {"[null]"}},
        {"tuple1", R"({"prefixItems": [{"type": "string"}]})", {R"(["a"])"}, {"[]", R"(["a", "b"])", "[1]"}},
        {"tuple2", R"({"prefixItems": [{"type": "string"}, {"type": "number"}]})", {R"(["a", 1.5])"}, {R"([1.5, "a"])", R"(["a"])"}},
        {"tuple + items", R"({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}})", {R"(["a"])", R"(["a", 1, 2])"}, {R"(["a", "b"])"}},
        {"minItems", R"({"items": {"type": "boolean"}, "minItems": 2})", {"[true, false]", "[true, true, true]"}, {"[true]", "[]"}},
        {"maxItems 0", R"({"items": {"type": "boolean"}, "maxItems": 0})", {"[]"}, {"[true]"}},
        {"maxItems 2", R"({"items": {"type": "boolean"}, "maxItems": 2})", {"[]", "[true]", "[true, false]"}, {"[true, true, true]"}},
        {"min + maxItems", R"({"items": {"type": ["number", "integer"]}, "minItems": 3, "maxItems": 5})", {"[1, 2, 3]", "[1, 2, 3, 4, 5]"}, {"[1, 2]", "[1, 2, 3, 4, 5, 6]"}},
        {"date / uuid / time / date-time",
         R"({"items": [{"format": "date"}, {"format": "uuid"}, {"format": "time"}, {"format": "date-time"}]})",
         {R"(["2024-02-29", "123e4567-e89b-12d3-a456-426614174000", "12:34:56Z", "2024-01-01T00:00:00.000+01:00"])"},
         {R"(["2024-13-01", "123e4567-e89b-12d3-a456-426614174000", "12:34:56Z", "2024-01-01T00:00:00Z"])",
          R"(["2024-02-29", "not-a-uuid", "12:34:56Z", "2024-01-01T00:00:00Z"])"}},
        {"simple regexp", R"({"type": "string", "pattern": "^abc?d*efg+(hij)?kl$"})", {R"("abefgkl")", R"("abcdddefgghijkl")"}, {R"("abkl")", R"("abcefkl")"}},
        {"regexp escapes", R"({"type": "string", "pattern": "^\\[\\]\\{\\}\\(\\)\\|\\+\\*\\?$"})", {R"("[]{}()|+*?")"}, {R"("[]")"}},
        {"regexp quote", R"({"type": "string", "pattern": "^\"$"})", {R"("\"")"}, {R"(""")"}},
        {"regexp alternation", R"({"type": "string", "pattern": "^A|B|C|D$"})", {R"("A")", R"("D")"}, {R"("AB")", R"("E")"}},
        {"regexp phone", R"({"type": "string", "pattern": "^(\\([0-9]{1,3}\\))?[0-9]{3}-[0-9]{4} a{3,5}nd...$"})",
         {R"("(12)555-1234 aaaandxyz")", R"("555-1234 aaand!!!")"}, {R"("555-123 aaand xyz")", R"("555-1234 aand xyz")"}},
        {"regexp classes", R"({"type": "string", "pattern": "^[^0-9][a-c\\d]+\\w$"})", {R"("xa1_")", R"("-cc9")"}, {R"("1a1_")", R"("\"a1_")"}},
        {"unanchored regexp", R"({"type": "string", "pattern": "[0-9]+"})", {R"("abc123def")", R"("7")"}, {R"("abc")"}},
        {"non-capturing group", R"({"type": "string", "pattern": "^(?:foo|bar)baz$"})", {R"("foobaz")", R"("barbaz")"}, {R"("baz")"}},
        {"required props in original order",
         R"({"type": "object", "properties": {"b": {"type": "string"}, "c": {"type": "string"}, "a": {"type": "string"}}, "required": ["a", "b", "c"], "additionalProperties": false})",
         {R"({"b": "x", "c": "y", "a": "z"})", "{\n  \"b\": \"x\",\n  \"c\": \"y\",\n  \"a\": \"z\"\n}"},
         {R"({"a": "z", "b": "x", "c": "y"})", R"({"b": "x", "c": "y"})"}},
        {"N optional props", R"({"properties": {"a": {"type": "string"}, "b": {"type": "string"}, "c": {"type": "string"}}, "additionalProperties": false})",
         {"{}", R"({"a": "1"})", R"({"b": "1", "c": "2"})", R"({"a": "1", "c": "2"})"}, {R"({"c": "1", "a": "2"})", R"({"d": "1"})"}},
        {"required + optional", R"({"properties": {"x": {"type": "number"}, "y": {"type": "number"}, "z": {"type": "number"}}, "required": ["y"]})",
         {R"({"y": 1})", R"({"y": 1, "x": 2, "z": 3})", R"({"y": 1, "z": 3})"}, {"{}", R"({"x": 2})"}},
        {"additional props", R"({"type": "object", "additionalProperties": {"type": "array", "items": {"type": "number"}}})",
         {"{}", R"({"a": [1], "b": []})"}, {R"({"a": 1})"}},
        {"required + additional props", R"({"type": "object", "properties": {"a": {"type": "number"}}, "required": ["a"], "additionalProperties": {"type": "string"}})",
         {R"({"a": 1})", R"({"a": 1, "b": "x", "ab": "y"})"}, {R"({"b": "x"})", R"({"a": 1, "a": "x"})"}},
        {"optional props with common prefix", R"({"properties": {"ab": {"type": "integer"}, "ac": {"type": "integer"}}, "additionalProperties": {"type": "integer"}})",
         {R"({"ab": 1, "a": 2})", R"({"ac": 1})", R"({"abc": 3})"}, {R"({"ab": "x"})"}},
        {"empty w/o additional props", R"({"type": "object", "additionalProperties": false})", {"{}", "{ }"}, {R"({"a": 1})"}},
        {"top-level $ref", R"({"$ref": "#/definitions/foo", "definitions": {"foo": {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]}}})",
         {R"({"a": "x"})"}, {"{}"}},
        {"recursive $ref", R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"}, "next": {"anyOf": [{"$ref": "#/$defs/node"}, {"type": "null"}]}}, "required": ["v", "next"]}}, "$ref": "#/$defs/node"})",
         {R"({"v": 1, "next": null})", R"({"v": 1, "next": {"v": 2, "next": {"v": 3, "next": null}}})"}, {R"({"v": 1, "next": {"v": 2}})"}},
        {"anyOf", R"({"anyOf": [{"$ref": "#/definitions/foo"}, {"$ref": "#/definitions/bar"}], "definitions": {"foo": {"properties": {"a": {"type": "number"}}}, "bar": {"properties": {"b": {"type": "number"}}}}, "type": "object"})",
         {"{}", R"({"a": 1})", R"({"b": 2})"}, {R"({"a": 1, "b": 2})"}},
        {"allOf, anyOf and $ref", R"({"allOf": [{"$ref": "#/definitions/foo"}, {"$ref": "#/definitions/bar"}, {"anyOf": [{"$ref": "#/definitions/baz"}, {"$ref": "#/definitions/bam"}]}], "definitions": {"foo": {"properties": {"a": {"type": "number"}}}, "bar": {"properties": {"b": {"type": "number"}}}, "bam": {"properties": {"c": {"type": "number"}}}, "baz": {"properties": {"d": {"type": "number"}}}}, "type": "object"})",
         {R"({"a": 1, "b": 2})", R"({"a": 1, "b": 2, "d": 3, "c": 4})"}, {R"({"a": 1})", R"({"b": 2, "a": 1})"}},
        {"allOf with enum schemas", R"({"allOf": [{"enum": ["a", "b", "c"]}, {"enum": ["b", "c", "d"]}]})", {R"("b")", R"("c")"}, {R"("a")", R"("d")"}},
        {"conflicting names", R"({"type": "object", "properties": {"number": {"type": "object", "properties": {"number": {"type": "object", "properties": {"root": {"type": "number"}}, "required": ["root"]}}, "required": ["number"]}}, "required": ["number"]})",
         {R"({"number": {"number": {"root": 1.5}}})"}, {R"({"number": {"number": {}}})"}},
        {"description only", R"({"description": "anything"})", {"1", "\"x\"", "[null]"}, {"", "x"}},
        {"literal string with escapes", R"({"properties": {"code": {"const": " \r \n \" \\ ", "type": "string"}}, "required": ["code"], "type": "object"})",
         {R"({"code": " \r \n \" \\ "})"}, {R"({"code": " "})"}},
        {"boolean schema true", R"({"items": true})", {"[1, \"a\", {}]"}, {"[1,]"}},
    };
    return table;
}

llamas::Status status_of(const char* schema) {
    try {
        json_schema_to_gbnf(ojson::parse(schema));
    } catch (const llamas::Error& e) {
        return e.status();
    }
    return llamas::Status::ok;
}

}  // namespace

TEST_SUITE("grammar") {

TEST_CASE("json schema: every case converts to a well-formed grammar that accepts and rejects as it should") {
    for (const Case& c : cases()) {
        CAPTURE(c.name);
        std::string grammar;
        REQUIRE_NOTHROW(grammar = json_schema_to_gbnf(ojson::parse(c.schema)));
        CAPTURE(grammar);
        REQUIRE_NOTHROW(llamas::json_schema_check_gbnf(grammar));
        CHECK(grammar.find("space ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n") != std::string::npos);
        // The accept / reject table runs on the matcher that constrains sampling.
        const llamas::grammar::Grammar g = llamas::grammar::parse(grammar);
        for (const std::string& text : c.accept) {
            CAPTURE(text);
            CHECK(llamas::test::full_match(g, text));
        }
        for (const std::string& text : c.reject) {
            CAPTURE(text);
            CHECK_FALSE(llamas::test::full_match(g, text));
        }
    }
}

TEST_CASE("json schema: llama.cpp's rule names and shapes") {
    CHECK(json_schema_to_gbnf(ojson::parse(R"({"type": "integer", "minimum": 0})")) ==
          "root ::= ([0] | [1-9] [0-9]{0,15})\nspace ::= | \" \" | \"\\n\"{1,2} [ \\t]{0,20}\n");
    const std::string g = json_schema_to_gbnf(ojson::parse(
        R"({"properties": {"a": {"type": "string"}, "b": {"type": "string"}}, "required": ["b"], "additionalProperties": false})"));
    CHECK(g.find("root ::= \"{\" space b-kv ( \",\" space ( a-kv ) )? space \"}\"") != std::string::npos);
    CHECK(g.find("b-kv ::= \"\\\"b\\\"\" space \":\" space string") != std::string::npos);
}

TEST_CASE("json schema: unsupported or contradictory schemas are invalid_argument") {
    using llamas::Status;
    for (const char* schema : {
             R"({"type": "kaboom"})", R"({"type": 123})", R"({"type": []})", R"({"enum": []})", R"({"anyOf": []})",
             R"({"type": "string", "pattern": "^(a$"})", R"({"type": "string", "pattern": "^(?=a)b$"})",
             R"({"type": "string", "pattern": "^(a)\\1$"})", R"({"type": "string", "pattern": "^a\\bb$"})",
             R"({"type": "string", "pattern": "^a^b$"})", R"({"type": "string", "pattern": "^*a$"})",
             R"({"$ref": "https://example.com/schema.json"})", R"({"$ref": "#/definitions/missing"})",
             R"({"type": "integer", "minimum": 5, "maximum": 1})", R"({"items": {"type": "string"}, "minItems": 3, "maxItems": 2})",
             R"({"type": "string", "minLength": -1})", R"({"items": false, "minItems": 1})", "false", "[]", "42",
             R"({"type": "integer", "minimum": 1e30})"}) {
        CAPTURE(schema);
        CHECK(status_of(schema) == Status::invalid_argument);
    }
}

TEST_CASE("json schema: hostile schemas fail fast") {
    using llamas::Status;
    using clock = std::chrono::steady_clock;
    // Either an error or a (bounded) grammar, quickly.
    auto fast = [](const std::string& schema, bool must_fail) {
        CAPTURE(schema.substr(0, 120));
        const auto t0 = clock::now();
        const Status s = status_of(schema.c_str());
        CHECK(std::chrono::duration<double>(clock::now() - t0).count() < llamas::test::quick_seconds());
        if (must_fail) CHECK(s == Status::invalid_argument);
        else CHECK((s == Status::invalid_argument || s == Status::ok));
    };
    auto fast_error = [&](const std::string& schema) { fast(schema, true); };
    // Deep nesting of sub-schemas and of plain JSON (const).
    std::string deep;
    for (int i = 0; i < 200; ++i) deep += R"({"type": "array", "items": )";
    deep += "{}";
    for (int i = 0; i < 200; ++i) deep += "}";
    fast_error(deep);
    std::string deep_const = R"({"const": )" + std::string(300, '[') + std::string(300, ']') + "}";
    fast_error(deep_const);
    // Huge repetition counts.
    fast_error(R"({"items": {"type": "string"}, "minItems": 1000000000})");
    fast_error(R"({"items": {"type": "string"}, "maxItems": 99999999999999999999})");
    fast_error(R"({"type": "string", "maxLength": 1000000})");
    fast_error(R"({"type": "string", "pattern": "^a{1,100000000}$"})");
    // $ref cycles with no base case, directly, through a chain, through a required property,
    // and through anyOf (left recursion).
    fast_error(R"({"$ref": "#"})");
    fast_error(R"({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"})");
    fast_error(R"({"type": "object", "properties": {"self": {"$ref": "#"}}, "required": ["self"]})");
    fast_error(R"({"anyOf": [{"$ref": "#"}, {"type": "string"}]})");
    fast(R"({"$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"})", false);
    // allOf chains that name the level below twice.
    std::string defs = R"({"$defs": {"d0": {"properties": {"x": {"type": "string"}}})";
    for (int i = 1; i < 40; ++i)
        defs += ", \"d" + std::to_string(i) + R"(": {"allOf": [{"$ref": "#/$defs/d)" + std::to_string(i - 1) +
                R"("}, {"$ref": "#/$defs/d)" + std::to_string(i - 1) + R"("}]})";
    defs += R"(}, "type": "array", "items": {"$ref": "#/$defs/d39"}})";
    fast(defs, false);
    // Exponential re-expansion: a type array expands the same sub-schema once per type.
    std::string doubling;
    for (int i = 0; i < 40; ++i) doubling += R"({"type": ["array", "array"], "items": )";
    doubling += "{}" + std::string(40, '}');
    fast_error(doubling);
    // A huge enum: the grammar size bound.
    std::string big_enum = R"({"enum": [)";
    for (int i = 0; i < 300000; ++i) big_enum += (i ? ",\"" : "\"") + std::string(10, 'a' + i % 26) + "\"";
    big_enum += "]}";
    fast_error(big_enum);
}

TEST_CASE("json schema: large but legitimate schemas stay linear") {
    // Many optional properties: rest rules keep the grammar linear in their number.
    std::string schema = R"({"type": "object", "properties": {)";
    for (int i = 0; i < 2000; ++i) schema += (i ? ",\"p" : "\"p") + std::to_string(i) + R"(": {"type": "integer"})";
    schema += "}}";
    const auto t0 = std::chrono::steady_clock::now();
    const std::string g = json_schema_to_gbnf(ojson::parse(schema));
    CHECK(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() < llamas::test::quick_seconds());
    CHECK(g.size() < 400000);
    // Matching runs on the sampling matcher, which caps its parse stacks at 4096 (2000 optional
    // keys open that many at once): 200 of them show the same order rules.
    std::string small = R"({"type": "object", "properties": {)";
    for (int i = 0; i < 200; ++i) small += (i ? ",\"p" : "\"p") + std::to_string(i) + R"(": {"type": "integer"})";
    small += "}}";
    const llamas::grammar::Grammar parsed = llamas::grammar::parse(json_schema_to_gbnf(ojson::parse(small)));
    CHECK(llamas::test::full_match(parsed, R"({"p5": 1, "p199": 2})"));
    CHECK_FALSE(llamas::test::full_match(parsed, R"({"p199": 2, "p5": 1})"));
}

}  // TEST_SUITE
