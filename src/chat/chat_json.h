// Rendering OpenAI-format conversations (messages with tool_calls, `tool` results, a tools
// array) through a model's own chat template, as Hugging Face's apply_chat_template and
// llama.cpp do: the template sees `messages`, `tools`, `add_generation_prompt`, `bos_token`
// and `eos_token`.
#pragma once
#include <string>
#include <string_view>

#include "chat/chat_template.h"
#include "chat/jinja_value.h"

namespace llamas {

struct ChatJsonInput {
    jinja::Value messages;  // a list of message dicts (checked by apply_chat_template_json)
    jinja::Value tools;     // a list of OpenAI tools, or undefined/None for none
    bool add_generation_prompt = true;
    std::string bos, eos;
};

// Throws Error: invalid_argument (malformed messages or tools, or the template rejected the
// conversation), bad_format / unsupported as apply_chat_template.
std::string apply_chat_template_json(std::string_view tmpl, const ChatJsonInput& input,
                                     const ChatTemplateOptions& opts = {});

// The same from JSON text (messages: an array; tools: an array, "null", or empty for none).
std::string apply_chat_template_json(std::string_view tmpl, std::string_view messages_json,
                                     std::string_view tools_json, bool add_generation_prompt,
                                     std::string_view bos, std::string_view eos);

// Whether the template prints tool_calls[].function.arguments as JSON when given an object
// (Qwen, Llama 3.x, Hermes, Mistral: `arguments | tojson`), rather than printing the OpenAI
// string as is (DeepSeek R1, Functionary v3.2). Probed by rendering a call.
bool chat_template_wants_object_arguments(const jinja::Template& tmpl);

}  // namespace llamas
