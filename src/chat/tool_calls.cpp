#include "chat/tool_calls.h"

#include <cctype>
#include <optional>

#include "chat/json_parse.h"

namespace llamas {

namespace {

using jinja::Value;

bool has(std::string_view s, std::string_view needle) { return s.find(needle) != std::string_view::npos; }

std::string_view ltrim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    return s;
}
std::string_view rtrim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Arguments as the model wrote them: an object, or JSON text holding one (some models quote
// it); anything else is kept as it is.
Value arguments_value(const Value* v) {
    if (!v || v->is_undefined() || v->is_none()) return Value::dict();
    if (v->is_string()) {
        if (auto p = parse_json_prefix(v->str()); p && ltrim(std::string_view(v->str()).substr(p->consumed)).empty())
            return p->value;
    }
    return *v;
}

// {"name": ..., "arguments"|"parameters": ..., "id"?: ...}; also {"function": {...}} wrappers.
std::optional<ToolCall> call_from_object(const Value& v) {
    if (!v.is_dict()) return std::nullopt;
    const Value* obj = &v;
    if (const Value* fn = v.find("function"); fn && fn->is_dict()) obj = fn;
    const Value* name = obj->find("name");
    if (!name || !name->is_string() || name->str().empty()) return std::nullopt;
    const Value* args = obj->find("arguments");
    if (!args) args = obj->find("parameters");
    ToolCall c;
    c.name = name->str();
    c.arguments = arguments_value(args);
    const Value* id = v.find("id");
    if (id && id->is_string()) c.id = id->str();
    return c;
}

// Moves `rest` past one JSON value and returns it, or nullopt leaving `rest` alone.
std::optional<Value> take_json(std::string_view& rest) {
    auto p = parse_json_prefix(rest);
    if (!p) return std::nullopt;
    rest.remove_prefix(p->consumed);
    return p->value;
}

// <tool_call>{json}</tool_call>, any number, text around them is content.
bool parse_hermes(std::string_view reply, ParsedReply& out) {
    static constexpr std::string_view kOpen = "<tool_call>", kClose = "</tool_call>";
    std::string content;
    std::string_view rest = reply;
    for (;;) {
        const size_t at = rest.find(kOpen);
        if (at == std::string_view::npos) break;
        std::string_view after = rest.substr(at + kOpen.size());
        auto v = take_json(after);
        std::optional<ToolCall> call = v ? call_from_object(*v) : std::nullopt;
        if (!call) return false;
        after = ltrim(after);
        if (starts_with(after, kClose)) after.remove_prefix(kClose.size());
        else if (!after.empty()) return false;  // a model stopped by its end token may omit the close tag
        content += rtrim(rest.substr(0, at));
        out.calls.push_back(std::move(*call));
        rest = ltrim(after);
    }
    content += rest;
    out.content = std::move(content);
    return true;
}

// Built-in tool syntax after <|python_tag|>: name.call(key="value", n=3).
std::optional<ToolCall> parse_python_call(std::string_view s) {
    size_t i = 0;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '_')) ++i;
    if (i == 0 || s.substr(i, 6) != ".call(") return std::nullopt;
    ToolCall c;
    c.name = std::string(s.substr(0, i));
    c.arguments = Value::dict();
    std::string_view rest = s.substr(i + 6);
    for (;;) {
        rest = ltrim(rest);
        if (starts_with(rest, ")")) return ltrim(rest.substr(1)).empty() ? std::optional<ToolCall>(c) : std::nullopt;
        size_t k = 0;
        while (k < rest.size() && (std::isalnum(static_cast<unsigned char>(rest[k])) || rest[k] == '_')) ++k;
        if (k == 0) return std::nullopt;
        const std::string key(rest.substr(0, k));
        rest = ltrim(rest.substr(k));
        if (!starts_with(rest, "=")) return std::nullopt;
        rest.remove_prefix(1);
        auto v = take_json(rest);  // Python string and number literals are JSON for the usual cases
        if (!v) return std::nullopt;
        c.arguments.set(key, *v);
        rest = ltrim(rest);
        if (starts_with(rest, ",")) rest.remove_prefix(1);
    }
}

