// AVX-512 attention tile (see AttnTile in kernels.h): a block of keys met by up to dozens of
// query rows with online softmax. Query rows sit in the 16 lanes of a register, so the masking,
// the running max / sum and the rescaling of the accumulator are all lane-wise (no horizontal
// reductions), and every key or value element is broadcast once per 16 or 32 rows.
#include <algorithm>
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

// ---- attn_rows: a few query rows, row-major (one-token decode) ----

// Lane u of the result = the sum of the 16 lanes of a[u]: two rounds of in-lane unpacks and two
// of 128-bit lane shuffles, 45 instructions for 16 sums.
inline __m512 transpose_sum16(const __m512* a) {
    __m512 b[8], w[4];
    for (int i = 0; i < 8; ++i) b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; ++i) {
        const __m512d c = _mm512_castps_pd(b[2 * i]), d = _mm512_castps_pd(b[2 * i + 1]);
        w[i] = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(c, d)), _mm512_castpd_ps(_mm512_unpackhi_pd(c, d)));
    }
    // w[i]: in each 128-bit lane, the partial sums of a[4i .. 4i+3].
    const __m512 z01 = _mm512_add_ps(_mm512_shuffle_f32x4(w[0], w[1], 0x88), _mm512_shuffle_f32x4(w[0], w[1], 0xDD));
    const __m512 z23 = _mm512_add_ps(_mm512_shuffle_f32x4(w[2], w[3], 0x88), _mm512_shuffle_f32x4(w[2], w[3], 0xDD));
    return _mm512_add_ps(_mm512_shuffle_f32x4(z01, z23, 0x88), _mm512_shuffle_f32x4(z01, z23, 0xDD));
}

// 16 values (masked) of a key or value row, F32 or F16.
template <bool F16>
inline __m512 load_row(const void* base, int64_t at, __mmask16 m) {
    if constexpr (F16) {
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, static_cast<const uint16_t*>(base) + at));
    } else {
        return _mm512_maskz_loadu_ps(m, static_cast<const float*>(base) + at);
    }
}

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

// Scores of NR rows (from r0) with 16/NR keys at a time: lane r*KEYS + u holds row r0+r, key j+u.
template <int NR, bool F16>
void rows_scores(const AttnTile& t, int64_t r0) {
    const void* kb = F16 ? static_cast<const void*>(t.k16) : static_cast<const void*>(t.k);
    constexpr int KEYS = 16 / NR;
    const int64_t D = t.d, nc = (D + 15) / 16;
    const __mmask16 last = tail_mask(D - 16 * (nc - 1));
    const float inv_cap = t.softcap > 0 ? 1.0f / t.softcap : 0.0f;
    alignas(64) int32_t lo_l[16], hi_l[16], off_l[16];
    for (int r = 0; r < NR; ++r) {
        for (int u = 0; u < KEYS; ++u) {
            lo_l[r * KEYS + u] = t.lo[r0 + r];
            hi_l[r * KEYS + u] = t.hi[r0 + r];
            off_l[r * KEYS + u] = u;
        }
    }
    const __m512i lo = _mm512_load_si512(lo_l), hi = _mm512_load_si512(hi_l), off = _mm512_load_si512(off_l);
    for (int64_t j = 0; j < t.nk; j += KEYS) {
        const int64_t nj = std::min<int64_t>(KEYS, t.nk - j);
        __m512 acc[16];
        for (int a = 0; a < 16; ++a) acc[a] = _mm512_setzero_ps();
        for (int64_t c = 0; c < nc; ++c) {
            const __mmask16 m = c + 1 < nc ? static_cast<__mmask16>(0xFFFF) : last;
            __m512 qv[NR];
            for (int r = 0; r < NR; ++r) qv[r] = _mm512_maskz_loadu_ps(m, t.qt + (r0 + r) * D + 16 * c);
            for (int u = 0; u < KEYS; ++u) {
                if (u >= nj) break;  // past the block's last key: those sums stay 0
                const __m512 kv = load_row<F16>(kb, (j + u) * t.k_stride + 16 * c, m);
                for (int r = 0; r < NR; ++r) acc[r * KEYS + u] = _mm512_fmadd_ps(qv[r], kv, acc[r * KEYS + u]);
            }
        }
        __m512 sc = transpose_sum16(acc);
        if (t.softcap > 0) sc = _mm512_mul_ps(tanh_lanes(_mm512_mul_ps(sc, _mm512_set1_ps(inv_cap))), _mm512_set1_ps(t.softcap));
        sc = _mm512_mul_ps(sc, _mm512_set1_ps(t.score_scale));
        if (t.masked) {
            const __m512i pos = _mm512_add_epi32(off, _mm512_set1_epi32(static_cast<int32_t>(t.j0 + j)));
            const __mmask16 vis = _mm512_cmp_epi32_mask(lo, pos, _MM_CMPINT_LE) & _mm512_cmp_epi32_mask(pos, hi, _MM_CMPINT_LT);
            sc = _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), vis, sc);
        }
        alignas(64) float out[16];
        _mm512_store_ps(out, sc);
        for (int r = 0; r < NR; ++r)
            for (int64_t u = 0; u < nj; ++u) t.s[(r0 + r) * t.nk + j + u] = out[r * KEYS + u];
    }
}

