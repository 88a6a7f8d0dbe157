#include "chat/chat_json.h"

#include <cctype>

#include "chat/jinja.h"
#include "chat/json_parse.h"
#include "util/error.h"

namespace llamas {

namespace {

using jinja::Value;

jinja::Value render_vars(const ChatJsonInput& in, const Value& messages) {
    jinja::Dict vars = {
        {"messages", messages},
        {"add_generation_prompt", Value(in.add_generation_prompt)},
        {"bos_token", Value(in.bos)},
        {"eos_token", Value(in.eos)},
    };
    // No tools or an empty list: `tools` stays undefined, as llama.cpp passes it (templates
    // test `tools is defined`, `tools is not none` or plain `tools`, and all read "no tools").
    if (in.tools.is_list() && !in.tools.items().empty()) vars.emplace_back("tools", in.tools);
    return Value::dict(std::move(vars));
}

Value copy_dict(const Value& d) { return Value::dict(d.entries()); }

// One tool call with `function.arguments` as the template wants it: an object for templates
// that apply tojson, the JSON text for those that print it as is.
Value normalize_call(const Value& call, bool object_arguments, size_t msg, size_t i) {
    if (!call.is_dict()) fail(Status::invalid_argument, "messages[%zu].tool_calls[%zu] is not an object", msg, i);
    const Value* fn = call.find("function");
    if (!fn) return call;
    if (!fn->is_dict()) fail(Status::invalid_argument, "messages[%zu].tool_calls[%zu].function is not an object", msg, i);
    const Value* name = fn->find("name");
    if (!name || !name->is_string())
        fail(Status::invalid_argument, "messages[%zu].tool_calls[%zu].function.name is missing or not a string", msg, i);
    const Value* args = fn->find("arguments");
    Value out_fn = copy_dict(*fn);
    if (args && object_arguments && args->is_string()) {
        // OpenAI sends arguments as JSON text; text that is not JSON stays a string.
        if (auto parsed = parse_json_prefix(args->str()); parsed) {
            size_t end = parsed->consumed;
            while (end < args->str().size() && std::isspace(static_cast<unsigned char>(args->str()[end]))) ++end;
            if (end == args->str().size()) out_fn.set("arguments", parsed->value);
        }
    } else if (args && !object_arguments && (args->is_dict() || args->is_list())) {
        out_fn.set("arguments", Value(args->to_json()));
    }
    Value out = copy_dict(call);
    out.set("function", out_fn);
    return out;
}

Value normalize_messages(const Value& messages, bool object_arguments) {
    if (!messages.is_list()) fail(Status::invalid_argument, "messages is not a JSON array");
    jinja::List out;
    out.reserve(messages.items().size());
    for (size_t m = 0; m < messages.items().size(); ++m) {
        const Value& msg = messages.items()[m];
        if (!msg.is_dict()) fail(Status::invalid_argument, "messages[%zu] is not an object", m);
        const Value* role = msg.find("role");
        if (!role || !role->is_string()) fail(Status::invalid_argument, "messages[%zu].role is missing or not a string", m);
        Value copy = copy_dict(msg);
        const Value* content = msg.find("content");
        // A missing or null content (an assistant turn that only calls tools) becomes "", as
        // llama.cpp does, so templates that concatenate it do not fail.
        if (!content || content->is_none()) {
            copy.set("content", Value(""));
        } else if (!content->is_string() && !content->is_list()) {
            fail(Status::invalid_argument, "messages[%zu].content is not a string, an array or null", m);
        }
        if (const Value* calls = msg.find("tool_calls"); calls && !calls->is_none()) {
            if (!calls->is_list()) fail(Status::invalid_argument, "messages[%zu].tool_calls is not an array", m);
            jinja::List norm;
            for (size_t i = 0; i < calls->items().size(); ++i)
                norm.push_back(normalize_call(calls->items()[i], object_arguments, m, i));
            copy.set("tool_calls", Value::list(std::move(norm)));
        }
        out.push_back(std::move(copy));
    }
    return Value::list(std::move(out));
}

// Templates that reject a system message get it merged into the first user message, as
// apply_chat_template does for plain messages.
Value merge_system(const Value& messages, std::string_view tmpl) {
    const auto& items = messages.items();
    if (items.empty()) return messages;
    const Value* role = items[0].find("role");
    const Value* content = items[0].find("content");
    if (role->str() != "system" || !content->is_string() || chat_template_supports_system(tmpl)) return messages;
    jinja::List merged(items.begin() + 1, items.end());
    const Value* first_content = merged.empty() ? nullptr : merged[0].find("content");
    if (!merged.empty() && merged[0].find("role")->str() == "user" && first_content->is_string()) {
        Value user = copy_dict(merged[0]);
        user.set("content", Value(content->str() + "\n" + first_content->str()));
        merged[0] = user;
    } else {
        merged.insert(merged.begin(), Value::dict({{"role", Value("user")}, {"content", *content}}));
    }
    return Value::list(std::move(merged));
}

// Whether the template puts the tools in the prompt: the first tool's name must show up.
bool shows_tools(const jinja::Template& tmpl, const ChatJsonInput& in, const Value& messages,
                 const ChatTemplateOptions& opts) {
    const Value& tool = in.tools.items()[0];
    const Value* fn = tool.is_dict() ? tool.find("function") : nullptr;
    const Value* name = fn && fn->is_dict() ? fn->find("name") : (tool.is_dict() ? tool.find("name") : nullptr);
    if (!name || !name->is_string() || name->str().empty()) fail(Status::invalid_argument, "tools[0] has no function name");
    try {
        return jinja::render(tmpl, render_vars(in, messages), opts.render).find(name->str()) != std::string::npos;
    } catch (const Error&) {
        return true;  // the real render reports it
    }
}

// For templates without tool support: a system message that lists the tools and asks for the
// generic JSON reply format (what llama.cpp does for such templates; see tool_calls.h).
Value with_tools_prompt(const Value& messages, const Value& tools) {
    std::string prompt =
        "You can call the following tools:\n" + tools.to_json(2) +
        "\n\nReply with a JSON object only: {\"tool_call\": {\"name\": <tool name>, \"arguments\": "
        "<arguments object>}} to call a tool, or {\"response\": <your answer as a string>} to answer directly.";
    jinja::List out = messages.items();
    const Value* role = out.empty() ? nullptr : out[0].find("role");
    const Value* content = out.empty() ? nullptr : out[0].find("content");
    if (role && role->str() == "system" && content->is_string()) {
        Value sys = copy_dict(out[0]);
        sys.set("content", Value(content->str() + "\n\n" + prompt));
        out[0] = sys;
    } else {
        out.insert(out.begin(), Value::dict({{"role", Value("system")}, {"content", Value(prompt)}}));
    }
    return Value::list(std::move(out));
}

}  // namespace

bool chat_template_wants_object_arguments(const jinja::Template& tmpl) {
    static const char* const kValue = "llamas_probe_value";
    const Value call = Value::dict({
        {"type", Value("function")},
        {"id", Value("123456789")},  // Mistral Nemo insists on nine alphanumerics
        {"function", Value::dict({{"name", Value("llamas_probe_fn")},
                                  {"arguments", Value::dict({{"llamas_probe_arg", Value(kValue)}})}})},
    });
    ChatJsonInput probe;
    probe.add_generation_prompt = false;
    auto conversation = [](const Value& c) {
        return Value::list({
            Value::dict({{"role", Value("user")}, {"content", Value("x")}}),
            Value::dict({{"role", Value("assistant")}, {"content", Value("")}, {"tool_calls", Value::list({c})}}),
        });
    };
    try {
        const std::string out = jinja::render(tmpl, render_vars(probe, conversation(call)));
        // A template printing the arguments as they come writes Python's repr of the dict.
        return !(out.find(kValue) != std::string::npos && out.find("{'llamas_probe_arg'") != std::string::npos);
    } catch (const Error&) {
    }
    // Objects fail (Functionary v3.2 concatenates the arguments to a string): try JSON text.
    try {
        jinja::render(tmpl, render_vars(probe, normalize_messages(conversation(call), false)));
        return false;
    } catch (const Error&) {
        return true;  // a template that cannot render a tool call at all: the form does not matter
    }
}

std::string apply_chat_template_json(std::string_view tmpl, const ChatJsonInput& input,
                                     const ChatTemplateOptions& opts) {
    if (!input.tools.is_undefined() && !input.tools.is_none() && !input.tools.is_list())
        fail(Status::invalid_argument, "tools is not a JSON array");
    const auto parsed = jinja::parse(tmpl);
    Value messages = normalize_messages(input.messages, chat_template_wants_object_arguments(*parsed));
    const bool has_tools = input.tools.is_list() && !input.tools.items().empty();
    if (has_tools && !shows_tools(*parsed, input, messages, opts)) messages = with_tools_prompt(messages, input.tools);
    if (opts.merge_unsupported_system) messages = merge_system(messages, tmpl);
    return jinja::render(*parsed, render_vars(input, messages), opts.render);
}

std::string apply_chat_template_json(std::string_view tmpl, std::string_view messages_json,
                                     std::string_view tools_json, bool add_generation_prompt,
                                     std::string_view bos, std::string_view eos) {
    ChatJsonInput in;
    in.messages = parse_json(messages_json, "messages");
    if (!tools_json.empty()) in.tools = parse_json(tools_json, "tools");
    in.add_generation_prompt = add_generation_prompt;
    in.bos = std::string(bos);
    in.eos = std::string(eos);
    return apply_chat_template_json(tmpl, in);
}

}  // namespace llamas
