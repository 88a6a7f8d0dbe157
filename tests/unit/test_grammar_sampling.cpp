// The grammar stage of the sampler on real vocabularies: the trie walk against a token-by-token
// check, greedy's shortcut, accept/reset/lazy triggers, and sampled generation under a grammar
// (every output must parse).
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "grammar/gbnf.h"
#include "sample/grammar_stage.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"
#include "test_data.h"
#include "unit/grammar_util.h"
#include "util/error.h"

using namespace llamas;
using llamas::test::grammar_file;

namespace {

std::unique_ptr<Model> load_model(const std::string& stem) {
    return Model::load(test::data_path("models/" + stem + ".gguf"));
}

// A tokenizer from a model or a vocabulary-only file of ../shared.
std::unique_ptr<Tokenizer> load_tokenizer(const std::string& rel) {
    const auto file = gguf::File::open(test::data_path(rel));
    return std::make_unique<Tokenizer>(*file);
}

std::shared_ptr<GrammarStage> stage_for(const Tokenizer& tok, const std::string& gbnf, bool lazy = false,
                                        LazyTriggers t = {}) {
    return std::make_shared<GrammarStage>(build_token_trie(tok), grammar::parse(gbnf), lazy, std::move(t));
}

// Every token's verdict from the trie walk equals the verdict of matching that token alone.
void check_mask_matches_tokens(GrammarStage& st, int32_t n_vocab) {
    const std::vector<uint8_t> mask = st.allowed();
    REQUIRE(mask.size() == static_cast<size_t>(n_vocab));
    int32_t n_allowed = 0, n_wrong = 0;
    for (int32_t t = 0; t < n_vocab; ++t) {
        n_allowed += mask[static_cast<size_t>(t)];
        if ((mask[static_cast<size_t>(t)] != 0) != st.allows(t)) ++n_wrong;
    }
    CHECK(n_wrong == 0);
    CHECK(n_allowed > 0);
}

}  // namespace

