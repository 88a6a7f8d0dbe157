// Tools in chat with the published templates that llama.cpp keeps in models/templates/. They
// are not part of this repository: set LLAMAS_LLAMACPP_DIR to a llama.cpp checkout to run
// these (skipped otherwise). Expectations come from llama.cpp's tests/test-chat.cpp: the reply
// texts it parses per template, and its reconstruction check (the prompt plus the reply is a
// prefix of the conversation rendered with the parsed message appended).
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "chat/chat_json.h"
#include "chat/json_parse.h"
#include "chat/tool_calls.h"
#include "util/error.h"

using namespace llamas;
using jinja::Value;

namespace {

std::string llamacpp_dir() {
    const char* d = std::getenv("LLAMAS_LLAMACPP_DIR");
    return d && *d ? d : "";
}

std::string read_template(const std::string& name) {
    std::ifstream in(llamacpp_dir() + "/models/templates/" + name, std::ios::binary);
    REQUIRE_MESSAGE(in.good(), "missing template " << name);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// llama.cpp's special_function_tool and message_user.
const char* const kTools = R"([{"type": "function", "function": {"name": "special_function", "description": "I'm special",
  "parameters": {"type": "object", "properties": {"arg1": {"type": "integer", "description": "The arg."}}, "required": ["arg1"]}}}])";
const char* const kUser = R"({"role": "user", "content": "Hey there!"})";

struct RealCase {
    const char* file;
    const char* bos;
    const char* eos;
    const char* family;
    const char* reply;          // a model reply test-chat.cpp parses for this template
    const char* content;        // what it expects back
    const char* call_id;        // "" when none
    bool reconstruction;        // whether test-chat.cpp checks the reconstruction for it
};

const RealCase kCases[] = {
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "<|begin_of_text|>", "<|im_end|>", "hermes",
     "<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}</tool_call>", "", "", false},
    {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "<|begin_of_text|>", "<|im_end|>", "hermes",
     "Hello, world!\nWhat's up?<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}</tool_call>",
     "Hello, world!\nWhat's up?", "", false},
    {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "<|begin_of_text|>", "<|im_end|>", "hermes",
     "<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}\n</tool_call>", "", "", true},
    {"Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>", "hermes",
     "<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}\n</tool_call>", "", "", true},
    {"Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>", "hermes",
     "<tool_call>\n{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}}\n</tool_call>", "", "", false},
    {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>", "mistral_nemo",
     "[TOOL_CALLS][{\"name\": \"special_function\", \"arguments\": {\"arg1\": 1}, \"id\": \"123456789\"}]", "",
     "123456789", true},
    {"Mistral-Small-3.2-24B-Instruct-2506.jinja", "<s>", "</s>", "mistral",
     "[TOOL_CALLS]special_function[CALL_ID]123456789[ARGS]{\"arg1\": 1}", "", "123456789", true},
    {"unsloth-mistral-Devstral-Small-2507.jinja", "<s>", "</s>", "mistral",
     "[TOOL_CALLS]special_function[ARGS]{\"arg1\": 1}", "", "", true},
    {"unsloth-mistral-Devstral-Small-2507.jinja", "<s>", "</s>", "mistral",
     "Hello, world!\nWhat's up?[TOOL_CALLS]special_function[ARGS]{\"arg1\": 1}", "Hello, world!\nWhat's up?", "", true},
    {"meta-llama-Llama-3.1-8B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3",
     "{\"name\": \"special_function\", \"parameters\": {\"arg1\": 1}}", "", "", false},
    {"meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3",
     "{\"name\": \"special_function\", \"parameters\": {\"arg1\": 1}}", "", "", false},
    {"meta-llama-Llama-3.3-70B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>", "llama3",
     "<|python_tag|>special_function.call(arg1=1)", "", "", false},
};

std::string assistant_json(const ParsedReply& r) {
    std::string calls;
    for (const auto& c : r.calls) {
        if (!calls.empty()) calls += ", ";
        calls += R"({"type": "function", "function": {"name": )" + Value(c.name).to_json() +
                 R"(, "arguments": )" + Value(c.arguments.to_json()).to_json() + "}";
        if (!c.id.empty()) calls += R"(, "id": )" + Value(c.id).to_json();
        calls += "}";
    }
    return R"({"role": "assistant", "content": )" + Value(r.content).to_json() + R"(, "tool_calls": [)" + calls + "]}";
}

}  // namespace

TEST_SUITE("chat") {
TEST_CASE("chat tools: published templates (LLAMAS_LLAMACPP_DIR)") {
    if (llamacpp_dir().empty()) {
        MESSAGE("LLAMAS_LLAMACPP_DIR not set: published tool templates skipped");
        return;
    }
    for (const auto& c : kCases) {
        CAPTURE(c.file);
        CAPTURE(c.reply);
        const std::string tmpl = read_template(c.file);
        const ToolFormat f = detect_tool_format(tmpl);
        CHECK(std::string(tool_family_name(f.family)) == c.family);

        const std::string prompt =
            apply_chat_template_json(tmpl, std::string("[") + kUser + "]", kTools, true, c.bos, c.eos);
        CHECK(prompt.find("special_function") != std::string::npos);

        const ParsedReply r = parse_tool_reply(f, c.reply);
        CHECK(r.content == c.content);
        REQUIRE(r.calls.size() == 1);
        CHECK(r.calls[0].name == "special_function");
        CHECK(r.calls[0].arguments.to_json() == "{\"arg1\": 1}");
        CHECK(r.calls[0].id == c.call_id);

        // Rendering the parsed call back works for every template; where test-chat.cpp checks
        // the reconstruction, the text matches too.
        const std::string again = apply_chat_template_json(
            tmpl, std::string("[") + kUser + ", " + assistant_json(r) + "]", kTools, false, c.bos, c.eos);
        const std::string expected = prompt + c.reply;
        if (c.reconstruction) CHECK(again.substr(0, expected.size()) == expected);
    }
}

TEST_CASE("chat tools: every published template renders a tool conversation or fails cleanly") {
    if (llamacpp_dir().empty()) return;
    const std::string conv = std::string("[") + kUser + R"(,
        {"role": "assistant", "content": "", "tool_calls": [{"id": "123456789", "type": "function",
            "function": {"name": "special_function", "arguments": "{\"arg1\": 1}"}}]},
        {"role": "tool", "tool_call_id": "123456789", "name": "special_function", "content": "{\"ok\": true}"},
        {"role": "assistant", "content": "Done."},
        {"role": "user", "content": "Again?"}])";
    int rendered = 0, failed = 0;
    for (const auto& entry : std::filesystem::directory_iterator(llamacpp_dir() + "/models/templates")) {
        if (entry.path().extension() != ".jinja") continue;
        std::ifstream in(entry.path(), std::ios::binary);
        std::stringstream ss;
        ss << in.rdbuf();
        try {
            const std::string out = apply_chat_template_json(ss.str(), conv, kTools, true, "<s>", "</s>");
            ++rendered;
            if (out.find("special_function") == std::string::npos)
                MESSAGE(entry.path().filename().string() << ": tools not shown");
        } catch (const Error& e) {
            ++failed;
            MESSAGE(entry.path().filename().string() << ": " << std::string(e.what()));
        }
    }
    MESSAGE(rendered << " rendered, " << failed << " failed");
    CHECK(rendered > 0);
}
}
