// Small text builders for the JSON Schema converter: GBNF literals and bounded repetition.
#include <cstdio>

#include "grammar/json_schema_internal.h"

namespace llamas::json_schema_detail {

const char* const kCharRule = R"([^"\\\x7F\x00-\x1F] | [\\] (["\\bfnrt] | "u" [0-9a-fA-F]{4}))";
const char* const kDotRule = R"([^"\\\x7F\x00-\x1F] | [\\] (["\\/bft] | "u" [0-9a-fA-F]{4}))";

std::string gbnf_literal(const std::string& bytes) {
    std::string out = "\"";
    for (char c : bytes) {
        switch (c) {
            case '\r': out += "\\r"; break;
            case '\n': out += "\\n"; break;
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            default: out += c; break;
        }
    }
    out += '"';
    return out;
}

std::string gbnf_class_char(uint32_t cp) {
    char buf[16];
    if (cp >= 0x20 && cp < 0x7F && cp != ']' && cp != '[' && cp != '\\' && cp != '-' && cp != '^' && cp != '"')
        return std::string(1, static_cast<char>(cp));
    if (cp < 0x100) std::snprintf(buf, sizeof buf, "\\x%02X", static_cast<unsigned>(cp));
    else if (cp < 0x10000) std::snprintf(buf, sizeof buf, "\\u%04X", static_cast<unsigned>(cp));
    else std::snprintf(buf, sizeof buf, "\\U%08X", static_cast<unsigned>(cp));
    return buf;
}

std::string repetition(const std::string& item, int64_t min, int64_t max, const std::string& separator) {
    const bool bounded = max != kNoMax;
    if (bounded && max == 0) return "";
    if (min == 0 && bounded && max == 1) return item + "?";
    if (separator.empty()) {
        if (!bounded && min <= 1) return item + (min == 0 ? "*" : "+");
        return item + "{" + std::to_string(min) + "," + (bounded ? std::to_string(max) : "") + "}";
    }
    // With a separator: the first item, then (separator item) for the rest. Zero items makes
    // the whole thing optional.
    const std::string rest = repetition("(" + separator + " " + item + ")", min == 0 ? 0 : min - 1,
                                        bounded ? max - 1 : kNoMax);
    const std::string seq = item + " " + rest;
    return min == 0 ? "(" + seq + ")?" : seq;
}

}  // namespace llamas::json_schema_detail
