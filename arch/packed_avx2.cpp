// Packed weights for AVX2 (see PackedKernels in kernels.h and packed_formats.h): the tiles of
// packed_tiles.inc over 256-bit registers, which read half a 64-byte line (8 of a group's 16
// rows) each.
//
// Without VNNI a 4-byte dot product per lane is VPMADDUBSW (unsigned x signed bytes, pairs summed
// into saturating int16) then VPMADDWD (pairs of int16 into int32). For small values several
// VPMADDUBSW results add in int16 without overflow (4 x 15 x 127 per lane and step for 4-bit
// values), so one VPMADDWD serves up to 32 columns, and for the K-quants that VPMADDWD multiplies
// by the sub-block's scale instead of ones. Q8_0's values are stored plus 128 (up to 255), which
// would saturate: a one-token tile turns them back into signed bytes and multiplies |w| x (a with
// w's sign), as the reference's AVX2 dot products do (IQ4_NL's come from the signed table); a
// many-token tile widens them to int16 for VPMADDWD against int16 activations (TileWide16).
//
// Compiled again with LLAMAS_AVX_VNNI (packed_avx2_vnni.cpp) for the avx2-vnni table: the same
// tiles with VPDPBUSD on 256-bit registers (AVX-VNNI: Alder Lake and later, Zen 5), as
// packed_avx512.cpp uses it: int32 products with no narrow partials, wide values as stored.
#include <cstring>

#include "kernels.h"
#include "packed_formats.h"
#include "quant/blocks.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>
#if defined(LLAMAS_AVX_VNNI) && !defined(__AVXVNNI__)
#include <simde/x86/avx512/dpbusd.h>  // the emulated test build (LLAMAS_EMULATE_X86)
#endif

namespace llamas {
namespace {

using namespace packed;

#include "packed_vnni_traits.h"

struct Avx2 {
    static constexpr int kRows = 8;
    using I = __m256i;
    using F = __m256;

    // Tile shapes (16 ymm registers: P x T int sums, P x T float sums, 2P weight registers).
    // The 32-element types by 2 parts (a whole group: one broadcast activation serves 16 rows);
    // the wide ones (IQ4_NL; Q8_0 before TileWide16) a register of 4 columns at a time (kSplitW:
    // |w| and w of 2 parts, 12 sums, the broadcast and VPMADDWD's ones fill the 16 registers;
    // their float sums live in memory, touched once per block). Fewer instructions per product:
    // on Zen 3 Q8_0's pp512 81 -> 98 t/s; on a Zen 5 running this table 4-7% slower than 1 part
    // x 4 tokens (docs/benchmarks.md), but such a CPU takes the avx512 table.
    static constexpr int kT32 = 4, kP32 = 2;
    static constexpr int kT32W = 6, kP32W = 2;
    // The K-quants: a part of 8 rows by 8 tokens (8 int16 partials in registers, their int32
    // sums in memory, touched once per sub-block). Against 4 tokens, llamas-kbench --tokens 512,
    // 2048 x 2048, one thread on a Zen 4: Q4_K -2%, Q6_K -9%, Q5_K -9%, IQ4_XS -3%, Q3_K -2%.
    static constexpr int kTK = 8, kPK = 1;
    // Q4_K's many-token tile (LLAMAS_TILES_Q4K_WHOLE_GROUP): a whole group by 3 tokens, each
    // broadcast serving both parts (6 int16 partials, 4 weight registers, 2 broadcasts).
    // llamas-kbench --threads 1, 2048 x 2048 x 512 on a Zen 4, 6 rotating rounds: 0.936 of the
    // 1 x 8 tile (2 x 4: 0.955). Q5_K, Q6_K, Q3_K and IQ4_XS were 3-15% slower as 2 x 3 or 2 x 4.
    static constexpr int kTQ4K = 3, kPQ4K = 2;
    // Q8_0's int16 tile (TileWide16): a whole group (each broadcast activation pair serves 16
    // rows) by 3 tokens, 6 int32 sums and 4 weight registers. llamas-kbench --threads 1, 512
    // tokens, 2048 x 2048 on a Zen 4 (medians of 10 alternating runs): 1 part x 6 tokens 0.99 of
    // the join-per-block tile it replaced, 2 x 4 0.93, 2 x 5 0.95, 2 x 3 0.95 (8192 x 2048: 0.92,
    // 2 x 4 0.94).
    static constexpr int kT8 = 3, kP8 = 2;
    static constexpr int kT16 = 6, kP16 = 2;
    // One-token tiles of the quantized types take one group (one stream of weights): with two
    // groups (kP1 = 4), llama-1b Q4_0 and Q8_0 generation ran 15-17% slower on a Zen 4, and
    // Q8_0's one-token product 28% slower even in cache. The float ones keep 4 groups: their
    // one FMA per register and token waits on the last one's result with fewer.
    static constexpr int kP1 = 2, kP1f = 8;
    static constexpr int kP1K = 2;

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
    // Narrow partials: VPMADDUBSW's int16 pair sums, added in int16 (a lane holds Σ4 u*a of
    // each ndot), widened by VPMADDWD against the scales.
    using N = I;
    static N ndot(I u0, I a0, I u1, I a1) {
        return _mm256_add_epi16(_mm256_maddubs_epi16(u0, a0), _mm256_maddubs_epi16(u1, a1));
    }
    static N nacc(N n, I u0, I a0, I u1, I a1) { return _mm256_add_epi16(n, ndot(u0, a0, u1, a1)); }
    static N nadd(N x, N y) { return _mm256_add_epi16(x, y); }
    static N nsub(N x, N y) { return _mm256_sub_epi16(x, y); }
    template <int K>
    static N noff(const int32_t* p) { return _mm256_slli_epi16(_mm256_set1_epi32(*p), K); }
    // A scale per 32-bit lane, in both of its int16 halves (sign-extended, then the low half
    // copied up), so VPMADDWD multiplies both pair sums of a row by it.
    using S = I;
    static S scales(const uint8_t* p) {
        const I s32 = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
        return _mm256_shuffle_epi8(s32, _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1,
                                                         4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13));
    }
    static S ones() { return _mm256_set1_epi16(1); }
    static I nscale(I acc, N n, S s) { return _mm256_add_epi32(acc, _mm256_madd_epi16(n, s)); }

