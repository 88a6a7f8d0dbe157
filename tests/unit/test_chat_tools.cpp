// Tools in chat: OpenAI-format conversations rendered by small templates written here in the
// style of each tool-calling family (the constructs the published templates use), the
// family's reply format parsed back (render -> simulated reply -> parse -> render again), and
// hostile JSON. The published templates themselves are in test_chat_tools_real.cpp.
#include <doctest/doctest.h>

#include <string>

#include "chat/chat_json.h"
#include "chat/jinja.h"
#include "chat/json_parse.h"
#include "chat/tool_calls.h"
#include "util/error.h"

using namespace llamas;
using jinja::Value;

namespace {

const char* const kTools = R"([{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}])";

// Qwen 2.5 / Hermes style: tools as JSON lines in the system turn, calls in <tool_call> tags,
// consecutive tool results grouped into one user turn.
const char* const kHermes = R"({%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}{{- messages[0].content + '\n\n' }}{%- endif %}
    {{- "# Tools\n<tools>" }}
    {%- for tool in tools %}{{- "\n" + tool | tojson }}{%- endfor %}
    {{- "\n</tools>\nCall one with <tool_call>\n{\"name\": <name>, \"arguments\": <args>}\n</tool_call><|im_end|>\n" }}
{%- elif messages[0].role == 'system' %}
    {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>assistant' }}
        {%- if message.content %}{{- '\n' + message.content }}{%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}{%- set tool_call = tool_call.function %}{%- endif %}
            {{- '\n<tool_call>\n{"name": "' + tool_call.name + '", "arguments": ' + tool_call.arguments | tojson + '}\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.index0 == 0 or messages[loop.index0 - 1].role != "tool" %}{{- '<|im_start|>user' }}{%- endif %}
        {{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
        {%- if loop.last or messages[loop.index0 + 1].role != "tool" %}{{- '<|im_end|>\n' }}{%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %})";

// Llama 3.1 style: tools (tojson with indent) in the first user turn, one call per turn as
// {"name", "parameters"}, results under the ipython role.
const char* const kLlama3 = R"({{- bos_token }}
{%- if not tools is defined %}{%- set tools = none %}{%- endif %}
{{- "<|start_header_id|>system<|end_header_id|>\n\n" }}
{%- if tools is not none %}{{- "Environment: ipython\n" }}{%- endif %}
{{- "<|eot_id|>" }}
{%- if tools is not none %}
    {%- set first_user_message = messages[0]['content']|trim %}
    {%- set messages = messages[1:] %}
    {{- '<|start_header_id|>user<|end_header_id|>\n\nRespond with {"name": function name, "parameters": arguments}.\n\n' }}
    {%- for t in tools %}{{- t | tojson(indent=4) + "\n\n" }}{%- endfor %}
    {{- first_user_message + "<|eot_id|>" }}
{%- endif %}
{%- for message in messages %}
    {%- if not (message.role == 'ipython' or message.role == 'tool' or 'tool_calls' in message) %}
        {{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n' + message['content'] | trim + '<|eot_id|>' }}
    {%- elif 'tool_calls' in message %}
        {%- if not message.tool_calls|length == 1 %}{{- raise_exception("only single tool calls") }}{%- endif %}
        {%- set tool_call = message.tool_calls[0].function %}
        {{- '<|start_header_id|>assistant<|end_header_id|>\n\n' -}}
        {{- '{"name": "' + tool_call.name + '", "parameters": ' + tool_call.arguments | tojson + "}<|eot_id|>" }}
    {%- else %}
        {{- "<|start_header_id|>ipython<|end_header_id|>\n\n" }}
        {%- if message.content is mapping or message.content is iterable and message.content is not string %}
            {{- message.content | tojson }}
        {%- else %}{{- message.content }}{%- endif %}
        {{- "<|eot_id|>" }}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{%- endif %})";

// Mistral Nemo style: namespace counters, selectattr, tool.items(), out[:-1], nine-character ids.
const char* const kMistralNemo = R"({%- set user_messages = messages | selectattr("role", "equalto", "user") | list %}
{%- set ns = namespace(index=0) %}
{%- for message in messages %}
    {%- if not (message.role == "tool" or message.tool_calls is defined and message.tool_calls is not none) %}
        {%- if (message.role == "user") != (ns.index % 2 == 0) %}{{- raise_exception("roles must alternate") }}{%- endif %}
        {%- set ns.index = ns.index + 1 %}
    {%- endif %}
{%- endfor %}
{{- bos_token }}
{%- for message in messages %}
    {%- if message.role == "user" %}
        {%- if tools is defined and tools and message == user_messages[-1] %}
            {{- "[AVAILABLE_TOOLS][" }}
            {%- for tool in tools %}
                {%- set tool = tool.function %}
                {{- '{"type": "function", "function": {' }}
                {%- for key, val in tool.items() if key != "return" %}
                    {%- if val is string %}{{- '"' + key + '": "' + val + '"' }}{%- else %}{{- '"' + key + '": ' + val|tojson }}{%- endif %}
                    {%- if not loop.last %}{{- ", " }}{%- endif %}
                {%- endfor %}
                {{- "}}" }}{{- ", " if not loop.last else "]" }}
            {%- endfor %}
            {{- "[/AVAILABLE_TOOLS]" }}
        {%- endif %}
        {{- "[INST]" + message.content + "[/INST]" }}
    {%- elif message.tool_calls is defined and message.tool_calls is not none %}
        {{- "[TOOL_CALLS][" }}
        {%- for tool_call in message.tool_calls %}
            {%- set out = tool_call.function|tojson %}
            {{- out[:-1] }}
            {%- if not tool_call.id is defined or tool_call.id|length != 9 %}{{- raise_exception("ids must have 9 characters") }}{%- endif %}
            {{- ', "id": "' + tool_call.id + '"}' }}
            {{- ", " if not loop.last else "]" + eos_token }}
        {%- endfor %}
    {%- elif message.role == "assistant" %}
        {{- message.content + eos_token }}
    {%- elif message.role == "tool" %}
        {{- '[TOOL_RESULTS]{"content": ' + message.content|string + ', "call_id": "' + message.tool_call_id + '"}[/TOOL_RESULTS]' }}
    {%- endif %}
{%- endfor %})";

// Mistral Small 3.2 / Devstral style: [TOOL_CALLS]name[ARGS]{...}, string arguments kept.
const char* const kMistral = R"({{- bos_token }}
{%- if tools %}{{- "[AVAILABLE_TOOLS]" + tools | tojson + "[/AVAILABLE_TOOLS]" }}{%- endif %}
{%- for message in messages %}
    {%- if message.role == "user" %}{{- "[INST]" + message.content + "[/INST]" }}
    {%- elif message.role == "assistant" %}
        {{- message.content }}
        {%- for tool in message.tool_calls | default([]) %}
            {%- set arguments = tool.function.arguments %}
            {%- if arguments is not string %}{%- set arguments = arguments | tojson %}{%- endif %}
            {{- "[TOOL_CALLS]" + tool.function.name + "[ARGS]" + arguments }}
        {%- endfor %}
        {{- eos_token }}
    {%- elif message.role == "tool" %}{{- "[TOOL_RESULTS]" + message.content | string + "[/TOOL_RESULTS]" }}
    {%- endif %}
{%- endfor %})";

// No tool support at all.
const char* const kPlain =
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

std::string render(const char* tmpl, const std::string& messages, const char* tools, bool gen, const char* eos = "") {
    return apply_chat_template_json(tmpl, messages, tools ? tools : "", gen, "<s>", eos);
}

// The conversation so far, then the same with `reply_message` appended: the second render
// must start with the first render's prompt followed by the model's reply text (llama.cpp's
// "reconstruction" check).
void check_round_trip(const char* tmpl, const char* eos, const std::string& reply, const char* family,
                      const std::string& expect_name, const std::string& expect_args_json) {
    const std::string user = R"({"role": "user", "content": "Weather in Paris?"})";
    const std::string prompt = render(tmpl, "[" + user + "]", kTools, true, eos);
    CHECK(prompt.find("get_weather") != std::string::npos);

    const ToolFormat f = detect_tool_format(tmpl);
    CHECK(std::string(tool_family_name(f.family)) == family);
    const ParsedReply parsed = parse_tool_reply(f, reply);
    REQUIRE(parsed.calls.size() == 1);
    CHECK(parsed.calls[0].name == expect_name);
    CHECK(parsed.calls[0].arguments.to_json() == expect_args_json);

    // Back as an OpenAI message: arguments as JSON text, as a client would send them.
    const Value reply_json = parse_json(parsed_reply_json(parsed));
    std::string call = R"({"type": "function", "function": {"name": ")" + expect_name + R"(", "arguments": )" +
                       Value(parsed.calls[0].arguments.to_json()).to_json() + "}";
    if (!parsed.calls[0].id.empty()) call += R"(, "id": ")" + parsed.calls[0].id + "\"";
    call += "}";
    const std::string assistant = R"({"role": "assistant", "content": )" + Value(parsed.content).to_json() +
                                  R"(, "tool_calls": [)" + call + "]}";
    const std::string again = render(tmpl, "[" + user + ", " + assistant + "]", kTools, false, eos);
    CHECK(again.substr(0, prompt.size() + reply.size()) == prompt + reply);
    CHECK(reply_json.find("tool_calls")->items().size() == 1);
}

}  // namespace

TEST_SUITE("chat") {
TEST_CASE("chat tools: JSON reader") {
    CHECK(parse_json(R"({"a": [1, 2.5, "x\u00e9\ud83d\ude00", true, null], "b": {}})").to_json() ==
          "{\"a\": [1, 2.5, \"x\xC3\xA9\xF0\x9F\x98\x80\", true, null], \"b\": {}}");
    CHECK(parse_json("  -0.5e1 ").as_number() == -5.0);
    CHECK(parse_json("123456789012345678901234567890").is_float());
    for (const char* bad : {"", "{", "[1,]", "{\"a\" 1}", "01", "\"\\x\"", "tru", "[1] 2", "\"a\nb\"", "{'a': 1}",
                            "NaN", "1.", "-", "\"\\ud800"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS(parse_json(bad), Error);
    }
    // Deep nesting is refused without recursing through it.
    const std::string deep = std::string(100000, '[') + std::string(100000, ']');
    CHECK_THROWS_AS(parse_json(deep), Error);
    CHECK_NOTHROW(parse_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
    CHECK(!parse_json_prefix(deep));
    auto p = parse_json_prefix(R"( {"x": 1} tail)");
    REQUIRE(p);
    CHECK(p->consumed == 9);
}

TEST_CASE("chat tools: a tool conversation renders in each family's style") {
    const std::string conv = R"([
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call00001", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call00001", "content": "{\"temp\": 21}"},
        {"role": "assistant", "content": "21 degrees."}])";

    const std::string hermes = render(kHermes, conv, kTools, true);
    CHECK(hermes ==
          "<|im_start|>system\nBe brief.\n\n# Tools\n<tools>\n"
          "{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\", "
          "\"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\"}}, \"required\": "
          "[\"city\"]}}}\n</tools>\nCall one with <tool_call>\n{\"name\": <name>, \"arguments\": <args>}\n</tool_call>"
          "<|im_end|>\n<|im_start|>user\nWeather in Paris?<|im_end|>\n<|im_start|>assistant\n<tool_call>\n"
          "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call><|im_end|>\n"
          "<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n"
          "<|im_start|>assistant\n21 degrees.<|im_end|>\n<|im_start|>assistant\n");

    // Llama 3 puts the system message nowhere here (the template drops it): the first user turn
    // carries the tools, pretty-printed.
    const std::string llama = render(kLlama3, conv.substr(0, 1) + conv.substr(conv.find("{\"role\": \"user\"")),
                                     kTools, true);
    CHECK(llama.find("\"name\": \"get_weather\",\n        \"description\"") != std::string::npos);
    CHECK(llama.find("<|start_header_id|>assistant<|end_header_id|>\n\n{\"name\": \"get_weather\", \"parameters\": "
                     "{\"city\": \"Paris\"}}<|eot_id|><|start_header_id|>ipython<|end_header_id|>\n\n{\"temp\": 21}"
                     "<|eot_id|>") != std::string::npos);

    // Mistral Nemo has no system role: the system message goes into the first user message.
    const std::string nemo = render(kMistralNemo, conv, kTools, true, "</s>");
    CHECK(nemo.find("[INST]Be brief.\nWeather in Paris?[/INST]") != std::string::npos);
    CHECK(nemo.find("[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": "
                    "\"call00001\"}]</s>[TOOL_RESULTS]{\"content\": {\"temp\": 21}, \"call_id\": \"call00001\"}"
                    "[/TOOL_RESULTS]21 degrees.</s>") != std::string::npos);
    CHECK(nemo.find("[AVAILABLE_TOOLS][{\"type\": \"function\", \"function\": {\"name\": \"get_weather\"") !=
          std::string::npos);

    // Arguments given as an object (not OpenAI's string) render the same.
    std::string as_object = conv;
    const std::string str_args = R"("{\"city\": \"Paris\"}")";
    as_object.replace(as_object.find(str_args), str_args.size(), R"({"city": "Paris"})");
    CHECK(render(kHermes, as_object, kTools, true) == hermes);

    // A template without tools gets them described in a system message.
    const std::string plain = render(kPlain, R"([{"role": "user", "content": "hi"}])", kTools, true);
    CHECK(plain.rfind("<|im_start|>system\nYou can call the following tools:\n[\n  {\n", 0) == 0);
    CHECK(plain.find("{\"tool_call\": {\"name\"") != std::string::npos);
    // No tools (null or []): nothing added, and `tools` is undefined for the template.
    CHECK(render(kPlain, R"([{"role": "user", "content": "hi"}])", "[]", true) ==
          "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
    CHECK(render(kHermes, R"([{"role": "user", "content": "hi"}])", "null", false) ==
          "<|im_start|>user\nhi<|im_end|>\n");
}

TEST_CASE("chat tools: string arguments stay strings for templates that print them as they are") {
    const char* raw = "{% for m in messages %}{% for c in m.tool_calls | default([]) %}"
                      "CALL {{ c.function.name }} {{ c.function.arguments }}{% endfor %}{% endfor %}";
    const std::string conv = R"([{"role": "assistant", "tool_calls": [{"type": "function",
        "function": {"name": "f", "arguments": {"a": [1, "x"]}}}]}])";
    CHECK(render(raw, conv, nullptr, false) == "CALL f {\"a\": [1, \"x\"]}");
    CHECK(!chat_template_wants_object_arguments(*jinja::parse(raw)));
    CHECK(chat_template_wants_object_arguments(*jinja::parse(kHermes)));
}

