// JSON Schema → GBNF (src/grammar/json_schema.*) → the GBNF parser and matcher: the converter's
// grammars run on the matcher that constrains sampling, and accept exactly the documents the
// schema allows.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "unit/grammar_util.h"

using namespace llamas;
using llamas::test::full_match;

TEST_SUITE("grammar") {

TEST_CASE("schema grammars parse and match on the sampling matcher") {
    struct Row {
        const char* schema;
        std::vector<std::string> accept, reject;
    };
    const std::vector<Row> rows = {
        {R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
             "required": ["name", "age"], "additionalProperties": false})",
         {R"({"name": "Ann", "age": 42})", R"({ "name" : "caf\u00e9", "age" : -1 })"},
         {R"({"name": "Ann"})", R"({"age": 42, "name": "Ann"})", R"({"name": 1, "age": 42})", R"({"name": "Ann", "age": 4.5})"}},
        {R"({"type": "array", "items": {"enum": ["red", "green"]}, "minItems": 1, "maxItems": 3})",
         {R"(["red"])", R"(["green", "red", "red"])"},
         {"[]", R"(["blue"])", R"(["red", "red", "red", "red"])"}},
        {R"({"type": "object", "properties": {"point": {"type": "object", "properties": {"x": {"type": "number"},
             "y": {"type": "number"}}, "required": ["x", "y"]}}, "required": ["point"]})",
         {R"({"point": {"x": 1.5, "y": -2e3}})"},
         {R"({"point": {"x": 1.5}})", R"({"point": [1, 2]})"}},
    };
    for (const Row& r : rows) {
        CAPTURE(std::string(r.schema));
        const std::string gbnf = json_schema_to_gbnf(nlohmann::ordered_json::parse(r.schema));
        CAPTURE(gbnf);
        const grammar::Grammar g = grammar::parse(gbnf);
        for (const auto& s : r.accept) {
            CAPTURE(s);
            CHECK(full_match(g, s));
        }
        for (const auto& s : r.reject) {
            CAPTURE(s);
            CHECK_FALSE(full_match(g, s));
        }
    }
}

}  // TEST_SUITE
