// AVX-512 attention tile (see AttnTile in kernels.h): a block of keys met by up to dozens of
// query rows with online softmax. Query rows sit in the 16 lanes of a register, so the masking,
// the running max / sum and the rescaling of the accumulator are all lane-wise (no horizontal
// reductions), and every key or value element is broadcast once per 16 or 32 rows.
#include <cmath>

#include "kernels.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

namespace llamas {
namespace {

// e^x for 16 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial
// (relative error about 1.2e-7), 2^n applied by VSCALEFPS. Inputs below -104 (including -inf)
// give 0, above 88.7 give about FLT_MAX.
inline __m512 exp_lanes(__m512 x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
    x = _mm512_min_ps(x, _mm512_set1_ps(88.7f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2, high part
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.428606765330187e-06f), r);      // ln2, low part
    __m512 p = _mm512_set1_ps(1.0f / 720);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

// tanh(y) = 1 - 2 / (e^(2y) + 1); absolute error a few 1e-7.
inline __m512 tanh_lanes(__m512 y) {
    const __m512 e = exp_lanes(_mm512_add_ps(y, y));
    return _mm512_sub_ps(_mm512_set1_ps(1.0f), _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, _mm512_set1_ps(1.0f))));
}

// Scores of NJ keys (from key j) against NR groups of 16 rows (from row vector rv), transformed
// (soft-cap, scale), masked and stored to s[key * rows + row].
template <int NJ, int NR>
inline void scores_block(const AttnTile& t, int64_t j, int64_t rv) {
    const int64_t R = t.rows;
    __m512 acc[NJ][NR];
    for (int u = 0; u < NJ; ++u)
        for (int g = 0; g < NR; ++g) acc[u][g] = _mm512_setzero_ps();
    const float* q = t.qt + rv * 16;
    const float* k = t.k + j * t.k_stride;
    for (int64_t i = 0; i < t.d; ++i) {
        __m512 qv[NR];
        for (int g = 0; g < NR; ++g) qv[g] = _mm512_loadu_ps(q + i * R + 16 * g);
        for (int u = 0; u < NJ; ++u) {
            const __m512 kb = _mm512_set1_ps(k[u * t.k_stride + i]);
            for (int g = 0; g < NR; ++g) acc[u][g] = _mm512_fmadd_ps(qv[g], kb, acc[u][g]);
        }
    }
    const __m512 scale = _mm512_set1_ps(t.score_scale);
    const __m512 cap = _mm512_set1_ps(t.softcap);
    const __m512 inv_cap = _mm512_set1_ps(t.softcap > 0 ? 1.0f / t.softcap : 0.0f);
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (int g = 0; g < NR; ++g) {
        __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
        if (t.masked) {
            lo = _mm512_loadu_si512(t.lo + (rv + g) * 16);
            hi = _mm512_loadu_si512(t.hi + (rv + g) * 16);
        }
        for (int u = 0; u < NJ; ++u) {
            __m512 s = acc[u][g];
            if (t.softcap > 0) s = _mm512_mul_ps(tanh_lanes(_mm512_mul_ps(s, inv_cap)), cap);
            s = _mm512_mul_ps(s, scale);
            if (t.masked) {
                const __m512i pos = _mm512_set1_epi32(static_cast<int32_t>(t.j0 + j + u));
                const __mmask16 vis = _mm512_cmp_epi32_mask(lo, pos, _MM_CMPINT_LE) & _mm512_cmp_epi32_mask(pos, hi, _MM_CMPINT_LT);
                s = _mm512_mask_mov_ps(ninf, vis, s);
            }
            _mm512_storeu_ps(t.s + (j + u) * R + (rv + g) * 16, s);
        }
    }
}

// ot[i][rows of rv..] = alpha * ot + Σ_j p[j][rows] * v[j][i] for ND values from i, NR row vectors.
template <int ND, int NR>
inline void values_block(const AttnTile& t, int64_t i, int64_t rv) {
    const int64_t R = t.rows;
    __m512 acc[ND][NR];
    __m512 alpha[NR];
    for (int g = 0; g < NR; ++g) alpha[g] = _mm512_loadu_ps(t.alpha + (rv + g) * 16);
    for (int c = 0; c < ND; ++c)
        for (int g = 0; g < NR; ++g) acc[c][g] = _mm512_mul_ps(_mm512_loadu_ps(t.ot + (i + c) * R + (rv + g) * 16), alpha[g]);
    const float* v = t.v + i;
    const float* p = t.s + rv * 16;
    for (int64_t j = 0; j < t.nk; ++j) {
        __m512 pv[NR];
        for (int g = 0; g < NR; ++g) pv[g] = _mm512_loadu_ps(p + j * R + 16 * g);
        for (int c = 0; c < ND; ++c) {
            const __m512 vb = _mm512_set1_ps(v[j * t.v_stride + c]);
            for (int g = 0; g < NR; ++g) acc[c][g] = _mm512_fmadd_ps(pv[g], vb, acc[c][g]);
        }
    }
    for (int c = 0; c < ND; ++c)
        for (int g = 0; g < NR; ++g) _mm512_storeu_ps(t.ot + (i + c) * R + (rv + g) * 16, acc[c][g]);
}

template <int NR>
void scores_rows(const AttnTile& t, int64_t rv) {
    int64_t j = 0;
    for (; j + 8 <= t.nk; j += 8) scores_block<8, NR>(t, j, rv);
    for (; j + 2 <= t.nk; j += 2) scores_block<2, NR>(t, j, rv);
    for (; j < t.nk; ++j) scores_block<1, NR>(t, j, rv);
}

template <int NR>
void values_rows(const AttnTile& t, int64_t rv) {
    int64_t i = 0;
    for (; i + 8 <= t.d; i += 8) values_block<8, NR>(t, i, rv);
    for (; i < t.d; ++i) values_block<1, NR>(t, i, rv);
}

void avx512_attn_tile(const AttnTile& t) {
    const int64_t nrv = t.rows / 16;
    // 1. Scores, two row vectors (32 rows) per pass over the keys.
    int64_t rv = 0;
    for (; rv + 2 <= nrv; rv += 2) scores_rows<2>(t, rv);
    if (rv < nrv) scores_rows<1>(t, rv);

    // 2. Online softmax, lane-wise: new max, the factor alpha for what was accumulated so far,
    // scores replaced by their weights e^(s - max), running sums.
    const __m512 ninf = _mm512_set1_ps(-INFINITY);
    for (rv = 0; rv < nrv; ++rv) {
        const int64_t r0 = rv * 16;
        __m512 mx = _mm512_loadu_ps(t.m + r0);
        const __m512 m_old = mx;
        for (int64_t j = 0; j < t.nk; ++j) mx = _mm512_max_ps(mx, _mm512_loadu_ps(t.s + j * t.rows + r0));
        // Rows that have seen no key yet keep max -inf; subtract 0 instead so that e^(-inf) = 0.
        const __m512 safe = _mm512_mask_mov_ps(mx, _mm512_cmp_ps_mask(mx, ninf, _CMP_EQ_OQ), _mm512_setzero_ps());
        const __m512 alpha = exp_lanes(_mm512_sub_ps(m_old, safe));
        __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
        int64_t j = 0;
        for (; j + 2 <= t.nk; j += 2) {
            float* s0 = t.s + j * t.rows + r0;
            float* s1 = s0 + t.rows;
            const __m512 e0 = exp_lanes(_mm512_sub_ps(_mm512_loadu_ps(s0), safe));
            const __m512 e1 = exp_lanes(_mm512_sub_ps(_mm512_loadu_ps(s1), safe));
            _mm512_storeu_ps(s0, e0);
            _mm512_storeu_ps(s1, e1);
            sum0 = _mm512_add_ps(sum0, e0);
            sum1 = _mm512_add_ps(sum1, e1);
        }
        if (j < t.nk) {
            float* s0 = t.s + j * t.rows + r0;
            const __m512 e0 = exp_lanes(_mm512_sub_ps(_mm512_loadu_ps(s0), safe));
            _mm512_storeu_ps(s0, e0);
            sum0 = _mm512_add_ps(sum0, e0);
        }
        _mm512_storeu_ps(t.m + r0, mx);
        _mm512_storeu_ps(t.alpha + r0, alpha);
        _mm512_storeu_ps(t.l + r0, _mm512_fmadd_ps(_mm512_loadu_ps(t.l + r0), alpha, _mm512_add_ps(sum0, sum1)));
    }

    // 3. Weighted values into the rescaled accumulator.
    for (rv = 0; rv + 2 <= nrv; rv += 2) values_rows<2>(t, rv);
    if (rv < nrv) values_rows<1>(t, rv);
}

}  // namespace

void fill_avx512_attention(Kernels& k) { k.attn_tile = avx512_attn_tile; }

}  // namespace llamas
