// AVX2 attention tile (see AttnTile in kernels.h): the AVX-512 tile's scheme (query rows in
// lanes, lane-wise online softmax) with 8-lane registers, 16 rows per pair of registers.
#include <cmath>

#include "kernels.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/fma.h>

namespace llamas {
namespace {

// e^x for 8 lanes: x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial
// (relative error about 1.2e-7), 2^n built in the exponent field. Inputs below -87 (including
// -inf) give exactly 0; inputs are capped at 88 (e^88 is about 1.6e38).
inline __m256 exp_lanes(__m256 x) {
    const __m256 tiny = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_GE_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);  // ln2, high part
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.428606765330187e-06f), r);      // ln2, low part
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    // n is in [-126, 127]: 2^n is the float with biased exponent n + 127.
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(e)), tiny);
}

// tanh(y) = 1 - 2 / (e^(2y) + 1); absolute error a few 1e-7.
inline __m256 tanh_lanes(__m256 y) {
    const __m256 e = exp_lanes(_mm256_add_ps(y, y));
    return _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, _mm256_set1_ps(1.0f))));
}

// Scores of NJ keys (from key j) against NR groups of 8 rows (from row r0), transformed
// (soft-cap, scale), masked and stored to s[key * rows + row].
template <int NJ, int NR>
inline void scores_block(const AttnTile& t, int64_t j, int64_t r0) {
    const int64_t R = t.rows;
    __m256 acc[NJ][NR];
    for (int u = 0; u < NJ; ++u)
        for (int g = 0; g < NR; ++g) acc[u][g] = _mm256_setzero_ps();
    const float* q = t.qt + r0;
    const float* k = t.k + j * t.k_stride;
    for (int64_t i = 0; i < t.d; ++i) {
        __m256 qv[NR];
        for (int g = 0; g < NR; ++g) qv[g] = _mm256_loadu_ps(q + i * R + 8 * g);
        for (int u = 0; u < NJ; ++u) {
            const __m256 kb = _mm256_broadcast_ss(k + u * t.k_stride + i);
            for (int g = 0; g < NR; ++g) acc[u][g] = _mm256_fmadd_ps(qv[g], kb, acc[u][g]);
        }
    }
    const __m256 scale = _mm256_set1_ps(t.score_scale);
    const __m256 cap = _mm256_set1_ps(t.softcap);
    const __m256 inv_cap = _mm256_set1_ps(t.softcap > 0 ? 1.0f / t.softcap : 0.0f);
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int g = 0; g < NR; ++g) {
        __m256i lo = _mm256_setzero_si256(), hi = _mm256_setzero_si256();
        if (t.masked) {
            lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.lo + r0 + 8 * g));
            hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(t.hi + r0 + 8 * g));
        }
        for (int u = 0; u < NJ; ++u) {
            __m256 s = acc[u][g];
            if (t.softcap > 0) s = _mm256_mul_ps(tanh_lanes(_mm256_mul_ps(s, inv_cap)), cap);
            s = _mm256_mul_ps(s, scale);
            if (t.masked) {
                const __m256i pos = _mm256_set1_epi32(static_cast<int32_t>(t.j0 + j + u));
                // Hidden when lo > pos or pos >= hi (that is, not hi > pos).
                const __m256i hidden = _mm256_or_si256(_mm256_cmpgt_epi32(lo, pos),
                                                       _mm256_xor_si256(_mm256_cmpgt_epi32(hi, pos), _mm256_set1_epi32(-1)));
                s = _mm256_blendv_ps(s, ninf, _mm256_castsi256_ps(hidden));
            }
            _mm256_storeu_ps(t.s + (j + u) * R + r0 + 8 * g, s);
        }
    }
}

// ot[i][rows from r0] = alpha * ot + Σ_j p[j][rows] * v[j][i] for ND values from i, NR groups of 8 rows.
template <int ND, int NR>
inline void values_block(const AttnTile& t, int64_t i, int64_t r0) {
    const int64_t R = t.rows;
    __m256 acc[ND][NR];
    for (int c = 0; c < ND; ++c)
        for (int g = 0; g < NR; ++g)
            acc[c][g] = _mm256_mul_ps(_mm256_loadu_ps(t.ot + (i + c) * R + r0 + 8 * g), _mm256_loadu_ps(t.alpha + r0 + 8 * g));
    const float* v = t.v + i;
    const float* p = t.s + r0;
    for (int64_t j = 0; j < t.nk; ++j) {
        __m256 pv[NR];
        for (int g = 0; g < NR; ++g) pv[g] = _mm256_loadu_ps(p + j * R + 8 * g);
        for (int c = 0; c < ND; ++c) {
            const __m256 vb = _mm256_broadcast_ss(v + j * t.v_stride + c);
            for (int g = 0; g < NR; ++g) acc[c][g] = _mm256_fmadd_ps(pv[g], vb, acc[c][g]);
        }
    }
    for (int c = 0; c < ND; ++c)
        for (int g = 0; g < NR; ++g) _mm256_storeu_ps(t.ot + (i + c) * R + r0 + 8 * g, acc[c][g]);
}

void avx2_attn_tile(const AttnTile& t) {
    // 1. Scores, 16 rows per pass over the keys.
    for (int64_t r0 = 0; r0 < t.rows; r0 += 16) {
        int64_t j = 0;
        for (; j + 4 <= t.nk; j += 4) scores_block<4, 2>(t, j, r0);
        for (; j < t.nk; ++j) scores_block<1, 2>(t, j, r0);
    }

    // 2. Online softmax, lane-wise (see the AVX-512 tile).
    const __m256 ninf = _mm256_set1_ps(-INFINITY);
    for (int64_t r0 = 0; r0 < t.rows; r0 += 8) {
        __m256 mx = _mm256_loadu_ps(t.m + r0);
        const __m256 m_old = mx;
        for (int64_t j = 0; j < t.nk; ++j) mx = _mm256_max_ps(mx, _mm256_loadu_ps(t.s + j * t.rows + r0));
        const __m256 safe = _mm256_blendv_ps(mx, _mm256_setzero_ps(), _mm256_cmp_ps(mx, ninf, _CMP_EQ_OQ));
        const __m256 alpha = exp_lanes(_mm256_sub_ps(m_old, safe));
        __m256 sum = _mm256_setzero_ps();
        for (int64_t j = 0; j < t.nk; ++j) {
            float* s = t.s + j * t.rows + r0;
            const __m256 e = exp_lanes(_mm256_sub_ps(_mm256_loadu_ps(s), safe));
            _mm256_storeu_ps(s, e);
            sum = _mm256_add_ps(sum, e);
        }
        _mm256_storeu_ps(t.m + r0, mx);
        _mm256_storeu_ps(t.alpha + r0, alpha);
        _mm256_storeu_ps(t.l + r0, _mm256_fmadd_ps(_mm256_loadu_ps(t.l + r0), alpha, sum));
    }

    // 3. Weighted values into the rescaled accumulator.
    for (int64_t r0 = 0; r0 < t.rows; r0 += 16) {
        int64_t i = 0;
        for (; i + 6 <= t.d; i += 6) values_block<6, 2>(t, i, r0);
        for (; i < t.d; ++i) values_block<1, 2>(t, i, r0);
    }
}

}  // namespace

void fill_avx2_attention(Kernels& k) { k.attn_tile = avx2_attn_tile; }

}  // namespace llamas
