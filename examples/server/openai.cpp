#include "openai.h"

#include <atomic>
#include <cmath>

namespace server {

namespace {

ApiError bad(const std::string& message, const std::string& param = "") {
    (void)param;
    return ApiError(400, "invalid_request_error", "invalid_value", message);
}

// Reads an optional number field within [lo, hi].
template <class T>
void read_number(const json& body, const char* key, T lo, T hi, T* out) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return;
    if (!it->is_number()) throw bad(std::string("'") + key + "' must be a number");
    const double v = it->get<double>();
    if (!std::isfinite(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
        throw bad(std::string("'") + key + "' must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    *out = static_cast<T>(v);
}

std::string render_chat(const json& messages, llamas_model* model) {
    if (!messages.is_array() || messages.empty()) throw bad("'messages' must be a non-empty array");
    std::vector<std::string> roles, contents;
    for (const json& m : messages) {
        if (!m.is_object()) throw bad("each message must be an object");
        auto role = m.find("role");
        if (role == m.end() || !role->is_string()) throw bad("each message needs a string 'role'");
        const std::string r = *role;
        if (r != "system" && r != "user" && r != "assistant" && r != "developer" && r != "tool")
            throw bad("unknown role '" + r + "'");
        std::string text;
        auto content = m.find("content");
        if (content == m.end() || content->is_null()) {
            text = "";
        } else if (content->is_string()) {
            text = *content;
        } else if (content->is_array()) {  // content parts: the text ones, joined
            for (const json& part : *content) {
                if (!part.is_object() || part.value("type", "") != "text" || !part.contains("text") ||
                    !part["text"].is_string())
                    throw bad("only text content parts are supported");
                text += part["text"].get<std::string>();
            }
        } else {
            throw bad("'content' must be a string or an array of text parts");
        }
        roles.push_back(r == "developer" ? "system" : r);
        contents.push_back(std::move(text));
    }
    std::vector<llamas_chat_message> msgs(roles.size());
    for (size_t i = 0; i < roles.size(); ++i) msgs[i] = {roles[i].c_str(), contents[i].c_str()};
    size_t need = 0;
    const bool has_template = llamas_model_chat_template(model) != nullptr;
    auto apply = [&](char* buf, size_t cap, size_t* out) {
        return has_template ? llamas_chat_apply_template(model, nullptr, msgs.data(), msgs.size(), 1, buf, cap, out)
                            : llamas_chat_apply_chatml(msgs.data(), msgs.size(), 1, buf, cap, out);
    };
    llamas_status s = apply(nullptr, 0, &need);
    if (s != LLAMAS_OK && s != LLAMAS_ERR_BUFFER_TOO_SMALL)
        throw ApiError(500, "server_error", "template_error", std::string("chat template: ") + llamas_last_error());
    std::string out(need + 1, '\0');
    if (apply(&out[0], out.size(), &need) != LLAMAS_OK)
        throw ApiError(500, "server_error", "template_error", std::string("chat template: ") + llamas_last_error());
    out.resize(need);
    return out;
}

// For models without a chat template: ChatML, as llama.cpp's server does.
const char* const kChatML =
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + (message.content or '') + "
    "'<|im_end|>\\n' }}{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

// Calls a function with the API's buffer rules (size first, then text) and returns the text.
template <class F>
std::string fetch_text(F&& call, const char* what) {
    size_t need = 0;
    llamas_status s = call(nullptr, 0, &need);
    if (s != LLAMAS_OK && s != LLAMAS_ERR_BUFFER_TOO_SMALL)
        throw ApiError(400, "invalid_request_error", "invalid_value", std::string(what) + ": " + llamas_last_error());
    std::string out(need + 1, '\0');
    if (call(&out[0], out.size(), &need) != LLAMAS_OK)
        throw ApiError(400, "invalid_request_error", "invalid_value", std::string(what) + ": " + llamas_last_error());
    out.resize(need);
    return out;
}

// response_format json_object / json_schema: a grammar for the reply.
void read_response_format(const json& body, SamplingParams& p) {
    auto rf = body.find("response_format");
    if (rf == body.end() || rf->is_null()) return;
    if (!rf->is_object() || !rf->contains("type") || !(*rf)["type"].is_string())
        throw bad("'response_format' must be an object with a 'type'");
    const std::string type = (*rf)["type"];
    json schema;
    if (type == "text") return;
    if (type == "json_object") {
        schema = json::object();  // any JSON object
    } else if (type == "json_schema") {
        auto js = rf->find("json_schema");
        if (js == rf->end() || !js->is_object() || !js->contains("schema"))
            throw bad("'response_format.json_schema.schema' is required");
        schema = (*js)["schema"];
    } else {
        throw bad("'response_format.type' must be text, json_object or json_schema");
    }
    const std::string text = schema.dump();
    p.grammar = fetch_text([&](char* b, size_t n, size_t* o) { return llamas_json_schema_to_grammar(text.c_str(), b, n, o); },
                           "response_format schema");
    p.grammar_root = "root";
}

bool needs_json_render(const json& messages) {
    for (const json& m : messages)
        if (m.is_object() && (m.contains("tool_calls") || m.value("role", "") == "tool")) return true;
    return false;
}

std::vector<int32_t> tokenize(llamas_model* model, const std::string& text, bool parse_special) {
    const int flags = LLAMAS_TOKENIZE_ADD_SPECIAL | (parse_special ? LLAMAS_TOKENIZE_PARSE_SPECIAL : 0);
    size_t n = 0;
    llamas_status s = llamas_tokenize(model, text.data(), text.size(), flags, nullptr, 0, &n);
    if (s != LLAMAS_OK && s != LLAMAS_ERR_BUFFER_TOO_SMALL) throw bad(std::string("tokenizer: ") + llamas_last_error());
    std::vector<int32_t> ids(n);
    if (n && llamas_tokenize(model, text.data(), text.size(), flags, ids.data(), n, &n) != LLAMAS_OK)
        throw bad(std::string("tokenizer: ") + llamas_last_error());
    // A rendered template may already begin with the BOS text: keep one BOS.
    const int32_t bos = llamas_model_bos(model);
    if (ids.size() >= 2 && bos >= 0 && ids[0] == bos && ids[1] == bos) ids.erase(ids.begin());
    return ids;
}

std::vector<std::string> read_stop(const json& body) {
    auto it = body.find("stop");
    if (it == body.end() || it->is_null()) return {};
    if (it->is_string()) return {it->get<std::string>()};
    if (!it->is_array() || it->size() > 4) throw bad("'stop' must be a string or an array of up to 4 strings");
    std::vector<std::string> out;
    for (const json& s : *it) {
        if (!s.is_string()) throw bad("'stop' must hold strings");
        out.push_back(s);
    }
    return out;
}

}  // namespace

json error_body(int status, const std::string& type, const std::string& code, const std::string& message) {
    (void)status;
    return json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}}}};
}

