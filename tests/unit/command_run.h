// Runs a command line through the shell for the tests of the command-line tools: its exit code,
// standard output and standard error.
#pragma once

#include <atomic>
#include <cstdio>
#include <string>
#include <sys/wait.h>
#include <unistd.h>

#include "test_data.h"

namespace llamas::test {

struct CommandRun {
    int exit_code = -1;  // -1 when the command could not start or did not exit normally
    std::string out, err;
};

inline CommandRun run_command(const std::string& cmd) {
    static std::atomic<int> counter{0};
    const std::string err_file = "/tmp/llamas-test-stderr-" + std::to_string(getpid()) + "-" +
                                 std::to_string(counter++);
    CommandRun r;
    FILE* p = popen((cmd + " 2>" + err_file).c_str(), "r");
    if (!p) return r;
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = pclose(p);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.err = read_text(err_file);
    std::remove(err_file.c_str());
    return r;
}

// `tool` is a program of the build (llamas-bench, ...), `args` its arguments.
inline CommandRun run_tool(const std::string& tool, const std::string& args) {
    return run_command(tool_path(tool) + " " + args);
}

}  // namespace llamas::test
