// A grammar that makes a model's reply a well-formed tool call in its template's format: the
// call's JSON comes from one JSON Schema (an anyOf over the tools, each naming itself and taking
// its `parameters`), converted once, then wrapped in the family's call prefix/suffix. Lazy when
// calls are optional (free text until a trigger opens a call), from the first token when one is
// required.
#pragma once
#include <string>
#include <vector>

#include "chat/tool_calls.h"

namespace llamas {

struct ToolGrammar {
    std::string gbnf;
    std::string root;
    bool lazy = false;
    std::vector<std::string> triggers;
};

// tools_json: an array of OpenAI tools. Throws Error(invalid_argument) for tools that are not
// that shape or whose parameters the schema converter refuses.
ToolGrammar tool_call_grammar(const ToolFormat& format, const std::string& tools_json, bool required, bool parallel);

// The JSON object llamas_chat_tool_call_grammar returns: {"grammar", "root", "lazy", "triggers"}.
std::string tool_grammar_json(const ToolGrammar& g);

}  // namespace llamas
