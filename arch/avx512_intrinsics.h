// The intrinsics of the AVX-512 files (kernels_avx512.cpp, float_ops_avx512.cpp,
// packed_avx512.cpp): simde's x86 headers with their native names (the real intrinsics when the
// file has AVX-512 flags), and what simde 0.7 (Debian 12) lacks for the emulated test build
// (LLAMAS_EMULATE_X86), which compiles these files without AVX-512 flags: a few intrinsics,
// written with AVX2 ones or lane by lane. With AVX-512 flags that part adds nothing.
#pragma once

// GCC 12 reports the deliberately undefined pass-through operands inside its own AVX-512
// intrinsics (_mm512_undefined_*) as uninitialized once they are inlined (in the including file).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

#if !defined(__AVX512F__)
#include <cstdint>
#include <cstring>

inline __m512 llamas_mm512_cvtph_ps(__m256i h) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_cvtph_ps(_mm256_castsi256_si128(h))),
                              _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1)), 1);
}
// Lanes outside the mask are not read (a masked load may end at the end of a buffer).
inline __m512 llamas_mm512_mask_loadu_ps(__m512 src, __mmask16 k, const void* p) {
    float lanes[16];
    _mm512_storeu_ps(lanes, src);
    for (int i = 0; i < 16; ++i) {
        if ((k >> i) & 1u) std::memcpy(&lanes[i], static_cast<const float*>(p) + i, sizeof(float));
    }
    return _mm512_loadu_ps(lanes);
}
inline void llamas_mm512_mask_storeu_ps(void* p, __mmask16 k, __m512 v) {
    float lanes[16];
    _mm512_storeu_ps(lanes, v);
    for (int i = 0; i < 16; ++i) {
        if ((k >> i) & 1u) std::memcpy(static_cast<float*>(p) + i, &lanes[i], sizeof(float));
    }
}
inline __m512 llamas_mm512_maskz_loadu_ps(__mmask16 k, const void* p) {
    return llamas_mm512_mask_loadu_ps(_mm512_setzero_ps(), k, p);
}
inline __m256i llamas_mm256_maskz_loadu_epi16(__mmask16 k, const void* p) {
    int16_t lanes[16] = {};
    for (int i = 0; i < 16; ++i) {
        if ((k >> i) & 1u) std::memcpy(&lanes[i], static_cast<const int16_t*>(p) + i, sizeof(int16_t));
    }
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes));
}
// The rest by 256-bit halves.
inline __m256i llamas_lo256(__m512i v) { return _mm512_castsi512_si256(v); }
inline __m256i llamas_hi256(__m512i v) { return _mm512_extracti64x4_epi64(v, 1); }
inline __m512i llamas_join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }
inline __m512 llamas_mm512_cvtepi32_ps(__m512i v) {
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_cvtepi32_ps(llamas_lo256(v))),
                              _mm256_cvtepi32_ps(llamas_hi256(v)), 1);
}
inline __m512i llamas_mm512_cvtepu8_epi32(__m128i v) {
    return llamas_join(_mm256_cvtepu8_epi32(v), _mm256_cvtepu8_epi32(_mm_srli_si128(v, 8)));
}
inline __m512i llamas_mm512_cvtepu16_epi32(__m256i v) {
    return llamas_join(_mm256_cvtepu16_epi32(_mm256_castsi256_si128(v)), _mm256_cvtepu16_epi32(_mm256_extracti128_si256(v, 1)));
}
inline __m512i llamas_mm512_cvtepi8_epi32(__m128i v) {
    return llamas_join(_mm256_cvtepi8_epi32(v), _mm256_cvtepi8_epi32(_mm_srli_si128(v, 8)));
}
inline __m512d llamas_mm512_cvtps_pd(__m256 v) {
    return _mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_cvtps_pd(_mm256_castps256_ps128(v))),
                              _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)), 1);
}
inline __m512i llamas_mm512_srai_epi32(__m512i v, int n) {
    return llamas_join(_mm256_srai_epi32(llamas_lo256(v), n), _mm256_srai_epi32(llamas_hi256(v), n));
}
template <class Op>
inline __m512 llamas_halves_ps(__m512 v, Op op) {
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    return _mm512_insertf32x8(_mm512_castps256_ps512(op(lo)), op(hi), 1);
}
template <int Imm>
inline __m512 llamas_mm512_permute_ps(__m512 v) {
    return llamas_halves_ps(v, [](__m256 h) { return _mm256_permute_ps(h, Imm); });
}
inline __m512 llamas_mm512_moveldup_ps(__m512 v) {
    return llamas_halves_ps(v, [](__m256 h) { return _mm256_moveldup_ps(h); });
}
inline __m512 llamas_mm512_movehdup_ps(__m512 v) {
    return llamas_halves_ps(v, [](__m256 h) { return _mm256_movehdup_ps(h); });
}
inline __m512 llamas_mm512_fmaddsub_ps(__m512 a, __m512 b, __m512 c) {
    auto lo = [](__m512 v) { return _mm512_castps512_ps256(v); };
    auto hi = [](__m512 v) { return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)); };
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_fmaddsub_ps(lo(a), lo(b), lo(c))),
                              _mm256_fmaddsub_ps(hi(a), hi(b), hi(c)), 1);
}
// 128-bit lanes 0, 1 from a and 2, 3 from b, chosen by 2-bit fields of imm.
inline __m512 llamas_mm512_shuffle_f32x4(__m512 a, __m512 b, int imm) {
    float x[16], y[16], r[16];
    _mm512_storeu_ps(x, a);
    _mm512_storeu_ps(y, b);
    for (int l = 0; l < 4; ++l) std::memcpy(r + 4 * l, (l < 2 ? x : y) + 4 * ((imm >> (2 * l)) & 3), 16);
    return _mm512_loadu_ps(r);
}
inline __m256i llamas_mm512_cvtps_ph(__m512 v, int rounding) {
    const __m256 lo = _mm512_castps512_ps256(v);
    const __m256 hi = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1));
    // (_mm256_cvtps_ph takes its rounding as a constant: round to nearest even, the one used.)
    (void)rounding;
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm256_cvtps_ph(lo, _MM_FROUND_TO_NEAREST_INT)),
                                   _mm256_cvtps_ph(hi, _MM_FROUND_TO_NEAREST_INT), 1);
}
inline __m512 llamas_mm512_i32gather_ps(__m512i idx, const void* base, int scale) {
    int32_t i[16];
    float r[16];
    _mm512_storeu_si512(i, idx);
    for (int l = 0; l < 16; ++l) std::memcpy(&r[l], static_cast<const char*>(base) + static_cast<int64_t>(i[l]) * scale, 4);
    return _mm512_loadu_ps(r);
}
// int32 lanes truncated to int16.
inline __m256i llamas_mm512_cvtepi32_epi16(__m512i v) {
    int32_t in[16];
    int16_t out[16];
    _mm512_storeu_si512(in, v);
    for (int i = 0; i < 16; ++i) out[i] = static_cast<int16_t>(in[i]);
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(out));
}
// _MM_CMPINT_LT and _MM_CMPINT_LE, the two predicates used.
inline __mmask16 llamas_mm512_cmp_epi32_mask(__m512i a, __m512i b, int pred) {
    int32_t x[16], y[16];
    _mm512_storeu_si512(x, a);
    _mm512_storeu_si512(y, b);
    unsigned m = 0;
    for (int i = 0; i < 16; ++i) m |= ((pred == _MM_CMPINT_LT ? x[i] < y[i] : x[i] <= y[i]) ? 1u : 0u) << i;
    return static_cast<__mmask16>(m);
}
inline __mmask16 llamas_mm512_cmpgt_epu32_mask(__m512i a, __m512i b) {
    uint32_t x[16], y[16];
    _mm512_storeu_si512(x, a);
    _mm512_storeu_si512(y, b);
    unsigned m = 0;
    for (int i = 0; i < 16; ++i) m |= (x[i] > y[i] ? 1u : 0u) << i;
    return static_cast<__mmask16>(m);
}
// (clang's headers define some of these as macros: each name is undefined first.)
#undef _mm512_cvtph_ps
#define _mm512_cvtph_ps llamas_mm512_cvtph_ps
#undef _mm512_mask_storeu_ps
#define _mm512_mask_storeu_ps llamas_mm512_mask_storeu_ps
#undef _mm512_cvtepi32_ps
#define _mm512_cvtepi32_ps llamas_mm512_cvtepi32_ps
#undef _mm512_cvtepu8_epi32
#define _mm512_cvtepu8_epi32 llamas_mm512_cvtepu8_epi32
#undef _mm512_cvtepu16_epi32
#define _mm512_cvtepu16_epi32 llamas_mm512_cvtepu16_epi32
#undef _mm512_cvtepi8_epi32
#define _mm512_cvtepi8_epi32 llamas_mm512_cvtepi8_epi32
#undef _mm512_cmp_epi32_mask
#define _mm512_cmp_epi32_mask llamas_mm512_cmp_epi32_mask
#undef _mm512_cvtps_pd
#define _mm512_cvtps_pd llamas_mm512_cvtps_pd
#undef _mm512_srai_epi32
#define _mm512_srai_epi32 llamas_mm512_srai_epi32
#undef _mm512_permute_ps
#define _mm512_permute_ps(v, imm) llamas_mm512_permute_ps<(imm)>(v)
#undef _mm512_moveldup_ps
#define _mm512_moveldup_ps llamas_mm512_moveldup_ps
#undef _mm512_movehdup_ps
#define _mm512_movehdup_ps llamas_mm512_movehdup_ps
#undef _mm512_fmaddsub_ps
#define _mm512_fmaddsub_ps llamas_mm512_fmaddsub_ps
#undef _mm512_shuffle_f32x4
#define _mm512_shuffle_f32x4 llamas_mm512_shuffle_f32x4
#undef _mm512_maskz_loadu_ps
#define _mm512_maskz_loadu_ps llamas_mm512_maskz_loadu_ps
#undef _mm256_maskz_loadu_epi16
#define _mm256_maskz_loadu_epi16 llamas_mm256_maskz_loadu_epi16
#undef _mm512_cvtps_ph
#define _mm512_cvtps_ph llamas_mm512_cvtps_ph
#undef _mm512_i32gather_ps
#define _mm512_i32gather_ps llamas_mm512_i32gather_ps
#undef _mm512_cvtepi32_epi16
#define _mm512_cvtepi32_epi16 llamas_mm512_cvtepi32_epi16
#undef _mm512_cmpgt_epu32_mask
#define _mm512_cmpgt_epu32_mask llamas_mm512_cmpgt_epu32_mask
#undef _mm512_mask_loadu_ps
#define _mm512_mask_loadu_ps llamas_mm512_mask_loadu_ps
#undef _cvtu64_mask64
#define _cvtu64_mask64(x) static_cast<__mmask64>(x)
#endif
