// Helpers of the decoder tests that run the engine directly: test model paths, the context
// parameters the reference outputs were made with, and logit comparisons.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <doctest/doctest.h>
#include <fstream>
#include <string>

#include "engine/context.h"
#include "test_data.h"

namespace llamas::test {

// ../shared/models/STEM.gguf; the test fails if it is missing.
inline std::string model_path(const std::string& stem) {
    const std::string p = data_path("models/" + stem + ".gguf");
    REQUIRE_MESSAGE(std::ifstream(p).good(), "missing test model " << p);
    return p;
}

// As the reference: an F32 cache, logits for every position, 2 threads.
inline ContextParams conformance_params(int64_t n_ctx = 256, int64_t n_seq = 1) {
    ContextParams cp;
    cp.n_ctx = n_ctx;
    cp.n_batch = n_ctx;
    cp.n_threads = 2;
    // LLAMAS_TEST_THREADS=n overrides it (e.g. 1, to time an emulated run without the pool).
    if (const char* t = std::getenv("LLAMAS_TEST_THREADS"); t && *t) cp.n_threads = std::atoi(t);
    cp.n_seq = n_seq;
    cp.kv_type = GgmlType::F32;
    cp.logits_all = true;
    return cp;
}

inline double max_abs_diff(const float* a, const float* b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
    return m;
}

inline double range_of(const float* a, int64_t n) {
    const auto [mn, mx] = std::minmax_element(a, a + n);
    return *mx - *mn;
}

}  // namespace llamas::test
