// Chat templates.
#include <vector>

#include "api/guard.h"
#include "api/handles.h"
#include "chat/chat_template.h"

using namespace llamas;
using llamas::api::guard;

namespace {

std::vector<ChatMessage> to_messages(const llamas_chat_message* messages, size_t n) {
    std::vector<ChatMessage> out;
    out.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        if (!messages[i].role || !messages[i].content)
            fail(Status::invalid_argument, "message %zu has a NULL role or content", i);
        out.push_back({messages[i].role, messages[i].content});
    }
    return out;
}

}  // namespace

extern "C" {

LLAMAS_API llamas_status llamas_chat_apply_template(const llamas_model* model, const char* template_text,
                                                    const llamas_chat_message* messages, size_t n_messages,
                                                    int add_generation_prompt, char* buffer, size_t capacity,
                                                    size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(model, "model is NULL");
        LLAMAS_CHECK_ARG(messages || n_messages == 0, "messages is NULL");
        const char* tmpl = template_text ? template_text : llamas_model_chat_template(model);
        if (!tmpl) return api::error(LLAMAS_ERR_UNSUPPORTED, "the model has no chat template (use llamas_chat_apply_chatml)");
        const Tokenizer& tok = model->model->tokenizer();
        const std::string bos = tok.bos() >= 0 ? tok.token_text(tok.bos()) : std::string();
        const std::string eos = tok.eos() >= 0 ? tok.token_text(tok.eos()) : std::string();
        const std::string text =
            apply_chat_template(tmpl, to_messages(messages, n_messages), add_generation_prompt != 0, bos, eos);
        return api::copy_out(text, buffer, capacity, out_length);
    });
}

LLAMAS_API llamas_status llamas_chat_apply_chatml(const llamas_chat_message* messages, size_t n_messages,
                                                  int add_generation_prompt, char* buffer, size_t capacity,
                                                  size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(messages || n_messages == 0, "messages is NULL");
        const std::string text = chatml_fallback(to_messages(messages, n_messages), add_generation_prompt != 0);
        return api::copy_out(text, buffer, capacity, out_length);
    });
}

}  // extern "C"