    // Wide values: |w| x (a with w's sign) as the reference's AVX2 dot products do (|w| <= 128
    // is unsigned for VPMADDUBSW; a pair sum stays within 2 x 128 x 127).
    struct W {
        I mag;  // |w|
        I sgn;  // w
    };
    static W wide(I u) {
        const I w = _mm256_xor_si256(u, _mm256_set1_epi8(static_cast<char>(0x80)));
        return W{_mm256_abs_epi8(w), w};
    }
    static W wlut(const int8_t* table, I idx) {
        const I t = _mm256_broadcastsi128_si256(_mm_load_si128(reinterpret_cast<const __m128i*>(table)));
        const I w = _mm256_shuffle_epi8(t, idx);
        return W{_mm256_abs_epi8(w), w};
    }
    static I wmul(W w, I s) { return _mm256_maddubs_epi16(w.mag, _mm256_sign_epi8(s, w.sgn)); }
    static I dot2w(I acc, W w0, I s0, W w1, I s1) {
        const I ones16 = _mm256_set1_epi16(1);
        return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(wmul(w0, s0), ones16),
                                                      _mm256_madd_epi16(wmul(w1, s1), ones16)));
    }
    static constexpr bool kWideU = false, kDirectNarrow = false;
    static constexpr bool kDecodeAllParts = false;
    static constexpr bool kSplitW = true;
    static I dot1w(I acc, W w, I s) { return _mm256_add_epi32(acc, _mm256_madd_epi16(wmul(w, s), _mm256_set1_epi16(1))); }
    // Q8_0's many-token tiles by int16 products (LLAMAS_TILES_WIDE_INT16, TileWide16): its values
    // as stored (w + 128) zero-extended to int16 times int16 activations by VPMADDWD, two
    // multiplies per 8 rows x 4 columns where |w| x (a with w's sign) takes three (VPSIGNB,
    // VPMADDUBSW, VPMADDWD), which a Zen 4 runs on the same two pipes (a loop of the three: 1.59
    // cycles per register; of two VPMADDWD: 1.24).
    // A register of 8 rows x 4 columns (row r in lane r) as int16: the even bytes (columns 0 and
    // 2 of each row) and the odd ones (1 and 3), each row's pair in its own lane.
    static I even16(I v) { return _mm256_and_si256(v, _mm256_set1_epi16(0xFF)); }
    static I odd16(I v) { return _mm256_srli_epi16(v, 8); }
    // 2 int16 activations in every lane.
    static I bcast2x16(const int16_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return _mm256_set1_epi32(v);
    }
    static I add32(I a, I b) { return _mm256_add_epi32(a, b); }
    static I madd16(I acc, I w, I a) { return _mm256_add_epi32(acc, _mm256_madd_epi16(w, a)); }
    // Keeps a sum in a register as it is: without this GCC reassociated the sums of a block,
    // computing a step's products first and spilling them (TileWide16 took 6.8 ms against 4.0
    // on the 2048 x 2048 x 64 product of llamas-kbench).
    static void pin(I& a) {
#if defined(__AVX2__)
        __asm__("" : "+x"(a));
#else
        (void)a;
#endif
    }
    // A wide partial is already scaled: each pair sum is multiplied by the scale as it widens.
    using WP = I;
    static WP wzero() { return _mm256_setzero_si256(); }
    static WP wacc(WP wp, W w0, I s0, W w1, I s1, S sc) {
        return _mm256_add_epi32(wp, _mm256_add_epi32(_mm256_madd_epi16(wmul(w0, s0), sc), _mm256_madd_epi16(wmul(w1, s1), sc)));
    }
    static I wflush(I acc, WP wp, S) { return _mm256_add_epi32(acc, wp); }

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

