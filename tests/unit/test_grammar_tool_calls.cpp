// Tool-call grammars (src/chat/tool_grammar.*) on the sampler's grammar stage: a reply sampled
// under a family's required-call grammar is a call that family's reply parser reads back, and
// a lazy (optional-call) grammar leaves text free until its trigger.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/chat_json.h"
#include "chat/tool_calls.h"
#include "chat/tool_grammar.h"
#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "grammar/gbnf.h"
#include "sample/grammar_stage.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"
#include "unit/grammar_util.h"

using namespace llamas;

TEST_SUITE("grammar") {

TEST_CASE("tool-call grammars: sampled calls parse back; lazy ones wait for their trigger") {
    const std::string tools = R"([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
        "required": ["city"]}}}])";
    auto model = Model::load(test::data_path("models/kjv-tiny-Q8_0.gguf"));
    const Tokenizer& tok = model->tokenizer();
    const auto trie = build_token_trie(tok);
    ContextParams cp;
    cp.n_ctx = 512;
    cp.n_threads = 1;
    Context ctx(*model, cp);
    const std::vector<int32_t> prompt = tok.encode("And God said", true);
    const float* l = ctx.decode(prompt.data(), static_cast<int64_t>(prompt.size()), 0);
    const std::vector<float> first(l, l + ctx.n_vocab());
    const auto n_vocab = static_cast<int32_t>(ctx.n_vocab());

    for (const char* file : {"hermes.jinja", "llama3.jinja", "mistral-nemo.jinja", "mistral-small.jinja"}) {
        CAPTURE(std::string(file));
        const std::string tmpl = test::read_text(std::string(LLAMAS_SOURCE_DIR) + "/tests/data/templates/" + file);
        const ToolFormat format = detect_tool_format(tmpl);
        const ToolGrammar required = tool_call_grammar(format, tools, true, false);
        CAPTURE(required.gbnf);
        const grammar::Grammar g = grammar::parse(required.gbnf, required.root);
        for (uint64_t seed = 1; seed <= 10; ++seed) {
            CAPTURE(seed);
            SamplerParams p;
            p.temperature = 1.0f;
            p.top_k = 0;
            p.top_p = 1.0f;
            p.min_p = 0.0f;
            p.seed = seed;
            Sampler s(p);
            s.set_constraint(std::make_shared<GrammarStage>(trie, g));
            std::string reply;
            const float* row = first.data();
            bool ended = false;
            for (int64_t pos = static_cast<int64_t>(prompt.size()); pos < cp.n_ctx; ++pos) {
                const int32_t t = s.sample(row, n_vocab);
                s.accept_generated(&t, 1);
                if (tok.is_eog(t)) {
                    ended = true;
                    break;
                }
                reply += tok.token_to_piece(t);
                row = ctx.decode(&t, 1, pos);
            }
            CAPTURE(reply);
            REQUIRE(ended);
            const ParsedReply parsed = parse_tool_reply(format, reply);
            REQUIRE(parsed.calls.size() == 1);
            CHECK(parsed.calls[0].name == "get_weather");
        }

        const ToolGrammar optional = tool_call_grammar(format, tools, false, false);
        if (!optional.lazy) continue;
        REQUIRE(!optional.triggers.empty());
        LazyTriggers t;
        t.words = optional.triggers;
        GrammarStage lazy(trie, grammar::parse(optional.gbnf, optional.root), true, t);
        const std::vector<int32_t> text = tok.encode("In the beginning", false);
        lazy.accept(text.data(), text.size());
        CHECK_FALSE(lazy.active());
    }
}

TEST_CASE("tool calls round trip on the chat templates of ../shared's files: render, sampled call, parse") {
    const std::string tools = R"([{"type": "function", "function": {"name": "get_weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12}},
        "required": ["city"]}}}])";
    const std::string messages = R"([{"role": "user", "content": "What is the weather in Paris?"}])";
    auto model = Model::load(test::data_path("models/kjv-tiny-Q8_0.gguf"));
    const Tokenizer& tok = model->tokenizer();
    const auto trie = build_token_trie(tok);
    ContextParams cp;
    cp.n_ctx = 2048;
    cp.n_threads = 1;
    Context ctx(*model, cp);
    const auto n_vocab = static_cast<int32_t>(ctx.n_vocab());
    int n_templates = 0;
    for (const char* folder : {"vocab", "models"}) {
        for (const std::string& path : test::gguf_files(test::data_path(folder))) {
            const auto file = gguf::File::open(path);
            if (!file->has("tokenizer.chat_template")) continue;
            ++n_templates;
            CAPTURE(path);
            const std::string tmpl(file->get_string("tokenizer.chat_template"));
            const ToolFormat format = detect_tool_format(tmpl);
            const std::string prompt = apply_chat_template_json(tmpl, messages, tools, true, "", "");
            const ToolGrammar g = tool_call_grammar(format, tools, true, false);
            const grammar::Grammar parsed = grammar::parse(g.gbnf, g.root);
            const std::vector<int32_t> ids = tok.encode(prompt, true);
            REQUIRE(ids.size() + 256 < static_cast<size_t>(cp.n_ctx));
            const float* l = ctx.decode(ids.data(), static_cast<int64_t>(ids.size()), 0);
            const std::vector<float> first(l, l + n_vocab);
            for (uint64_t seed = 1; seed <= 4; ++seed) {
                CAPTURE(seed);
                SamplerParams p;
                p.temperature = 1.0f;
                p.seed = seed;
                Sampler s(p);
                s.set_constraint(std::make_shared<GrammarStage>(trie, parsed));
                std::string reply;
                const float* row = first.data();
                bool ended = false;
                for (auto pos = static_cast<int64_t>(ids.size()); pos < cp.n_ctx && !ended; ++pos) {
                    const int32_t t = s.sample(row, n_vocab);
                    s.accept_generated(&t, 1);
                    ended = tok.is_eog(t);
                    if (!ended) {
                        reply += tok.token_to_piece(t);
                        row = ctx.decode(&t, 1, pos);
                    }
                }
                CAPTURE(reply);
                REQUIRE(ended);
                const ParsedReply r = parse_tool_reply(format, reply);
                REQUIRE(r.calls.size() == 1);
                CHECK(r.calls[0].name == "get_weather");
                CHECK(r.calls[0].arguments.find("city") != nullptr);
            }
        }
    }
    MESSAGE(n_templates << " chat templates in ../shared round-trip");
    CHECK(n_templates > 0);  // ggml-vocab-phi-3.gguf has one
}

