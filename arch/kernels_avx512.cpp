// The AVX-512 kernel table (F, BW, VL, DQ, VNNI, BF16): the 256-bit x86 kernels built with
// VPDPBUSD byte dot products, plus 512-bit versions of the hottest ones.
#include <cstring>

#include "kernels.h"
#include "quant/blocks.h"

// GCC 12 reports the deliberately undefined pass-through operands inside its own AVX-512
// intrinsics (_mm512_undefined_*) as uninitialized once they are inlined here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#include "avx512_emulated.h"

namespace llamas {
namespace {

#define LLAMAS_X86_VNNI 1
#include "x86_kernels.inc"

// ---- 512-bit kernels ----

// (Through 8 lanes: simde, which the emulated test build uses, has no _mm512_reduce_add_ps.)
inline float hsum_f32_16(__m512 x) {
    return hsum_f32_8(_mm256_add_ps(_mm512_castps512_ps256(x), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))));
}

// Σ x*y of signed bytes, 16 int32 lanes (4 products each).
inline __m512i dot_s8s8_512(__m512i x, __m512i y) {
    const __mmask64 neg = _mm512_movepi8_mask(x);
    const __m512i ys = _mm512_mask_sub_epi8(y, neg, _mm512_setzero_si512(), y);
    return _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_abs_epi8(x), ys);
}

inline __m512i join(__m256i lo, __m256i hi) { return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1); }

inline __m512 join_scales(float a, float b) {
    return _mm512_insertf32x8(_mm512_set1_ps(a), _mm256_set1_ps(b), 1);
}

// Tiles with two 32-element blocks per register: lanes 0..7 the first block, 8..15 the second.
template <class Block, __m256i (*Decode)(const Block&)>
void avx512_gemm_32_q8_0_tile(int64_t n, const void* vw, size_t w_stride, int nw, const void* va, size_t a_stride,
                              int na, float* s, size_t s_stride) {
    const int64_t nb = n / 32;
    __m512 acc[4][4];
    for (int r = 0; r < 4; ++r) {
        for (int t = 0; t < 4; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    const auto* wb = static_cast<const uint8_t*>(vw);
    const auto* ab = static_cast<const uint8_t*>(va);
    for (int64_t ib = 0; ib < nb; ib += 2) {
        __m512i yq[4];
        __m512 yd[4];
        for (int t = 0; t < na; ++t) {
            const block_q8_0* y = reinterpret_cast<const block_q8_0*>(ab + t * a_stride) + ib;
            yq[t] = join(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[0].qs)),
                         _mm256_loadu_si256(reinterpret_cast<const __m256i*>(y[1].qs)));
            yd[t] = join_scales(h2f(y[0].d), h2f(y[1].d));
        }
        for (int r = 0; r < nw; ++r) {
            const Block* x = reinterpret_cast<const Block*>(wb + r * w_stride) + ib;
            const __m512i wq = join(Decode(x[0]), Decode(x[1]));
            const __mmask64 neg = _mm512_movepi8_mask(wq);
            const __m512i wabs = _mm512_abs_epi8(wq);
            const __m512 wd = join_scales(h2f(x[0].d), h2f(x[1].d));
            for (int t = 0; t < na; ++t) {
                const __m512i ys = _mm512_mask_sub_epi8(yq[t], neg, _mm512_setzero_si512(), yq[t]);
                const __m512i q = _mm512_dpbusd_epi32(_mm512_setzero_si512(), wabs, ys);
                acc[r][t] = _mm512_fmadd_ps(_mm512_mul_ps(wd, yd[t]), _mm512_cvtepi32_ps(q), acc[r][t]);
            }
        }
    }
    for (int t = 0; t < na; ++t) {
        for (int r = 0; r < nw; ++r) s[t * s_stride + r] = hsum_f32_16(acc[r][t]);
    }
}

