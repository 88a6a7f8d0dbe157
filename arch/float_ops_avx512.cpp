// AVX-512 versions of the float loops around the matrix products: SiLU-gated products (bit-exact
// with ops' scalar silu(): the same fused multiply-add sequence, lane by lane), softmax
// exponentials, the two halves of attention over an F16 cache (query · key rows, weighted sum of
// value rows), RMS normalisation, RoPE, GELU by table and tanh soft-capping.
#include <cmath>
#include <cstring>

#include "kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

namespace llamas {
namespace {

// e^x with ops' exp_approx steps (ggml_v_expf), 16 lanes. The near-overflow / underflow branch
// is taken per lane the same way.
inline __m512 exp16(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __m512i e = _mm512_slli_epi32(_mm512_castps_si512(z), 23);
    const __m512 k = _mm512_castsi512_ps(_mm512_add_epi32(e, _mm512_castps_si512(_mm512_set1_ps(1.0f))));
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b, _mm512_set1_ps(0x1.573e2ep-5f)), u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b, _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_mul_ps(_mm512_set1_ps(0x1.ffffecp-1f), b));
    const __m512 absn = _mm512_abs_ps(n);
    const __mmask16 big = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(126.0f), _CMP_GT_OQ);
    __m512 res = _mm512_fmadd_ps(j, k, k);
    if (big) {
        // s1 = 2^(±127), s2 = the rest; beyond |n| > 192 the result saturates to s1 * s1.
        const __mmask16 neg = _mm512_cmp_ps_mask(n, _mm512_setzero_ps(), _CMP_LE_OQ);
        const __m512i g = _mm512_maskz_mov_epi32(neg, _mm512_set1_epi32(static_cast<int>(0x82000000u)));
        const __m512 s1 = _mm512_castsi512_ps(_mm512_add_epi32(g, _mm512_set1_epi32(0x7f000000)));
        const __m512 s2 = _mm512_castsi512_ps(_mm512_sub_epi32(e, g));
        const __mmask16 huge = _mm512_cmp_ps_mask(absn, _mm512_set1_ps(192.0f), _CMP_GT_OQ);
        const __m512 mid = _mm512_mul_ps(_mm512_fmadd_ps(s2, j, s2), s1);
        const __m512 sat = _mm512_mul_ps(s1, s1);
        res = _mm512_mask_mov_ps(res, big, _mm512_mask_mov_ps(mid, huge, sat));
    }
    return res;
}

inline __m512 silu16(__m512 x) {
    const __m512 e = exp16(_mm512_xor_ps(x, _mm512_set1_ps(-0.0f)));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

void avx512_silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        _mm512_storeu_ps(out + i, _mm512_mul_ps(silu16(_mm512_loadu_ps(gate + i)), _mm512_loadu_ps(up + i)));
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i), u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(silu16(g), u));
    }
}

// x = e^(x - max x) (exp16; -inf gives 0); returns the sum, accumulated in double.
double avx512_softmax_exp(float* x, int64_t n) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    float max = _mm512_reduce_max_ps(vmax);
    for (int64_t k = i; k < n; ++k) max = x[k] > max ? x[k] : max;
    if (max == -INFINITY) {
        for (int64_t k = 0; k < n; ++k) x[k] = 0.0f;
        return 0.0;
    }
    const __m512 vm = _mm512_set1_ps(max);
    __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
    i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 e = exp16(_mm512_sub_ps(_mm512_loadu_ps(x + i), vm));
        _mm512_storeu_ps(x + i, e);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        const __mmask16 m = static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 e = _mm512_maskz_mov_ps(m, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, x + i), vm)));
        _mm512_mask_storeu_ps(x + i, m, e);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

inline __m512 load_f16x16(const uint8_t* p) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}

