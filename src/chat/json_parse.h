// A strict JSON reader (RFC 8259) that builds jinja::Values, for the JSON a caller passes to the
// chat API (messages, tools) and the JSON a model writes inside a tool call. Hostile input is
// bounded: nesting depth and size are limited, and nothing recurses without a depth check.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chat/jinja_value.h"

namespace llamas {

// Below jinja::kMaxValueDepth, so every parsed value can be printed back by to_json().
constexpr int kMaxJsonDepth = 64;

// Parses one JSON value, optionally surrounded by whitespace. Throws Error(invalid_argument)
// naming `what` and the byte offset of the problem.
jinja::Value parse_json(std::string_view text, const char* what = "JSON");

// Parses one JSON value at the start of `text` (leading whitespace skipped) and returns it with
// the number of bytes it took, or nullopt when no complete, valid value starts there. Never
// throws for bad input (only bad_alloc).
struct JsonPrefix {
    jinja::Value value;
    size_t consumed = 0;
};
std::optional<JsonPrefix> parse_json_prefix(std::string_view text);

}  // namespace llamas