#if defined(LLAMAS_AVX_VNNI)
// AVX-VNNI: the VPDPBUSD traits of packed_vnni_traits.h at 256 bits.
struct Avx2Vnni : Avx2 {
    // The K-quant tiles as measured on a Zen 5 (docs/benchmarks.md): its int32 partials would
    // take 16 registers at 8 tokens, and no AVX-VNNI CPU was at hand to measure that.
    static constexpr int kTK = 4;
    static I dpbusd(I acc, I u, I s) {
#if defined(__AVXVNNI__)
        return _mm256_dpbusd_avx_epi32(acc, u, s);
#else
        return _mm256_dpbusd_epi32(acc, u, s);  // simde's (AVX512-VL VNNI form, the same operation)
#endif
    }
    static I sub32(I a, I b) { return _mm256_sub_epi32(a, b); }
    static I mullo32(I a, I b) { return _mm256_mullo_epi32(a, b); }
    static I zero() { return _mm256_setzero_si256(); }
    static I scales8(const uint8_t* p) { return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
    static I lut(const int8_t* table, I idx) {
        return _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(table))), idx);
    }
};
using V = VnniTraits<Avx2Vnni>;
#else
using V = Avx2;
#endif

#if !defined(LLAMAS_AVX_VNNI)
#define LLAMAS_TILES_WIDE_INT16       // Q8_0 by TileWide16
#define LLAMAS_TILES_Q4K_WHOLE_GROUP  // Q4_K's many-token tile by kPQ4K x kTQ4K
#endif
#if defined(LLAMAS_AVX_VNNI) && !defined(__AVXVNNI__)
#define LLAMAS_TILES_EMULATED  // VPDPBUSD emulated lane by lane: unroll less
#endif
#include "packed_tiles.inc"

}  // namespace

#if defined(LLAMAS_AVX_VNNI)
void fill_avx2_vnni_kernels(Kernels& k) {
    fill_avx2_kernels(k);
    k.name = "avx2-vnni";
    // Q6_K and Q3_K keep the avx2 tiles (same packed format and prepared activations): their
    // int32 partials, which start at the prepared offset, cost more at 16 registers than AVX2's
    // int16 ones (a Zen 5, 4096 x 4096, one thread: Q6_K 64 tokens 13.7-18.3 ms on avx2 against
    // 15.4-24.2 on these tiles, Q3_K 12.0-12.9 against 14.0-14.4).
    const PackedKernels q6 = k.of(GgmlType::Q6_K).packed, q3 = k.of(GgmlType::Q3_K).packed;
    fill_packed_tiles(k);
    k.types[static_cast<uint32_t>(GgmlType::Q6_K)].packed = q6;
    k.types[static_cast<uint32_t>(GgmlType::Q3_K)].packed = q3;
}
#else
void fill_avx2_packed(Kernels& k) { fill_packed_tiles(k); }
#endif

}  // namespace llamas