// The four sums of four accumulators, in one register: halves added, then two rounds of pairwise
// adds (cheaper than four full reductions).
inline __m128 hsum4x16(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
    auto half = [](__m512 a) {
        return _mm256_add_ps(_mm512_castps512_ps256(a), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    };
    const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(half(a0), half(a1)), _mm256_hadd_ps(half(a2), half(a3)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// out[j] = Σ_i q[i] * k_j[i] over NV*16 values, F16 rows k_j stride bytes apart: q stays in
// registers, four keys share one combined reduction.
template <int NV>
void dot_f16_rows_t(const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    __m512 qv[NV];
    for (int c = 0; c < NV; ++c) qv[c] = _mm512_loadu_ps(q + 16 * c);
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint8_t* kr = k + j * stride;
        __m512 acc[4];
        for (int u = 0; u < 4; ++u) acc[u] = _mm512_mul_ps(qv[0], load_f16x16(kr + u * stride));
        for (int c = 1; c < NV; ++c) {
            for (int u = 0; u < 4; ++u) acc[u] = _mm512_fmadd_ps(qv[c], load_f16x16(kr + u * stride + 32 * c), acc[u]);
        }
        _mm_storeu_ps(out + j, hsum4x16(acc[0], acc[1], acc[2], acc[3]));
    }
    for (; j < n; ++j) {
        const uint8_t* kr = k + j * stride;
        __m512 acc = _mm512_mul_ps(qv[0], load_f16x16(kr));
        for (int c = 1; c < NV; ++c) acc = _mm512_fmadd_ps(qv[c], load_f16x16(kr + 32 * c), acc);
        out[j] = _mm512_reduce_add_ps(acc);
    }
}

// The same on 8-lane registers (NV8 vectors of 8 values), for heads of 16 or 32 values (BERT-small
// sizes), where it measured about a quarter faster than the 16-lane loop.
template <int NV8>
void dot_f16_rows_t8(const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    auto load8 = [](const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); };
    __m256 qv[NV8];
    for (int c = 0; c < NV8; ++c) qv[c] = _mm256_loadu_ps(q + 8 * c);
    int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const uint8_t* kr = k + j * stride;
        __m256 acc[4];
        for (int u = 0; u < 4; ++u) acc[u] = _mm256_mul_ps(qv[0], load8(kr + u * stride));
        for (int c = 1; c < NV8; ++c) {
            for (int u = 0; u < 4; ++u) acc[u] = _mm256_fmadd_ps(qv[c], load8(kr + u * stride + 16 * c), acc[u]);
        }
        const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[0], acc[1]), _mm256_hadd_ps(acc[2], acc[3]));
        _mm_storeu_ps(out + j, _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1)));
    }
    for (; j < n; ++j) {
        const uint8_t* kr = k + j * stride;
        __m256 acc = _mm256_mul_ps(qv[0], load8(kr));
        for (int c = 1; c < NV8; ++c) acc = _mm256_fmadd_ps(qv[c], load8(kr + 16 * c), acc);
        __m128 r = _mm_add_ps(_mm256_castps256_ps128(acc), _mm256_extractf128_ps(acc, 1));
        r = _mm_add_ps(r, _mm_movehl_ps(r, r));
        out[j] = _mm_cvtss_f32(_mm_add_ss(r, _mm_movehdup_ps(r)));
    }
}

// out[i] += Σ_j w[j] * v_j[i] for NV vectors of 16 values starting at value c0: the accumulators
// stay in registers across all n rows.
template <int NV>
void axpy_f16_span(int64_t c0, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    __m512 acc[NV];
    for (int c = 0; c < NV; ++c) acc[c] = _mm512_loadu_ps(out + c0 + 16 * c);
    for (int64_t j = 0; j < n; ++j) {
        const __m512 wj = _mm512_set1_ps(w[j]);
        const uint8_t* vr = v + j * stride + 2 * c0;
        for (int c = 0; c < NV; ++c) acc[c] = _mm512_fmadd_ps(wj, load_f16x16(vr + 32 * c), acc[c]);
    }
    for (int c = 0; c < NV; ++c) _mm512_storeu_ps(out + c0 + 16 * c, acc[c]);
}

