// The packed forms of the "neon-i8mm" table: packed_neon.cpp's SDOT tiles (the same
// packed_tiles.inc, so one-token products and the float types are unchanged), with the
// many-token products of the integer types done by SMMLA (vmmlaq_s32, Armv8.6 i8mm): one
// instruction multiplies two rows' 8 weight bytes by two tokens' 8 activation bytes, a 2x2 block
// of 8-term sums, twice SDOT's work.
//
// No packing of its own: a packed line holds 4 bytes (columns c..c+3) of each of 4 rows per
// register and the next line columns c+4..c+7 (packed_formats.h), so zipping the two registers'
// 32-bit lanes gives rows 0-1 and rows 2-3 with 8 consecutive columns each, which is SMMLA's
// operand. The sums then sit as (row 2h, token 2u), (2h, 2u+1), (2h+1, 2u), (2h+1, 2u+1) in a
// register; per-row scales are duplicated to match (zip), per-token ones paired, and the store
// de-interleaves (uzp) back to one register of 4 rows per token. Every sum and every float step
// is the SDOT tile's, lane for lane, so the results are the same bits.
//
// Compiled with +i8mm on aarch64 (CMakeLists.txt) and only run where cpu.cpp sees HWCAP2_I8MM.
// Elsewhere (simde has no vmmlaq_s32) a loop stands in for SMMLA, so x86 CI tests the tiles too.
#include <algorithm>

#include "packed_neon_traits.h"

