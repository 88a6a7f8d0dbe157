// Chat templates: render a model's `tokenizer.chat_template` (Jinja) over a conversation, the
// way Hugging Face's apply_chat_template does (trim_blocks, lstrip_blocks), plus a ChatML
// fallback for models without a template.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "chat/jinja.h"

namespace llamas {

struct ChatMessage {
    std::string role;     // "system", "user", "assistant", or whatever the template knows
    std::string content;
};

struct ChatTemplateOptions {
    jinja::RenderOptions render;
    // Templates that ignore or reject a system message (Gemma, Mistral v1, Phi-3 mini, ...)
    // get it prepended to the first user message, separated by a newline, as llama.cpp does.
    bool merge_unsupported_system = true;
};

// Throws Error: bad_format (broken template), unsupported (a construct the interpreter lacks;
// the message names it), invalid_argument (the template rejected the conversation).
std::string apply_chat_template(std::string_view tmpl, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt, std::string_view bos, std::string_view eos);
std::string apply_chat_template(std::string_view tmpl, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt, std::string_view bos, std::string_view eos,
                                const ChatTemplateOptions& opts);

// Whether the template renders a leading system message (probed by rendering one).
bool chat_template_supports_system(std::string_view tmpl);

// <|im_start|>role\ncontent<|im_end|>\n per message, then <|im_start|>assistant\n.
std::string chatml_fallback(const std::vector<ChatMessage>& msgs, bool add_generation_prompt = true);

}  // namespace llamas