TEST_CASE("mistral [TOOL_CALLS]NAME[CALL_ID]ID[ARGS]{...} grammar: exact call text, per-tool arguments") {
    const std::string tools = R"([
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
        {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object",
            "properties": {"zone": {"enum": ["UTC", "CET"]}}, "required": ["zone"]}}}])";
    const std::string with_ids = test::read_text(std::string(LLAMAS_SOURCE_DIR) + "/tests/data/templates/mistral-small.jinja");
    ToolFormat f = detect_tool_format(with_ids);
    REQUIRE(f.family == ToolFamily::mistral);
    REQUIRE(f.call_id);

    const ToolGrammar required = tool_call_grammar(f, tools, true, false);
    CHECK_FALSE(required.lazy);
    const grammar::Grammar g = grammar::parse(required.gbnf, required.root);
    CHECK(test::full_match(g, R"([TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{"city": "Paris"})"));
    CHECK(test::full_match(g, R"([TOOL_CALLS]get_time[CALL_ID]000000000[ARGS]{"zone": "CET"})"));
    // Each tool's own arguments: get_time's schema does not take a city, nor get_weather's a zone.
    CHECK_FALSE(test::full_match(g, R"([TOOL_CALLS]get_time[CALL_ID]abc123XYZ[ARGS]{"city": "Paris"})"));
    CHECK_FALSE(test::full_match(g, R"([TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{"zone": "UTC"})"));
    CHECK_FALSE(test::full_match(g, R"([TOOL_CALLS]get_weather[ARGS]{"city": "Paris"})"));                // id missing
    CHECK_FALSE(test::full_match(g, R"([TOOL_CALLS]get_weather[CALL_ID]abc12[ARGS]{"city": "Paris"})"));  // short id
    CHECK_FALSE(test::full_match(g, R"([TOOL_CALLS]get_news[CALL_ID]abc123XYZ[ARGS]{"city": "Paris"})"));
    // One call unless parallel calls are asked for.
    const std::string two = R"([TOOL_CALLS]get_time[CALL_ID]aaaaaaaaa[ARGS]{"zone": "UTC"})"
                            R"([TOOL_CALLS]get_weather[CALL_ID]bbbbbbbbb[ARGS]{"city": "Rome"})";
    CHECK_FALSE(test::full_match(g, two));
    const ToolGrammar parallel = tool_call_grammar(f, tools, true, true);
    CHECK(test::full_match(grammar::parse(parallel.gbnf, parallel.root), two));
    // What the grammar makes, the parser reads back.
    const ParsedReply r = parse_tool_reply(f, two);
    REQUIRE(r.calls.size() == 2);
    CHECK(r.calls[0].name == "get_time");
    CHECK(r.calls[0].id == "aaaaaaaaa");
    CHECK(r.calls[1].arguments.to_json() == R"({"city": "Rome"})");

    const ToolGrammar optional = tool_call_grammar(f, tools, false, false);
    CHECK(optional.lazy);
    CHECK(optional.triggers == std::vector<std::string>{"[TOOL_CALLS]"});

    // Templates without ids (Devstral, Magistral): NAME[ARGS]{...}.
    f.call_id = false;
    const ToolGrammar plain = tool_call_grammar(f, tools, true, false);
    const grammar::Grammar gp = grammar::parse(plain.gbnf, plain.root);
    CHECK(test::full_match(gp, R"([TOOL_CALLS]get_weather[ARGS]{"city": "Paris"})"));
    CHECK_FALSE(test::full_match(gp, R"([TOOL_CALLS]get_weather[CALL_ID]abc123XYZ[ARGS]{"city": "Paris"})"));
}

TEST_CASE("prefix_rule_names renames rules, not literals, classes, counts, token references or comments") {
    const std::string in = "root ::= item{2,3} \"root [x]\" [a-z] <[12]> !<think> # root item\nitem ::= \"\\\"\" root-2\n";
    const std::string out = grammar::prefix_rule_names(in, "t-");
    CHECK(out == "t-root ::= t-item{2,3} \"root [x]\" [a-z] <[12]> !<think> # root item\nt-item ::= \"\\\"\" t-root-2\n");
}

}  // TEST_SUITE
