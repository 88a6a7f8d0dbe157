// Shared helpers of the block encoders (quantize_*.cpp). Not part of the public API.
#pragma once
#include <cstdint>
#include <cstring>

#include "quant/blocks.h"

namespace llamas::quant_detail {

// Rounds to the nearest integer, ties to even, by the float "magic number" addition ggml
// uses (valid for |f| <= 2^22). Kept identical so ties resolve exactly as in ggml.
inline int nearest_int(float f) {
    const float v = f + 12582912.f;
    int32_t i;
    std::memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

// Below this, a group of values counts as all zeros.
constexpr float kGroupMaxEps = 1e-15f;

void quantize_q4_0(const float* x, block_q4_0* y, int64_t n);
void quantize_q4_1(const float* x, block_q4_1* y, int64_t n);
void quantize_q5_0(const float* x, block_q5_0* y, int64_t n);
void quantize_q5_1(const float* x, block_q5_1* y, int64_t n);
void quantize_q2_K(const float* x, block_q2_K* y, int64_t n);
void quantize_q3_K(const float* x, block_q3_K* y, int64_t n);
void quantize_q4_K(const float* x, block_q4_K* y, int64_t n);
void quantize_q5_K(const float* x, block_q5_K* y, int64_t n);
void quantize_q6_K(const float* x, block_q6_K* y, int64_t n);
void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t n);
void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t n);

}  // namespace llamas::quant_detail
