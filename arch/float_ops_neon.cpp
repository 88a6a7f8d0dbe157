// NEON versions of the float loops around the matrix products: SiLU-gated products (bit-exact
// with ops' scalar silu(): exp_approx's fused multiply-adds, lane by lane), softmax
// exponentials, the two halves of attention over an F16 cache (query · key rows, weighted sum of
// value rows), and attn_rows on them.
#include <cmath>

#include "neon_helpers.h"

namespace llamas {
namespace {

inline float32x4_t splat(float v) { return vdupq_n_f32(v); }
inline uint32x4_t usplat(uint32_t v) { return vdupq_n_u32(v); }

// e^x with ops' exp_approx steps (ggml_v_expf), 4 lanes; the near-overflow / underflow branch
// is chosen per lane the same way.
inline float32x4_t exp4(float32x4_t x) {
    const float32x4_t r = splat(0x1.8p23f);
    const float32x4_t z = neon_fma_exact(x, splat(0x1.715476p+0f), r);
    const float32x4_t n = vsubq_f32(z, r);
    const float32x4_t neg_n = vnegq_f32(n);
    const float32x4_t b =
        neon_fma_exact(neg_n, splat(0x1.7f7d1cp-20f), neon_fma_exact(neg_n, splat(0x1.62e4p-1f), x));
    const uint32x4_t e = vshlq_n_u32(vreinterpretq_u32_f32(z), 23);
    const float32x4_t k = vreinterpretq_f32_u32(vaddq_u32(e, vreinterpretq_u32_f32(splat(1.0f))));
    const float32x4_t u = vmulq_f32(b, b);
    const float32x4_t j = neon_fma_exact(
        neon_fma_exact(neon_fma_exact(splat(0x1.0e4020p-7f), b, splat(0x1.573e2ep-5f)), u,
                       neon_fma_exact(splat(0x1.555e66p-3f), b, splat(0x1.fffdb6p-2f))),
        u, vmulq_f32(splat(0x1.ffffecp-1f), b));
    const float32x4_t absn = vabsq_f32(n);
    const uint32x4_t big = vcgtq_f32(absn, splat(126.0f));
    const float32x4_t res = neon_fma_exact(j, k, k);
    if (vmaxvq_u32(big) == 0) return res;
    // s1 = 2^(±127), s2 = the rest; beyond |n| > 192 the result saturates to s1 * s1.
    const uint32x4_t g = vandq_u32(vcleq_f32(n, splat(0.0f)), usplat(0x82000000u));
    const float32x4_t s1 = vreinterpretq_f32_u32(vaddq_u32(g, usplat(0x7f000000u)));
    const float32x4_t s2 = vreinterpretq_f32_u32(vsubq_u32(e, g));
    const uint32x4_t huge = vcgtq_f32(absn, splat(192.0f));
    const float32x4_t mid = vmulq_f32(neon_fma_exact(s2, j, s2), s1);
    const float32x4_t sat = vmulq_f32(s1, s1);
    return vbslq_f32(big, vbslq_f32(huge, sat, mid), res);
}

inline float32x4_t silu4(float32x4_t x) { return neon_div(x, vaddq_f32(splat(1.0f), exp4(vnegq_f32(x)))); }

void neon_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vst1q_f32(out + i, vmulq_f32(silu4(vld1q_f32(gate + i)), vld1q_f32(up + i)));
    if (i < n) {
        float g[4] = {0, 0, 0, 0}, u[4] = {0, 0, 0, 0}, o[4];
        for (int64_t k = i; k < n; ++k) {
            g[k - i] = gate[k];
            u[k - i] = up[k];
        }
        vst1q_f32(o, vmulq_f32(silu4(vld1q_f32(g)), vld1q_f32(u)));
        for (int64_t k = i; k < n; ++k) out[k] = o[k - i];
    }
}

// x = e^(x - max x) (exp4; -inf gives 0); returns the sum, accumulated in double.
double neon_softmax_exp(float* x, int64_t n) {
    float32x4_t vmax = splat(-INFINITY);
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) vmax = vmaxq_f32(vmax, vld1q_f32(x + i));
    float max = vmaxvq_f32(vmax);
    for (int64_t k = i; k < n; ++k) max = x[k] > max ? x[k] : max;
    if (max == -INFINITY) {
        for (int64_t k = 0; k < n; ++k) x[k] = 0.0f;
        return 0.0;
    }
    const float32x4_t vm = splat(max);
    float64x2_t s0 = vdupq_n_f64(0.0), s1 = vdupq_n_f64(0.0);
    i = 0;
    for (; i + 4 <= n; i += 4) {
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), vm));
        vst1q_f32(x + i, e);
        s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
        s1 = vaddq_f64(s1, vcvt_f64_f32(vget_high_f32(e)));
    }
    if (i < n) {
        // The tail padded with -inf, whose exponential is 0.
        float t[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
        for (int64_t k = i; k < n; ++k) t[k - i] = x[k];
        const float32x4_t e = exp4(vsubq_f32(vld1q_f32(t), vm));
        vst1q_f32(t, e);
        for (int64_t k = i; k < n; ++k) x[k] = t[k - i];
        s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
        s1 = vaddq_f64(s1, vcvt_f64_f32(vget_high_f32(e)));
    }
    return vaddvq_f64(vaddq_f64(s0, s1));
}