bool parse_llama3(std::string_view reply, ParsedReply& out) {
    static constexpr std::string_view kTag = "<|python_tag|>";
    if (const size_t at = reply.find(kTag); at != std::string_view::npos) {
        std::string_view body = rtrim(ltrim(reply.substr(at + kTag.size())));
        std::optional<ToolCall> call;
        std::string_view rest = body;
        if (auto v = take_json(rest); v && ltrim(rest).empty()) call = call_from_object(*v);
        if (!call) call = parse_python_call(body);
        if (!call) {
            // Code for the ipython environment, as llama.cpp reports it.
            call = ToolCall{"python", Value::dict({{"code", Value(std::string(body))}}), ""};
        }
        out.content = std::string(rtrim(reply.substr(0, at)));
        out.calls.push_back(std::move(*call));
        return true;
    }
    // A JSON call is the whole reply (several may follow one another, separated by ';').
    std::string_view rest = ltrim(reply);
    if (!starts_with(rest, "{")) return false;
    std::vector<ToolCall> calls;
    while (starts_with(rest, "{")) {
        auto v = take_json(rest);
        std::optional<ToolCall> call = v ? call_from_object(*v) : std::nullopt;
        // A JSON reply that is not a call (structured output) is content.
        if (!call || (!v->find("parameters") && !v->find("arguments"))) return false;
        calls.push_back(std::move(*call));
        rest = ltrim(rest);
        if (starts_with(rest, ";")) rest = ltrim(rest.substr(1));
    }
    if (!rest.empty()) return false;
    out.calls = std::move(calls);
    return true;
}

bool parse_mistral_nemo(std::string_view reply, ParsedReply& out) {
    static constexpr std::string_view kTag = "[TOOL_CALLS]";
    const size_t at = reply.find(kTag);
    if (at == std::string_view::npos) return false;
    std::string_view rest = reply.substr(at + kTag.size());
    auto v = take_json(rest);
    if (!v) return false;
    jinja::List items = v->is_list() ? v->items() : jinja::List{*v};
    std::vector<ToolCall> calls;
    for (const Value& item : items) {
        auto call = call_from_object(item);
        if (!call) return false;
        calls.push_back(std::move(*call));
    }
    out.content = std::string(rtrim(reply.substr(0, at))) + std::string(ltrim(rest));
    out.calls = std::move(calls);
    return true;
}

// [TOOL_CALLS]name[CALL_ID]id[ARGS]{...}, repeated; [CALL_ID] is optional.
bool parse_mistral(std::string_view reply, ParsedReply& out) {
    static constexpr std::string_view kTag = "[TOOL_CALLS]", kArgs = "[ARGS]", kId = "[CALL_ID]";
    const size_t at = reply.find(kTag);
    if (at == std::string_view::npos) return false;
    // The older array form is accepted too: some of these models still write it.
    if (starts_with(ltrim(reply.substr(at + kTag.size())), "[{")) return parse_mistral_nemo(reply, out);
    std::string_view rest = reply.substr(at);
    std::vector<ToolCall> calls;
    while (starts_with(rest, kTag)) {
        rest.remove_prefix(kTag.size());
        const size_t bracket = rest.find('[');
        if (bracket == std::string_view::npos) return false;
        ToolCall c;
        c.name = std::string(rtrim(ltrim(rest.substr(0, bracket))));
        if (c.name.empty()) return false;
        rest.remove_prefix(bracket);
        if (starts_with(rest, kId)) {
            rest.remove_prefix(kId.size());
            const size_t end = rest.find(kArgs);
            if (end == std::string_view::npos) return false;
            c.id = std::string(rest.substr(0, end));
            rest.remove_prefix(end);
        }
        if (!starts_with(rest, kArgs)) return false;
        rest.remove_prefix(kArgs.size());
        auto v = take_json(rest);
        if (!v) return false;
        c.arguments = arguments_value(&*v);
        calls.push_back(std::move(c));
        rest = ltrim(rest);
    }
    if (!rest.empty()) return false;
    out.content = std::string(rtrim(reply.substr(0, at)));
    out.calls = std::move(calls);
    return true;
}

