// NEON versions of the per-row float ops: RMSNorm (sum of squares in double), RoPE in both
// pair layouts, and the GELU table lookup (bit-exact with ops' gelu(): the same fp16 index).
#include <cmath>
#include <cstring>

#include "neon_helpers.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

void neon_rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    // Squares of floats are exact in double, so only the order of the additions differs.
    float64x2_t s[4] = {vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0), vdupq_n_f64(0.0)};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (int h = 0; h < 2; ++h) {
            const float32x4_t v = vld1q_f32(x + i + 4 * h);
            const float64x2_t lo = vcvt_f64_f32(vget_low_f32(v)), hi = vcvt_f64_f32(vget_high_f32(v));
            s[2 * h] = vaddq_f64(s[2 * h], vmulq_f64(lo, lo));
            s[2 * h + 1] = vaddq_f64(s[2 * h + 1], vmulq_f64(hi, hi));
        }
    }
    double sum = vaddvq_f64(vaddq_f64(vaddq_f64(s[0], s[1]), vaddq_f64(s[2], s[3])));
    for (; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    i = 0;
    if (w) {
        for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), scale), vld1q_f32(w + i)));
        for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
    } else {
        for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_n_f32(vld1q_f32(x + i), scale));
        for (; i < n; ++i) y[i] = x[i] * scale;
    }
}

// One pair rotated in scalar code (the tails the vector loops leave).
inline void rope_pair(float* v, int64_t a, int64_t b, float c, float s) {
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

// (x0, x1) -> (x0*c - x1*s, x0*s + x1*c), four pairs per call.
inline void rotate4(float32x4_t x0, float32x4_t x1, float32x4_t c, float32x4_t s, float32x4_t& r0, float32x4_t& r1) {
    r0 = vsubq_f32(vmulq_f32(x0, c), vmulq_f32(x1, s));
    r1 = vaddq_f32(vmulq_f32(x0, s), vmulq_f32(x1, c));
}

void neon_rope(const float* cs, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        if (!neox) {
            // Adjacent pairs: a de-interleaving load splits 4 pairs into firsts and seconds.
            int64_t i = 0;
            for (; i + 8 <= n_rot; i += 8) {
                const float32x4x2_t xv = vld2q_f32(v + i), t = vld2q_f32(cs + i);
                float32x4x2_t r;
                rotate4(xv.val[0], xv.val[1], t.val[0], t.val[1], r.val[0], r.val[1]);
                vst2q_f32(v + i, r);
            }
            for (; i < n_rot; i += 2) rope_pair(v, i, i + 1, cs[i], cs[i + 1]);
        } else {
            // NeoX: element j pairs with j + n_rot/2; cos and sin de-interleaved from cs.
            int64_t j = 0;
            for (; j + 4 <= half; j += 4) {
                const float32x4x2_t t = vld2q_f32(cs + 2 * j);
                float32x4_t r0, r1;
                rotate4(vld1q_f32(v + j), vld1q_f32(v + j + half), t.val[0], t.val[1], r0, r1);
                vst1q_f32(v + j, r0);
                vst1q_f32(v + j + half, r1);
            }
            for (; j < half; ++j) rope_pair(v, j, j + half, cs[2 * j], cs[2 * j + 1]);
        }
    }
}

// GELU of 4 values: table[fp16 bits of x], 0 at or below -10, x at or above 10.
inline float32x4_t gelu4(const float* table, float32x4_t x) {
    uint16_t h[4];
    vst1_u16(h, neon_f32x4_to_fp16(x));
    const float g[4] = {table[h[0]], table[h[1]], table[h[2]], table[h[3]]};
    const float32x4_t looked = vld1q_f32(g);
    const float32x4_t high = vbslq_f32(vcgeq_f32(x, vdupq_n_f32(10.0f)), x, looked);
    return vbslq_f32(vcleq_f32(x, vdupq_n_f32(-10.0f)), vdupq_n_f32(0.0f), high);
}

void neon_gelu_mul(const float* table, const float* x, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 4 <= n; i += 4) {
        float32x4_t g = gelu4(table, vld1q_f32(x + i));
        if (up) g = vmulq_f32(g, vld1q_f32(up + i));
        vst1q_f32(out + i, g);
    }
    for (; i < n; ++i) {
        const float v = x[i];
        const float g = v <= -10.0f ? 0.0f : v >= 10.0f ? v : table[f32_to_fp16(v)];
        out[i] = up ? g * up[i] : g;
    }
}

}  // namespace

void fill_neon_row_ops(Kernels& k) {
    k.rms_norm = neon_rms_norm;
    k.rope = neon_rope;
    k.gelu_mul = neon_gelu_mul;
}

}  // namespace llamas
