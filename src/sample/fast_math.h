// Small float helpers the sampler runs over whole vocabularies, written so the compiler
// vectorizes them without -ffast-math.
#pragma once
#include <cstdint>
#include <cstring>
#include <limits>

namespace llamas::sample_math {

// e^x for x <= 0 (a logit minus the maximum), relative error ~2e-7. Returns exactly 0 below
// -87 (where float e^x is subnormal anyway), so banned tokens (-inf) get probability 0.
inline float exp_nonpositive(float x) {
    const bool underflow = !(x >= -87.0f);  // also catches -inf
    const float xc = underflow ? -87.0f : x;
    // x = n ln2 + r, |r| <= ln2/2
    const float n = static_cast<float>(static_cast<int32_t>(xc * 1.44269504f - 0.5f));
    const float r = xc - n * 0.693359375f + n * 2.12194440e-4f;
    // Minimax polynomial for e^r on [-ln2/2, ln2/2] (Cephes expf).
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
    float scale;
    std::memcpy(&scale, &bits, sizeof scale);
    return underflow ? 0.0f : p * scale;
}

// Largest of n >= 1 values (no NaN), with independent lanes the compiler turns into SIMD max.
inline float max_value(const float* v, int64_t n) {
    constexpr int kLanes = 16;
    float lane[kLanes];
    for (int j = 0; j < kLanes; ++j) lane[j] = -std::numeric_limits<float>::infinity();
    int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        for (int j = 0; j < kLanes; ++j) lane[j] = v[i + j] > lane[j] ? v[i + j] : lane[j];
    }
    float m = lane[0];
    for (int j = 1; j < kLanes; ++j) m = lane[j] > m ? lane[j] : m;
    for (; i < n; ++i) m = v[i] > m ? v[i] : m;
    return m;
}

}  // namespace llamas::sample_math