// The whole reply is {"tool_calls": [...]}, {"tool_call": {...}} or {"response": ...}.
bool parse_generic(std::string_view reply, ParsedReply& out) {
    std::string_view rest = ltrim(reply);
    auto v = take_json(rest);
    if (!v || !v->is_dict() || !ltrim(rest).empty()) return false;
    if (const Value* calls = v->find("tool_calls"); calls && calls->is_list()) {
        for (const Value& item : calls->items()) {
            auto call = call_from_object(item);
            if (!call) return false;
            out.calls.push_back(std::move(*call));
        }
        return true;
    }
    if (const Value* call = v->find("tool_call")) {
        auto c = call_from_object(*call);
        if (!c) return false;
        out.calls.push_back(std::move(*c));
        return true;
    }
    if (const Value* response = v->find("response")) {
        out.content = response->is_string() ? response->str() : response->to_json();
        return true;
    }
    return false;
}

void split_thinking(std::string_view& reply, std::string& reasoning) {
    static constexpr std::string_view kOpen = "<think>", kClose = "</think>";
    const size_t close = reply.find(kClose);
    if (close == std::string_view::npos) return;
    std::string_view thought = ltrim(reply.substr(0, close));
    // The generation prompt may already hold <think>: then the reply starts inside it.
    if (starts_with(thought, kOpen)) thought.remove_prefix(kOpen.size());
    reasoning = std::string(rtrim(ltrim(thought)));
    reply = ltrim(reply.substr(close + kClose.size()));
}

void json_string_field(std::string& out, const char* key, const std::string& value) {
    out += '"';
    out += key;
    out += "\": ";
    out += Value(value).to_json();
}

}  // namespace

ToolFormat detect_tool_format(std::string_view tmpl) {
    ToolFormat f;
    f.thinking = has(tmpl, "<think>") || has(tmpl, "</think>");
    if (has(tmpl, "[TOOL_CALLS]")) {
        f.family = has(tmpl, "[ARGS]") ? ToolFamily::mistral : ToolFamily::mistral_nemo;
        f.call_id = f.family == ToolFamily::mistral && has(tmpl, "[CALL_ID]");
    } else if (has(tmpl, "<tool_call>")) {
        f.family = ToolFamily::hermes;
    } else if (has(tmpl, "<|start_header_id|>ipython<|end_header_id|>") || has(tmpl, "<|python_tag|>")) {
        f.family = ToolFamily::llama3;
    }
    return f;
}

const char* tool_family_name(ToolFamily f) {
    switch (f) {
        case ToolFamily::hermes: return "hermes";
        case ToolFamily::llama3: return "llama3";
        case ToolFamily::mistral_nemo: return "mistral_nemo";
        case ToolFamily::mistral: return "mistral";
        case ToolFamily::generic: break;
    }
    return "generic";
}

