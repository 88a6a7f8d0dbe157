// AVX2 (+ FMA, F16C) versions of the float loops around the matrix products, the same set as the
// AVX-512 table's (float_ops_avx512.cpp) on 8 lanes: SiLU-gated products (bit-exact with ops'
// scalar silu()), softmax exponentials, attention over an F16 cache, RMS normalisation, RoPE,
// GELU by table and tanh soft-capping. Tails shorter than a vector go through a padded 8-value
// buffer or scalar code.
#include <cmath>
#include <cstring>

#include "kernels.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

namespace llamas {
namespace {

inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline double hsum4d(__m256d v) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
}

// e^x with ops' exp_approx steps (ggml_v_expf), 8 lanes; the near-overflow / underflow branch is
// taken per lane the same way, so every lane equals exp_approx bit for bit.
inline __m256 exp8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(_mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    const __m256 absn = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), n);
    const __m256 big = _mm256_cmp_ps(absn, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
    const __m256 res = _mm256_fmadd_ps(j, k, k);
    if (!_mm256_movemask_ps(big)) return res;
    // s1 = 2^(±127), s2 = the rest; beyond |n| > 192 the result saturates to s1 * s1.
    const __m256 neg = _mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ);
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(neg), _mm256_set1_epi32(static_cast<int>(0x82000000u)));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 huge = _mm256_cmp_ps(absn, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 mid = _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1);
    const __m256 sat = _mm256_mul_ps(s1, s1);
    return _mm256_blendv_ps(res, _mm256_blendv_ps(mid, sat, huge), big);
}

inline __m256 silu8(__m256 x) {
    const __m256 e = exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

void avx2_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_mul_ps(silu8(_mm256_loadu_ps(gate + i)), _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        float g[8] = {0}, u[8] = {0}, o[8];
        std::memcpy(g, gate + i, static_cast<size_t>(n - i) * sizeof(float));
        std::memcpy(u, up + i, static_cast<size_t>(n - i) * sizeof(float));
        _mm256_storeu_ps(o, _mm256_mul_ps(silu8(_mm256_loadu_ps(g)), _mm256_loadu_ps(u)));
        std::memcpy(out + i, o, static_cast<size_t>(n - i) * sizeof(float));
    }
}

// x = e^(x - max x) (exp8; -inf gives 0); returns the sum, accumulated in double.
double avx2_softmax_exp(float* x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float lanes[8];
    _mm256_storeu_ps(lanes, vmax);
    float max = -INFINITY;
    for (float v : lanes) max = v > max ? v : max;
    for (int64_t k = i; k < n; ++k) max = x[k] > max ? x[k] : max;
    if (max == -INFINITY) {
        for (int64_t k = 0; k < n; ++k) x[k] = 0.0f;
        return 0.0;
    }
    const __m256 vm = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    auto add = [&](__m256 e) {
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    };
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(x + i, e);
        add(e);
    }
    if (i < n) {
        // The padding lanes hold -inf, whose exponential is 0.
        float t[8] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY};
        std::memcpy(t, x + i, static_cast<size_t>(n - i) * sizeof(float));
        const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(t), vm));
        _mm256_storeu_ps(t, e);
        std::memcpy(x + i, t, static_cast<size_t>(n - i) * sizeof(float));
        add(e);
    }
    return hsum4d(_mm256_add_pd(s0, s1));
}

inline __m256 load_f16x8(const uint8_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// out[j] = Σ_i q[i] * k_j[i] over d values (a multiple of 16, at most 256), F16 rows k_j stride
// bytes apart. Four keys at a time share each load of q.
void avx2_dot_f16_rows(int64_t d, const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    const int64_t nv = d / 8;
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint8_t* kr = k + j * stride;
        __m256 acc[4];
        const __m256 q0 = _mm256_loadu_ps(q);
        for (int u = 0; u < 4; ++u) acc[u] = _mm256_mul_ps(q0, load_f16x8(kr + u * stride));
        for (int64_t c = 1; c < nv; ++c) {
            const __m256 qc = _mm256_loadu_ps(q + 8 * c);
            for (int u = 0; u < 4; ++u) acc[u] = _mm256_fmadd_ps(qc, load_f16x8(kr + u * stride + 16 * c), acc[u]);
        }
        // The four sums at once: two rounds of pairwise adds, then the two halves.
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
        _mm_storeu_ps(out + j, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
    for (; j < n; ++j) {
        const uint8_t* kr = k + j * stride;
        __m256 acc = _mm256_mul_ps(_mm256_loadu_ps(q), load_f16x8(kr));
        for (int64_t c = 1; c < nv; ++c) acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + 8 * c), load_f16x8(kr + 16 * c), acc);
        out[j] = hsum8(acc);
    }
}