namespace llamas {
namespace {

#include "packed_tiles.inc"

// One part of a tile: its group's base and which kRows rows of the group's 16 it is (the SMMLA
// tiles keep a pointer per part; packed_tiles.inc's Parts keeps one per group).
struct Part {
    const uint8_t* g;
    int h;
    const uint8_t* line(size_t off) const { return g + off + h * V::kRows * 4; }   // a 64-byte line
    const uint8_t* half16(size_t off) const { return g + off + h * V::kRows * 2; } // 16 fp16
    const uint8_t* bytes(size_t off) const { return g + off + h * V::kRows; }      // 16 bytes
    const uint8_t* mask(size_t off) const { return g + off + h * V::kRows / 2; }   // a 64-bit mask
};

inline Part part_at(const uint8_t* base, size_t gs, int64_t q) {
    return Part{base + static_cast<size_t>(q / kParts) * gs, static_cast<int>(q % kParts)};
}

// The starting integer sum of a block or sub-block: -offset x Sum(a) where the products see the
// stored (offset) values; none for values turned back into signed bytes (kWide).
template <bool kWide>
inline int32_t start_sum(int32_t offset_sum) {
    return kWide ? 0 : offset_sum;
}

// A 32-element format's decode of line j at block offset `at` of one part (the formats take a
// Parts view positioned at the block; a one-part view of this part at `at` is exactly that).
template <class Fm>
inline void decode_at(const Part& part, size_t at, int j, int8x16_t& k0, int8x16_t& k1) {
    const Parts<1> one(part.g + at, 0, part.h);
    Fm::decode(one, 0, j, k0, k1);
}

using I32 = int32x4_t;
using F = float32x4_t;

// acc + the 2x2 products of a's two 8-byte rows with b's: acc[2i+j] += Σk a[8i+k] * b[8j+k].
inline I32 mmla(I32 acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_MATMUL_INT8)
    return vmmlaq_s32(acc, a, b);
#else
    int8_t x[16], y[16];
    int32_t c[4];
    vst1q_s8(x, a);
    vst1q_s8(y, b);
    vst1q_s32(c, acc);
    for (int i = 0; i < 2; ++i) {
        for (int j = 0; j < 2; ++j) {
            for (int k = 0; k < 8; ++k) c[2 * i + j] += x[8 * i + k] * y[8 * j + k];
        }
    }
    return vld1q_s32(c);
#endif
}

// Columns c..c+3 (k0) and c+4..c+7 (k1) of 4 rows -> rows 0-1 (w[0]) and 2-3 (w[1]), 8 columns each.
inline void rows8(int8x16_t k0, int8x16_t k1, int8x16_t (&w)[2]) {
    const I32 a = vreinterpretq_s32_s8(k0), b = vreinterpretq_s32_s8(k1);
    w[0] = vreinterpretq_s8_s32(vzip1q_s32(a, b));
    w[1] = vreinterpretq_s8_s32(vzip2q_s32(a, b));
}

// Per-row values of 4 rows (one per lane) in the 2x2 layout: h = 0 rows 0-1, h = 1 rows 2-3.
inline F rows2(F v, int h) { return h == 0 ? vzip1q_f32(v, v) : vzip2q_f32(v, v); }

// Per-token values of a token pair in the 2x2 layout.
inline F pairf(float a, float b) {
    const float v[4] = {a, b, a, b};
    return vld1q_f32(v);
}
inline I32 pairi(int32_t a, int32_t b) {
    const int32_t v[4] = {a, b, a, b};
    return vld1q_s32(v);
}

// Two tokens' 8 activation bytes: SMMLA's second operand.
inline int8x16_t act2(const int8_t* a0, const int8_t* a1) { return vcombine_s8(vld1_s8(a0), vld1_s8(a1)); }

// A tile's sums: P parts (4 rows each) x U token pairs x 2 row pairs.
template <int P, int U>
struct MMAcc {
    I32 i[P][U][2];
    F f[P][U][2];
    void zero_f() {
        for (int p = 0; p < P; ++p) {
            for (int u = 0; u < U; ++u) f[p][u][0] = f[p][u][1] = vdupq_n_f32(0.0f);
        }
    }
    void start(const int32_t (&o)[2 * U]) {  // every row starts at its token's o
        for (int u = 0; u < U; ++u) {
            const I32 v = pairi(o[2 * u], o[2 * u + 1]);
            for (int p = 0; p < P; ++p) i[p][u][0] = i[p][u][1] = v;
        }
    }
    // Columns c..c+7 of every part (k0, k1 as the SDOT tiles decode them) times the tokens'
    // bytes at a[t] (8 each).
    void step(const int8x16_t (&k0)[P], const int8x16_t (&k1)[P], const int8_t* const (&a)[2 * U]) {
        int8x16_t w[P][2];
        for (int p = 0; p < P; ++p) rows8(k0[p], k1[p], w[p]);
        for (int u = 0; u < U; ++u) {
            const int8x16_t x = act2(a[2 * u], a[2 * u + 1]);
            for (int p = 0; p < P; ++p) {
                i[p][u][0] = mmla(i[p][u][0], w[p][0], x);
                i[p][u][1] = mmla(i[p][u][1], w[p][1], x);
            }
        }
    }
    // f = row_scale x (float(i) x tok_scale) + f for part p (row_scale: one lane per row).
    void scale(int p, F row_scale, const float (&tok_scale)[2 * U]) {
        for (int h = 0; h < 2; ++h) {
            const F rs = rows2(row_scale, h);
            for (int u = 0; u < U; ++u) {
                const F v = vmulq_f32(vcvtq_f32_s32(i[p][u][h]), pairf(tok_scale[2 * u], tok_scale[2 * u + 1]));
                f[p][u][h] = vfmaq_f32(f[p][u][h], rs, v);
            }
        }
    }
    // As the SDOT tiles' last step: f = float(i) x (row_scale x tok_scale) + f.
    void scale_prod(int p, F row_scale, const float (&tok_scale)[2 * U]) {
        for (int h = 0; h < 2; ++h) {
            const F rs = rows2(row_scale, h);
            for (int u = 0; u < U; ++u) {
                const F m = vmulq_f32(rs, pairf(tok_scale[2 * u], tok_scale[2 * u + 1]));
                f[p][u][h] = vfmaq_f32(f[p][u][h], vcvtq_f32_s32(i[p][u][h]), m);
            }
        }
    }
    // f += sign x row_val x tok_val (the min terms).
    template <bool kSub>
    void add_outer(int p, F row_val, const float (&tok_val)[2 * U]) {
        for (int h = 0; h < 2; ++h) {
            const F rv = kSub ? vnegq_f32(rows2(row_val, h)) : rows2(row_val, h);
            for (int u = 0; u < U; ++u) f[p][u][h] = vfmaq_f32(f[p][u][h], rv, pairf(tok_val[2 * u], tok_val[2 * u + 1]));
        }
    }
    // Tokens [0, T) of the tile: token 2u is the even lanes, 2u + 1 the odd ones.
    void store(const TileArgs& a, int T) const {
        for (int p = 0; p < P; ++p) {
            float* s = a.s + (a.q + p) * V::kRows;
            for (int u = 0; u < U; ++u) {
                vst1q_f32(s + (2 * u) * a.s_stride, vuzp1q_f32(f[p][u][0], f[p][u][1]));
                if (2 * u + 1 < T) vst1q_f32(s + (2 * u + 1) * a.s_stride, vuzp2q_f32(f[p][u][0], f[p][u][1]));
            }
        }
    }
};

// A tile of T tokens works on (T + 1) / 2 pairs; an odd last token is paired with itself and
// its copy's sums are not stored.
template <int T>
inline int token_of(int t) {
    return std::min(t, T - 1);
}

template <class Fm>
struct Tile32MM {
    template <int P, int T>
    static void run(const TileArgs& a) {
        constexpr int U = (T + 1) / 2;
        constexpr size_t BB = Fm::f.block();
        Part pp[P];
        for (int p = 0; p < P; ++p) pp[p] = part_at(a.base, a.gs, a.q + p);
        const int8_t* aq[2 * U];
        const float* ad[2 * U];
        const int32_t* ao[2 * U];
        for (int t = 0; t < 2 * U; ++t) {
            aq[t] = reinterpret_cast<const int8_t*>(a.act + token_of<T>(t) * a.a_stride);
            ad[t] = reinterpret_cast<const float*>(aq[t] + a.nb * 32);
            ao[t] = reinterpret_cast<const int32_t*>(ad[t] + a.nb);
        }
        MMAcc<P, U> acc;
        acc.zero_f();
        for (int64_t b = 0; b < a.nb; ++b) {
            const size_t at = static_cast<size_t>(b) * BB;
            int32_t o[2 * U];
            float d[2 * U];
            for (int t = 0; t < 2 * U; ++t) {
                o[t] = Fm::f.has_min ? 0 : start_sum<Fm::kWide>(ao[t][b]);
                d[t] = ad[t][b];
            }
            acc.start(o);
            for (int j = 0; j < 4; ++j) {
                int8x16_t k0[P], k1[P];
                for (int p = 0; p < P; ++p) {
                    decode_at<Fm>(pp[p], at, j, k0[p], k1[p]);  // wide formats come as signed bytes
                }
                const int8_t* x[2 * U];
                for (int t = 0; t < 2 * U; ++t) x[t] = aq[t] + b * 32 + 8 * j;
                acc.step(k0, k1, x);
            }
            for (int p = 0; p < P; ++p) {
                acc.scale_prod(p, V::f16(pp[p].half16(at)), d);
                if constexpr (Fm::f.has_min) {
                    float ds[2 * U];
                    for (int t = 0; t < 2 * U; ++t) std::memcpy(&ds[t], &ao[t][b], sizeof(float));
                    acc.template add_outer<false>(p, V::f16(pp[p].half16(at + 32)), ds);
                }
            }
        }
        acc.store(a, T);
    }
};

// The K-quant activations (as KAct) of a tile's token slots.
template <int T>
struct KActMM {
    static constexpr int N = 2 * ((T + 1) / 2);
    const int8_t* q[N];
    const float* d[N];
    const float* bsd[N];
    const int32_t* o16[N];
    explicit KActMM(const TileArgs& a) {
        for (int t = 0; t < N; ++t) {
            q[t] = reinterpret_cast<const int8_t*>(a.act + token_of<T>(t) * a.a_stride);
            d[t] = reinterpret_cast<const float*>(q[t] + a.nb * 256);
            bsd[t] = d[t] + a.nb;
            o16[t] = reinterpret_cast<const int32_t*>(bsd[t] + a.nb * 8);
        }
    }
};

// Q4_K and Q5_K, as TileQ4K.
template <bool kQ5>
struct TileQ4KMM {
    template <int P, int T>
    static void run(const TileArgs& a) {
        constexpr int U = (T + 1) / 2;
        constexpr size_t SB = kQ5 ? kQ5KBytes : kQ4KBytes;
        Part pp[P];
        for (int p = 0; p < P; ++p) pp[p] = part_at(a.base, a.gs, a.q + p);
        const KActMM<T> xs(a);
        MMAcc<P, U> acc;
        acc.zero_f();
        const int32_t zero[2 * U] = {};
        for (int64_t b = 0; b < a.nb; ++b) {
            const size_t at = static_cast<size_t>(b) * SB;
            float d[2 * U];
            for (int t = 0; t < 2 * U; ++t) d[t] = xs.d[t][b];
            for (int j = 0; j < 8; ++j) {
                acc.start(zero);
                for (int i = 0; i < 4; ++i) {
                    int8x16_t k0[P], k1[P];
                    for (int p = 0; p < P; ++p) {
                        const int8x16_t v = V::load(pp[p].line(at + kQ4KNibbles + 256 * j + 64 * i));
                        k0[p] = V::nib_lo(v);
                        k1[p] = V::nib_hi(v);
                        if constexpr (kQ5) {
                            const size_t m = at + kQ4KBytes + 64 * j + 16 * i;
                            k0[p] = V::or_(k0[p], V::bits(pp[p].mask(m)));
                            k1[p] = V::or_(k1[p], V::bits(pp[p].mask(m + 8)));
                        }
                    }
                    const int8_t* q[2 * U];
                    for (int t = 0; t < 2 * U; ++t) q[t] = xs.q[t] + b * 256 + 32 * j + 8 * i;
                    acc.step(k0, k1, q);
                }
                float mins[2 * U];
                for (int t = 0; t < 2 * U; ++t) mins[t] = xs.bsd[t][b * 8 + j];
                for (int p = 0; p < P; ++p) {
                    const F dw = V::f16(pp[p].half16(at)), dm = V::f16(pp[p].half16(at + 32));
                    acc.scale(p, V::mul(V::u8f(pp[p].bytes(at + 64 + 16 * j)), dw), d);
                    acc.template add_outer<true>(p, V::mul(V::u8f(pp[p].bytes(at + 192 + 16 * j)), dm), mins);
                }
            }
        }
        acc.store(a, T);
    }

};

// Q6_K and Q3_K, as TileQ6K.
template <bool kQ3>
struct TileQ6KMM {
    template <int P, int T>
    static void run(const TileArgs& a) {
        constexpr int U = (T + 1) / 2;
        constexpr size_t SB = kQ3 ? kQ3KBytes : kQ6KBytes;
        Part pp[P];
        for (int p = 0; p < P; ++p) pp[p] = part_at(a.base, a.gs, a.q + p);
        const KActMM<T> xs(a);
        MMAcc<P, U> acc;
        acc.zero_f();
        for (int64_t b = 0; b < a.nb; ++b) {
            const size_t at = static_cast<size_t>(b) * SB;
            float d[2 * U];
            for (int t = 0; t < 2 * U; ++t) d[t] = xs.d[t][b];
            for (int sg = 0; sg < 16; ++sg) {
                const int c32 = sg / 2, half = sg % 2;
                int32_t o[2 * U];
                for (int t = 0; t < 2 * U; ++t) {
                    const int32_t o16 = xs.o16[t][b * 16 + sg];
                    o[t] = kQ3 ? o16 / 8 : o16;
                }
                acc.start(o);
                for (int qq = 0; qq < 2; ++qq) {
                    int8x16_t u0[P], u1[P];
                    for (int p = 0; p < P; ++p) {
                        const int8x16_t v = V::load(pp[p].line(at + kQ6KNibbles + 256 * c32 + 64 * (2 * half + qq)));
                        u0[p] = V::nib_lo(v);
                        u1[p] = V::nib_hi(v);
                        if constexpr (!kQ3) {
                            const int8x16_t h = V::load(pp[p].line(at + kQ6KHigh + 128 * c32 + 64 * half));
                            u0[p] = V::or_(u0[p], qq == 0 ? q6_high<0>(h) : q6_high<2>(h));
                            u1[p] = V::or_(u1[p], qq == 0 ? q6_high<1>(h) : q6_high<3>(h));
                        }
                    }
                    const int8_t* q[2 * U];
                    for (int t = 0; t < 2 * U; ++t) q[t] = xs.q[t] + b * 256 + 32 * c32 + 16 * half + 8 * qq;
                    acc.step(u0, u1, q);
                }
                for (int p = 0; p < P; ++p) {
                    acc.scale(p, V::mul(V::i8f(pp[p].bytes(at + 32 + 16 * sg)), V::f16(pp[p].half16(at))), d);
                }
            }
        }
        acc.store(a, T);
    }
};

// IQ4_XS, as TileIQ4XS (its values are stored plus 128: SMMLA sees them as signed bytes, so the
// sums start at 0 as with SDOT).
struct TileIQ4XSMM {
    template <int P, int T>
    static void run(const TileArgs& a) {
        constexpr int U = (T + 1) / 2;
        Part pp[P];
        for (int p = 0; p < P; ++p) pp[p] = part_at(a.base, a.gs, a.q + p);
        const KActMM<T> xs(a);
        MMAcc<P, U> acc;
        acc.zero_f();
        for (int64_t b = 0; b < a.nb; ++b) {
            const size_t at = static_cast<size_t>(b) * kIQ4XSBytes;
            float d[2 * U];
            for (int t = 0; t < 2 * U; ++t) d[t] = xs.d[t][b];
            for (int j = 0; j < 8; ++j) {
                int32_t o[2 * U];
                for (int t = 0; t < 2 * U; ++t) {
                    const int32_t* o16 = xs.o16[t] + b * 16 + 2 * j;
                    o[t] = start_sum<true>(4 * (o16[0] + o16[1]));
                }
                acc.start(o);
                for (int i = 0; i < 4; ++i) {
                    int8x16_t k0[P], k1[P];
                    for (int p = 0; p < P; ++p) {
                        const int8x16_t v = V::load(pp[p].line(at + kIQ4XSNibbles + 256 * j + 64 * i));
                        k0[p] = V::wlut(kIq4nlSigned, V::nib_lo(v));
                        k1[p] = V::wlut(kIq4nlSigned, V::nib_hi(v));
                    }
                    const int8_t* q[2 * U];
                    for (int t = 0; t < 2 * U; ++t) q[t] = xs.q[t] + b * 256 + 32 * j + 8 * i;
                    acc.step(k0, k1, q);
                }
                for (int p = 0; p < P; ++p) {
                    acc.scale(p, V::mul(V::i8f(pp[p].bytes(at + 32 + 16 * j)), V::f16(pp[p].half16(at))), d);
                }
            }
        }
        acc.store(a, T);
    }
};

// Tile shapes: P parts (8 rows of weights in 2P registers) x T tokens; P x T/2 x 2 int and as
// many float sums, 12 + 2 + P x T/2 registers in flight at P = 2, T = 4 of NEON's 32.
constexpr int kPMM = 2, kTMM = 4;

// One token: the SDOT gemm (SMMLA would waste half its products); more: the SMMLA tiles.
template <class TileMM, void (*Sdot)(int64_t, const void*, int64_t, int64_t, const void*, size_t, int, float*, size_t)>
void gemm_mm(int64_t nb, size_t gs, int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act,
             size_t a_stride, int na, float* s, size_t s_stride) {
    if (na == 1) {
        Sdot(n_cols, packed, g0, g1, act, a_stride, na, s, s_stride);
        return;
    }
    gemm_parts<TileMM, kPMM, kPMM, kTMM>(nb, gs, packed, g0, g1, act, a_stride, na, s, s_stride);
}

template <class Fm>
void gemm32_mm(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride, int na,
               float* s, size_t s_stride) {
    const int64_t nb = n_cols / 32;
    gemm_mm<Tile32MM<Fm>, gemm32<Fm>>(nb, static_cast<size_t>(nb) * Fm::f.block(), n_cols, packed, g0, g1, act,
                                      a_stride, na, s, s_stride);
}

template <class TileMM, class Tile, size_t kBytes>
void gemm_k_mm(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride, int na,
               float* s, size_t s_stride) {
    const int64_t nsb = n_cols / QK_K;
    gemm_mm<TileMM, gemm_k<Tile, kBytes>>(nsb, static_cast<size_t>(nsb) * kBytes, n_cols, packed, g0, g1, act,
                                          a_stride, na, s, s_stride);
}

}  // namespace

