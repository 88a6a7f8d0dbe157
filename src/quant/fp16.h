// Half-precision conversions: IEEE fp16 and bfloat16 <-> f32.
// Scalar conversions are exact (f32 -> fp16 rounds to nearest even, like ggml and F16C);
// the row converters use F16C when the CPU has it (chosen once at run time).
#pragma once
#include <cstdint>
#include <cstring>

namespace llamas {

inline uint32_t f32_bits(float f) {
    uint32_t u;
    std::memcpy(&u, &f, sizeof u);
    return u;
}
inline float f32_from_bits(uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

inline float fp16_to_f32(uint16_t h) {
    const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
    const uint32_t exp = (h >> 10) & 0x1fu;
    const uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (mant << 13));  // inf / NaN
    if (exp == 0) {
        // zero or subnormal: mant * 2^-24, exact in f32
        const float v = static_cast<float>(mant) * 5.9604644775390625e-08f;
        return f32_from_bits(sign | f32_bits(v));
    }
    return f32_from_bits(sign | ((exp + 112) << 23) | (mant << 13));
}

inline uint16_t f32_to_fp16(float f) {
    uint32_t x = f32_bits(f);
    const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;
    if (x > 0x7f800000u) return sign | 0x7e00u;      // NaN -> canonical quiet NaN (as ggml)
    if (x >= 0x47800000u) return sign | 0x7c00u;     // >= 65536 or inf -> inf
    if (x < 0x38800000u) {
        // Below the smallest normal half (2^-14): adding 0.5 puts the half subnormal's
        // mantissa (units of 2^-24) in the low bits, rounded to nearest even by the FPU.
        const float t = f32_from_bits(x) + 0.5f;
        return sign | static_cast<uint16_t>(f32_bits(t) - 0x3f000000u);
    }
    // Normal: rebias the exponent and round the 13 dropped mantissa bits to nearest even;
    // a carry out of the mantissa correctly bumps the exponent (up to inf).
    x = x - (112u << 23) + 0xfffu + ((x >> 13) & 1u);
    return sign | static_cast<uint16_t>(x >> 13);
}

inline float bf16_to_f32(uint16_t h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

// ggml's rule: round to nearest even; NaNs are truncated and forced quiet.
inline uint16_t f32_to_bf16(float f) {
    const uint32_t u = f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((u >> 16) | 64u);
    return static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

// Row converters (n any length).
void fp16_to_f32_row(const uint16_t* x, float* y, int64_t n);
void f32_to_fp16_row(const float* x, uint16_t* y, int64_t n);
void bf16_to_f32_row(const uint16_t* x, float* y, int64_t n);
void f32_to_bf16_row(const float* x, uint16_t* y, int64_t n);

// True when the row converters use F16C instructions on this CPU.
bool fp16_rows_use_f16c();

}  // namespace llamas
