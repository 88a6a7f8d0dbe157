// The OpenAI wire format: reading requests (with the checks that turn bad input into a 4xx
// error) and writing responses, chunks and errors.
#pragma once
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "llamas.h"
#include "task.h"

namespace server {

using json = nlohmann::json;

// A request the server refuses: HTTP status, OpenAI error type and code, message.
struct ApiError : std::runtime_error {
    ApiError(int status, std::string type, std::string code, const std::string& message)
        : std::runtime_error(message), status(status), type(std::move(type)), code(std::move(code)) {}
    int status;
    std::string type, code;
};

json error_body(int status, const std::string& type, const std::string& code, const std::string& message);

struct Completion {
    std::vector<int32_t> prompt;
    SamplingParams params;
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    bool tools = false;          // the reply is parsed for tool calls (template_text's format)
    std::string template_text;   // the template that rendered the prompt (empty: the model's)
};

// A finished reply with tools: content and tool calls in OpenAI's message form, and whether
// there were calls (finish_reason "tool_calls").
json reply_message(llamas_model* model, const Completion& c, const std::string& text, bool* has_calls);

// Parses a /v1/chat/completions (chat = true) or /v1/completions body: renders the messages with
// the model's chat template (ChatML when it has none), tokenizes, checks every field's type and
// range, and fits max_tokens to the context. Throws ApiError.
Completion parse_completion(const json& body, bool chat, llamas_model* model, int32_t n_ctx,
                            const std::string& model_id);

// Checks the "model" field of any request (absent is fine; another name is a 404).
void check_model(const json& body, const std::string& model_id);

// Response objects.
json completion_response(bool chat, const std::string& id, const std::string& model_id, long created,
                         const std::string& text, const Event& done, const json* message = nullptr,
                         const char* finish_reason = nullptr, const json* logprobs = nullptr);
json completion_chunk(bool chat, const std::string& id, const std::string& model_id, long created,
                      const std::string& text, const std::string* finish_reason, bool first);
json usage_of(const Event& done);
// The logprobs object of a choice: chat's {"content": [...]} or completions' legacy lists.
json logprobs_json(bool chat, const std::vector<TokenLogprob>& entries);

// JSON text of a value; a model's bytes that are not valid UTF-8 become U+FFFD instead of an
// exception (generated text may hold any bytes).
inline std::string to_text(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

}  // namespace server