void fill_neon_i8mm_packed(Kernels& k) {
    fill_packed_tiles(k);  // every packed type with the SDOT tiles, then the SMMLA ones over them
    auto set = [&](GgmlType t, decltype(PackedKernels::gemm) gemm) { k.types[static_cast<uint32_t>(t)].packed.gemm = gemm; };
    set(GgmlType::Q4_0, gemm32_mm<Q4_0T>);
    set(GgmlType::Q4_1, gemm32_mm<Q4_1T>);
    set(GgmlType::Q5_0, gemm32_mm<Q5_0T>);
    set(GgmlType::Q5_1, gemm32_mm<Q5_1T>);
    set(GgmlType::IQ4_NL, gemm32_mm<IQ4_NLT>);
    set(GgmlType::Q8_0, gemm32_mm<Q8_0T>);
    set(GgmlType::Q3_K, gemm_k_mm<TileQ6KMM<true>, TileQ6K<true>, kQ3KBytes>);
    set(GgmlType::Q4_K, gemm_k_mm<TileQ4KMM<false>, TileQ4K<false>, kQ4KBytes>);
    set(GgmlType::Q5_K, gemm_k_mm<TileQ4KMM<true>, TileQ4K<true>, kQ5KBytes>);
    set(GgmlType::Q6_K, gemm_k_mm<TileQ6KMM<false>, TileQ6K<false>, kQ6KBytes>);
    set(GgmlType::IQ4_XS, gemm_k_mm<TileIQ4XSMM, TileIQ4XS, kIQ4XSBytes>);
}

}  // namespace llamas