TEST_SUITE("grammar") {

TEST_CASE("the trie walk allows exactly the tokens that match one by one, along texts") {
    struct Walk {
        const char* model;
        const char* grammar;
        std::string text;
    };
    // The synthetic qwen2 model's cut vocabulary has no EOS id, so the reference's default (11,
    // ",") ends generation there: its JSON walk avoids commas.
    const std::vector<Walk> walks = {
        {"vocab/ggml-vocab-deepseek-llm.gguf", "json.gbnf",
         "{\"name\": \"caf\xc3\xa9 \xe6\x97\xa5\", \"n\": [1, -2.5e3, true], \"o\": {}}"},
        {"vocab/ggml-vocab-gpt-2.gguf", "chess.gbnf", "1. e4 e5 2. Nf3 Nc6 3. O-O"},
        {"models/qwen2-Q8_0.gguf", "json.gbnf", "{\"name\": \"caf\xc3\xa9 \xe6\x97\xa5\"}"},
        {"models/kjv-tiny-Q8_0.gguf", "json.gbnf", "{\"name\": \"caf\xc3\xa9 \xe6\x97\xa5\", \"n\": [1, -2.5e3, true]}"},
        {"models/kjv-tiny-Q8_0.gguf", "japanese.gbnf", "日本語（にほんご）です。"},
        {"models/qwen2-Q8_0.gguf", "japanese.gbnf", "日本語（にほんご）です。"},
        {"models/llama-Q8_0.gguf", "c.gbnf", "int main(int argc) { if (argc > b) { return argc * a; } return c; }"},
    };
    for (const Walk& w : walks) {
        const std::string name = std::string(w.model) + " " + w.grammar;
        CAPTURE(name);
        const auto tokp = load_tokenizer(w.model);
        const Tokenizer& tok = *tokp;
        // SentencePiece adds a space before the text: let the grammar start with one.
        const std::string gbnf = grammar_file(w.grammar);
        const bool spm = tok.kind() == TokenizerKind::spm;
        auto st = std::make_shared<GrammarStage>(
            build_token_trie(tok), grammar::parse(spm ? "top ::= \" \"? root\n" + gbnf : gbnf, spm ? "top" : "root"));
        const std::vector<int32_t> ids = tok.encode(w.text, false);
        for (size_t i = 0; i < ids.size(); ++i) {
            CAPTURE(i);
            const std::string piece = tok.token_to_piece(ids[i]);
            CAPTURE(piece);
            check_mask_matches_tokens(*st, tok.n_vocab());
            REQUIRE(st->allowed()[static_cast<size_t>(ids[i])]);
            st->accept(&ids[i], 1);
        }
        // At the end only what completes or continues the text is allowed; EOG where it can end.
        check_mask_matches_tokens(*st, tok.n_vocab());
        CHECK(st->allows(tok.eos()));
    }
}

TEST_CASE("grammar stage: accept refuses without changing state, EOG only at the end, reset") {
    auto model = load_model("qwen2-Q8_0");
    const Tokenizer& tok = model->tokenizer();
    auto st = stage_for(tok, "root ::= \"yes\" | \"no\"");
    const std::vector<int32_t> yes = tok.encode("yes", false);
    const std::vector<int32_t> no = tok.encode("no", false);
    CHECK_FALSE(st->allows(tok.eos()));
    CHECK_THROWS_AS(st->accept(&tok.eog_ids()[0], 1), Error);
    // All or nothing: "yes" then "no" fails at "no" and leaves the start state.
    std::vector<int32_t> both = yes;
    both.insert(both.end(), no.begin(), no.end());
    CHECK_THROWS_AS(st->accept(both.data(), both.size()), Error);
    CHECK(st->allows(no[0]));
    st->accept(yes.data(), yes.size());
    CHECK(st->allows(tok.eos()));
    CHECK_FALSE(st->allows(no[0]));
    st->reset();
    CHECK(st->allows(no[0]));
}

TEST_CASE("lazy grammar: free until a trigger word or token, then constrained from the trigger on") {
    auto model = load_model("qwen2-Q8_0");
    const Tokenizer& tok = model->tokenizer();
    const std::string gbnf = "root ::= \"<call>\" [a-z]+ \"</call>\"";
    LazyTriggers t;
    t.words = {"<call>"};
    auto st = stage_for(tok, gbnf, true, t);
    CHECK_FALSE(st->active());
    const std::vector<int32_t> free_text = tok.encode("Some text, then ", false);
    st->accept(free_text.data(), free_text.size());
    CHECK_FALSE(st->active());
    const std::vector<int32_t> call = tok.encode("<call>get", false);
    st->accept(call.data(), call.size());
    CHECK(st->active());
    CHECK_FALSE(st->allows(tok.encode(" ", false)[0]));
    const std::vector<int32_t> rest = tok.encode("time</call>", false);
    st->accept(rest.data(), rest.size());
    CHECK(st->allows(tok.eos()));
    st->reset();
    CHECK_FALSE(st->active());

    // A trigger token starts the grammar with that token's text.
    LazyTriggers tt;
    const int32_t open = tok.encode("(", false)[0];
    tt.tokens = {open};
    auto st2 = stage_for(tok, "root ::= \"(\" [0-9]+ \")\"", true, tt);
    const std::vector<int32_t> pre = tok.encode("x = ", false);
    st2->accept(pre.data(), pre.size());
    CHECK_FALSE(st2->active());
    st2->accept(&open, 1);
    CHECK(st2->active());
    CHECK_FALSE(st2->allows(tok.encode("a", false)[0]));
    CHECK(st2->allows(tok.encode("7", false)[0]));
}

TEST_CASE("greedy under a grammar: the shortcut gives the masked argmax; choices are never forbidden") {
    auto model = load_model("qwen2-Q8_0");
    const Tokenizer& tok = model->tokenizer();
    const int32_t n = tok.n_vocab();
    auto st = stage_for(tok, grammar_file("json.gbnf"));
    SamplerParams p;
    p.greedy = true;
    p.repeat_penalty = 1.3f;
    Sampler greedy(p);
    greedy.set_constraint(st);
    Sampler reference(p);  // no constraint: given logits masked beforehand, with the same history
    std::vector<float> logits(static_cast<size_t>(n));
    uint64_t x = 12345;
    int n_refused_argmax = 0;
    for (int step = 0; step < 40; ++step) {
        for (float& l : logits) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            l = static_cast<float>((x >> 40) & 0xFFFF) / 4096.0f;
        }
        // Expected: mask first, then the penalties, then the argmax (the full chain's order).
        std::vector<float> masked = logits;
        st->mask(masked.data(), n);
        const int32_t expected = reference.sample(masked.data(), n);
        n_refused_argmax += !st->allows(static_cast<int32_t>(
            std::max_element(logits.begin(), logits.end()) - logits.begin()));
        const int32_t got = greedy.sample(logits.data(), n);
        CHECK(got == expected);
        CHECK(st->allows(got));
        greedy.accept_generated(&got, 1);
        reference.accept(got);
        if (tok.is_eog(got)) break;
    }
    CHECK(n_refused_argmax > 0);  // the masking path ran, not only the shortcut
}

