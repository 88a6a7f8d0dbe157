// Shared pieces of the NEON kernel tables (kernels_neon.cpp and the neon_*.cpp files): the ACLE
// NEON intrinsics, from <arm_neon.h> on aarch64 and from simde's portable emulation of the same
// API elsewhere (so x86 CI runs these kernels against the scalar oracle), a few small vector
// helpers, and the fill functions of each file.
//
// The files whose products use SDOT (neon_q2_k_dots.cpp, packed_neon.cpp)
// are compiled twice (CMakeLists.txt): with the dot-product extension for "neon", and with
// LLAMAS_NEON_NODOT defined and no extension for "neon-nodot" (Armv8.0 cores), where neon_dot4
// is built from widening multiplies and their fill functions take the suffix _nodot. The helpers
// are static, so each translation unit keeps the version its own flags compiled.
#pragma once
#include <cmath>
#include <cstdint>

#include "kernels.h"

#if defined(__aarch64__)
#include <arm_neon.h>
#define LLAMAS_NEON_NATIVE 1
#else
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>
#endif

namespace llamas {

// Round half away from zero, as std::round (simde has no vrndaq): truncate, then step away
// from zero where the dropped fraction is at least one half.
static inline float32x4_t neon_round_away(float32x4_t v) {
    const float32x4_t t = vrndq_f32(v);
    const uint32x4_t ge_half = vcgeq_f32(vabsq_f32(vsubq_f32(v, t)), vdupq_n_f32(0.5f));
    const uint32x4_t one = vorrq_u32(vreinterpretq_u32_f32(vdupq_n_f32(1.0f)),
                                     vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x80000000u)));
    return vaddq_f32(t, vreinterpretq_f32_u32(vandq_u32(ge_half, one)));
}

// acc + the four 4-byte dot products of x and y: SDOT, or without it (neon-nodot) the 16
// products widened to 16 bits (at most 2^14 each) and added in pairs twice, which gives the
// same sums.
#if defined(LLAMAS_NEON_NODOT)
static inline int32x4_t neon_dot4(int32x4_t acc, int8x16_t x, int8x16_t y) {
    const int16x8_t lo = vmull_s8(vget_low_s8(x), vget_low_s8(y));
    const int16x8_t hi = vmull_s8(vget_high_s8(x), vget_high_s8(y));
    return vaddq_s32(acc, vpaddq_s32(vpaddlq_s16(lo), vpaddlq_s16(hi)));
}
#define LLAMAS_NEON_DOT_FILL(name) name##_nodot
#else
static inline int32x4_t neon_dot4(int32x4_t acc, int8x16_t x, int8x16_t y) { return vdotq_s32(acc, x, y); }
#define LLAMAS_NEON_DOT_FILL(name) name
#endif

// Four fp16 values widened to f32 (exact).
static inline float32x4_t neon_f16x4_to_f32(const uint16_t* p) { return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(p))); }

// f32 -> fp16 as f32_to_fp16: NaN -> quiet NaN, overflow -> inf, subnormals through a float
// add, normals rounded to nearest even on the dropped 13 bits.
static inline uint16x4_t neon_f32x4_to_fp16(float32x4_t f) {
    const uint32x4_t u = vreinterpretq_u32_f32(f);
    const uint32x4_t sign = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(0x8000u));
    const uint32x4_t a = vandq_u32(u, vdupq_n_u32(0x7fffffffu));
    const uint32x4_t normal =
        vshrq_n_u32(vaddq_u32(vsubq_u32(a, vdupq_n_u32(112u << 23)),
                              vaddq_u32(vdupq_n_u32(0xfffu), vandq_u32(vshrq_n_u32(a, 13), vdupq_n_u32(1u)))),
                    13);
    const uint32x4_t sub = vsubq_u32(
        vreinterpretq_u32_f32(vaddq_f32(vreinterpretq_f32_u32(a), vdupq_n_f32(0.5f))), vdupq_n_u32(0x3f000000u));
    uint32x4_t r = vbslq_u32(vcltq_u32(a, vdupq_n_u32(0x38800000u)), sub, normal);
    r = vbslq_u32(vcgeq_u32(a, vdupq_n_u32(0x47800000u)), vdupq_n_u32(0x7c00u), r);
    r = vbslq_u32(vcgtq_u32(a, vdupq_n_u32(0x7f800000u)), vdupq_n_u32(0x7e00u), r);
    return vmovn_u32(vorrq_u32(r, sign));
}

// The entries of each neon_*.cpp file, applied over a table that already holds the scalar ones.
void fill_neon_quantizers(Kernels& k);   // neon_quantize.cpp: Q8_0/Q8_1/Q8_K, F16/BF16 encoders
void fill_neon_float_dots(Kernels& k);   // neon_float_dots.cpp: F32 rows, dot/axpy_f32
void fill_neon_q2_k_dots(Kernels& k);    // neon_q2_k_dots.cpp: Q2_K rows (no packed form)
void fill_neon_float_ops(Kernels& k);    // float_ops_neon.cpp: the float loops (float_ops.inc), attention
void fill_neon_packed(Kernels& k);       // packed_neon.cpp: the packed forms (packed_tiles.inc), SDOT
// The same three files compiled without SDOT (LLAMAS_NEON_NODOT), for the neon-nodot table.
void fill_neon_q2_k_dots_nodot(Kernels& k);
void fill_neon_packed_nodot(Kernels& k);
void fill_neon_i8mm_packed(Kernels& k);  // packed_neon_i8mm.cpp: the same with SMMLA many-token tiles

}  // namespace llamas
