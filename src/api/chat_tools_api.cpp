// Chat with tools: OpenAI-format conversations through the model's template, the template's
// tool-call format, and parsing replies into calls.
#include <string>

#include "api/guard.h"
#include "api/handles.h"
#include "chat/chat_json.h"
#include "chat/tool_calls.h"
#include "chat/tool_grammar.h"

using namespace llamas;
using llamas::api::guard;

namespace {

// The template to use: the caller's, else the model's; nullptr when there is none.
const char* pick_template(const llamas_model* model, const char* template_text) {
    if (template_text) return template_text;
    return model ? llamas_model_chat_template(model) : nullptr;
}

std::string special_text(const llamas_model* model, bool bos) {
    if (!model) return {};
    const Tokenizer& tok = model->model->tokenizer();
    const int32_t id = bos ? tok.bos() : tok.eos();
    return id >= 0 ? tok.token_text(id) : std::string();
}

}  // namespace

extern "C" {

LLAMAS_API llamas_status llamas_chat_apply_template_json(const llamas_model* model, const char* template_text,
                                                         const char* messages_json, const char* tools_json,
                                                         int add_generation_prompt, char* buffer, size_t capacity,
                                                         size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(model || template_text, "model and template_text are both NULL");
        LLAMAS_CHECK_ARG(messages_json, "messages_json is NULL");
        const char* tmpl = pick_template(model, template_text);
        if (!tmpl) return api::error(LLAMAS_ERR_UNSUPPORTED, "the model has no chat template");
        const std::string text = apply_chat_template_json(tmpl, messages_json, tools_json ? tools_json : "",
                                                          add_generation_prompt != 0, special_text(model, true),
                                                          special_text(model, false));
        return api::copy_out(text, buffer, capacity, out_length);
    });
}

LLAMAS_API llamas_status llamas_chat_parse_reply(const llamas_model* model, const char* template_text,
                                                 const char* reply_text, char* buffer, size_t capacity,
                                                 size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(reply_text, "reply_text is NULL");
        // No template at all: the generic format (a JSON reply), as for templates without tools.
        const char* tmpl = pick_template(model, template_text);
        const ToolFormat format = detect_tool_format(tmpl ? tmpl : "");
        const std::string text = parsed_reply_json(parse_tool_reply(format, reply_text));
        return api::copy_out(text, buffer, capacity, out_length);
    });
}

LLAMAS_API llamas_status llamas_chat_tool_format(const llamas_model* model, const char* template_text,
                                                 char* buffer, size_t capacity, size_t* out_length) {
    return guard([&] {
        const char* tmpl = pick_template(model, template_text);
        const std::string text = tool_format_json(detect_tool_format(tmpl ? tmpl : ""));
        return api::copy_out(text, buffer, capacity, out_length);
    });
}

LLAMAS_API llamas_status llamas_chat_tool_call_grammar(const llamas_model* model, const char* template_text,
                                                       const char* tools_json, int flags, char* buffer,
                                                       size_t capacity, size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(tools_json, "tools_json is NULL");
        const char* tmpl = pick_template(model, template_text);
        const ToolGrammar g = tool_call_grammar(detect_tool_format(tmpl ? tmpl : ""), tools_json,
                                                (flags & LLAMAS_TOOLS_REQUIRED) != 0, (flags & LLAMAS_TOOLS_PARALLEL) != 0);
        return api::copy_out(tool_grammar_json(g), buffer, capacity, out_length);
    });
}

}  // extern "C"
