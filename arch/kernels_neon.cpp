// The NEON kernel table, written against simde's NEON API: native on ARM, emulated elsewhere
// (so the x86 CI can run it against the scalar oracle). Q8_0 and Q4_0 products and the Q8_0
// activation encoder; everything else falls back to the scalar table. Compiled without ISA
// flags, so the shared inline fp16 helpers are safe to use here.
#include <cstring>

#include "kernels.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/arm/neon.h>

namespace llamas {
namespace {

// Round half away from zero, as std::round (simde has no vrndaq): truncate, then step away
// from zero where the dropped fraction is at least one half.
inline float32x4_t round_away(float32x4_t v) {
    const float32x4_t t = vrndq_f32(v);
    const uint32x4_t ge_half = vcgeq_f32(vabsq_f32(vsubq_f32(v, t)), vdupq_n_f32(0.5f));
    const uint32x4_t one = vorrq_u32(vreinterpretq_u32_f32(vdupq_n_f32(1.0f)),
                                     vandq_u32(vreinterpretq_u32_f32(v), vdupq_n_u32(0x80000000u)));
    return vaddq_f32(t, vreinterpretq_f32_u32(vandq_u32(ge_half, one)));
}

// Same float operations as the scalar encoder, so the bytes are identical.
void neon_quantize_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
        float32x4_t v[8];
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int k = 0; k < 8; ++k) {
            v[k] = vld1q_f32(x + 4 * k);
            m = vmaxq_f32(m, vabsq_f32(v[k]));
        }
        const float amax = vmaxvq_f32(m);
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int k = 0; k < 8; k += 2) {
            const int32x4_t a = vcvtq_s32_f32(round_away(vmulq_n_f32(v[k], id)));
            const int32x4_t b = vcvtq_s32_f32(round_away(vmulq_n_f32(v[k + 1], id)));
            const int16x8_t ab = vcombine_s16(vmovn_s32(a), vmovn_s32(b));
            vst1_s8(y[i].qs + 4 * k, vmovn_s16(ab));
        }
    }
}

// Σ x*y of 32 signed bytes.
inline int dot32_s8(int8x16_t x0, int8x16_t x1, const int8_t* y) {
    const int8x16_t y0 = vld1q_s8(y), y1 = vld1q_s8(y + 16);
    int32x4_t acc = vdupq_n_s32(0);
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x0), vget_low_s8(y0)));
    acc = vpadalq_s16(acc, vmull_high_s8(x0, y0));
    acc = vpadalq_s16(acc, vmull_s8(vget_low_s8(x1), vget_low_s8(y1)));
    acc = vpadalq_s16(acc, vmull_high_s8(x1, y1));
    return vaddvq_s32(acc);
}

// Same block-by-block float accumulation as the scalar kernel: results are bit-identical.
void neon_dot_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q8_0*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        const int sumi = dot32_s8(vld1q_s8(x[ib].qs), vld1q_s8(x[ib].qs + 16), y[ib].qs);
        sumf += static_cast<float>(sumi) * (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d));
    }
    *s = sumf;
}

void neon_dot_q4_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q4_0*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK4_0; ++ib) {
        const uint8x16_t q = vld1q_u8(x[ib].qs);
        const int8x16_t lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low4)), eight);
        const int8x16_t hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
        const int sumi = dot32_s8(lo, hi, y[ib].qs);
        sumf += static_cast<float>(sumi) * (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d));
    }
    *s = sumf;
}

}  // namespace

void fill_neon_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "neon";
    for (GgmlType t : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q5_0, GgmlType::IQ4_NL}) {
        k.types[static_cast<uint32_t>(t)].quantize_activations = neon_quantize_q8_0;
    }
    k.types[static_cast<uint32_t>(GgmlType::Q8_0)].vec_dot = neon_dot_q8_0;
    k.types[static_cast<uint32_t>(GgmlType::Q4_0)].vec_dot = neon_dot_q4_0;
}

}  // namespace llamas
