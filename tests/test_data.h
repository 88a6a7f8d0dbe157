// Where the reference data (../shared) is: LLAMAS_TEST_DATA, else the folder beside the checkout.
#pragma once
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace llamas::test {

inline std::string data_dir() {
    const char* env = std::getenv("LLAMAS_TEST_DATA");
    return env && *env ? std::string(env) : std::string(LLAMAS_DEFAULT_TEST_DATA);
}

inline std::string data_path(const std::string& rel) { return data_dir() + "/" + rel; }

// Directory holding the built tools (llamas-gguf, llamas-dump, ...).
inline std::string tool_path(const std::string& name) { return std::string(LLAMAS_BINARY_DIR) + "/" + name; }

inline std::string read_text(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace llamas::test