// out[j] = Σ_i q[i] * k_j[i] over d values (d a multiple of 16, at most 256), F16 rows k_j
// stride bytes apart.
void avx512_dot_f16_rows(int64_t d, const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    switch (d / 16) {
        case 1: return dot_f16_rows_t8<2>(q, k, stride, n, out);
        case 2: return dot_f16_rows_t8<4>(q, k, stride, n, out);
#define LLAMAS_DOT_CASE(nv) \
    case nv: return dot_f16_rows_t<nv>(q, k, stride, n, out);
        LLAMAS_DOT_CASE(3) LLAMAS_DOT_CASE(4) LLAMAS_DOT_CASE(5) LLAMAS_DOT_CASE(6) LLAMAS_DOT_CASE(7) LLAMAS_DOT_CASE(8)
        LLAMAS_DOT_CASE(9) LLAMAS_DOT_CASE(10) LLAMAS_DOT_CASE(11) LLAMAS_DOT_CASE(12)
        LLAMAS_DOT_CASE(13) LLAMAS_DOT_CASE(14) LLAMAS_DOT_CASE(15) LLAMAS_DOT_CASE(16)
#undef LLAMAS_DOT_CASE
        default: break;
    }
}

// out[i] += Σ_j w[j] * v_j[i] over d values (a multiple of 16, at most 256), F16 rows v_j: spans
// of 128 values (8 registers), then the rest.
void avx512_axpy_f16_rows(int64_t d, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    int64_t c0 = 0;
    for (; c0 + 128 <= d; c0 += 128) axpy_f16_span<8>(c0, w, v, stride, n, out);
    switch ((d - c0) / 16) {
        case 7: axpy_f16_span<7>(c0, w, v, stride, n, out); break;
        case 6: axpy_f16_span<6>(c0, w, v, stride, n, out); break;
        case 5: axpy_f16_span<5>(c0, w, v, stride, n, out); break;
        case 4: axpy_f16_span<4>(c0, w, v, stride, n, out); break;
        case 3: axpy_f16_span<3>(c0, w, v, stride, n, out); break;
        case 2: axpy_f16_span<2>(c0, w, v, stride, n, out); break;
        case 1: axpy_f16_span<1>(c0, w, v, stride, n, out); break;
        default: break;
    }
}

// RMSNorm: the squares summed in double (a float's square is exact in double, so only the
// order of the additions differs from the scalar loop), then y = (x * scale) * w.
void avx512_rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    __m512d s[4] = {_mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd(), _mm512_setzero_pd()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        for (int h = 0; h < 2; ++h) {
            const __m512 v = _mm512_loadu_ps(x + i + 16 * h);
            const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
            const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
            s[2 * h] = _mm512_fmadd_pd(lo, lo, s[2 * h]);
            s[2 * h + 1] = _mm512_fmadd_pd(hi, hi, s[2 * h + 1]);
        }
    }
    for (; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        const __m512d lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
        const __m512d hi = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        s[0] = _mm512_fmadd_pd(lo, lo, s[0]);
        s[1] = _mm512_fmadd_pd(hi, hi, s[1]);
    }
    const double sum = _mm512_reduce_add_pd(_mm512_add_pd(_mm512_add_pd(s[0], s[1]), _mm512_add_pd(s[2], s[3])));
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const __m512 scale = _mm512_set1_ps(1.0f / std::sqrt(mean + eps));
    for (i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
        __m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), scale);
        if (w) v = _mm512_mul_ps(v, _mm512_maskz_loadu_ps(m, w + i));
        _mm512_mask_storeu_ps(y + i, m, v);
    }
}

// One RoPE pair rotated in scalar code (the tails the vector loops leave).
inline void rope_pair(float* v, int64_t a, int64_t b, float c, float s) {
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
}

