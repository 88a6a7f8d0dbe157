// llamas-dump end to end: tokenizer + decoder on every decoder model file, its output files
// compared with ../shared/reference/outputs under the README's tolerances.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "test_data.h"
#include "test_decoder_conformance.h"

namespace {

using llamas::test::under_sanitizer;

// Runs a shell command, returns its exit status (-1 if it did not exit normally).
int run(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A temporary directory for the outputs, removed when the test binary exits.
struct ScratchDir {
    std::string path;
    ScratchDir() {
        char tmpl[] = "/tmp/llamas-dump-test-XXXXXX";
        if (const char* d = mkdtemp(tmpl)) path = d;
    }
    ~ScratchDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

std::string scratch_dir() {
    static ScratchDir dir;
    REQUIRE_MESSAGE(!dir.path.empty(), "cannot create a temporary directory");
    return dir.path;
}

std::string dump_tool() {
    const std::string tool = llamas::test::tool_path("llamas-dump");
    REQUIRE_MESSAGE(std::ifstream(tool).good(), "llamas-dump not built at " << tool);
    return tool;
}

}  // namespace

TEST_SUITE("decoder") {

TEST_CASE("llamas-dump meets the reference tolerances on every decoder model") {
    std::vector<std::string> stems = llamas::test::decoder_model_stems();
    if (under_sanitizer()) stems = {"llama-Q4_K_M", "qwen2-F16", "gemma2-F16", "gemma3-Q4_K_M", "phi3-F16", "kjv-tiny-F16"};
    const std::string tool = dump_tool();
    const std::string dir = scratch_dir();
    for (const std::string& stem : stems) {
        CAPTURE(stem);
        const bool kjv = stem.rfind("kjv-tiny", 0) == 0;
        const std::string model = llamas::test::data_path("models/" + stem + ".gguf");
        REQUIRE_MESSAGE(std::ifstream(model).good(), "missing test model " << model);
        const auto ref = llamas::test::read_records(llamas::test::data_path("reference/outputs"), stem);
        REQUIRE_MESSAGE(!ref.empty(), "missing reference outputs for " << stem);
        const std::string prompts = llamas::test::data_path(kjv ? "reference/kjv_prompts.txt" : "reference/prompts.txt");
        const std::string cmd = tool + " --model '" + model + "' --prompts '" + prompts + "' --out '" + dir + "/" + stem +
                                "' --threads 2 --ctx 256 --greedy " + std::to_string(ref[0].greedy.size());
        REQUIRE(run(cmd) == 0);
        const auto ours = llamas::test::read_records(dir, stem);
        MESSAGE(llamas::test::check_against_reference(stem, ref, ours, true));
    }
}

TEST_CASE("llamas-dump writes the reference's JSON layout") {
    const std::string tool = dump_tool();
    const std::string dir = scratch_dir();
    const std::string prompts = dir + "/layout.txt";
    std::ofstream(prompts) << "a\\tb\\nc \"q\"\n";
    REQUIRE(run(tool + " --model '" + llamas::test::data_path("models/kjv-tiny-Q8_0.gguf") + "' --prompts '" + prompts +
                "' --out '" + dir + "/layout' --greedy 3 --threads 1") == 0);
    const std::string line = llamas::test::read_text(dir + "/layout.jsonl");
    CHECK(line.rfind("{\"prompt\":\"a\\u0009b\\u000ac \\\"q\\\"\",\"tokens\":[1,", 0) == 0);
    CHECK(line.find("],\"n_vocab\":2048,\"logits_file\":\"layout.p0.logits.f32\",\"greedy\":[") != std::string::npos);
    CHECK(llamas::test::read_text(dir + "/layout.p0.logits.f32").size() == 2048 * sizeof(float));
}

TEST_CASE("llamas-dump refuses prompts longer than the context and --embed") {
    const std::string tool = dump_tool();
    const std::string dir = scratch_dir();
    const std::string model = llamas::test::data_path("models/kjv-tiny-Q8_0.gguf");
    const std::string quiet = " 2>'" + dir + "/err.txt'";
    CHECK(run(tool + " --model '" + model + "' --prompts '" + llamas::test::data_path("reference/kjv_prompts.txt") +
              "' --out '" + dir + "/short' --ctx 6" + quiet) == 1);
    CHECK(llamas::test::read_text(dir + "/err.txt").find("longer than the context") != std::string::npos);
    CHECK(run(tool + " --model '" + model + "' --prompts '" + llamas::test::data_path("reference/kjv_prompts.txt") +
              "' --out '" + dir + "/embed' --embed" + quiet) == 1);
    CHECK(llamas::test::read_text(dir + "/err.txt").find("--embed") != std::string::npos);
    CHECK(run(tool + " --model '" + dir + "/nonexistent.gguf' --prompts '" +
              llamas::test::data_path("reference/kjv_prompts.txt") + "' --out '" + dir + "/x'" + quiet) == 1);
}

}  // TEST_SUITE
