// llamas-bench end to end on the small reference models: the JSON report's fields and counts,
// the weight bytes a token reads (checked against the file's own tensor sizes), the markdown
// table, comma lists, and the error contract.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "command_run.h"
#include "test_data.h"

namespace {

using BenchRun = llamas::test::CommandRun;

BenchRun run_bench(const std::string& args) { return llamas::test::run_tool("llamas-bench", args); }

// Bytes of every matrix a decoded token multiplies: all 2-D weights except the token embedding,
// which is only looked up, unless the output is tied to it.
uint64_t expected_bytes_per_token(const std::string& path) {
    auto f = llamas::gguf::File::open(path);
    const bool tied = f->find_tensor("output.weight") == nullptr;
    uint64_t bytes = 0;
    for (const auto& t : f->tensors()) {
        if (t.n_dims != 2) continue;
        if (t.name == "token_embd.weight" && !tied) continue;
        bytes += t.n_bytes;
    }
    return bytes;
}

}  // namespace

TEST_SUITE("tools") {

TEST_CASE("llamas-bench JSON: one object per test with llama-bench's fields") {
    for (const char* name : {"llama-Q4_0.gguf", "qwen2-Q4_K_M.gguf"}) {
        const std::string model = llamas::test::data_path(std::string("models/") + name);
        INFO(model);
        BenchRun r = run_bench("-m " + model + " -p 8,32 -n 4 -t 2 -r 2 -o json");
        REQUIRE(r.exit_code == 0);
        const auto j = nlohmann::json::parse(r.out);
        REQUIRE(j.is_array());
        REQUIRE(j.size() == 3);
        const int prompts[] = {8, 32, 0}, gens[] = {0, 0, 4};
        for (size_t i = 0; i < 3; ++i) {
            const auto& t = j[i];
            CHECK(t["model"] == model);
            CHECK(t["n_prompt"] == prompts[i]);
            CHECK(t["n_gen"] == gens[i]);
            CHECK(t["n_threads"] == 2);
            REQUIRE(t["samples_ts"].size() == 2);
            REQUIRE(t["samples_ns"].size() == 2);
            const double a = t["samples_ts"][0], b = t["samples_ts"][1];
            CHECK(a > 0);
            CHECK(b > 0);
            CHECK(double(t["avg_ts"]) == doctest::Approx((a + b) / 2).epsilon(1e-9));
            CHECK(double(t["stddev_ts"]) == doctest::Approx(std::fabs(a - b) / std::sqrt(2.0)).epsilon(1e-6));
            // tokens / seconds of each sample
            const double tokens = prompts[i] + gens[i];
            CHECK(a == doctest::Approx(1e9 * tokens / double(t["samples_ns"][0])).epsilon(1e-9));
            CHECK(double(t["rss_after_load_mb"]) > 0);
            CHECK(t["weight_bytes_per_token"] == expected_bytes_per_token(model));
            auto f = llamas::gguf::File::open(model);
            uint64_t size = 0, params = 0;
            for (const auto& ti : f->tensors()) {
                size += ti.n_bytes;
                params += ti.n_elements;
            }
            CHECK(t["model_size"] == size);
            CHECK(t["model_n_params"] == params);
        }
    }
}

TEST_CASE("llamas-bench markdown: one row per test, RSS line") {
    const std::string model = llamas::test::data_path("models/kjv-tiny-Q8_0.gguf");
    BenchRun r = run_bench("-m " + model + " -p 16 -n 0 -t 1 -r 1");
    REQUIRE(r.exit_code == 0);
    CHECK(r.out.find("| kjv-tiny-Q8_0.gguf") != std::string::npos);
    CHECK(r.out.find("pp16") != std::string::npos);
    CHECK(r.out.find("tg") == std::string::npos);  // -n 0 skips generation
    CHECK(r.out.find("RSS after load") != std::string::npos);
    CHECK(std::count(r.out.begin(), r.out.end(), '\n') == 5);  // header, rule, row, blank, RSS
}

TEST_CASE("llamas-bench errors: \"error: ...\" on stderr, exit 1") {
    const std::string decoder = llamas::test::data_path("models/llama-Q8_0.gguf");
    const std::string embedder = llamas::test::data_path("models/bert-F16.gguf");
    struct Case {
        std::string args, message;
    } cases[] = {
        {"", "-m MODEL is required"},
        {"-m /nonexistent.gguf", "/nonexistent.gguf"},
        {"-m " + decoder + " -p 1,", "comma-separated"},
        {"-m " + decoder + " -o xml", "md or json"},
        {"-m " + decoder + " -t 0", "-t needs an integer"},
        {"-m " + decoder + " --bogus", "unknown argument"},
        {"-m " + decoder + " --embed", "needs an embedding model"},
        {"-m " + embedder, "use --embed"},
    };
    for (const Case& c : cases) {
        INFO(c.args);
        BenchRun r = run_bench(c.args);
        CHECK(r.exit_code == 1);
        CHECK(r.out.empty());
        CHECK(r.err.rfind("error: ", 0) == 0);
        CHECK(r.err.find(c.message) != std::string::npos);
    }
}

}  // TEST_SUITE
