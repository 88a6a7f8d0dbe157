// Packed weights for AVX-512 VNNI (see PackedKernels in kernels.h): groups of 16 weight rows
// whose blocks are interleaved so that each 32-bit lane of a 512-bit register holds 4 columns of
// one row. A product then runs VPDPBUSD with the 4 matching activation bytes broadcast to every
// lane: 16 rows advance together, no horizontal sums, and a tile of several row groups by several
// tokens keeps all its sums in registers.
//
// VPDPBUSD multiplies unsigned by signed bytes, so weights are stored unsigned (Q4_0 nibbles as
// they are, 0..15; Q8_0 values plus 128) and activations stay signed; the offset is taken out by
// starting each block's integer sum at -offset * Σ(activation bytes of the block), a number the
// activation preparation stores per block. The integer products are exact, so results differ
// from the scalar oracle only by float summation order.
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "packed_formats.h"
#include "quant/blocks.h"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

namespace llamas {
namespace {

using namespace packed;

// The table's own activation encoders (exact, shared with vec_dot), captured when filling.
Encoder g_quantize_q8_0 = nullptr;
Encoder g_quantize_q8_1 = nullptr;
Encoder g_quantize_q8_k = nullptr;

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ======================= 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0) ==========
//
// The layouts are packed_formats.h's; here only how a line decodes into registers.

inline void decode_nibbles(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
    const __m512i m = _mm512_set1_epi8(0x0F);
    const __m512i v = _mm512_loadu_si512(q + 64 * j);
    k0 = _mm512_and_si512(v, m);
    k1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
}

inline void add_high_bits(const uint8_t* hb, int j, __m512i& k0, __m512i& k1) {
    uint64_t m0, m1;
    std::memcpy(&m0, hb + 16 * j, 8);
    std::memcpy(&m1, hb + 16 * j + 8, 8);
    const __m512i b4 = _mm512_set1_epi8(0x10);
    k0 = _mm512_or_si512(k0, _mm512_maskz_mov_epi8(_cvtu64_mask64(m0), b4));
    k1 = _mm512_or_si512(k1, _mm512_maskz_mov_epi8(_cvtu64_mask64(m1), b4));
}

// 4-bit types: the nibbles in Q4_0's layout. kOffset: the value the weight is stored above
// (Q4_0: 8); kHasMin: a per-block min (Q4_1).
template <class B, int Offset, bool HasMin>
struct FmtNibbles {
    using Block = B;
    static constexpr Format32 kFormat = format32_of<B>();
    static constexpr int kPayload = 256;
    static constexpr int kOffset = Offset;
    static constexpr bool kHasMin = HasMin;
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) { decode_nibbles(q, j, k0, k1); }
};

// 5-bit types: the nibbles, then the 5th bits as masks (Q5_0: stored 16 above; Q5_1: a min).
template <class B, int Offset, bool HasMin>
struct FmtNibbles5 {
    using Block = B;
    static constexpr Format32 kFormat = format32_of<B>();
    static constexpr int kPayload = 256 + 64;
    static constexpr int kOffset = Offset;
    static constexpr bool kHasMin = HasMin;
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
        decode_nibbles(q, j, k0, k1);
        add_high_bits(q + 256, j, k0, k1);
    }
};

using FmtQ4_0 = FmtNibbles<block_q4_0, 8, false>;
using FmtQ4_1 = FmtNibbles<block_q4_1, 0, true>;
using FmtQ5_0 = FmtNibbles5<block_q5_0, 16, false>;
using FmtQ5_1 = FmtNibbles5<block_q5_1, 0, true>;

// IQ4_NL: nibbles index a table of 16 signed values; a byte shuffle looks them up, stored plus
// 128 so they are unsigned (like Q8_0's).
struct FmtIQ4_NL : FmtNibbles<block_iq4_nl, 128, false> {
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
        const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlPlus128)));
        decode_nibbles(q, j, k0, k1);
        k0 = _mm512_shuffle_epi8(table, k0);
        k1 = _mm512_shuffle_epi8(table, k1);
    }
};

struct FmtQ8_0 {
    using Block = block_q8_0;
    static constexpr Format32 kFormat = kQ8_0;
    static constexpr int kPayload = 512;
    static constexpr int kOffset = 128;
    static constexpr bool kHasMin = false;
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
        k0 = _mm512_loadu_si512(q + 128 * j);
        k1 = _mm512_loadu_si512(q + 128 * j + 64);
    }
};