void check_model(const json& body, const std::string& model_id) {
    auto it = body.find("model");
    if (it == body.end() || it->is_null()) return;
    if (!it->is_string()) throw bad("'model' must be a string");
    if (it->get<std::string>() != model_id)
        throw ApiError(404, "invalid_request_error", "model_not_found",
                       "The model '" + it->get<std::string>() + "' does not exist; this server serves '" + model_id + "'");
}

Completion parse_completion(const json& body, bool chat, llamas_model* model, int32_t n_ctx,
                            const std::string& model_id) {
    if (!body.is_object()) throw bad("the body must be a JSON object");
    check_model(body, model_id);
    Completion c;
    std::string text;
    json tools = body.contains("tools") && body["tools"].is_array() && !body["tools"].empty() ? body["tools"] : json();
    std::string tool_choice = "auto";
    if (body.contains("tool_choice") && !body["tool_choice"].is_null()) {
        const json& tc = body["tool_choice"];
        if (tc.is_string()) {
            tool_choice = tc;
            if (tool_choice != "auto" && tool_choice != "none" && tool_choice != "required")
                throw bad("'tool_choice' must be auto, none, required or a function");
        } else if (tc.is_object() && tc.contains("function") && tc["function"].is_object() &&
                   tc["function"].contains("name") && tc["function"]["name"].is_string()) {
            const std::string name = tc["function"]["name"];
            json only = json::array();
            for (const json& t : tools)
                if (t.is_object() && t.contains("function") && t["function"].value("name", "") == name) only.push_back(t);
            if (only.empty()) throw bad("'tool_choice' names a function that is not in 'tools'");
            tools = only;
            tool_choice = "required";
        } else {
            throw bad("'tool_choice' must be auto, none, required or {\"type\": \"function\", ...}");
        }
    }
    if (!tools.is_null() && !chat) throw bad("'tools' belong to /v1/chat/completions");
    if (chat) {
        if (!body.contains("messages")) throw bad("'messages' is required");
        const json& messages = body["messages"];
        if (!tools.is_null() || (messages.is_array() && needs_json_render(messages))) {
            // Tools, tool calls or tool results: the template renders the OpenAI messages itself.
            if (!messages.is_array() || messages.empty()) throw bad("'messages' must be a non-empty array");
            if (!llamas_model_chat_template(model)) c.template_text = kChatML;
            const char* tmpl = c.template_text.empty() ? nullptr : c.template_text.c_str();
            const std::string m = messages.dump(), t = tools.is_null() || tool_choice == "none" ? "" : tools.dump();
            text = fetch_text([&](char* b, size_t n, size_t* o) {
                return llamas_chat_apply_template_json(model, tmpl, m.c_str(), t.empty() ? nullptr : t.c_str(), 1, b, n, o);
            }, "chat template");
            if (!t.empty()) {
                c.tools = true;
                const int flags = (tool_choice == "required" ? LLAMAS_TOOLS_REQUIRED : 0) |
                                  (body.value("parallel_tool_calls", true) ? LLAMAS_TOOLS_PARALLEL : 0);
                const std::string g = fetch_text([&](char* b, size_t n, size_t* o) {
                    return llamas_chat_tool_call_grammar(model, tmpl, t.c_str(), flags, b, n, o);
                }, "tools");
                const json gj = json::parse(g);
                c.params.grammar = gj["grammar"];
                c.params.grammar_root = gj["root"];
                c.params.grammar_lazy = gj["lazy"];
                for (const json& w : gj["triggers"]) c.params.grammar_triggers.push_back(w);
            }
        } else {
            text = render_chat(messages, model);
        }
    } else {
        auto p = body.find("prompt");
        if (p == body.end() || !p->is_string()) throw bad("'prompt' must be a string");
        text = *p;
    }
    c.prompt = tokenize(model, text, chat);
    if (c.prompt.empty()) throw bad("the prompt is empty");
    if (c.prompt.size() >= static_cast<size_t>(n_ctx))
        throw ApiError(400, "invalid_request_error", "context_length_exceeded",
                       "This model's maximum context length is " + std::to_string(n_ctx) + " tokens; the prompt is " +
                           std::to_string(c.prompt.size()) + " tokens");
    SamplingParams& p = c.params;
    read_number<float>(body, "temperature", 0.0f, 2.0f, &p.temperature);
    read_number<float>(body, "top_p", 0.0f, 1.0f, &p.top_p);
    read_number<float>(body, "presence_penalty", -2.0f, 2.0f, &p.presence_penalty);
    read_number<float>(body, "frequency_penalty", -2.0f, 2.0f, &p.frequency_penalty);
    read_number<int32_t>(body, "top_k", 0, 1 << 20, &p.top_k);  // llama.cpp's extension
    read_number<float>(body, "min_p", 0.0f, 1.0f, &p.min_p);
    int64_t seed = 0;
    read_number<int64_t>(body, "seed", INT64_MIN / 2, INT64_MAX / 2, &seed);
    p.seed = static_cast<uint64_t>(seed);
    const int32_t room = n_ctx - static_cast<int32_t>(c.prompt.size());
    int64_t max_tokens = room;
    const char* key = body.contains("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    read_number<int64_t>(body, key, 1, INT64_MAX / 2, &max_tokens);
    if (max_tokens > room)
        throw ApiError(400, "invalid_request_error", "context_length_exceeded",
                       "This model's maximum context length is " + std::to_string(n_ctx) + " tokens; the prompt (" +
                           std::to_string(c.prompt.size()) + ") plus " + key + " (" + std::to_string(max_tokens) +
                           ") exceed it");
    p.max_tokens = static_cast<int32_t>(max_tokens);
    p.stop = read_stop(body);
    if (body.contains("n") && !(body["n"].is_number_integer() && body["n"].get<int64_t>() == 1))
        throw bad("only n = 1 is supported");
    auto stream = body.find("stream");
    if (stream != body.end() && !stream->is_null()) {
        if (!stream->is_boolean()) throw bad("'stream' must be a boolean");
        c.stream = *stream;
    }
    auto so = body.find("stream_options");
    if (so != body.end() && so->is_object()) c.include_usage = so->value("include_usage", false);
    if (!c.tools) read_response_format(body, c.params);
    // logprobs: chat takes a boolean and top_logprobs (0..20); completions an integer (0..5).
    if (body.contains("logprobs") && !body["logprobs"].is_null()) {
        const json& lp = body["logprobs"];
        if (chat) {
            if (!lp.is_boolean()) throw bad("'logprobs' must be a boolean");
            if (lp.get<bool>()) {
                int32_t top = 0;
                read_number<int32_t>(body, "top_logprobs", 0, 20, &top);
                c.params.top_logprobs = top;
            }
        } else {
            int32_t top = 0;
            read_number<int32_t>(body, "logprobs", 0, 5, &top);
            c.params.top_logprobs = top;
        }
    }
    return c;
}

json logprobs_json(bool chat, const std::vector<TokenLogprob>& entries) {
    auto bytes = [](const std::string& t) {
        json b = json::array();
        for (const unsigned char ch : t) b.push_back(static_cast<int>(ch));
        return b;
    };
    if (chat) {
        json content = json::array();
        for (const TokenLogprob& e : entries) {
            json top = json::array();
            for (const auto& [t, lp] : e.top) top.push_back({{"token", t}, {"logprob", lp}, {"bytes", bytes(t)}});
            content.push_back({{"token", e.token}, {"logprob", e.logprob}, {"bytes", bytes(e.token)}, {"top_logprobs", top}});
        }
        return json{{"content", content}};
    }
    json tokens = json::array(), lps = json::array(), tops = json::array(), offsets = json::array();
    size_t at = 0;
    for (const TokenLogprob& e : entries) {
        tokens.push_back(e.token);
        lps.push_back(e.logprob);
        json top = json::object();
        for (const auto& [t, lp] : e.top) top[t] = lp;
        tops.push_back(top);
        offsets.push_back(at);
        at += e.token.size();
    }
    return json{{"tokens", tokens}, {"token_logprobs", lps}, {"top_logprobs", tops}, {"text_offset", offsets}};
}

json usage_of(const Event& done) {
    return json{{"prompt_tokens", done.prompt_tokens},
                {"completion_tokens", done.completion_tokens},
                {"total_tokens", done.prompt_tokens + done.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", done.cached_tokens}}}};
}

json reply_message(llamas_model* model, const Completion& c, const std::string& text, bool* has_calls) {
    const char* tmpl = c.template_text.empty() ? nullptr : c.template_text.c_str();
    const json parsed = json::parse(fetch_text([&](char* b, size_t n, size_t* o) {
        return llamas_chat_parse_reply(model, tmpl, text.c_str(), b, n, o);
    }, "reply"));
    json msg = {{"role", "assistant"}};
    const std::string content = parsed.value("content", "");
    json calls = json::array();
    if (parsed.contains("tool_calls")) {
        static std::atomic<uint64_t> counter{0};
        for (const json& call : parsed["tool_calls"]) {
            const std::string id = call.contains("id") && call["id"].is_string() ? call["id"].get<std::string>()
                                                                                : "call_" + std::to_string(counter++);
            calls.push_back({{"id", id},
                             {"type", "function"},
                             {"function", {{"name", call.value("name", "")}, {"arguments", call["arguments"].dump()}}}});
        }
    }
    *has_calls = !calls.empty();
    msg["content"] = content.empty() && *has_calls ? json(nullptr) : json(content);
    if (*has_calls) msg["tool_calls"] = calls;
    if (parsed.contains("reasoning_content")) msg["reasoning_content"] = parsed["reasoning_content"];
    return msg;
}

json completion_response(bool chat, const std::string& id, const std::string& model_id, long created,
                         const std::string& text, const Event& done, const json* message, const char* finish_reason,
                         const json* logprobs) {
    json choice = {{"index", 0}, {"finish_reason", finish_reason ? finish_reason : done.finish_reason},
                   {"logprobs", logprobs ? *logprobs : json(nullptr)}};
    if (chat) choice["message"] = message ? *message : json{{"role", "assistant"}, {"content", text}};
    else choice["text"] = text;
    return json{{"id", id},
                {"object", chat ? "chat.completion" : "text_completion"},
                {"created", created},
                {"model", model_id},
                {"choices", json::array({choice})},
                {"usage", usage_of(done)}};
}

json completion_chunk(bool chat, const std::string& id, const std::string& model_id, long created,
                      const std::string& text, const std::string* finish_reason, bool first) {
    json choice = {{"index", 0}, {"logprobs", nullptr}};
    choice["finish_reason"] = finish_reason ? json(*finish_reason) : json(nullptr);
    if (chat) {
        json delta = json::object();
        if (first) delta["role"] = "assistant";
        if (!finish_reason) delta["content"] = text;
        choice["delta"] = delta;
    } else {
        choice["text"] = text;
    }
    return json{{"id", id},
                {"object", chat ? "chat.completion.chunk" : "text_completion"},
                {"created", created},
                {"model", model_id},
                {"choices", json::array({choice})}};
}

}  // namespace server
