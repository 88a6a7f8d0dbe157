// Where the reference data (../shared) is: LLAMAS_TEST_DATA, else the folder beside the checkout.
#pragma once
#include <dirent.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace llamas::test {

inline std::string data_dir() {
    const char* env = std::getenv("LLAMAS_TEST_DATA");
    return env && *env ? std::string(env) : std::string(LLAMAS_DEFAULT_TEST_DATA);
}

inline std::string data_path(const std::string& rel) { return data_dir() + "/" + rel; }

// Set (LLAMAS_TEST_SANITIZER=1) by scripts/test.sh for the ASan and TSan runs, which are 5-20x
// slower: tests that repeat the same path many times (seeds, fuzz-like loops) do fewer rounds there.
inline bool under_sanitizer() {
    const char* s = std::getenv("LLAMAS_TEST_SANITIZER");
    return s && *s && std::string(s) != "0";
}

// The bound of the "refused quickly" checks (hostile grammars and schemas): they catch a blow-up,
// not a slow machine, so the sanitizer runs get ten times more.
inline double quick_seconds() { return under_sanitizer() ? 20.0 : 2.0; }

// Directory holding the built tools (llamas-gguf, llamas-dump, ...).
inline std::string tool_path(const std::string& name) { return std::string(LLAMAS_BINARY_DIR) + "/" + name; }

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// The .gguf files in a folder, sorted (empty when the folder is missing).
inline std::vector<std::string> gguf_files(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".gguf") == 0) out.push_back(dir + "/" + n);
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace llamas::test