std::string tool_format_json(const ToolFormat& f) {
    Value o = Value::dict({{"family", Value(tool_family_name(f.family))}});
    auto strings = [](std::initializer_list<const char*> items) {
        jinja::List l;
        for (const char* s : items) l.push_back(Value(s));
        return Value::list(std::move(l));
    };
    switch (f.family) {
        case ToolFamily::hermes:
            o.set("lazy", Value(true));
            o.set("triggers", strings({"<tool_call>"}));
            o.set("call_prefix", Value("<tool_call>\n"));
            o.set("call_suffix", Value("\n</tool_call>"));
            o.set("call_separator", Value("\n"));
            o.set("body", Value("object"));
            o.set("arguments_key", Value("arguments"));
            o.set("parallel", Value(true));
            break;
        case ToolFamily::llama3:
            o.set("lazy", Value(true));
            // A call is the whole reply: a trigger counts only at its start (after whitespace).
            o.set("triggers", strings({"{\"name\"", "<|python_tag|>"}));
            o.set("trigger_at_start", Value(true));
            o.set("call_prefix", Value(""));
            o.set("call_suffix", Value(""));
            o.set("call_separator", Value(""));
            o.set("body", Value("object"));
            o.set("arguments_key", Value("parameters"));
            o.set("parallel", Value(false));
            break;
        case ToolFamily::mistral_nemo:
            o.set("lazy", Value(true));
            o.set("triggers", strings({"[TOOL_CALLS]"}));
            o.set("call_prefix", Value("[TOOL_CALLS]["));
            o.set("call_suffix", Value("]"));
            o.set("call_separator", Value(", "));
            o.set("body", Value("object"));
            o.set("arguments_key", Value("arguments"));
            // The template refuses other ids when the conversation is rendered back.
            o.set("id_key", Value("id"));
            o.set("id_pattern", Value("^[a-zA-Z0-9]{9}$"));
            o.set("parallel", Value(true));
            break;
        case ToolFamily::mistral:
            o.set("lazy", Value(true));
            o.set("triggers", strings({"[TOOL_CALLS]"}));
            o.set("call_prefix", Value("[TOOL_CALLS]"));
            o.set("call_suffix", Value(""));
            o.set("call_separator", Value(""));
            o.set("body", Value("name_args"));  // NAME[ARGS]{arguments}
            o.set("args_marker", Value("[ARGS]"));
            if (f.call_id) {  // NAME[CALL_ID]id[ARGS]{arguments}; the template refuses other ids
                o.set("id_marker", Value("[CALL_ID]"));
                o.set("id_pattern", Value("^[a-zA-Z0-9]{9}$"));
            }
            o.set("parallel", Value(true));
            break;
        case ToolFamily::generic:
            // No format in the template: the whole reply is JSON, so a grammar applies from the
            // first token (not lazy) and allows {"response": "..."} besides calls.
            o.set("lazy", Value(false));
            o.set("triggers", Value::list());
            o.set("call_prefix", Value("{\"tool_call\": "));
            o.set("call_suffix", Value("}"));
            o.set("call_separator", Value(""));
            o.set("body", Value("object"));
            o.set("arguments_key", Value("arguments"));
            o.set("response_form", Value("{\"response\": <string>}"));
            o.set("parallel", Value(false));
            break;
    }
    o.set("thinking", Value(f.thinking));
    return o.to_json();
}

ParsedReply parse_tool_reply(const ToolFormat& f, std::string_view reply) {
    ParsedReply r;
    if (f.thinking) split_thinking(reply, r.reasoning);
    bool ok = false;
    switch (f.family) {
        case ToolFamily::hermes: ok = parse_hermes(reply, r); break;
        case ToolFamily::llama3: ok = parse_llama3(reply, r); break;
        case ToolFamily::mistral_nemo: ok = parse_mistral_nemo(reply, r); break;
        case ToolFamily::mistral: ok = parse_mistral(reply, r); break;
        case ToolFamily::generic: ok = parse_generic(reply, r); break;
    }
    if (!ok) {
        r.calls.clear();
        r.content = std::string(reply);
    }
    return r;
}

std::string parsed_reply_json(const ParsedReply& r) {
    std::string out = "{";
    json_string_field(out, "content", r.content);
    if (!r.reasoning.empty()) {
        out += ", ";
        json_string_field(out, "reasoning_content", r.reasoning);
    }
    out += ", \"tool_calls\": [";
    for (size_t i = 0; i < r.calls.size(); ++i) {
        if (i) out += ", ";
        out += "{";
        json_string_field(out, "name", r.calls[i].name);
        out += ", \"arguments\": " + r.calls[i].arguments.to_json();
        if (!r.calls[i].id.empty()) {
            out += ", ";
            json_string_field(out, "id", r.calls[i].id);
        }
        out += "}";
    }
    out += "]}";
    return out;
}

}  // namespace llamas
