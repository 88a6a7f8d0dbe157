// The AVX-512 kernel table (F, BW, VL, DQ, VNNI, BF16): the 256-bit x86 kernels, a 512-bit bf16
// encoder, the 512-bit packed tiles (packed_avx512.cpp) and float loops (float_ops_avx512.cpp).
#include <cstring>

#include "kernels.h"
#include "quant/blocks.h"

#include "avx512_intrinsics.h"

namespace llamas {
namespace {

#include "x86_kernels.inc"

// ---- 512-bit kernels ----

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
    k.types[static_cast<uint32_t>(GgmlType::BF16)].quantize_activations = avx512_convert_bf16;
    fill_avx512_packed(k);
    fill_avx512_float_ops(k);
}

}  // namespace llamas
