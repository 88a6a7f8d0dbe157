// The llamas-gguf tool: `info` on every shipped file, `stats` against the reference tensor
// statistics, and the one-line error contract on a malformed file.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <sys/wait.h>
#include <vector>

#include "command_run.h"
#include "test_data.h"

namespace {

using Run = llamas::test::CommandRun;
using llamas::test::run_command;


}  // namespace

TEST_SUITE("tools") {

TEST_CASE("llamas-gguf info succeeds on every model and vocabulary file") {
    auto files = llamas::test::gguf_files(llamas::test::data_path("models"));
    auto vocab = llamas::test::gguf_files(llamas::test::data_path("vocab"));
    files.insert(files.end(), vocab.begin(), vocab.end());
    REQUIRE(files.size() >= 40);
    const std::string tool = llamas::test::tool_path("llamas-gguf");
    for (const auto& f : files) {
        INFO(f);
        Run r = run_command(tool + " info '" + f + "'");
        CHECK(r.exit_code == 0);
        CHECK(r.err.empty());
        CHECK(r.out.find("general.architecture") != std::string::npos);
        CHECK(r.out.find("tensors:") != std::string::npos);
    }
}

TEST_CASE("llamas-gguf on a malformed file: one error line, exit 1") {
    const std::string model = llamas::test::read_text(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf"));
    REQUIRE(model.size() > 5000);
    const std::string cut = "/tmp/llamas-tools-test-truncated.gguf";
    std::ofstream(cut, std::ios::binary).write(model.data(), 5000);
    for (const char* mode : {"info", "stats"}) {
        Run r = run_command(llamas::test::tool_path("llamas-gguf") + " " + mode + " " + cut);
        CHECK(r.exit_code == 1);
        CHECK(r.err.rfind("error: ", 0) == 0);
        CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
        CHECK(r.err.find("byte offset") != std::string::npos);
    }
    std::remove(cut.c_str());
    Run missing = run_command(llamas::test::tool_path("llamas-gguf") + " info /nonexistent.gguf");
    CHECK(missing.exit_code == 1);
    CHECK(missing.err.find("/nonexistent.gguf") != std::string::npos);
}

TEST_CASE("llamas-gguf stats matches the reference tensor statistics") {
    for (const char* name : {"kjv-tiny-Q8_0", "llama-Q4_K_M", "gemma3-F16"}) {
        INFO(name);
        Run r = run_command(llamas::test::tool_path("llamas-gguf") + " stats " +
                    llamas::test::data_path(std::string("models/") + name + ".gguf"));
        REQUIRE(r.exit_code == 0);
        const auto ours = nlohmann::json::parse(r.out);
        const auto ref = nlohmann::json::parse(
            llamas::test::read_text(llamas::test::data_path(std::string("reference/tensors/") + name + ".json")));
        const auto& ref_tensors = ref.contains("tensors") ? ref["tensors"] : ref;
        REQUIRE(ours.size() == ref_tensors.size());
        for (auto it = ref_tensors.begin(); it != ref_tensors.end(); ++it) {
            INFO(it.key());
            REQUIRE(ours.contains(it.key()));
            const auto& o = ours[it.key()];
            CHECK(o["type"] == (*it)["type"]);
            CHECK(o["ne"] == (*it)["ne"]);
            CHECK(o["n"] == (*it)["n"]);
            for (const char* field : {"sum", "sumsq"}) {
                const double want = (*it)[field].get<double>(), got = o[field].get<double>();
                CHECK(std::abs(got - want) <= 1e-5 * std::max(1.0, std::abs(want)));
            }
        }
    }
}

}  // TEST_SUITE