TEST_CASE("chat tools: render, reply, parse, render again, for each family") {
    check_round_trip(kHermes, "", "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
                     "hermes", "get_weather", "{\"city\": \"Paris\"}");
    check_round_trip(kHermes, "",
                     "Let me check.\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
                     "hermes", "get_weather", "{\"city\": \"Paris\"}");
    check_round_trip(kLlama3, "", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", "llama3",
                     "get_weather", "{\"city\": \"Paris\"}");
    check_round_trip(kMistralNemo, "</s>",
                     "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}, \"id\": \"abcDEF123\"}]",
                     "mistral_nemo", "get_weather", "{\"city\": \"Paris\"}");
    check_round_trip(kMistral, "</s>", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}", "mistral", "get_weather",
                     "{\"city\": \"Paris\"}");
}

TEST_CASE("chat tools: reply parsing details") {
    const ToolFormat hermes{ToolFamily::hermes, true};
    ParsedReply r = parse_tool_reply(hermes,
                                     "<think>\nweather needed\n</think>\n\nSure.\n<tool_call>\n{\"name\": \"a\", \"arguments\": "
                                     "{\"x\": 1}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"y\\\": 2}\"}\n"
                                     "</tool_call>");
    CHECK(r.reasoning == "weather needed");
    CHECK(r.content == "Sure.");
    REQUIRE(r.calls.size() == 2);
    CHECK(r.calls[1].arguments.to_json() == "{\"y\": 2}");  // quoted arguments are unquoted
    CHECK(parsed_reply_json(r) ==
          "{\"content\": \"Sure.\", \"reasoning_content\": \"weather needed\", \"tool_calls\": [{\"name\": \"a\", "
          "\"arguments\": {\"x\": 1}}, {\"name\": \"b\", \"arguments\": {\"y\": 2}}]}");
    // Stopped at the end token before the close tag: still a call.
    CHECK(parse_tool_reply(hermes, "<tool_call>\n{\"name\": \"a\", \"arguments\": {}}").calls.size() == 1);

    const ToolFormat llama{ToolFamily::llama3, false};
    r = parse_tool_reply(llama, "<|python_tag|>brave_search.call(query=\"paris weather\", n=3)");
    REQUIRE(r.calls.size() == 1);
    CHECK(r.calls[0].name == "brave_search");
    CHECK(r.calls[0].arguments.to_json() == "{\"query\": \"paris weather\", \"n\": 3}");
    r = parse_tool_reply(llama, "<|python_tag|>print(1)");
    CHECK(r.calls[0].name == "python");
    CHECK(r.calls[0].arguments.to_json() == "{\"code\": \"print(1)\"}");
    r = parse_tool_reply(llama, "{\"answer\": 42}");  // JSON that is no call is content
    CHECK(r.calls.empty());
    CHECK(r.content == "{\"answer\": 42}");

    const ToolFormat mistral{ToolFamily::mistral, false};
    r = parse_tool_reply(mistral, "[TOOL_CALLS]a[CALL_ID]000000001[ARGS]{\"x\": 1}[TOOL_CALLS]b[CALL_ID]000000002[ARGS]{}");
    REQUIRE(r.calls.size() == 2);
    CHECK(r.calls[0].id == "000000001");
    CHECK(r.calls[1].name == "b");

    const ToolFormat generic{ToolFamily::generic, false};
    r = parse_tool_reply(generic, "{\"tool_call\": {\"name\": \"a\", \"arguments\": {\"x\": 1}}}");
    CHECK(r.calls.size() == 1);
    r = parse_tool_reply(generic, "{\"response\": \"Hello\"}");
    CHECK(r.calls.empty());
    CHECK(r.content == "Hello");
    r = parse_tool_reply(generic, "plain words");
    CHECK(r.content == "plain words");

    CHECK(tool_format_json(hermes).find("\"triggers\": [\"<tool_call>\"]") != std::string::npos);
    CHECK(detect_tool_format(kPlain).family == ToolFamily::generic);
}