// out[i] += Σ_j w[j] * v_j[i] for NV vectors of 8 values starting at value c0: the accumulators
// stay in registers across all n rows.
template <int NV>
void axpy_f16_span(int64_t c0, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    __m256 acc[NV];
    for (int c = 0; c < NV; ++c) acc[c] = _mm256_loadu_ps(out + c0 + 8 * c);
    for (int64_t j = 0; j < n; ++j) {
        const __m256 wj = _mm256_set1_ps(w[j]);
        const uint8_t* vr = v + j * stride + 2 * c0;
        for (int c = 0; c < NV; ++c) acc[c] = _mm256_fmadd_ps(wj, load_f16x8(vr + 16 * c), acc[c]);
    }
    for (int c = 0; c < NV; ++c) _mm256_storeu_ps(out + c0 + 8 * c, acc[c]);
}

// out[i] += Σ_j w[j] * v_j[i] over d values (a multiple of 16, at most 256), F16 rows v_j: spans
// of 64 values (8 registers), then the rest.
void avx2_axpy_f16_rows(int64_t d, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    int64_t c0 = 0;
    for (; c0 + 64 <= d; c0 += 64) axpy_f16_span<8>(c0, w, v, stride, n, out);
    switch ((d - c0) / 8) {
        case 6: axpy_f16_span<6>(c0, w, v, stride, n, out); break;
        case 4: axpy_f16_span<4>(c0, w, v, stride, n, out); break;
        case 2: axpy_f16_span<2>(c0, w, v, stride, n, out); break;
        default: break;
    }
}

// RMSNorm: the squares summed in double (exact products; only the order of the additions differs
// from the scalar loop), then y = (x * scale) * w.
void avx2_rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    __m256d s[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int h = 0; h < 2; ++h) {
            const __m256 v = _mm256_loadu_ps(x + i + 8 * h);
            const __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
            const __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
            s[2 * h] = _mm256_fmadd_pd(lo, lo, s[2 * h]);
            s[2 * h + 1] = _mm256_fmadd_pd(hi, hi, s[2 * h + 1]);
        }
    }
    double sum = hsum4d(_mm256_add_pd(_mm256_add_pd(s[0], s[1]), _mm256_add_pd(s[2], s[3])));
    for (; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    const __m256 vs = _mm256_set1_ps(scale);
    i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), vs), _mm256_loadu_ps(w + i)));
        for (; i < n; ++i) y[i] = (x[i] * scale) * w[i];
    } else {
        for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), vs));
        for (; i < n; ++i) y[i] = x[i] * scale;
    }
}

// One RoPE pair rotated in scalar code (the tails the vector loops leave).
inline void rope_pair(float* v, int64_t a, int64_t b, float c, float s) {
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

void avx2_rope(const float* cs, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox) {
    const int64_t half = n_rot / 2;
    if (!neox) {
        // 4 adjacent pairs per vector: addsub gives x0*c - x1*s in the even lanes and
        // x1*c + x0*s in the odd ones.
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + h * head_dim;
            int64_t i = 0;
            for (; i + 8 <= n_rot; i += 8) {
                const __m256 xv = _mm256_loadu_ps(v + i), t = _mm256_loadu_ps(cs + i);
                const __m256 c = _mm256_moveldup_ps(t), s = _mm256_movehdup_ps(t);
                const __m256 sw = _mm256_permute_ps(xv, 0xB1);  // (x1, x0) per pair
                _mm256_storeu_ps(v + i, _mm256_addsub_ps(_mm256_mul_ps(xv, c), _mm256_mul_ps(sw, s)));
            }
            for (; i < n_rot; i += 2) rope_pair(v, i, i + 1, cs[i], cs[i + 1]);
        }
        return;
    }
    // NeoX: 8 pairs (v[j], v[j + half]) per step, cos and sin de-interleaved from 16 values of cs.
    const __m256i perm = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        int64_t j = 0;
        for (; j + 8 <= half; j += 8) {
            // t0 = (c0 s0 c1 s1 c2 s2 c3 s3) -> (c0 c1 c2 c3 s0 s1 s2 s3); likewise t1 for pairs 4..7.
            const __m256 t0 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * j), perm);
            const __m256 t1 = _mm256_permutevar8x32_ps(_mm256_loadu_ps(cs + 2 * j + 8), perm);
            const __m256 c = _mm256_permute2f128_ps(t0, t1, 0x20), s = _mm256_permute2f128_ps(t0, t1, 0x31);
            const __m256 x0 = _mm256_loadu_ps(v + j), x1 = _mm256_loadu_ps(v + j + half);
            _mm256_storeu_ps(v + j, _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s)));
            _mm256_storeu_ps(v + j + half, _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c)));
        }
        for (; j < half; ++j) rope_pair(v, j, j + half, cs[2 * j], cs[2 * j + 1]);
    }
}