void avx512_rope(const float* cs, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox) {
    const int64_t half = n_rot / 2;
    if (!neox) {
        // 8 adjacent pairs per vector: even lanes x0*c - x1*s, odd lanes x1*c + x0*s.
        const __m512 sign = _mm512_castsi512_ps(_mm512_set1_epi64(static_cast<long long>(0x80000000u)));
        for (int64_t h = 0; h < n_heads; ++h) {
            float* v = x + h * head_dim;
            int64_t i = 0;
            for (; i + 16 <= n_rot; i += 16) {
                const __m512 xv = _mm512_loadu_ps(v + i), t = _mm512_loadu_ps(cs + i);
                const __m512 c = _mm512_moveldup_ps(t), s = _mm512_movehdup_ps(t);
                const __m512 sw = _mm512_permute_ps(xv, 0xB1);  // (x1, x0) per pair
                _mm512_storeu_ps(v + i, _mm512_fmadd_ps(xv, c, _mm512_xor_ps(_mm512_mul_ps(sw, s), sign)));
            }
            for (; i < n_rot; i += 2) rope_pair(v, i, i + 1, cs[i], cs[i + 1]);
        }
        return;
    }
    // NeoX: 16 pairs (v[j], v[j + half]) per step, cos and sin de-interleaved from 32 values of cs.
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        int64_t j = 0;
        for (; j + 16 <= half; j += 16) {
            const __m512 t0 = _mm512_loadu_ps(cs + 2 * j), t1 = _mm512_loadu_ps(cs + 2 * j + 16);
            const __m512 c = _mm512_permutex2var_ps(t0, even, t1), s = _mm512_permutex2var_ps(t0, odd, t1);
            const __m512 x0 = _mm512_loadu_ps(v + j), x1 = _mm512_loadu_ps(v + j + half);
            _mm512_storeu_ps(v + j, _mm512_fmsub_ps(x0, c, _mm512_mul_ps(x1, s)));
            _mm512_storeu_ps(v + j + half, _mm512_fmadd_ps(x0, s, _mm512_mul_ps(x1, c)));
        }
        for (; j < half; ++j) rope_pair(v, j, j + half, cs[2 * j], cs[2 * j + 1]);
    }
}

// GELU by table: 16 values rounded to fp16 (F16C, round to nearest even, as f32_to_fp16) index
// the table through one gather.
void avx512_gelu_mul(const float* table, const float* x, const float* up, float* out, int64_t n) {
    const __m512 lo = _mm512_set1_ps(-10.0f), hi = _mm512_set1_ps(10.0f);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 xv = _mm512_maskz_loadu_ps(m, x + i);
        const __m512i idx = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(xv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, table, 4);
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(xv, lo, _CMP_LE_OQ), _mm512_setzero_ps());
        g = _mm512_mask_mov_ps(g, _mm512_cmp_ps_mask(xv, hi, _CMP_GE_OQ), xv);
        if (up) g = _mm512_mul_ps(g, _mm512_maskz_loadu_ps(m, up + i));
        _mm512_mask_storeu_ps(out + i, m, g);
    }
}

// tanh, within 2 ulp: y + y^3 * P(y^2) below |y| = 1 (P a degree-7 Chebyshev fit of
// (tanh(s) - s) / s^3 in s^2 on [0, 1]), else ±(1 - 2 / (e^(2|y|) + 1)) with exp16.
inline __m512 tanh16(__m512 y) {
    const __m512 a = _mm512_abs_ps(y);
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 e = exp16(_mm512_add_ps(a, a));
    const __m512 far = _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
    const __m512 far_signed = _mm512_or_ps(far, _mm512_and_ps(y, _mm512_set1_ps(-0.0f)));
    const __m512 t = _mm512_mul_ps(y, y);
    __m512 p = _mm512_set1_ps(0x1.2b7582p-13f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0x1.e42e3p-11f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.a45278p-9f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0x1.1d02d6p-7f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.65a7c4p-6f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0x1.ba117cp-5f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0x1.1110f2p-3f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0x1.555556p-2f));
    const __m512 near = _mm512_fmadd_ps(_mm512_mul_ps(y, t), p, y);
    return _mm512_mask_mov_ps(far_signed, _mm512_cmp_ps_mask(a, _mm512_set1_ps(1.0f), _CMP_LT_OQ), near);
}

void avx512_softcap(float* x, int64_t n, float cap) {
    const __m512 inv = _mm512_set1_ps(1.0f / cap), c = _mm512_set1_ps(cap);
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 m = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
        _mm512_mask_storeu_ps(x + i, m, _mm512_mul_ps(tanh16(_mm512_mul_ps(v, inv)), c));
    }
}

}  // namespace

void fill_avx512_float_ops(Kernels& k) {
    k.silu_mul = avx512_silu_mul;
    k.softmax_exp = avx512_softmax_exp;
    k.dot_f16_rows = avx512_dot_f16_rows;
    k.axpy_f16_rows = avx512_axpy_f16_rows;
    k.rms_norm = avx512_rms_norm;
    k.rope = avx512_rope;
    k.gelu_mul = avx512_gelu_mul;
    k.softcap = avx512_softcap;
}

}  // namespace llamas
