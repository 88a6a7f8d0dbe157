// Packed weights for AVX-512 VNNI (see PackedKernels in kernels.h and packed_formats.h): the
// tiles of packed_tiles.inc over 512-bit registers, which read a whole 64-byte line (a group's
// 16 rows, 4 columns each) at once.
//
// VPDPBUSD multiplies unsigned by signed bytes and adds each lane's 4 products straight into an
// int32 sum, so no value is narrow here: the 32-element types add their products into the block
// sums directly (kDirectNarrow), and the wide values (Q8_0, IQ4_NL's table) stay unsigned, stored
// 128 above, with the block's sum starting at -128 x Σa (kWideU) as the narrow types' starting
// sums take their offsets. The integer products are exact, so results differ from the scalar
// oracle only by float summation order.
#include <cstring>

#include "kernels.h"
#include "packed_formats.h"
#include "quant/blocks.h"

#include "avx512_intrinsics.h"

namespace llamas {
namespace {

using namespace packed;

#include "packed_vnni_traits.h"

struct Avx512 {
    static constexpr int kRows = 16;
    using I = __m512i;
    using F = __m512;

    // Tile shapes (32 zmm registers: P x T int sums, P x T float sums, the weight registers of the
    // parts and two broadcasts). The K-quants hold a partial per sum as well: 2 x 4. One-token
    // K-quant tiles of 1 part, one group, one stream of weights, as AVX2's: 4 parts were slower
    // in cache (Zen 5, 4096 x 4096, one thread: Q6_K 0.263 against 0.215 ms with 2), and 2 parts
    // stream from memory slower than 1 (Zen 4, 32768 x 4096, two threads: Q5_K 3.4-4.8 ms against
    // 1.7-2.3, Q6_K 3.2-4.0 against 2.0-3.0, Q3_K 2.2-2.4 against 1.7-1.8; Q4_K_M generation
    // +26%), while in cache 1 part costs one-token Q4_K 8% there (0.161 against 0.149 ms).
    static constexpr int kT32 = 6, kP32 = 2;
    static constexpr int kTK = 4, kPK = 2;
    static constexpr int kT16 = 6, kP16 = 4;
    // One-token 32-element tiles of one group too: 4 streamed from memory slower on the Zen 4
    // (32768 x 4096, two threads: Q4_0 2.06-2.66 ms against 1.60-1.99, IQ4_NL 2.40-2.93
    // against 1.15-1.65; llama-1b Q4_0 generation +30%).
    static constexpr int kP1 = 1, kP1f = 4;
    static constexpr int kP1K = 1;

    static I load(const uint8_t* p) { return _mm512_loadu_si512(p); }
    static I nib_lo(I v) { return _mm512_and_si512(v, _mm512_set1_epi8(0x0F)); }
    static I nib_hi(I v) { return _mm512_and_si512(_mm512_srli_epi16(v, 4), _mm512_set1_epi8(0x0F)); }
    static I and_(I a, I b) { return _mm512_and_si512(a, b); }
    static I or_(I a, I b) { return _mm512_or_si512(a, b); }
    template <int N>
    static I shl16(I v) { return _mm512_slli_epi16(v, N); }
    template <int N>
    static I shr16(I v) { return _mm512_srli_epi16(v, N); }
    static I set1(int32_t x) { return _mm512_set1_epi32(x); }
    static I bcast(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm512_set1_epi32(v);
    }
    // 0x10 in byte i where bit i of the 64-bit mask at p is set.
    static I bits(const uint8_t* p) {
        uint64_t m;
        std::memcpy(&m, p, 8);
        return _mm512_maskz_mov_epi8(_cvtu64_mask64(m), _mm512_set1_epi8(0x10));
    }
    // The primitives of packed_vnni_traits.h.
    static I dpbusd(I acc, I u, I s) { return _mm512_dpbusd_epi32(acc, u, s); }
    static I add32(I a, I b) { return _mm512_add_epi32(a, b); }
    static I sub32(I a, I b) { return _mm512_sub_epi32(a, b); }
    static I mullo32(I a, I b) { return _mm512_mullo_epi32(a, b); }
    template <int N>
    static I sra32(I v) { return _mm512_srai_epi32(v, N); }
    static I zero() { return _mm512_setzero_si512(); }
    static I scales8(const uint8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static I lut(const int8_t* table, I idx) {
        return _mm512_shuffle_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table))), idx);
    }
    static constexpr bool kDecodeAllParts = true;

    static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
    static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }
    static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
    static F set1f(float x) { return _mm512_set1_ps(x); }
    static F zerof() { return _mm512_setzero_ps(); }
    static F f16(const uint8_t* p) { return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
    static F bf16(const uint8_t* p) {
        const I w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    static F u8f(const uint8_t* p) {
        return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    static F i8f(const uint8_t* p) {
        return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
    }
    static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
    static void prefetch(const uint8_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};
using V = VnniTraits<Avx512>;

#if !defined(__AVX512F__)
#define LLAMAS_TILES_EMULATED  // the emulated test build (LLAMAS_EMULATE_X86): unroll less
#endif
#include "packed_tiles.inc"

}  // namespace

void fill_avx512_packed(Kernels& k) { fill_packed_tiles(k); }

}  // namespace llamas
