// llamas-perplexity end to end on the KJV model and the Genesis fixture: the tool's running and
// final perplexity against one computed here, independently, through the internal engine (one
// chunk per pass, all logits, log-softmax entirely in double), for the batch arrangements the
// tool has (several chunks side by side, one chunk per pass, a chunk in several passes); and
// the error contract.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "command_run.h"
#include "test_data.h"

namespace {

using PplRun = llamas::test::CommandRun;

PplRun run_ppl(const std::string& args) { return llamas::test::run_tool("llamas-perplexity", args); }

struct PplOutput {
    std::vector<double> running;  // the "[i]x," values, in order
    double ppl = -1, err = -1;    // "Final estimate: PPL = x +/- y"
};

PplOutput parse_output(const std::string& out) {
    PplOutput o;
    size_t at = 0;
    for (int i = 1;; ++i) {
        const std::string tag = "[" + std::to_string(i) + "]";
        const size_t k = out.find(tag, at);
        if (k == std::string::npos) break;
        o.running.push_back(std::strtod(out.c_str() + k + tag.size(), nullptr));
        at = k + tag.size();
    }
    const size_t f = out.find("Final estimate: PPL = ");
    if (f != std::string::npos) std::sscanf(out.c_str() + f, "Final estimate: PPL = %lf +/- %lf", &o.ppl, &o.err);
    return o;
}

struct Expected {
    std::vector<double> running;
    double ppl = 0, err = 0;
};

// The definition, computed without the tool's code: chunks of n_ctx tokens of the BOS-prefixed
// text, the first token of each set to BOS, the second half scored.
Expected reference_ppl(const std::string& model_path, const std::string& text, int n_ctx) {
    auto model = llamas::Model::load(model_path);
    const llamas::Tokenizer& tok = model->tokenizer();
    const std::vector<int32_t> tokens = tok.encode(text, /*add_special=*/true);
    REQUIRE(tok.add_bos());
    REQUIRE(tokens.front() == tok.bos());
    llamas::ContextParams cp;
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_threads = 2;
    cp.kv_type = llamas::GgmlType::F16;
    cp.logits_all = true;
    llamas::Context ctx(*model, cp);
    const int64_t n_vocab = ctx.n_vocab();
    const int n_chunk = int(tokens.size() / size_t(n_ctx));
    const int first = n_ctx / 2;
    Expected e;
    double sum = 0, sum2 = 0;
    int64_t count = 0;
    for (int c = 0; c < n_chunk; ++c) {
        std::vector<int32_t> chunk(tokens.begin() + int64_t(c) * n_ctx, tokens.begin() + int64_t(c + 1) * n_ctx);
        chunk[0] = tok.bos();
        const float* logits = ctx.decode(chunk.data(), n_ctx, 0, /*all_logits=*/true);
        for (int p = first; p < n_ctx - 1; ++p) {
            const float* row = logits + int64_t(p) * n_vocab;
            double mx = row[0];
            for (int64_t v = 1; v < n_vocab; ++v) mx = std::max(mx, double(row[v]));
            double s = 0;
            for (int64_t v = 0; v < n_vocab; ++v) s += std::exp(double(row[v]) - mx);
            const double nll = -(double(row[chunk[size_t(p) + 1]]) - mx - std::log(s));
            sum += nll;
            sum2 += nll * nll;
            ++count;
        }
        e.running.push_back(std::exp(sum / double(count)));
    }
    const double mean = sum / double(count);
    e.ppl = std::exp(mean);
    e.err = std::sqrt((sum2 / double(count) - mean * mean) / double(count - 1)) * e.ppl;
    return e;
}

}  // namespace

TEST_SUITE("tools") {

TEST_CASE("llamas-perplexity agrees with the perplexity computed through the engine") {
    const std::string model = llamas::test::data_path("models/kjv-tiny-Q8_0.gguf");
    const std::string text_path = std::string(LLAMAS_SOURCE_DIR) + "/tests/data/kjv-genesis.txt";
    const std::string text = llamas::test::read_text(text_path);
    REQUIRE(text.size() > 5000);
    const int n_ctx = 128;
    const Expected e = reference_ppl(model, text, n_ctx);
    REQUIRE(e.running.size() >= 10);
    MESSAGE("engine: PPL = " << e.ppl << " +/- " << e.err << " over " << e.running.size() << " chunks");
    CHECK(e.ppl > 1.0);
    CHECK(e.ppl < 100.0);  // a model trained on this very text

    // Default batch (16 chunks side by side, then the rest), one chunk per pass, a chunk in
    // three passes of 48 tokens.
    for (const std::string batch : {"2048", "128", "48"}) {
        INFO("--batch " << batch);
        const PplRun r = run_ppl("-m " + model + " -f " + text_path + " --ctx 128 --threads 2 --batch " + batch);
        REQUIRE_MESSAGE(r.exit_code == 0, r.err);
        const PplOutput o = parse_output(r.out);
        REQUIRE(o.running.size() == e.running.size());
        for (size_t i = 0; i < o.running.size(); ++i) {
            INFO("chunk " << i + 1);
            CHECK(o.running[i] == doctest::Approx(e.running[i]).epsilon(1e-3));
        }
        CHECK(o.ppl == doctest::Approx(e.ppl).epsilon(1e-3));
        CHECK(o.err == doctest::Approx(e.err).epsilon(1e-2));
        CHECK(o.running.back() == doctest::Approx(o.ppl).epsilon(1e-4));
        CHECK(r.err.find("calculating perplexity over " + std::to_string(e.running.size()) + " chunks") !=
              std::string::npos);
    }
}

TEST_CASE("llamas-perplexity: --chunks, and the errors") {
    const std::string model = llamas::test::data_path("models/kjv-tiny-Q8_0.gguf");
    const std::string text_path = std::string(LLAMAS_SOURCE_DIR) + "/tests/data/kjv-genesis.txt";

    const PplRun r3 = run_ppl("-m " + model + " -f " + text_path + " --ctx 64 --chunks 3 -t 2");
    REQUIRE(r3.exit_code == 0);
    const PplOutput o3 = parse_output(r3.out);
    CHECK(o3.running.size() == 3);
    CHECK(o3.ppl > 1.0);

    // A text shorter than two contexts.
    const PplRun shorter = run_ppl("-m " + model + " -f " + text_path + " --ctx 100000");
    CHECK(shorter.exit_code == 1);
    CHECK(shorter.err.find("you need at least 200000 tokens") != std::string::npos);

    const PplRun missing = run_ppl("-m " + model + " -f /nonexistent/text.txt");
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("cannot open") != std::string::npos);

    const PplRun no_model = run_ppl("-f " + text_path);
    CHECK(no_model.exit_code == 1);
    CHECK(no_model.err.find("-m MODEL is required") != std::string::npos);

    const PplRun bad_model = run_ppl("-m " + text_path + " -f " + text_path);
    CHECK(bad_model.exit_code == 1);
    CHECK(bad_model.err.find("cannot load") != std::string::npos);
}

}  // TEST_SUITE