// GELU by table: 8 values rounded to fp16 (F16C, round to nearest even, as f32_to_fp16) index the
// table through one gather.
inline __m256 gelu8(const float* table, __m256 xv) {
    const __m256i idx = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(xv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    __m256 g = _mm256_i32gather_ps(table, idx, 4);
    g = _mm256_andnot_ps(_mm256_cmp_ps(xv, _mm256_set1_ps(-10.0f), _CMP_LE_OQ), g);
    return _mm256_blendv_ps(g, xv, _mm256_cmp_ps(xv, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
}

void avx2_gelu_mul(const float* table, const float* x, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = gelu8(table, _mm256_loadu_ps(x + i));
        if (up) g = _mm256_mul_ps(g, _mm256_loadu_ps(up + i));
        _mm256_storeu_ps(out + i, g);
    }
    if (i < n) {
        float t[8] = {0}, u[8] = {0}, o[8];
        std::memcpy(t, x + i, static_cast<size_t>(n - i) * sizeof(float));
        __m256 g = gelu8(table, _mm256_loadu_ps(t));
        if (up) {
            std::memcpy(u, up + i, static_cast<size_t>(n - i) * sizeof(float));
            g = _mm256_mul_ps(g, _mm256_loadu_ps(u));
        }
        _mm256_storeu_ps(o, g);
        std::memcpy(out + i, o, static_cast<size_t>(n - i) * sizeof(float));
    }
}

// tanh, within 2 ulp: y + y^3 * P(y^2) below |y| = 1 (P a degree-7 Chebyshev fit of
// (tanh(s) - s) / s^3 in s^2 on [0, 1]), else ±(1 - 2 / (e^(2|y|) + 1)) with exp8.
inline __m256 tanh8(__m256 y) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_andnot_ps(sign, y);
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 e = exp8(_mm256_add_ps(a, a));
    const __m256 far = _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    const __m256 far_signed = _mm256_or_ps(far, _mm256_and_ps(y, sign));
    const __m256 t = _mm256_mul_ps(y, y);
    __m256 p = _mm256_set1_ps(0x1.2b7582p-13f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0x1.e42e3p-11f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.a45278p-9f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0x1.1d02d6p-7f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.65a7c4p-6f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0x1.ba117cp-5f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0x1.1110f2p-3f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0x1.555556p-2f));
    const __m256 near = _mm256_fmadd_ps(_mm256_mul_ps(y, t), p, y);
    return _mm256_blendv_ps(far_signed, near, _mm256_cmp_ps(a, _mm256_set1_ps(1.0f), _CMP_LT_OQ));
}

void avx2_softcap(float* x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    const __m256 vi = _mm256_set1_ps(inv), vc = _mm256_set1_ps(cap);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(tanh8(_mm256_mul_ps(_mm256_loadu_ps(x + i), vi)), vc));
    if (i < n) {
        float t[8] = {0};
        std::memcpy(t, x + i, static_cast<size_t>(n - i) * sizeof(float));
        _mm256_storeu_ps(t, _mm256_mul_ps(tanh8(_mm256_mul_ps(_mm256_loadu_ps(t), vi)), vc));
        std::memcpy(x + i, t, static_cast<size_t>(n - i) * sizeof(float));
    }
}

}  // namespace

void fill_avx2_float_ops(Kernels& k) {
    k.silu_mul = avx2_silu_mul;
    k.softmax_exp = avx2_softmax_exp;
    k.dot_f16_rows = avx2_dot_f16_rows;
    k.axpy_f16_rows = avx2_axpy_f16_rows;
    k.rms_norm = avx2_rms_norm;
    k.rope = avx2_rope;
    k.gelu_mul = avx2_gelu_mul;
    k.softcap = avx2_softcap;
}

}  // namespace llamas