// Per block: the 16 rows' fp16 scales (32 bytes), for the types with a min their 16 fp16 mins
// (32 more), then the payload.
template <class F>
constexpr size_t header_bytes32() {
    return F::kHasMin ? 64 : 32;
}

template <class F>
constexpr size_t block_bytes32() {
    return header_bytes32<F>() + F::kPayload;
}

template <class F>
void prepare32_isa(const float* x, void* out, int64_t n_cols) {
    prepare32(F::kHasMin ? g_quantize_q8_1 : g_quantize_q8_0, F::kOffset, F::kHasMin, x, out, n_cols);
}

// Blocks ahead that the one-token tiles prefetch.
constexpr int64_t kPrefetchBlocks = 16;

// R row groups (gs bytes apart) x T activation rows over all nb blocks.
template <class F, int R, int T>
inline void tile32(int64_t nb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, float* s,
                   size_t s_stride) {
    const int8_t* aq[T];
    const float* ad[T];
    const int32_t* ao[T];
    for (int t = 0; t < T; ++t) {
        aq[t] = reinterpret_cast<const int8_t*>(act + t * a_stride);
        ad[t] = reinterpret_cast<const float*>(aq[t] + nb * 32);
        ao[t] = reinterpret_cast<const int32_t*>(ad[t] + nb);
    }
    __m512 accf[R][T];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) accf[r][t] = _mm512_setzero_ps();
    }
    constexpr size_t BB = block_bytes32<F>();
    for (int64_t b = 0; b < nb; ++b) {
        __m512i acc[R][T];
        for (int t = 0; t < T; ++t) {
            const __m512i o = F::kHasMin ? _mm512_setzero_si512() : _mm512_set1_epi32(ao[t][b]);
            for (int r = 0; r < R; ++r) acc[r][t] = o;
        }
        if (T == 1) {
            // One token: the weights stream from memory once; fetch well ahead of use.
            for (int r = 0; r < R; ++r) {
                for (size_t o = 0; o < BB; o += 64) _mm_prefetch(reinterpret_cast<const char*>(w + r * gs + (b + kPrefetchBlocks) * BB + o), _MM_HINT_T0);
            }
        }
        for (int j = 0; j < 4; ++j) {
            __m512i k0[R], k1[R];
            for (int r = 0; r < R; ++r) F::decode(w + r * gs + b * BB + header_bytes32<F>(), j, k0[r], k1[r]);
            for (int t = 0; t < T; ++t) {
                const __m512i a0 = _mm512_set1_epi32(load_i32(aq[t] + b * 32 + 8 * j));
                const __m512i a1 = _mm512_set1_epi32(load_i32(aq[t] + b * 32 + 8 * j + 4));
                for (int r = 0; r < R; ++r) {
                    acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k0[r], a0);
                    acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k1[r], a1);
                }
            }
        }
        for (int r = 0; r < R; ++r) {
            const __m512 ws = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * gs + b * BB)));
            for (int t = 0; t < T; ++t) {
                accf[r][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[r][t]), _mm512_mul_ps(ws, _mm512_set1_ps(ad[t][b])),
                                             accf[r][t]);
            }
            if constexpr (F::kHasMin) {
                const __m512 wm =
                    _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * gs + b * BB + 32)));
                for (int t = 0; t < T; ++t) {
                    float ds;
                    std::memcpy(&ds, &ao[t][b], sizeof ds);
                    accf[r][t] = _mm512_fmadd_ps(wm, _mm512_set1_ps(ds), accf[r][t]);
                }
            }
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + t * s_stride + r * G, accf[r][t]);
    }
}

// Tile shapes: up to kT32 tokens by 2 groups for many tokens; 4 groups by 1 token for one.
constexpr int kT32 = 6;

template <class F, int R>
inline void tile32_rows(int64_t nb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, int na,
                        float* s, size_t s_stride) {
    int t0 = 0;
    for (; t0 + kT32 <= na; t0 += kT32) {
        tile32<F, R, kT32>(nb, w, gs, act + t0 * a_stride, a_stride, s + t0 * s_stride, s_stride);
    }
    const uint8_t* a = act + t0 * a_stride;
    float* st = s + t0 * s_stride;
    switch (na - t0) {
        case 5: tile32<F, R, 5>(nb, w, gs, a, a_stride, st, s_stride); break;
        case 4: tile32<F, R, 4>(nb, w, gs, a, a_stride, st, s_stride); break;
        case 3: tile32<F, R, 3>(nb, w, gs, a, a_stride, st, s_stride); break;
        case 2: tile32<F, R, 2>(nb, w, gs, a, a_stride, st, s_stride); break;
        case 1: tile32<F, R, 1>(nb, w, gs, a, a_stride, st, s_stride); break;
        default: break;
    }
}

