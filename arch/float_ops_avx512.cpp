// The AVX-512 float loops and attention kernels: float_ops.inc and attention.inc on 16-lane
// traits (heads of 16 or 32 values run on the 8-lane ones of vec_avx2.inc), and attn_rows, which
// puts a few rows' scores for several keys in the lanes of one register.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"

#include "avx512_intrinsics.h"

namespace llamas {
namespace {

#include "vec_avx2.inc"

inline __mmask16 tail_mask(int64_t n) { return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1); }

// 16-lane traits (see vec_avx2.inc for the list); masks are __mmask16, partial loads masked.
struct V16 {
    static constexpr int kN = 16;
    using F = __m512;
    using I = __m512i;
    using D = __m512d;
    using M = __mmask16;
    using Half = V8;
    static constexpr int kScoreKeys = 8, kValueCols = 8;

    static F load(const float* p) { return _mm512_loadu_ps(p); }
    static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
    static F load_part(const float* p, int64_t n, float fill) { return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail_mask(n), p); }
    static void store_part(float* p, F v, int64_t n) { _mm512_mask_storeu_ps(p, tail_mask(n), v); }
    static F set1(float x) { return _mm512_set1_ps(x); }
    static F zero() { return _mm512_setzero_ps(); }
    static F add(F a, F b) { return _mm512_add_ps(a, b); }
    static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F div(F a, F b) { return _mm512_div_ps(a, b); }
    static F max(F a, F b) { return _mm512_max_ps(a, b); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static F fmsub(F a, F b, F c) { return _mm512_fmsub_ps(a, b, c); }
    static F and_(F a, F b) { return _mm512_and_ps(a, b); }
    static F or_(F a, F b) { return _mm512_or_ps(a, b); }
    static F neg(F a) { return _mm512_xor_ps(a, _mm512_set1_ps(-0.0f)); }
    static F abs(F a) { return _mm512_abs_ps(a); }
    static M lt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
    static M le(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
    static M gt(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ); }
    static M ge(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_GE_OQ); }
    static M eq(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ); }
    static F select(M m, F a, F b) { return _mm512_mask_mov_ps(b, m, a); }
    static bool any(M m) { return m != 0; }
    // (Through the 8-lane ones: simde, which the emulated test build uses, has no _mm512_reduce_*.)
    static __m256 lo8(F v) { return _mm512_castps512_ps256(v); }
    static __m256 hi8(F v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); }
    static float hsum(F v) { return V8::hsum(_mm256_add_ps(lo8(v), hi8(v))); }
    static float hmax(F v) { return V8::hmax(_mm256_max_ps(lo8(v), hi8(v))); }
    // The four sums: halves added, then the 8-lane two rounds of pairwise adds.
    static void hsum4(float* out, F a0, F a1, F a2, F a3) {
        auto half = [](F a) { return _mm256_add_ps(lo8(a), hi8(a)); };
        V8::hsum4(out, half(a0), half(a1), half(a2), half(a3));
    }

    static I bits(F a) { return _mm512_castps_si512(a); }
    static F from_bits(I a) { return _mm512_castsi512_ps(a); }
    static I set1i(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
    static I addi(I a, I b) { return _mm512_add_epi32(a, b); }
    static I subi(I a, I b) { return _mm512_sub_epi32(a, b); }
    static I shl23(I a) { return _mm512_slli_epi32(a, 23); }
    static I andi(M m, I a) { return _mm512_maskz_mov_epi32(m, a); }
    static I loadi(const int32_t* p) { return _mm512_loadu_si512(p); }
    static M in_range(I lo, I hi, I pos) {
        return _mm512_cmp_epi32_mask(lo, pos, _MM_CMPINT_LE) & _mm512_cmp_epi32_mask(pos, hi, _MM_CMPINT_LT);
    }

    static D zerod() { return _mm512_setzero_pd(); }
    static D lo_d(F a) { return _mm512_cvtps_pd(_mm512_castps512_ps256(a)); }
    static D hi_d(F a) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1))); }
    static D addd(D a, D b) { return _mm512_add_pd(a, b); }
    static D fmaddd(D a, D b, D c) { return _mm512_fmadd_pd(a, b, c); }
    static double hsumd(D v) { return V8::hsumd(_mm256_add_pd(_mm512_castpd512_pd256(v), _mm512_extractf64x4_pd(v, 1))); }

    static F load_f16(const void* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(static_cast<const __m256i*>(p))); }
    static F gather_f16(const float* table, F x) {
        const __m512i idx = _mm512_cvtepu16_epi32(_mm512_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        return _mm512_i32gather_ps(idx, table, 4);
    }
    static void deinterleave(const float* p, F& c, F& s) {
        const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
        const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
        const __m512 t0 = _mm512_loadu_ps(p), t1 = _mm512_loadu_ps(p + 16);
        c = _mm512_permutex2var_ps(t0, even, t1);
        s = _mm512_permutex2var_ps(t0, odd, t1);
    }
    static F swap_pairs(F a) { return _mm512_permute_ps(a, 0xB1); }
    static F dup_even(F a) { return _mm512_moveldup_ps(a); }
    static F dup_odd(F a) { return _mm512_movehdup_ps(a); }
    // No addsub at 512 bits: a*1 -/+ b, exact in the product, so rounded as addsub rounds.
    static F addsub(F a, F b) { return _mm512_fmaddsub_ps(a, _mm512_set1_ps(1.0f), b); }
};

#include "float_ops.inc"
#include "attention.inc"

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
        if (t.softcap > 0) sc = _mm512_mul_ps(vtanh<V16>(_mm512_mul_ps(sc, _mm512_set1_ps(inv_cap))), _mm512_set1_ps(t.softcap));
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
        const float mx = std::max(t.m[r], V16::hmax(vmax));
        const float safe = mx == -INFINITY ? 0.0f : mx;
        const __m512 vs = _mm512_set1_ps(safe);
        __m512 sum = _mm512_setzero_ps();
        for (int64_t j = 0; j < nk; j += 16) {
            const __mmask16 m = j + 16 <= nk ? static_cast<__mmask16>(0xFFFF) : last;
            const __m512 e = _mm512_maskz_mov_ps(m, vexp<V16>(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, s + j), vs)));
            _mm512_mask_storeu_ps(s + j, m, e);
            sum = _mm512_add_ps(sum, e);
        }
        const float alpha = std::exp(t.m[r] - safe);
        t.alpha[r] = alpha;
        t.l[r] = t.l[r] * alpha + V16::hsum(sum);
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

void fill_avx512_float_ops(Kernels& k) {
    fill_float_ops<V16>(k);
    k.attn_tile = attn_tile<V16>;
    k.attn_rows = avx512_attn_rows;
}

}  // namespace llamas