// Σ_c q_c · row_c over d values (nv = d / 4 registers of q).
inline float32x4_t dot_row(const float32x4_t* qv, int64_t nv, const uint16_t* row) {
    float32x4_t a0 = vmulq_f32(qv[0], neon_f16x4_to_f32(row));
    float32x4_t a1 = vmulq_f32(qv[1], neon_f16x4_to_f32(row + 4));
    for (int64_t c = 2; c < nv; c += 2) {
        a0 = vfmaq_f32(a0, qv[c], neon_f16x4_to_f32(row + 4 * c));
        a1 = vfmaq_f32(a1, qv[c + 1], neon_f16x4_to_f32(row + 4 * c + 4));
    }
    return vaddq_f32(a0, a1);
}

// out[j] = Σ_i q[i] * k_j[i] over d values (a multiple of 16, at most 256), F16 rows k_j stride
// bytes apart.
void neon_dot_f16_rows(int64_t d, const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    float32x4_t qv[64];
    const int64_t nv = d / 4;
    for (int64_t c = 0; c < nv; ++c) qv[c] = vld1q_f32(q + 4 * c);
    for (int64_t j = 0; j < n; ++j) {
        out[j] = vaddvq_f32(dot_row(qv, nv, reinterpret_cast<const uint16_t*>(k + j * stride)));
    }
}

// out[i] += Σ_j w[j] * v_j[i] over d values (a multiple of 16, at most 256), F16 rows v_j.
void neon_axpy_f16_rows(int64_t d, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    const int64_t nv = d / 4;
    float32x4_t acc[64];
    for (int64_t c = 0; c < nv; ++c) acc[c] = vld1q_f32(out + 4 * c);
    for (int64_t j = 0; j < n; ++j) {
        const float32x4_t wj = splat(w[j]);
        const auto* vr = reinterpret_cast<const uint16_t*>(v + j * stride);
        for (int64_t c = 0; c < nv; ++c) acc[c] = vfmaq_f32(acc[c], wj, neon_f16x4_to_f32(vr + 4 * c));
    }
    for (int64_t c = 0; c < nv; ++c) vst1q_f32(out + 4 * c, acc[c]);
}

// A few rows of one-token decode, each row in turn on the loops above (tanh is the scalar table's).
void neon_attn_rows(const AttnTile& t) {
    attn_rows_by_row(t, RowLoops{neon_dot_f16_rows, neon_axpy_f16_rows, neon_softmax_exp, scalar_kernels().softcap});
}

}  // namespace

void fill_neon_float_ops(Kernels& k) {
    k.silu_mul = neon_silu_mul;
    k.softmax_exp = neon_softmax_exp;
    k.dot_f16_rows = neon_dot_f16_rows;
    k.axpy_f16_rows = neon_axpy_f16_rows;
    k.attn_rows = neon_attn_rows;
}

}  // namespace llamas