template <class F>
void gemm32(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride, int na,
            float* s, size_t s_stride) {
    const int64_t nb = n_cols / 32;
    const size_t gs = static_cast<size_t>(nb) * block_bytes32<F>();
    const auto* base = static_cast<const uint8_t*>(packed);
    const auto* a = static_cast<const uint8_t*>(act);
    int64_t g = g0;
    if (na == 1) {
        for (; g + 4 <= g1; g += 4) tile32<F, 4, 1>(nb, base + g * gs, gs, a, a_stride, s + g * G, s_stride);
    }
    for (; g + 2 <= g1; g += 2) tile32_rows<F, 2>(nb, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
    for (; g < g1; ++g) tile32_rows<F, 1>(nb, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
}

template <class F>
void set32(GgmlType t, PackedKernels& p) {
    static_assert(block_bytes32<F>() == F::kFormat.block() && F::kOffset == F::kFormat.offset &&
                      F::kHasMin == F::kFormat.has_min,
                  "the tiles' view of a format is packed_formats.h's");
    set_format(t, p);
    p.prepare = prepare32_isa<F>;
    p.gemm = gemm32<F>;
}

// ======================= K-quants (Q4_K, Q6_K) =======================
//
// Activations are Q8_K rows (as the reference uses), prepared as
// [nsb x 256 int8][nsb float scales][nsb x 8 float: Σ of each 32 values x scale]
// [nsb x 16 int32: -32 x Σ of each 16 values].

void prepare_k_isa(const float* x, void* out, int64_t n_cols) { prepare_k(g_quantize_q8_k, x, out, n_cols); }

template <int T>
struct KAct {
    const int8_t* q[T];
    const float* d[T];
    const float* bsd[T];
    const int32_t* o16[T];
    KAct(const uint8_t* act, size_t a_stride, int64_t nsb) {
        for (int t = 0; t < T; ++t) {
            q[t] = reinterpret_cast<const int8_t*>(act + t * a_stride);
            d[t] = reinterpret_cast<const float*>(q[t] + nsb * 256);
            bsd[t] = d[t] + nsb;
            o16[t] = reinterpret_cast<const int32_t*>(bsd[t] + nsb * 8);
        }
    }
};

// ---- Q4_K: per group and super-block: 16 fp16 d, 16 fp16 dmin, 8 x 16 scales, 8 x 16 mins
// (6-bit, one byte each), then 8 sub-blocks of 32 columns in Q4_0's payload layout.

constexpr bool kPrefetchK = false;

// One-token tiles: the super-block after next of each of the R groups, fetched ahead of use.
template <int R>
inline void prefetch_ahead(const uint8_t* w, size_t gs, int64_t b, size_t bytes) {
    for (int r = 0; r < R; ++r) {
        const char* p = reinterpret_cast<const char*>(w + r * gs + (b + 2) * bytes);
        for (size_t o = 0; o < bytes; o += 64) _mm_prefetch(p + o, _MM_HINT_T0);
    }
}

inline __m512 u8x16_to_ps(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

inline __m512 i8x16_to_ps(const uint8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
}

template <int R, int T, bool kQ5 = false>
inline void tile_q4k(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, float* s,
                     size_t s_stride) {
    constexpr size_t SB = kQ5 ? kQ5KBytes : kQ4KBytes;  // bytes per group and super-block
    const KAct<T> a(act, a_stride, nsb);
    __m512 accf[R][T];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) accf[r][t] = _mm512_setzero_ps();
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    for (int64_t b = 0; b < nsb; ++b) {
        if (T == 1) prefetch_ahead<R>(w, gs, b, SB);
        __m512 dw[R], dm[R];
        for (int r = 0; r < R; ++r) {
            const uint8_t* base = w + r * gs + b * SB;
            dw[r] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base)));
            dm[r] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + 32)));
        }
        for (int j = 0; j < 8; ++j) {
            __m512i acc[R][T];
            for (int r = 0; r < R; ++r) {
                for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_si512();
            }
            for (int i = 0; i < 4; ++i) {
                __m512i k0[R], k1[R];
                for (int r = 0; r < R; ++r) {
                    const __m512i v = _mm512_loadu_si512(w + r * gs + b * SB + 320 + 256 * j + 64 * i);
                    k0[r] = _mm512_and_si512(v, m4);
                    k1[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                    if (kQ5) add_high_bits(w + r * gs + b * SB + kQ4KBytes + 64 * j, i, k0[r], k1[r]);  // Q5_K's 5th bits
                }
                for (int t = 0; t < T; ++t) {
                    const int8_t* aq = a.q[t] + b * 256 + 32 * j + 8 * i;
                    const __m512i a0 = _mm512_set1_epi32(load_i32(aq));
                    const __m512i a1 = _mm512_set1_epi32(load_i32(aq + 4));
                    for (int r = 0; r < R; ++r) {
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k0[r], a0);
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k1[r], a1);
                    }
                }
            }
            for (int r = 0; r < R; ++r) {
                const uint8_t* base = w + r * gs + b * SB;
                const __m512 sc = _mm512_mul_ps(u8x16_to_ps(base + 64 + 16 * j), dw[r]);
                const __m512 mn = _mm512_mul_ps(u8x16_to_ps(base + 192 + 16 * j), dm[r]);
                for (int t = 0; t < T; ++t) {
                    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][t]), _mm512_set1_ps(a.d[t][b]));
                    accf[r][t] = _mm512_fmadd_ps(sc, x, accf[r][t]);
                    accf[r][t] = _mm512_fnmadd_ps(mn, _mm512_set1_ps(a.bsd[t][b * 8 + j]), accf[r][t]);
                }
            }
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + t * s_stride + r * G, accf[r][t]);
    }
}

