// NEON activation encoders: Q8_0, Q8_1 and Q8_K blocks and F16/BF16 rows, byte for byte what
// the scalar encoders write (the same float operations lane by lane).
#include <cstring>

#include "neon_helpers.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

// The 32 values of a block quantized with scale id (round half away from zero, as std::round),
// stored as bytes; returns their sum.
inline int store_q8_32(const float32x4_t* v, float id, int8_t* out) {
    int32x4_t sum = vdupq_n_s32(0);
    for (int k = 0; k < 8; k += 2) {
        const int32x4_t a = vcvtq_s32_f32(neon_round_away(vmulq_n_f32(v[k], id)));
        const int32x4_t b = vcvtq_s32_f32(neon_round_away(vmulq_n_f32(v[k + 1], id)));
        sum = vaddq_s32(sum, vaddq_s32(a, b));
        vst1_s8(out + 4 * k, vmovn_s16(vcombine_s16(vmovn_s32(a), vmovn_s32(b))));
    }
    return vaddvq_s32(sum);
}

// Loads a 32-value block; returns max |x|.
inline float load_32(const float* x, float32x4_t* v) {
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < 8; ++k) {
        v[k] = vld1q_f32(x + 4 * k);
        m = vmaxq_f32(m, vabsq_f32(v[k]));
    }
    return vmaxvq_f32(m);
}

void neon_quantize_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
        float32x4_t v[8];
        const float d = load_32(x, v) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        store_q8_32(v, id, y[i].qs);
    }
}

void neon_quantize_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < n / QK8_1; ++i, x += QK8_1) {
        float32x4_t v[8];
        const float d = load_32(x, v) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        const int sum = store_q8_32(v, id, y[i].qs);
        y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
    }
}

void neon_quantize_q8_k(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        float32x4_t m = vdupq_n_f32(0.0f);
        for (int k = 0; k < QK_K; k += 4) m = vmaxq_f32(m, vabsq_f32(vld1q_f32(x + k)));
        const float amax = vmaxvq_f32(m);
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        // The scale's sign comes from the first value of largest magnitude.
        float max = amax;
        for (int k = 0; k < QK_K; ++k) {
            if (std::fabs(x[k]) == amax) {
                max = x[k];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const int32x4_t top = vdupq_n_s32(127);
        for (int k = 0; k < QK_K; k += 16) {
            int32x4_t q[4];
            // Round to nearest even (ggml's nearest_int), then clamp at 127.
            for (int j = 0; j < 4; ++j) {
                q[j] = vminq_s32(vcvtq_s32_f32(vrndnq_f32(vmulq_n_f32(vld1q_f32(x + k + 4 * j), iscale))), top);
            }
            y[i].bsums[k / 16] = static_cast<int16_t>(vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3]))));
            const int16x8_t lo = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
            const int16x8_t hi = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
            vst1q_s8(y[i].qs + k, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
        }
        y[i].d = 1.0f / iscale;
    }
}

void neon_convert_f16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, neon_f32x4_to_fp16(vld1q_f32(x + i)));
    for (; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

// f32 -> bf16 as f32_to_bf16: round to nearest even, NaNs truncated and made quiet.
inline uint16x4_t f32x4_to_bf16(float32x4_t f) {
    const uint32x4_t u = vreinterpretq_u32_f32(f);
    const uint32x4_t lsb = vandq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(1u));
    const uint32x4_t rounded = vshrq_n_u32(vaddq_u32(u, vaddq_u32(lsb, vdupq_n_u32(0x7fffu))), 16);
    const uint32x4_t quiet = vorrq_u32(vshrq_n_u32(u, 16), vdupq_n_u32(64u));
    const uint32x4_t nan = vcgtq_u32(vandq_u32(u, vdupq_n_u32(0x7fffffffu)), vdupq_n_u32(0x7f800000u));
    return vmovn_u32(vbslq_u32(nan, quiet, rounded));
}

void neon_convert_bf16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1_u16(y + i, f32x4_to_bf16(vld1q_f32(x + i)));
    for (; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

}  // namespace

void fill_neon_quantizers(Kernels& k) {
    for (TypeKernels& t : k.types) {
        if (!t.vec_dot) continue;
        switch (t.vec_dot_type) {
            case GgmlType::Q8_0: t.quantize_activations = neon_quantize_q8_0; break;
            case GgmlType::Q8_1: t.quantize_activations = neon_quantize_q8_1; break;
            case GgmlType::Q8_K: t.quantize_activations = neon_quantize_q8_k; break;
            case GgmlType::F16: t.quantize_activations = neon_convert_f16; break;
            case GgmlType::BF16: t.quantize_activations = neon_convert_bf16; break;
            default: break;  // F32: a copy
        }
    }
}

}  // namespace llamas
