#include "chat/chat_template.h"

#include "util/error.h"

namespace llamas {

namespace {

jinja::Value messages_value(const std::vector<ChatMessage>& msgs) {
    jinja::List list;
    list.reserve(msgs.size());
    for (const auto& m : msgs) {
        list.push_back(jinja::Value::dict({{"role", jinja::Value(m.role)}, {"content", jinja::Value(m.content)}}));
    }
    return jinja::Value::list(std::move(list));
}

std::string render_messages(const jinja::Template& t, const std::vector<ChatMessage>& msgs, bool add_generation_prompt,
                            std::string_view bos, std::string_view eos, const jinja::RenderOptions& opts) {
    jinja::Value vars = jinja::Value::dict({
        {"messages", messages_value(msgs)},
        {"add_generation_prompt", jinja::Value(add_generation_prompt)},
        {"bos_token", jinja::Value(bos)},
        {"eos_token", jinja::Value(eos)},
    });
    return jinja::render(t, vars, opts);
}

bool supports_system(const jinja::Template& t, const jinja::RenderOptions& opts) {
    static const char* const kProbe = "\x01llamas-system-probe\x01";
    try {
        const std::string out = render_messages(t, {{"system", kProbe}, {"user", "hello"}}, true, "", "", opts);
        return out.find(kProbe) != std::string::npos;
    } catch (const Error& e) {
        // A template that raises on a system message does not support one; anything else
        // (a construct we lack, a runaway template) is reported by the real render.
        return e.status() != Status::invalid_argument;
    }
}

}  // namespace

std::string apply_chat_template(std::string_view tmpl, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt, std::string_view bos, std::string_view eos) {
    return apply_chat_template(tmpl, msgs, add_generation_prompt, bos, eos, ChatTemplateOptions{});
}

std::string apply_chat_template(std::string_view tmpl, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt, std::string_view bos, std::string_view eos,
                                const ChatTemplateOptions& opts) {
    const auto parsed = jinja::parse(tmpl);
    if (opts.merge_unsupported_system && !msgs.empty() && msgs[0].role == "system" &&
        !supports_system(*parsed, opts.render)) {
        std::vector<ChatMessage> merged(msgs.begin() + 1, msgs.end());
        if (!merged.empty() && merged[0].role == "user") {
            merged[0].content = msgs[0].content + "\n" + merged[0].content;
        } else {
            merged.insert(merged.begin(), ChatMessage{"user", msgs[0].content});
        }
        return render_messages(*parsed, merged, add_generation_prompt, bos, eos, opts.render);
    }
    return render_messages(*parsed, msgs, add_generation_prompt, bos, eos, opts.render);
}

bool chat_template_supports_system(std::string_view tmpl) {
    const auto parsed = jinja::parse(tmpl);
    return supports_system(*parsed, jinja::RenderOptions{});
}

std::string chatml_fallback(const std::vector<ChatMessage>& msgs, bool add_generation_prompt) {
    std::string out;
    for (const auto& m : msgs) out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n";
    if (add_generation_prompt) out += "<|im_start|>assistant\n";
    return out;
}

}  // namespace llamas