// One token: the super-block's scale and min sums are kept apart (A = Σ sc·dot, B = Σ min·Σa) and
// scaled once per super-block; high nibbles are used in place (x16, undone by a shift once per
// 32 columns), saving a shift per register.
// (Q5_K's 5th bit does not fit that trick: its high-nibble lanes are shifted down as usual.)
template <int R, bool kQ5 = false>
inline void tile_q4k_one(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, float* s) {
    constexpr size_t SB = kQ5 ? kQ5KBytes : kQ4KBytes;
    const KAct<1> a(act, 0, nsb);
    __m512 accf[R];
    for (int r = 0; r < R; ++r) accf[r] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F), m4h = _mm512_set1_epi8(static_cast<char>(0xF0));
    for (int64_t b = 0; b < nsb; ++b) {
        if (kPrefetchK) prefetch_ahead<R>(w, gs, b, SB);
        __m512 A[R], B[R];
        for (int r = 0; r < R; ++r) A[r] = B[r] = _mm512_setzero_ps();
        const int8_t* aq = a.q[0] + b * 256;
        for (int j = 0; j < 8; ++j) {
            __m512i lo[R], hi[R];
            for (int r = 0; r < R; ++r) lo[r] = hi[r] = _mm512_setzero_si512();
            for (int i = 0; i < 4; ++i) {
                const __m512i a0 = _mm512_set1_epi32(load_i32(aq + 32 * j + 8 * i));
                const __m512i a1 = _mm512_set1_epi32(load_i32(aq + 32 * j + 8 * i + 4));
                for (int r = 0; r < R; ++r) {
                    const __m512i v = _mm512_loadu_si512(w + r * gs + b * SB + 320 + 256 * j + 64 * i);
                    if constexpr (kQ5) {
                        __m512i k0 = _mm512_and_si512(v, m4), k1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                        add_high_bits(w + r * gs + b * SB + kQ4KBytes + 64 * j, i, k0, k1);
                        lo[r] = _mm512_dpbusd_epi32(lo[r], k0, a0);
                        hi[r] = _mm512_dpbusd_epi32(hi[r], k1, a1);
                    } else {
                        lo[r] = _mm512_dpbusd_epi32(lo[r], _mm512_and_si512(v, m4), a0);
                        hi[r] = _mm512_dpbusd_epi32(hi[r], _mm512_and_si512(v, m4h), a1);
                    }
                }
            }
            const __m512 bs = _mm512_set1_ps(a.bsd[0][b * 8 + j]);
            for (int r = 0; r < R; ++r) {
                const uint8_t* base = w + r * gs + b * SB;
                const __m512i dot = _mm512_add_epi32(lo[r], kQ5 ? hi[r] : _mm512_srai_epi32(hi[r], 4));
                A[r] = _mm512_fmadd_ps(u8x16_to_ps(base + 64 + 16 * j), _mm512_cvtepi32_ps(dot), A[r]);
                B[r] = _mm512_fmadd_ps(u8x16_to_ps(base + 192 + 16 * j), bs, B[r]);
            }
        }
        const __m512 da = _mm512_set1_ps(a.d[0][b]);
        for (int r = 0; r < R; ++r) {
            const uint8_t* base = w + r * gs + b * SB;
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base)));
            const __m512 dm = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(base + 32)));
            accf[r] = _mm512_fmadd_ps(A[r], _mm512_mul_ps(dw, da), accf[r]);
            accf[r] = _mm512_fnmadd_ps(B[r], dm, accf[r]);  // bsd already carries the activation scale
        }
    }
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + r * G, accf[r]);
}