// o[rows r0..r0+NR) = alpha * o + Σ_j p[r][j] * v_j, 64 values (4 registers) per pass.
template <int NR, bool F16>
void rows_values(const AttnTile& t, int64_t r0) {
    const int64_t D = t.d;
    const void* vb = F16 ? static_cast<const void*>(t.v16) : static_cast<const void*>(t.v);
    for (int64_t i0 = 0; i0 < D; i0 += 64) {
        __mmask16 m[4];
        for (int c = 0; c < 4; ++c) {
            const int64_t left = D - i0 - 16 * c;
            m[c] = left <= 0 ? static_cast<__mmask16>(0) : tail_mask(left);
        }
        __m512 acc[NR][4];
        for (int r = 0; r < NR; ++r) {
            const __m512 al = _mm512_set1_ps(t.alpha[r0 + r]);
            for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_mul_ps(_mm512_maskz_loadu_ps(m[c], t.ot + (r0 + r) * D + i0 + 16 * c), al);
        }
        for (int64_t j = 0; j < t.nk; ++j) {
            __m512 vv[4];
            for (int c = 0; c < 4; ++c) vv[c] = load_row<F16>(vb, j * t.v_stride + i0 + 16 * c, m[c]);
            for (int r = 0; r < NR; ++r) {
                const __m512 pb = _mm512_set1_ps(t.s[(r0 + r) * t.nk + j]);
                for (int c = 0; c < 4; ++c) acc[r][c] = _mm512_fmadd_ps(pb, vv[c], acc[r][c]);
            }
        }
        for (int r = 0; r < NR; ++r)
            for (int c = 0; c < 4; ++c) _mm512_mask_storeu_ps(t.ot + (r0 + r) * D + i0 + 16 * c, m[c], acc[r][c]);
    }
}

template <bool F16>
void attn_rows_impl(const AttnTile& t) {
    const int64_t R = t.rows, nk = t.nk;
    const __mmask16 last = tail_mask(nk - 16 * ((nk - 1) / 16));
    int64_t r = 0;
    for (; r + 4 <= R; r += 4) rows_scores<4, F16>(t, r);
    for (; r + 2 <= R; r += 2) rows_scores<2, F16>(t, r);
    for (; r < R; ++r) rows_scores<1, F16>(t, r);

    // Online softmax per row, as in the tile.
    for (r = 0; r < R; ++r) {
        float* s = t.s + r * nk;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int64_t j = 0; j < nk; j += 16) {
            const __mmask16 m = j + 16 <= nk ? static_cast<__mmask16>(0xFFFF) : last;
            vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), m, s + j));
        }
        const float mx = std::max(t.m[r], _mm512_reduce_max_ps(vmax));
        const float safe = mx == -INFINITY ? 0.0f : mx;
        const __m512 vs = _mm512_set1_ps(safe);
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < nk; j += 16) {
            const __mmask16 m = j + 16 <= nk ? static_cast<__mmask16>(0xFFFF) : last;
            const __m512 e = _mm512_maskz_mov_ps(m, exp_lanes(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vs)));
            _mm512_mask_storeu_ps(s + j, m, e);
            sum = _mm512_add_ps(sum, e);
        }
        const float alpha = std::exp(t.m[r] - safe);
        t.alpha[r] = alpha;
        t.l[r] = t.l[r] * alpha + _mm512_reduce_add_ps(sum);
        t.m[r] = mx;
    }

    for (r = 0; r + 4 <= R; r += 4) rows_values<4, F16>(t, r);
    for (; r + 2 <= R; r += 2) rows_values<2, F16>(t, r);
    for (; r < R; ++r) rows_values<1, F16>(t, r);
}

void avx512_attn_rows(const AttnTile& t) {
    if (t.k16) {
        attn_rows_impl<true>(t);
    } else {
        attn_rows_impl<false>(t);
    }
}

}  // namespace

void fill_avx512_attention(Kernels& k) {
    k.attn_tile = avx512_attn_tile;
    k.attn_rows = avx512_attn_rows;
}

}  // namespace llamas
