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

#include "kernels.h"
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

constexpr int G = kPackRows;  // 16 rows per group

size_t round64(size_t n) { return (n + 63) / 64 * 64; }

inline float h2f(uint16_t h) { return _mm_cvtss_f32(_mm_cvtph_ps(_mm_cvtsi32_si128(h))); }

// The table's own activation encoders (exact, shared with vec_dot), captured when filling.
void (*g_quantize_q8_0)(const float*, void*, int64_t) = nullptr;
void (*g_quantize_q8_k)(const float*, void*, int64_t) = nullptr;

inline int32_t load_i32(const void* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return v;
}

// ======================= 32-element block types (Q4_0, Q8_0) =======================
//
// Group layout, per block of 32 columns: 16 fp16 scales (32 bytes), then the payload.
// Prepared activation row: [nb x 32 int8][nb float scales][nb int32 offsets].

struct FmtQ4_0 {
    using Block = block_q4_0;
    static constexpr int kPayload = 256;
    static constexpr int kOffset = 8;
    // Payload: 4 registers; register j holds columns 8j..8j+3 in the low nibbles and
    // 8j+4..8j+7 in the high nibbles, row r in lane r.
    static void pack(const Block* const* rows, int64_t b, uint8_t* out) {
        for (int j = 0; j < 4; ++j) {
            for (int r = 0; r < G; ++r) {
                const Block& x = rows[r][b];
                for (int i = 0; i < 4; ++i) {
                    const int e0 = 8 * j + i, e1 = 8 * j + 4 + i;
                    const int n0 = e0 < 16 ? (x.qs[e0] & 15) : (x.qs[e0 - 16] >> 4);
                    const int n1 = e1 < 16 ? (x.qs[e1] & 15) : (x.qs[e1 - 16] >> 4);
                    out[64 * j + 4 * r + i] = static_cast<uint8_t>(n0 | (n1 << 4));
                }
            }
        }
    }
    // Columns 8j..8j+3 and 8j+4..8j+7 of the 16 rows.
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
        const __m512i m = _mm512_set1_epi8(0x0F);
        const __m512i v = _mm512_loadu_si512(q + 64 * j);
        k0 = _mm512_and_si512(v, m);
        k1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m);
    }
};

struct FmtQ8_0 {
    using Block = block_q8_0;
    static constexpr int kPayload = 512;
    static constexpr int kOffset = 128;
    // Payload: 8 registers; register s holds columns 4s..4s+3 plus 128.
    static void pack(const Block* const* rows, int64_t b, uint8_t* out) {
        for (int s = 0; s < 8; ++s) {
            for (int r = 0; r < G; ++r) {
                for (int i = 0; i < 4; ++i) {
                    out[64 * s + 4 * r + i] = static_cast<uint8_t>(rows[r][b].qs[4 * s + i] + 128);
                }
            }
        }
    }
    static inline void decode(const uint8_t* q, int j, __m512i& k0, __m512i& k1) {
        k0 = _mm512_loadu_si512(q + 128 * j);
        k1 = _mm512_loadu_si512(q + 128 * j + 64);
    }
};

template <class F>
constexpr size_t block_bytes32() {
    return 32 + F::kPayload;
}

template <class F>
size_t packed_bytes32(int64_t n_cols, int64_t n_rows) {
    if (n_rows % G != 0 || n_cols % 32 != 0 || n_cols <= 0) return 0;
    return static_cast<size_t>(n_rows / G) * static_cast<size_t>(n_cols / 32) * block_bytes32<F>();
}

template <class F>
void pack32(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    using Block = typename F::Block;
    const int64_t nb = n_cols / 32;
    auto* out = static_cast<uint8_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        const Block* rows[G];
        for (int r = 0; r < G; ++r) {
            rows[r] = reinterpret_cast<const Block*>(static_cast<const uint8_t*>(w) + (g * G + r) * row_bytes);
        }
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t* dst = out + (g * nb + b) * block_bytes32<F>();
            uint16_t d[G];
            for (int r = 0; r < G; ++r) d[r] = rows[r][b].d;
            std::memcpy(dst, d, sizeof d);
            F::pack(rows, b, dst + 32);
        }
    }
}

size_t act_row_bytes32(int64_t n_cols) { return round64(static_cast<size_t>(n_cols / 32) * 40); }

template <class F>
void prepare32(const float* x, void* vout, int64_t n_cols) {
    const int64_t nb = n_cols / 32;
    auto* q = static_cast<int8_t*>(vout);
    auto* d = reinterpret_cast<float*>(q + nb * 32);
    auto* off = reinterpret_cast<int32_t*>(d + nb);
    block_q8_0 tmp[8];
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int nc = static_cast<int>(nb - b0 < 8 ? nb - b0 : 8);
        g_quantize_q8_0(x + b0 * 32, tmp, nc * 32);
        for (int c = 0; c < nc; ++c) {
            const int64_t b = b0 + c;
            std::memcpy(q + b * 32, tmp[c].qs, 32);
            d[b] = h2f(tmp[c].d);
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tmp[c].qs));
            // Σ bytes: |sums of 8| via SAD against zero on the biased values.
            const __m256i biased = _mm256_xor_si256(v, _mm256_set1_epi8(static_cast<char>(0x80)));
            const __m256i sad = _mm256_sad_epu8(biased, _mm256_setzero_si256());
            const int64_t s = _mm256_extract_epi64(sad, 0) + _mm256_extract_epi64(sad, 1) +
                              _mm256_extract_epi64(sad, 2) + _mm256_extract_epi64(sad, 3) - 32 * 128;
            off[b] = static_cast<int32_t>(-F::kOffset * s);
        }
    }
}

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
            const __m512i o = _mm512_set1_epi32(ao[t][b]);
            for (int r = 0; r < R; ++r) acc[r][t] = o;
        }
        for (int j = 0; j < 4; ++j) {
            __m512i k0[R], k1[R];
            for (int r = 0; r < R; ++r) F::decode(w + r * gs + b * BB + 32, j, k0[r], k1[r]);
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
void set32(PackedKernels& p) {
    p.packed_bytes = packed_bytes32<F>;
    p.pack = pack32<F>;
    p.act_row_bytes = act_row_bytes32;
    p.prepare = prepare32<F>;
    p.gemm = gemm32<F>;
}

}  // namespace

void fill_avx512_packed(Kernels& k) {
    g_quantize_q8_0 = k.of(GgmlType::Q8_0).quantize_activations;
    g_quantize_q8_k = k.of(GgmlType::Q4_K).quantize_activations;
    set32<FmtQ4_0>(k.types[static_cast<uint32_t>(GgmlType::Q4_0)].packed);
    set32<FmtQ8_0>(k.types[static_cast<uint32_t>(GgmlType::Q8_0)].packed);
}

}  // namespace llamas