// ---- Q6_K: per group and super-block: 16 fp16 d, 16 x 16 int8 scales, then for each 32
// columns the low 4 bits in Q4_0's payload layout (8 x 256 bytes) and, after them, the high 2 bits
// (8 x 128 bytes: for each 16 columns, one register whose byte holds the 2-bit fields of the 4
// columns of a lane, column c in bits 2c..2c+1).

// The 2-bit field f (0..3) of every byte of h, moved to bits 4..5 (other bits left for the
// caller's mask).
template <int F>
inline __m512i q6_high(__m512i h) {
    if (F == 0) return _mm512_slli_epi16(h, 4);
    if (F == 1) return _mm512_slli_epi16(h, 2);
    if (F == 2) return h;
    return _mm512_srli_epi16(h, 2);
}

// kQ3: Q3_K's packed form (no high fields; starting sums -4 x Σa, o16 / 8).
template <int R, int T, bool kQ3 = false>
inline void tile_q6k(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, float* s,
                     size_t s_stride) {
    constexpr size_t SB = kQ3 ? kQ3KBytes : kQ6KBytes;
    const KAct<T> a(act, a_stride, nsb);
    __m512 accf[R][T];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) accf[r][t] = _mm512_setzero_ps();
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    for (int64_t b = 0; b < nsb; ++b) {
        if (T == 1) prefetch_ahead<R>(w, gs, b, SB);
        __m512 dw[R];
        for (int r = 0; r < R; ++r) {
            dw[r] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * gs + b * SB)));
        }
        for (int sg = 0; sg < 16; ++sg) {  // 16-column sub-blocks
            const int p = sg / 2, half = sg % 2;
            __m512i acc[R][T];
            for (int t = 0; t < T; ++t) {
                const int32_t o16 = a.o16[t][b * 16 + sg];
                const __m512i o = _mm512_set1_epi32(kQ3 ? o16 / 8 : o16);
                for (int r = 0; r < R; ++r) acc[r][t] = o;
            }
            for (int q = 0; q < 2; ++q) {  // nibble register 2*half + q: steps 4*half + 2q, +1
                __m512i u0[R], u1[R];
                for (int r = 0; r < R; ++r) {
                    const uint8_t* base = w + r * gs + b * SB + 288;
                    const __m512i v = _mm512_loadu_si512(base + 256 * p + 64 * (2 * half + q));
                    if constexpr (kQ3) {
                        u0[r] = _mm512_and_si512(v, m4);
                        u1[r] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
                    } else {
                        const __m512i h = _mm512_loadu_si512(base + 2048 + 128 * p + 64 * half);
                        const __m512i h0 = q == 0 ? q6_high<0>(h) : q6_high<2>(h);
                        const __m512i h1 = q == 0 ? q6_high<1>(h) : q6_high<3>(h);
                        // lo | (h & 0x30) in one ternary-logic op: A | (B & C) = 0xF8 over (A, B, C).
                        u0[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(v, m4), h0, m30, 0xF8);
                        u1[r] = _mm512_ternarylogic_epi32(_mm512_and_si512(_mm512_srli_epi16(v, 4), m4), h1, m30, 0xF8);
                    }
                }
                for (int t = 0; t < T; ++t) {
                    const int8_t* aq = a.q[t] + b * 256 + 32 * p + 16 * half + 8 * q;
                    const __m512i a0 = _mm512_set1_epi32(load_i32(aq));
                    const __m512i a1 = _mm512_set1_epi32(load_i32(aq + 4));
                    for (int r = 0; r < R; ++r) {
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], u0[r], a0);
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], u1[r], a1);
                    }
                }
            }
            for (int r = 0; r < R; ++r) {
                const __m512 sc = _mm512_mul_ps(i8x16_to_ps(w + r * gs + b * SB + 32 + 16 * sg), dw[r]);
                for (int t = 0; t < T; ++t) {
                    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][t]), _mm512_set1_ps(a.d[t][b]));
                    accf[r][t] = _mm512_fmadd_ps(sc, x, accf[r][t]);
                }
            }
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + t * s_stride + r * G, accf[r][t]);
    }
}