// 200 seeds; 20 under the sanitizers, where each costs 20x and the same code runs each time.
TEST_CASE("sampled generation under a grammar: 200 seeds at temperature 1, every output parses") {
    const uint64_t n_seeds = llamas::test::under_sanitizer() ? 20 : 200;
    struct Job {
        const char* model;
        const char* grammar;
        const char* prompt;
    };
    const std::vector<Job> jobs = {
        {"kjv-tiny-Q8_0", "json_bounded.gbnf", "And God said"},
        {"kjv-tiny-Q8_0", "list.gbnf", "These are the names"},
        {"qwen2-Q8_0", "json_bounded.gbnf", "Reply in JSON:"},
        {"qwen2-Q8_0", "list.gbnf", "A list:"},
    };
    for (const Job& j : jobs) {
        const std::string name = std::string(j.model) + " " + j.grammar;
        CAPTURE(name);
        auto model = load_model(j.model);
        const Tokenizer& tok = model->tokenizer();
        const grammar::Grammar g = grammar::parse(grammar_file(j.grammar));
        const auto trie = build_token_trie(tok);
        ContextParams cp;
        cp.n_ctx = 1024;
        cp.n_threads = 1;
        Context ctx(*model, cp);
        std::vector<int32_t> prompt = tok.encode(j.prompt, true);
        const float* l = ctx.decode(prompt.data(), static_cast<int64_t>(prompt.size()), 0);
        const std::vector<float> first(l, l + ctx.n_vocab());
        const auto n_vocab = static_cast<int32_t>(ctx.n_vocab());
        int n_ok = 0;
        for (uint64_t seed = 1; seed <= n_seeds; ++seed) {
            CAPTURE(seed);
            SamplerParams p;
            p.temperature = 1.0f;
            p.top_k = 0;
            p.top_p = 1.0f;
            p.min_p = 0.0f;
            p.seed = seed;
            Sampler s(p);
            auto st = std::make_shared<GrammarStage>(trie, g);
            s.set_constraint(st);
            std::string text;
            const float* row = first.data();
            bool ended = false;
            for (int64_t pos = static_cast<int64_t>(prompt.size()); pos < cp.n_ctx; ++pos) {
                const int32_t t = s.sample(row, n_vocab);
                s.accept_generated(&t, 1);  // throws if the grammar did not allow it
                if (tok.is_eog(t)) {
                    ended = true;
                    break;
                }
                text += tok.token_to_piece(t);
                row = ctx.decode(&t, 1, pos);
            }
            REQUIRE(ended);
            CAPTURE(text);
            if (std::string(j.grammar) == "list.gbnf") {
                CHECK(test::full_match(g, text));
                CHECK(text.substr(0, 2) == "- ");
            } else {
                const auto parsed = nlohmann::json::parse(text, nullptr, false);
                CHECK_FALSE(parsed.is_discarded());
                CHECK(parsed.is_object());
            }
            ++n_ok;
        }
        CHECK(n_ok == static_cast<int>(n_seeds));
    }
}

}  // TEST_SUITE
