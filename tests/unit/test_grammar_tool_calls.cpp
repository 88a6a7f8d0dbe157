// Tool-call grammars (src/chat/tool_grammar.*) on the sampler's grammar stage: a reply sampled
// under a family's required-call grammar is a call that family's reply parser reads back, and
// a lazy (optional-call) grammar leaves text free until its trigger.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "chat/tool_calls.h"
#include "chat/tool_grammar.h"
#include "engine/context.h"
#include "engine/model.h"
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

    for (const char* file : {"hermes.jinja", "llama3.jinja", "mistral-nemo.jinja"}) {
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

}  // TEST_SUITE
