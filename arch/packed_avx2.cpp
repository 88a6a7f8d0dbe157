// Packed weights for AVX2 (see PackedKernels in kernels.h and packed_formats.h): the tiles of
// packed_tiles.inc over 256-bit registers, which read half a 64-byte line (8 of a group's 16
// rows) each.
//
// Without VNNI a 4-byte dot product per lane is VPMADDUBSW (unsigned x signed bytes, pairs summed
// into saturating int16) then VPMADDWD against ones (pairs of int16 into int32). For values
// below 64 two VPMADDUBSW results add in int16 without overflow (2 x 2 x 63 x 127 < 32768), so
// one VPMADDWD serves 8 columns. Q8_0's and IQ4_NL's values are stored plus 128 (up to 255),
// which would saturate: they are turned back into signed bytes and multiplied as |w| x (a with
// w's sign), as the reference's AVX2 dot products do, and their starting sums drop the -128 x Σa.
#include <cstring>

#include "kernels.h"
#include "packed_formats.h"
#include "quant/blocks.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

namespace llamas {
namespace {

using namespace packed;

struct V {
    static constexpr int kRows = 8;
    using I = __m256i;
    using F = __m256;

    // Tile shapes (16 ymm registers: P x T int sums, P x T float sums, 2P weight registers).
    static constexpr int kT32 = 4, kP32 = 1;
    static constexpr int kTK = 4, kPK = 1;
    static constexpr int kT16 = 6, kP16 = 2;
    static constexpr int kP1 = 4, kP1f = 8;

    static I load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
    static I nib_lo(I v) { return _mm256_and_si256(v, _mm256_set1_epi8(0x0F)); }
    static I nib_hi(I v) { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }
    static I and_(I a, I b) { return _mm256_and_si256(a, b); }
    static I or_(I a, I b) { return _mm256_or_si256(a, b); }
    template <int N>
    static I shl16(I v) { return _mm256_slli_epi16(v, N); }
    template <int N>
    static I shr16(I v) { return _mm256_srli_epi16(v, N); }
    static I set1(int32_t x) { return _mm256_set1_epi32(x); }
    static I bcast(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    // Byte i of the result is 0x10 where bit i of the 32-bit mask is: byte i takes mask byte
    // i / 8 (the shuffle works within 128-bit halves, and every 32-bit lane holds the mask),
    // then tests bit i % 8.
    static I bits(const uint8_t* p) {
        int32_t m;
        std::memcpy(&m, p, 4);
        const I spread = _mm256_shuffle_epi8(
            _mm256_set1_epi32(m), _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2,
                                                   2, 3, 3, 3, 3, 3, 3, 3, 3));
        const I bit = _mm256_set1_epi64x(static_cast<long long>(0x8040201008040201ull));
        return _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit), _mm256_set1_epi8(0x10));
    }
    static I lut(const uint8_t* table, I idx) {
        const I t = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table)));
        return _mm256_shuffle_epi8(t, idx);
    }
    static I dot2(I acc, I u0, I s0, I u1, I s1) {
        const I p = _mm256_add_epi16(_mm256_maddubs_epi16(u0, s0), _mm256_maddubs_epi16(u1, s1));
        return _mm256_add_epi32(acc, _mm256_madd_epi16(p, _mm256_set1_epi16(1)));
    }
    struct W {
        I mag;  // |u - 128|
        I sgn;  // u - 128
    };
    static W wide(I u) {
        const I w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
        return W{_mm256_abs_epi8(w), w};
    }
    static constexpr bool kWideOffset = false;
    static I dot2w(I acc, W w0, I s0, W w1, I s1) {
        const I ones = _mm256_set1_epi16(1);
        const I p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(w0.mag, _mm256_sign_epi8(s0, w0.sgn)), ones);
        const I p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(w1.mag, _mm256_sign_epi8(s1, w1.sgn)), ones);
        return _mm256_add_epi32(acc, _mm256_add_epi32(p0, p1));
    }

    static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
    static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
    static F fnmadd(F a, F b, F c) { return _mm256_fnmadd_ps(a, b, c); }
    static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
    static F set1f(float x) { return _mm256_set1_ps(x); }
    static F zerof() { return _mm256_setzero_ps(); }
    static F f16(const uint8_t* p) { return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static F bf16(const uint8_t* p) {
        const I w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    static F u8f(const uint8_t* p) {
        return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
    static F i8f(const uint8_t* p) {
        return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
    }
    static void store(float* p, F v) { _mm256_storeu_ps(p, v); }
    static void prefetch(const uint8_t* p) { _mm_prefetch(reinterpret_cast<const char*>(p), _MM_HINT_T0); }
};

#include "packed_tiles.inc"

}  // namespace

void fill_avx2_packed(Kernels& k) { fill_packed_tiles(k); }

}  // namespace llamas
