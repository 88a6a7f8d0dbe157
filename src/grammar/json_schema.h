// JSON Schema → GBNF: turns the subset of JSON Schema that structured output and tool calling
// use into a grammar in llama.cpp's GBNF format (start rule `root`), the same technique and rule
// names as llama.cpp's converter so that grammars written for one read the same in the other.
//
// Property order matters (required properties are emitted in the schema's order), so the main
// entry takes an ordered_json; the nlohmann::json overload sees its keys sorted.
// Unsupported or hostile schemas fail with Status::invalid_argument; the work and the output are
// bounded (nesting depth, repetition counts, number of sub-schemas visited, grammar size).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace llamas {

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema);
std::string json_schema_to_gbnf(const nlohmann::json& schema);

// Structural check of a grammar in the subset of GBNF the converter writes: every referenced
// rule is defined, `root` exists, every rule can derive some string, and no rule can reach
// itself without consuming input (left recursion, which a GBNF matcher cannot run). Throws
// Status::invalid_argument with the offending rule's name. Used on the converter's output.
void json_schema_check_gbnf(const std::string& grammar);

}  // namespace llamas
