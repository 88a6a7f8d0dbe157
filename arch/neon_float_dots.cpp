// NEON float row products: F32 weight rows (F16 and BF16 ones go through the packed tiles), and
// the table's dot_f32 / axpy_f32 helpers. Four independent f32 accumulators (the
// scalar oracle sums in double; these agree within float rounding of the terms' magnitude).
#include "neon_helpers.h"

namespace llamas {
namespace {

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

void neon_dot_f32(int64_t n, float* s, const void* w, const void* a) {
    *s = dot_rows<float, load_f32, one_f32>(n, static_cast<const float*>(w), static_cast<const float*>(a));
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
    k.types[static_cast<uint32_t>(GgmlType::F32)].gemm = gemm_by_dot<neon_dot_f32>;
    k.dot_f32 = neon_dot_f32_helper;
    k.axpy_f32 = neon_axpy_f32;
}

}  // namespace llamas