// One token: per super-block sums of scale x dot, scaled by d once per super-block.
template <int R, bool kQ3 = false>
inline void tile_q6k_one(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, float* s) {
    constexpr size_t SB = kQ3 ? kQ3KBytes : kQ6KBytes;
    const KAct<1> a(act, 0, nsb);
    __m512 accf[R];
    for (int r = 0; r < R; ++r) accf[r] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i m30 = _mm512_set1_epi8(0x30);
    for (int64_t b = 0; b < nsb; ++b) {
        __m512 A[R];
        for (int r = 0; r < R; ++r) A[r] = _mm512_setzero_ps();
        const int8_t* aq0 = a.q[0] + b * 256;
        for (int sg = 0; sg < 16; ++sg) {
            const int p = sg / 2, half = sg % 2;
            const int32_t o16 = a.o16[0][b * 16 + sg];
            const __m512i o = _mm512_set1_epi32(kQ3 ? o16 / 8 : o16);
            __m512i acc[R];
            for (int r = 0; r < R; ++r) acc[r] = o;
            for (int r = 0; r < R; ++r) {
                const uint8_t* base = w + r * gs + b * SB + 288;
                const __m512i v0 = _mm512_loadu_si512(base + 256 * p + 64 * (2 * half));
                const __m512i v1 = _mm512_loadu_si512(base + 256 * p + 64 * (2 * half + 1));
                const int8_t* aq = aq0 + 32 * p + 16 * half;
                __m512i u0 = _mm512_and_si512(v0, m4), u1 = _mm512_and_si512(_mm512_srli_epi16(v0, 4), m4);
                __m512i u2 = _mm512_and_si512(v1, m4), u3 = _mm512_and_si512(_mm512_srli_epi16(v1, 4), m4);
                if constexpr (!kQ3) {
                    const __m512i h = _mm512_loadu_si512(base + 2048 + 128 * p + 64 * half);
                    u0 = _mm512_ternarylogic_epi32(u0, q6_high<0>(h), m30, 0xF8);
                    u1 = _mm512_ternarylogic_epi32(u1, q6_high<1>(h), m30, 0xF8);
                    u2 = _mm512_ternarylogic_epi32(u2, q6_high<2>(h), m30, 0xF8);
                    u3 = _mm512_ternarylogic_epi32(u3, q6_high<3>(h), m30, 0xF8);
                }
                acc[r] = _mm512_dpbusd_epi32(acc[r], u0, _mm512_set1_epi32(load_i32(aq)));
                acc[r] = _mm512_dpbusd_epi32(acc[r], u1, _mm512_set1_epi32(load_i32(aq + 4)));
                acc[r] = _mm512_dpbusd_epi32(acc[r], u2, _mm512_set1_epi32(load_i32(aq + 8)));
                acc[r] = _mm512_dpbusd_epi32(acc[r], u3, _mm512_set1_epi32(load_i32(aq + 12)));
            }
            for (int r = 0; r < R; ++r) {
                A[r] = _mm512_fmadd_ps(i8x16_to_ps(w + r * gs + b * SB + 32 + 16 * sg), _mm512_cvtepi32_ps(acc[r]), A[r]);
            }
        }
        const __m512 da = _mm512_set1_ps(a.d[0][b]);
        for (int r = 0; r < R; ++r) {
            const __m512 dw = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * gs + b * SB)));
            accf[r] = _mm512_fmadd_ps(A[r], _mm512_mul_ps(dw, da), accf[r]);
        }
    }
    for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + r * G, accf[r]);
}