template <class Block, __m256i (*Decode)(const Block&)>
void avx512_gemm_32_q8_0(int64_t n, const void* vw, size_t w_stride, int nw, const void* va, size_t a_stride, int na,
                         float* s, size_t s_stride) {
    if ((n / 32) % 2 != 0) {
        x86_gemm_32_q8_0<Block, Decode>(n, vw, w_stride, nw, va, a_stride, na, s, s_stride);
        return;
    }
    for (int t0 = 0; t0 < na; t0 += 4) {
        avx512_gemm_32_q8_0_tile<Block, Decode>(n, vw, w_stride, nw, static_cast<const uint8_t*>(va) + t0 * a_stride,
                                                a_stride, na - t0 < 4 ? na - t0 : 4, s + t0 * s_stride, s_stride);
    }
}

void avx512_dot_f16(int64_t n, float* s, const void* vw, const void* va) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* a = static_cast<const uint16_t*>(va);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        const __m512 w0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i)));
        const __m512 a0 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i)));
        const __m512 w1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i + 16)));
        const __m512 a1 = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + i + 16)));
        acc0 = _mm512_fmadd_ps(w0, a0, acc0);
        acc1 = _mm512_fmadd_ps(w1, a1, acc1);
    }
    float sum = hsum_f32_16(_mm512_add_ps(acc0, acc1));
    for (; i < n; ++i) sum += h2f(w[i]) * h2f(a[i]);
    *s = sum;
}

// bf16 products with VDPBF16PS (pairs of bf16 products summed in f32), as ggml does.
void avx512_dot_bf16(int64_t n, float* s, const void* vw, const void* va) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* a = static_cast<const uint16_t*>(va);
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        acc0 = _mm512_dpbf16_ps(acc0, (__m512bh)_mm512_loadu_si512(w + i), (__m512bh)_mm512_loadu_si512(a + i));
        acc1 = _mm512_dpbf16_ps(acc1, (__m512bh)_mm512_loadu_si512(w + i + 32),
                                (__m512bh)_mm512_loadu_si512(a + i + 32));
    }
    float sum = hsum_f32_16(_mm512_add_ps(acc0, acc1));
    for (; i < n; ++i) {
        uint32_t wb = static_cast<uint32_t>(w[i]) << 16, ab = static_cast<uint32_t>(a[i]) << 16;
        float wf, af;
        std::memcpy(&wf, &wb, 4);
        std::memcpy(&af, &ab, 4);
        sum += wf * af;
    }
    *s = sum;
}

// f32 -> bf16, round to nearest even, NaNs kept quiet (the scalar rule).
void avx512_convert_bf16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    int64_t i = 0;
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff), inf = _mm512_set1_epi32(0x7f800000);
    for (; i + 16 <= n; i += 16) {
        const __m512i u = _mm512_loadu_si512(x + i);
        const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff))), 16);
        const __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, abs_mask), inf);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(u, 16), _mm512_set1_epi32(64));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, x + i, 4);
        y[i] = (u & 0x7fffffffu) > 0x7f800000u ? static_cast<uint16_t>((u >> 16) | 64u)
                                               : static_cast<uint16_t>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
    }
}

}  // namespace

void fill_avx512_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "avx512";
    fill_x86_256(k);
    auto& t = k.types;
    auto at = [&](GgmlType g) -> TypeKernels& { return t[static_cast<uint32_t>(g)]; };
    // Single-row products of the 32-element types keep the 256-bit loop: joining two blocks per
    // 512-bit register measured slower there (llamas-kbench, 1 token). The tiles gain from it.
    at(GgmlType::Q8_0).gemm = avx512_gemm_32_q8_0<block_q8_0, decode_q8_0>;
    at(GgmlType::Q4_0).gemm = avx512_gemm_32_q8_0<block_q4_0, decode_q4_0>;
    at(GgmlType::Q5_0).gemm = avx512_gemm_32_q8_0<block_q5_0, decode_q5_0>;
    at(GgmlType::IQ4_NL).gemm = avx512_gemm_32_q8_0<block_iq4_nl, decode_iq4_nl>;
    x86_set_dot<avx512_dot_f16>(k, GgmlType::F16);
    x86_set_dot<avx512_dot_bf16>(k, GgmlType::BF16, avx512_convert_bf16);
    fill_avx512_packed(k);
    fill_avx512_float_ops(k);
}

}  // namespace llamas
