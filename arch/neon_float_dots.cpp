// NEON float row products: F32, F16 and BF16 weight rows against activation rows of the same
// type, and the table's dot_f32 / axpy_f32 helpers. Four independent f32 accumulators (the
// scalar oracle sums in double; these agree within float rounding of the terms' magnitude).
#include "neon_helpers.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

inline float32x4_t bf16x4_to_f32(const uint16_t* p) {
    return vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(vld1_u16(p)), 16));
}

// Σ w[i]*a[i], 16 values per step; Load widens 4 stored values to f32.
template <class T, float32x4_t (*Load)(const T*), float (*One)(T)>
float dot_rows(int64_t n, const T* w, const T* a) {
    float32x4_t acc[4] = {vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f), vdupq_n_f32(0.0f)};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 4; ++k) acc[k] = vfmaq_f32(acc[k], Load(w + i + 4 * k), Load(a + i + 4 * k));
    }
    float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc[0], acc[1]), vaddq_f32(acc[2], acc[3])));
    for (; i < n; ++i) sum += One(w[i]) * One(a[i]);
    return sum;
}

inline float32x4_t load_f32(const float* p) { return vld1q_f32(p); }
inline float one_f32(float v) { return v; }
inline float one_f16(uint16_t v) { return fp16_to_f32(v); }
inline float one_bf16(uint16_t v) { return bf16_to_f32(v); }

void neon_dot_f32(int64_t n, float* s, const void* w, const void* a) {
    *s = dot_rows<float, load_f32, one_f32>(n, static_cast<const float*>(w), static_cast<const float*>(a));
}

void neon_dot_f16(int64_t n, float* s, const void* w, const void* a) {
    *s = dot_rows<uint16_t, neon_f16x4_to_f32, one_f16>(n, static_cast<const uint16_t*>(w),
                                                          static_cast<const uint16_t*>(a));
}

void neon_dot_bf16(int64_t n, float* s, const void* w, const void* a) {
    *s = dot_rows<uint16_t, bf16x4_to_f32, one_bf16>(n, static_cast<const uint16_t*>(w),
                                                      static_cast<const uint16_t*>(a));
}

float neon_dot_f32_helper(int64_t n, const float* a, const float* b) { return dot_rows<float, load_f32, one_f32>(n, a, b); }

void neon_axpy_f32(int64_t n, float a, const float* x, float* y) {
    const float32x4_t va = vdupq_n_f32(a);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vfmaq_f32(vld1q_f32(y + i), va, vld1q_f32(x + i)));
    for (; i < n; ++i) y[i] += a * x[i];
}

}  // namespace

void fill_neon_float_dots(Kernels& k) {
    k.types[static_cast<uint32_t>(GgmlType::F32)].vec_dot = neon_dot_f32;
    k.types[static_cast<uint32_t>(GgmlType::F16)].vec_dot = neon_dot_f16;
    k.types[static_cast<uint32_t>(GgmlType::BF16)].vec_dot = neon_dot_bf16;
    k.types[static_cast<uint32_t>(GgmlType::F32)].gemm = gemm_by_dot<neon_dot_f32>;
    k.types[static_cast<uint32_t>(GgmlType::F16)].gemm = gemm_by_dot<neon_dot_f16>;
    k.types[static_cast<uint32_t>(GgmlType::BF16)].gemm = gemm_by_dot<neon_dot_bf16>;
    k.dot_f32 = neon_dot_f32_helper;
    k.axpy_f32 = neon_axpy_f32;
}

}  // namespace llamas