// ---- IQ4_XS: per group and super-block: 16 fp16 d, 8 x 16 int8 scales (the 6-bit scales minus
// 32), then the 8 sub-blocks of 32 columns' nibbles in Q4_K's payload layout. The nibbles index
// IQ4_NL's table (looked up with a byte shuffle, stored plus 128), so each 32 columns' integer
// sum starts at -128 x Σa (from the prepared 16-sums: 4 x (o16 + o16')).

template <int R, int T>
inline void tile_iq4xs(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, float* s,
                       size_t s_stride) {
    const KAct<T> a(act, a_stride, nsb);
    __m512 accf[R][T];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) accf[r][t] = _mm512_setzero_ps();
    }
    const __m512i m4 = _mm512_set1_epi8(0x0F);
    const __m512i table = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(kIq4nlPlus128)));
    for (int64_t b = 0; b < nsb; ++b) {
        if (T == 1) prefetch_ahead<R>(w, gs, b, kIQ4XSBytes);
        __m512 dw[R];
        for (int r = 0; r < R; ++r) {
            dw[r] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * gs + b * kIQ4XSBytes)));
        }
        for (int j = 0; j < 8; ++j) {
            __m512i acc[R][T];
            for (int t = 0; t < T; ++t) {
                const int32_t* o16 = a.o16[t] + b * 16 + 2 * j;
                const __m512i o = _mm512_set1_epi32(4 * (o16[0] + o16[1]));
                for (int r = 0; r < R; ++r) acc[r][t] = o;
            }
            for (int i = 0; i < 4; ++i) {
                __m512i k0[R], k1[R];
                for (int r = 0; r < R; ++r) {
                    const __m512i v = _mm512_loadu_si512(w + r * gs + b * kIQ4XSBytes + 160 + 256 * j + 64 * i);
                    k0[r] = _mm512_shuffle_epi8(table, _mm512_and_si512(v, m4));
                    k1[r] = _mm512_shuffle_epi8(table, _mm512_and_si512(_mm512_srli_epi16(v, 4), m4));
                }
                for (int t = 0; t < T; ++t) {
                    const int8_t* aq = a.q[t] + b * 256 + 32 * j + 8 * i;
                    const __m512i a0 = _mm512_set1_epi32(load_i32(aq));
                    const __m512i a1 = _mm512_set1_epi32(load_i32(aq + 4));
                    for (int r = 0; r < R; ++r) {
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k0[r], a0);
                        acc[r][t] = _mm512_dpbusd_epi32(acc[r][t], k1[r], a1);
                    }
                }
            }
            for (int r = 0; r < R; ++r) {
                const __m512 sc = _mm512_mul_ps(i8x16_to_ps(w + r * gs + b * kIQ4XSBytes + 32 + 16 * j), dw[r]);
                for (int t = 0; t < T; ++t) {
                    const __m512 x = _mm512_mul_ps(_mm512_cvtepi32_ps(acc[r][t]), _mm512_set1_ps(a.d[t][b]));
                    accf[r][t] = _mm512_fmadd_ps(sc, x, accf[r][t]);
                }
            }
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + t * s_stride + r * G, accf[r][t]);
    }
}

// Tile dispatch for the K-quants: kTK tokens by 2 groups, 4 groups for one token.
constexpr int kTK = 6;
constexpr int KR1 = 4;  // groups per one-token tile

template <template <int, int> class Tile, int R>
inline void k_rows(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, int na, float* s,
                   size_t s_stride) {
    int t0 = 0;
    for (; t0 + kTK <= na; t0 += kTK) Tile<R, kTK>::run(nsb, w, gs, act + t0 * a_stride, a_stride, s + t0 * s_stride, s_stride);
    const uint8_t* a = act + t0 * a_stride;
    float* st = s + t0 * s_stride;
    switch (na - t0) {
        case 5: Tile<R, 5>::run(nsb, w, gs, a, a_stride, st, s_stride); break;
        case 4: Tile<R, 4>::run(nsb, w, gs, a, a_stride, st, s_stride); break;
        case 3: Tile<R, 3>::run(nsb, w, gs, a, a_stride, st, s_stride); break;
        case 2: Tile<R, 2>::run(nsb, w, gs, a, a_stride, st, s_stride); break;
        case 1: Tile<R, 1>::run(nsb, w, gs, a, a_stride, st, s_stride); break;
        default: break;
    }
}

