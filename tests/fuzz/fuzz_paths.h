// Where the fuzz targets find the reference data: LLAMAS_TEST_DATA, else ../shared beside the
// checkout (derived from this file's path, which CMake passes in absolute form).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace llamas::fuzz {

inline std::string data_dir() {
    if (const char* env = std::getenv("LLAMAS_TEST_DATA"); env && *env) return env;
    std::string here = __FILE__;                   // .../tests/fuzz/fuzz_paths.h
    for (int i = 0; i < 3; ++i) here = here.substr(0, here.find_last_of('/'));  // repository root
    return here + "/../shared";
}

inline std::vector<uint8_t> read_file(const std::string& path) {
    std::vector<uint8_t> bytes;
    if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
        uint8_t buf[1 << 16];
        for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.insert(bytes.end(), buf, buf + n);
        std::fclose(f);
    }
    return bytes;
}

// A fuzz target without its data would "pass" while testing nothing: stop loudly instead.
[[noreturn]] inline void missing_data(const std::string& what) {
    std::fprintf(stderr, "fuzz: reference data missing: %s (set LLAMAS_TEST_DATA)\n", what.c_str());
    std::exit(1);
}

}  // namespace llamas::fuzz
