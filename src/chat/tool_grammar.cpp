#include "chat/tool_grammar.h"

#include <nlohmann/json.hpp>

#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "util/error.h"

namespace llamas {

namespace {

using ojson = nlohmann::ordered_json;

// A GBNF string literal for text.
std::string literal(const std::string& text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: out += c;
        }
    }
    return out + "\"";
}

const ojson& tool_function(const ojson& tool) {
    if (!tool.is_object() || !tool.contains("function") || !tool["function"].is_object())
        fail(Status::invalid_argument, "each tool must be {\"type\": \"function\", \"function\": {...}}");
    const ojson& fn = tool["function"];
    if (!fn.contains("name") || !fn["name"].is_string()) fail(Status::invalid_argument, "a tool function needs a name");
    return fn;
}

// The schema of one call's JSON body: {"name": NAME, ARGUMENTS_KEY: parameters, [id]}.
ojson call_schema(const ojson& tool, const std::string& arguments_key, bool with_id) {
    const ojson& fn = tool_function(tool);
    ojson params = fn.contains("parameters") && fn["parameters"].is_object() ? fn["parameters"]
                                                                              : ojson{{"type", "object"}};
    ojson props = ojson::object();
    props["name"] = ojson{{"const", fn["name"]}};
    props[arguments_key] = params;
    ojson required = ojson::array({"name", arguments_key});
    if (with_id) {
        props["id"] = ojson{{"type", "string"}, {"pattern", "^[a-zA-Z0-9]{9}$"}};
        required.push_back("id");
    }
    return ojson{{"type", "object"}, {"properties", props}, {"required", required}, {"additionalProperties", false}};
}

// Mistral Small 3.2 / Devstral / Magistral: [TOOL_CALLS]NAME[CALL_ID]ID[ARGS]{...}, one such
// block per call. The name is outside the JSON, so each tool's arguments get their own grammar
// (converted separately, its rules renamed "toolN-...") behind its own literal name.
ToolGrammar mistral_grammar(const ToolFormat& format, const ojson& tools, bool required, bool parallel) {
    ToolGrammar g;
    std::string choice;
    for (size_t i = 0; i < tools.size(); ++i) {
        const ojson& fn = tool_function(tools[i]);
        const ojson params = fn.contains("parameters") && fn["parameters"].is_object() ? fn["parameters"]
                                                                                        : ojson{{"type", "object"}};
        const std::string prefix = "tool" + std::to_string(i) + "-";
        g.gbnf += grammar::prefix_rule_names(json_schema_to_gbnf(params), prefix);
        if (i) choice += " | ";
        choice += literal(fn["name"].get<std::string>()) + (format.call_id ? " call-id" : "") + " \"[ARGS]\" " + prefix + "root";
    }
    if (format.call_id) g.gbnf += "call-id ::= \"[CALL_ID]\" [a-zA-Z0-9]{9}\n";
    g.gbnf += "tool-call ::= \"[TOOL_CALLS]\" (" + choice + ")\n";
    g.gbnf += std::string("tool-calls ::= tool-call") + (parallel ? "+" : "") + "\n";
    g.root = "tool-calls";
    g.lazy = !required;
    if (g.lazy) g.triggers = {"[TOOL_CALLS]"};
    return g;
}

}  // namespace

ToolGrammar tool_call_grammar(const ToolFormat& format, const std::string& tools_json, bool required, bool parallel) {
    ojson tools;
    try {
        tools = ojson::parse(tools_json);
    } catch (const std::exception& e) {
        fail(Status::invalid_argument, "tools_json is not JSON: %s", e.what());
    }
    if (!tools.is_array() || tools.empty()) fail(Status::invalid_argument, "tools_json must be a non-empty array of tools");
    if (format.family == ToolFamily::mistral) return mistral_grammar(format, tools, required, parallel);
    const bool nemo = format.family == ToolFamily::mistral_nemo;
    const std::string arguments_key = format.family == ToolFamily::llama3 ? "parameters" : "arguments";
    ojson calls = ojson::array();
    for (const ojson& t : tools) calls.push_back(call_schema(t, arguments_key, nemo));
    ojson call = calls.size() == 1 ? calls[0] : ojson{{"anyOf", calls}};

    ToolGrammar g;
    if (format.family == ToolFamily::generic) {
        // The reply is JSON: {"tool_call": CALL}, or {"response": "..."} when a call is optional.
        ojson with_call = {{"type", "object"}, {"properties", {{"tool_call", call}}}, {"required", {"tool_call"}}};
        ojson schema = with_call;
        if (!required) {
            ojson answer = {{"type", "object"}, {"properties", {{"response", {{"type", "string"}}}}}, {"required", {"response"}}};
            schema = ojson{{"anyOf", {with_call, answer}}};
        }
        g.gbnf = json_schema_to_gbnf(schema);
        g.root = "root";
        return g;
    }
    // The converter's grammar matches one call body (rule `root`); the family's text goes around.
    std::string prefix, suffix, separator;
    switch (format.family) {
        case ToolFamily::hermes: prefix = "<tool_call>\n"; suffix = "\n</tool_call>"; separator = "\n"; break;
        case ToolFamily::mistral_nemo: prefix = "[TOOL_CALLS]["; suffix = "]"; separator = ", "; break;
        default: parallel = false; break;  // llama3: one call is the whole reply
    }
    g.gbnf = json_schema_to_gbnf(call);
    if (format.family == ToolFamily::mistral_nemo) {  // one list holds every call
        g.gbnf += "tool-calls ::= " + literal(prefix) + " root" + (parallel ? " (" + literal(separator) + " root)*" : "") +
                  " " + literal(suffix) + "\n";
    } else {
        g.gbnf += "tool-call ::= " + (prefix.empty() ? "" : literal(prefix) + " ") + "root" +
                  (suffix.empty() ? "" : " " + literal(suffix)) + "\n";
        g.gbnf += "tool-calls ::= tool-call" + (parallel ? " (" + literal(separator) + " tool-call)*" : std::string()) + "\n";
    }
    g.root = "tool-calls";
    g.lazy = !required;
    if (g.lazy) {
        switch (format.family) {
            case ToolFamily::hermes: g.triggers = {"<tool_call>"}; break;
            case ToolFamily::mistral_nemo: g.triggers = {"[TOOL_CALLS]"}; break;
            default: g.triggers = {"{\"name\""}; break;
        }
    }
    return g;
}

std::string tool_grammar_json(const ToolGrammar& g) {
    nlohmann::json o = {{"grammar", g.gbnf}, {"root", g.root}, {"lazy", g.lazy}, {"triggers", g.triggers}};
    return o.dump();
}

}  // namespace llamas