TEST_CASE("chat tools: malformed calls come back as content") {
    const std::string deep = "<tool_call>" + std::string(200000, '{');
    const ToolFormat families[] = {{ToolFamily::hermes, true}, {ToolFamily::llama3, false},
                                   {ToolFamily::mistral_nemo, false}, {ToolFamily::mistral, false},
                                   {ToolFamily::generic, false}};
    const std::string replies[] = {
        "<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 1}\n</tool_call>",  // unbalanced
        "<tool_call>{\"arguments\": {}}</tool_call>",                             // no name
        "<tool_call>{\"name\": 5}</tool_call> trailing",
        "[TOOL_CALLS][{\"name\": \"a\", \"arguments\": {\"x\": 1}",
        "[TOOL_CALLS]a[ARGS]{\"x\": ",
        "[TOOL_CALLS][ARGS]{}",
        "{\"name\": \"a\", \"parameters\": {\"x\": [1, 2}}",
        "{\"tool_call\": 7}",
        deep,
        "[TOOL_CALLS]" + std::string(100000, '['),
        std::string(100000, '{'),
        std::string("<tool_call>\0{}", 14),
        "</think><think></think><tool_call>",
    };
    for (const auto& f : families) {
        for (const auto& reply : replies) {
            ParsedReply r;
            CHECK_NOTHROW(r = parse_tool_reply(f, reply));
            CHECK(r.calls.empty());
            CHECK(!parsed_reply_json(r).empty());
        }
    }
}

