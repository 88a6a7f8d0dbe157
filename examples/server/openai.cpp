#include "openai.h"

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
    if (chat) {
        if (!body.contains("messages")) throw bad("'messages' is required");
        text = render_chat(body["messages"], model);
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
    auto rf = body.find("response_format");
    if (rf != body.end() && !rf->is_null()) {
        if (!rf->is_object() || rf->value("type", "") != "text")
            throw ApiError(400, "invalid_request_error", "unsupported_value",
                           "response_format other than 'text' needs grammars, which this server does not have yet");
    }
    if (body.contains("tools") && !body["tools"].is_null() && !body["tools"].empty())
        throw ApiError(400, "invalid_request_error", "unsupported_value", "'tools' are not supported yet");
    return c;
}

json usage_of(const Event& done) {
    return json{{"prompt_tokens", done.prompt_tokens},
                {"completion_tokens", done.completion_tokens},
                {"total_tokens", done.prompt_tokens + done.completion_tokens},
                {"prompt_tokens_details", {{"cached_tokens", done.cached_tokens}}}};
}

json completion_response(bool chat, const std::string& id, const std::string& model_id, long created,
                         const std::string& text, const Event& done) {
    json choice = {{"index", 0}, {"finish_reason", done.finish_reason}, {"logprobs", nullptr}};
    if (chat) choice["message"] = {{"role", "assistant"}, {"content", text}};
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