template <int R, int T>
struct TileQ4K {
    static void run(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* a, size_t as, float* s, size_t ss) {
        if (T == 1 && R == KR1) {
            tile_q4k_one<R>(nsb, w, gs, a, s);
        } else {
            tile_q4k<R, T>(nsb, w, gs, a, as, s, ss);
        }
    }
};

template <int R, int T>
struct TileQ5K {
    static void run(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* a, size_t as, float* s, size_t ss) {
        if (T == 1 && R == KR1) {
            tile_q4k_one<R, true>(nsb, w, gs, a, s);
        } else {
            tile_q4k<R, T, true>(nsb, w, gs, a, as, s, ss);
        }
    }
};

template <int R, int T>
struct TileIQ4XS {
    static void run(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* a, size_t as, float* s, size_t ss) {
        tile_iq4xs<R, T>(nsb, w, gs, a, as, s, ss);
    }
};

template <int R, int T>
struct TileQ3K {
    static void run(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* a, size_t as, float* s, size_t ss) {
        if (T == 1 && R == KR1) {
            tile_q6k_one<R, true>(nsb, w, gs, a, s);
        } else {
            tile_q6k<R, T, true>(nsb, w, gs, a, as, s, ss);
        }
    }
};

template <int R, int T>
struct TileQ6K {
    static void run(int64_t nsb, const uint8_t* w, size_t gs, const uint8_t* a, size_t as, float* s, size_t ss) {
        if (T == 1 && R == KR1) {
            tile_q6k_one<R>(nsb, w, gs, a, s);
        } else {
            tile_q6k<R, T>(nsb, w, gs, a, as, s, ss);
        }
    }
};

template <template <int, int> class Tile, size_t kBytes>
void gemm_k(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride, int na,
            float* s, size_t s_stride) {
    const int64_t nsb = n_cols / QK_K;
    const size_t gs = static_cast<size_t>(nsb) * kBytes;
    const auto* base = static_cast<const uint8_t*>(packed);
    const auto* a = static_cast<const uint8_t*>(act);
    int64_t g = g0;
    if (na == 1) {
        for (; g + KR1 <= g1; g += KR1) Tile<KR1, 1>::run(nsb, base + g * gs, gs, a, a_stride, s + g * G, s_stride);
    }
    for (; g + 2 <= g1; g += 2) k_rows<Tile, 2>(nsb, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
    for (; g < g1; ++g) k_rows<Tile, 1>(nsb, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
}

}  // namespace

void fill_avx512_packed(Kernels& k) {
    g_quantize_q8_0 = k.of(GgmlType::Q8_0).quantize_activations;
    g_quantize_q8_1 = k.of(GgmlType::Q4_1).quantize_activations;
    g_quantize_q8_k = k.of(GgmlType::Q4_K).quantize_activations;
    auto packed_of = [&](GgmlType t) -> PackedKernels& { return k.types[static_cast<uint32_t>(t)].packed; };
    set32<FmtQ4_0>(GgmlType::Q4_0, packed_of(GgmlType::Q4_0));
    set32<FmtQ8_0>(GgmlType::Q8_0, packed_of(GgmlType::Q8_0));
    set32<FmtQ4_1>(GgmlType::Q4_1, packed_of(GgmlType::Q4_1));
    set32<FmtQ5_0>(GgmlType::Q5_0, packed_of(GgmlType::Q5_0));
    set32<FmtQ5_1>(GgmlType::Q5_1, packed_of(GgmlType::Q5_1));
    set32<FmtIQ4_NL>(GgmlType::IQ4_NL, packed_of(GgmlType::IQ4_NL));
    auto set_k = [&](GgmlType t, decltype(PackedKernels::gemm) gemm) {
        PackedKernels& p = packed_of(t);
        set_format(t, p);
        p.prepare = prepare_k_isa;
        p.gemm = gemm;
    };
    set_k(GgmlType::Q4_K, gemm_k<TileQ4K, kQ4KBytes>);
    set_k(GgmlType::Q5_K, gemm_k<TileQ5K, kQ5KBytes>);
    set_k(GgmlType::IQ4_XS, gemm_k<TileIQ4XS, kIQ4XSBytes>);
    set_k(GgmlType::Q3_K, gemm_k<TileQ3K, kQ3KBytes>);
    set_k(GgmlType::Q6_K, gemm_k<TileQ6K, kQ6KBytes>);
}

}  // namespace llamas