TEST_CASE("chat tools: malformed conversations are errors") {
    auto status_of = [](const std::string& messages, const char* tools) {
        try {
            render(kHermes, messages, tools, true);
            return Status::ok;
        } catch (const Error& e) {
            return e.status();
        }
    };
    const std::string user = R"([{"role": "user", "content": "hi"}])";
    CHECK(status_of(user, kTools) == Status::ok);
    CHECK(status_of("[{\"role\": \"user\", \"content\": \"hi\"}", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"({"role": "user"})", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"([{"content": "hi"}])", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"([{"role": 1, "content": "hi"}])", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"([{"role": "user", "content": 5}])", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"([{"role": "assistant", "content": "", "tool_calls": {}}])", nullptr) == Status::invalid_argument);
    CHECK(status_of(R"([{"role": "assistant", "content": "", "tool_calls": [{"function": {"arguments": "{}"}}]}])",
                    nullptr) == Status::invalid_argument);
    CHECK(status_of(user, R"({"type": "function"})") == Status::invalid_argument);
    CHECK(status_of(user, R"([{"type": "function"}])") == Status::invalid_argument);
    CHECK(status_of(user, "[1, 2") == Status::invalid_argument);
    CHECK(status_of("[" + std::string(50000, '[') + "]", nullptr) == Status::invalid_argument);
    // Deep but allowed nesting inside content parts renders or fails cleanly, never crashes.
    const std::string nested = R"([{"role": "user", "content": "hi", "extra": )" + std::string(60, '[') +
                               std::string(60, ']') + "}]";
    CHECK(status_of(nested, kTools) == Status::ok);
    // Arguments that are not JSON stay the string they were.
    CHECK(status_of(R"([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "a", "arguments": "not json {"}}]}])", nullptr) == Status::ok);
}
}

TEST_SUITE("chat") {
TEST_CASE("chat tools: Jinja constructs of tool templates ({% filter %}, filtered set blocks, str.format)") {
    const Value none = Value::dict();
    CHECK(jinja::render("{%- filter trim -%}\n  a b  \n{%- endfilter %}|", none) == "a b|");
    CHECK(jinja::render("{% filter upper | replace('A', 'x') %}abc{% endfilter %}", none) == "xBC");
    CHECK(jinja::render("{% set s | trim %}  hi  {% endset %}[{{ s }}]", none) == "[hi]");
    CHECK(jinja::render("{{ '<{}|{}>'.format('a', 1) }}{{ '{0}{0}{{x}}{n}'.format('b', n=2) }}", none) == "<a|1>bb{x}2");
    CHECK_THROWS_AS(jinja::render("{{ '{}{}'.format('a') }}", none), Error);
    CHECK_THROWS_AS(jinja::render("{{ '{:>4}'.format('a') }}", none), Error);
    CHECK_THROWS_AS(jinja::render("{{ '{'.format('a') }}", none), Error);
    CHECK_THROWS_AS(jinja::parse("{% filter trim %}x"), Error);
}
}
