// Tool calls in model replies: which format a chat template teaches its model (detected from
// the template text, as llama.cpp's common/chat.cpp does), what a grammar needs to force or
// allow a call in that format, and parsing a finished reply back into content + calls.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja_value.h"

namespace llamas {

enum class ToolFamily {
    generic,       // no tool format in the template: the reply is JSON {"tool_call": ...} / {"response": ...}
    hermes,        // Hermes 2 Pro, Qwen 2.5 / 3: <tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>
    llama3,        // Llama 3.1-3.3: {"name": ..., "parameters": {...}}; <|python_tag|> for built-in tools
    mistral_nemo,  // Mistral Nemo: [TOOL_CALLS][{"name": ..., "arguments": {...}, "id": "abcDEF123"}]
    mistral,       // Mistral Small 3.2, Devstral, Magistral: [TOOL_CALLS]name[CALL_ID]id[ARGS]{...}
};

struct ToolFormat {
    ToolFamily family = ToolFamily::generic;
    bool thinking = false;  // the template knows <think>...</think> reasoning
    bool call_id = false;   // mistral: each call carries [CALL_ID] and a 9-character id
};

ToolFormat detect_tool_format(std::string_view tmpl);
const char* tool_family_name(ToolFamily f);

// The JSON object llamas_chat_tool_format returns (see include/llamas.h).
std::string tool_format_json(const ToolFormat& f);

struct ToolCall {
    std::string name;
    jinja::Value arguments;  // usually a dict; whatever JSON the model wrote otherwise
    std::string id;          // when the format carries one
};

struct ParsedReply {
    std::string content;
    std::string reasoning;  // text inside <think>...</think>, for templates that use it
    std::vector<ToolCall> calls;
};

// Never throws for any reply text (only bad_alloc): a call that does not parse stays content.
ParsedReply parse_tool_reply(const ToolFormat& f, std::string_view reply);

// {"content": "...", "tool_calls": [{"name": ..., "arguments": {...}, "id": ...}]}, with
// "reasoning_content" when there was some.
std::string parsed_reply_json(const ParsedReply& r);

}  // namespace llamas
