// Structured output: JSON Schema → GBNF grammar (since 0.2).
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "api/guard.h"
#include "grammar/json_schema.h"

using namespace llamas;
using llamas::api::guard;

namespace {

// Rejects JSON nested deeper than the converter accepts before nlohmann builds it, so that
// a hostile document costs one linear scan (brackets inside strings do not count).
void check_nesting(const char* text, size_t length) {
    constexpr int kMaxNesting = 256;
    int depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < length; ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') ++i;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxNesting) fail(Status::invalid_argument, "the schema is nested more than %d levels deep", kMaxNesting);
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
}

}  // namespace

extern "C" {

LLAMAS_API llamas_status llamas_json_schema_to_grammar(const char* schema_json, char* buffer, size_t capacity,
                                                       size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(schema_json, "schema_json is NULL");
        LLAMAS_CHECK_ARG(buffer || capacity == 0, "buffer is NULL but capacity is not 0");
        const size_t length = std::strlen(schema_json);
        check_nesting(schema_json, length);
        // ordered_json keeps the properties in the schema's order.
        nlohmann::ordered_json schema = nlohmann::ordered_json::parse(schema_json, schema_json + length, nullptr, false);
        if (schema.is_discarded()) return api::error(LLAMAS_ERR_INVALID_ARGUMENT, "the schema is not valid JSON");
        return api::copy_out(json_schema_to_gbnf(schema), buffer, capacity, out_length);
    });
}

}  // extern "C"
