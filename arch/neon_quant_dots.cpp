// NEON products of the 32-element block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) with Q8_0 /
// Q8_1 activation blocks: each weight block is decoded to 32 signed bytes, multiplied with the
// activation bytes by 4-byte dot products, and the block's integer sum is scaled and added in the
// scalar oracle's order, so vec_dot and the tile product give the oracle's bits.
#include <cstring>

#include "neon_helpers.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

// One weight block decoded: elements 0..15 and 16..31.
struct Decoded32 {
    int8x16_t lo, hi;
};

inline Decoded32 nibbles(const uint8_t* qs) {
    const uint8x16_t q = vld1q_u8(qs);
    return {vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(0x0F))), vreinterpretq_s8_u8(vshrq_n_u8(q, 4))};
}

// The 5th bits of a Q5 block (bit j of the 32-bit field = element j) as 0 or 16 per byte.
inline Decoded32 fifth_bits(const uint8_t* qh) {
    static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    const uint8x16_t bit = vld1q_u8(kBit);
    const uint8x16_t sixteen = vdupq_n_u8(16);
    const uint8x16_t b01 = vcombine_u8(vdup_n_u8(qh[0]), vdup_n_u8(qh[1]));
    const uint8x16_t b23 = vcombine_u8(vdup_n_u8(qh[2]), vdup_n_u8(qh[3]));
    return {vreinterpretq_s8_u8(vandq_u8(vtstq_u8(b01, bit), sixteen)),
            vreinterpretq_s8_u8(vandq_u8(vtstq_u8(b23, bit), sixteen))};
}

// Per weight type: the activation block type, how a block decodes, and whether the block has
// a min (then the activation block's s carries Σ activations for it).
struct Q8_0W {
    using Block = block_q8_0;
    using Act = block_q8_0;
    static constexpr bool kMin = false;
    static Decoded32 decode(const Block& b) { return {vld1q_s8(b.qs), vld1q_s8(b.qs + 16)}; }
};

struct Q4_0W {
    using Block = block_q4_0;
    using Act = block_q8_0;
    static constexpr bool kMin = false;
    static Decoded32 decode(const Block& b) {
        const Decoded32 v = nibbles(b.qs);
        const int8x16_t eight = vdupq_n_s8(8);
        return {vsubq_s8(v.lo, eight), vsubq_s8(v.hi, eight)};
    }
};

struct Q4_1W {
    using Block = block_q4_1;
    using Act = block_q8_1;
    static constexpr bool kMin = true;
    static Decoded32 decode(const Block& b) { return nibbles(b.qs); }
};

struct Q5_0W {
    using Block = block_q5_0;
    using Act = block_q8_0;
    static constexpr bool kMin = false;
    static Decoded32 decode(const Block& b) {
        const Decoded32 v = nibbles(b.qs), h = fifth_bits(b.qh);
        const int8x16_t sixteen = vdupq_n_s8(16);
        return {vsubq_s8(vorrq_s8(v.lo, h.lo), sixteen), vsubq_s8(vorrq_s8(v.hi, h.hi), sixteen)};
    }
};

struct Q5_1W {
    using Block = block_q5_1;
    using Act = block_q8_1;
    static constexpr bool kMin = true;
    static Decoded32 decode(const Block& b) {
        const Decoded32 v = nibbles(b.qs), h = fifth_bits(b.qh);
        return {vorrq_s8(v.lo, h.lo), vorrq_s8(v.hi, h.hi)};
    }
};

struct IQ4_NLW {
    using Block = block_iq4_nl;
    using Act = block_q8_0;
    static constexpr bool kMin = false;
    static Decoded32 decode(const Block& b) {
        const int8x16_t table = vld1q_s8(kIq4nlValues);
        const uint8x16_t q = vld1q_u8(b.qs);
        return {vqtbl1q_s8(table, vandq_u8(q, vdupq_n_u8(0x0F))), vqtbl1q_s8(table, vshrq_n_u8(q, 4))};
    }
};

// Σ over the block of weight * activation bytes.
template <class Act>
inline int block_sum(const Decoded32& w, const Act& y) {
    return vaddvq_s32(neon_dot32(w.lo, w.hi, vld1q_s8(y.qs), vld1q_s8(y.qs + 16)));
}

// A block's scale (and min, or the activation block's pre-scaled sum), widened once.
struct Scales {
    float d = 0.0f, m = 0.0f;
};

template <class W>
inline Scales weight_scales(const typename W::Block& x) {
    if constexpr (W::kMin) {
        return {fp16_to_f32(x.d), fp16_to_f32(x.m)};
    } else {
        return {fp16_to_f32(x.d), 0.0f};
    }
}

template <class W>
inline Scales act_scales(const typename W::Act& y) {
    if constexpr (W::kMin) {
        return {fp16_to_f32(y.d), fp16_to_f32(y.s)};
    } else {
        return {fp16_to_f32(y.d), 0.0f};
    }
}

// The block's contribution, in the scalar kernels' float order. Q4_1/Q5_1 add min * s.
template <class W>
inline float block_term(int sumi, Scales x, Scales y) {
    if constexpr (W::kMin) {
        return (x.d * y.d) * static_cast<float>(sumi) + x.m * y.m;
    } else {
        return static_cast<float>(sumi) * (x.d * y.d);
    }
}

template <class W>
void neon_dot_32(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const typename W::Block*>(vw);
    const auto* y = static_cast<const typename W::Act*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / 32; ++ib) {
        sumf += block_term<W>(block_sum(W::decode(x[ib]), y[ib]), weight_scales<W>(x[ib]), act_scales<W>(y[ib]));
    }
    *s = sumf;
}

// Activation rows per pass of the tile product: each decoded weight block is reused this often.
constexpr int kTileActs = 8;

// nw weight rows x na activation rows; each weight block is decoded once per kTileActs
// activation rows. Each (row, activation) sum is built exactly as neon_dot_32 builds it.
template <class W>
void neon_gemm_32(int64_t n, const void* vw, size_t w_stride, int nw, const void* va, size_t a_stride, int na,
                  float* s, size_t s_stride) {
    using Block = typename W::Block;
    using Act = typename W::Act;
    const auto* wb = static_cast<const uint8_t*>(vw);
    const auto* ab = static_cast<const uint8_t*>(va);
    for (int t0 = 0; t0 < na; t0 += kTileActs) {
        const int nt = na - t0 < kTileActs ? na - t0 : kTileActs;
        float acc[kTileActs][kGemmMaxRows] = {};
        for (int64_t ib = 0; ib < n / 32; ++ib) {
            Decoded32 dec[kGemmMaxRows];
            Scales ws[kGemmMaxRows];
            for (int r = 0; r < nw; ++r) {
                const Block& x = reinterpret_cast<const Block*>(wb + r * w_stride)[ib];
                dec[r] = W::decode(x);
                ws[r] = weight_scales<W>(x);
            }
            for (int t = 0; t < nt; ++t) {
                const Act& y = reinterpret_cast<const Act*>(ab + (t0 + t) * a_stride)[ib];
                const Scales ys = act_scales<W>(y);
                for (int r = 0; r < nw; ++r) acc[t][r] += block_term<W>(block_sum(dec[r], y), ws[r], ys);
            }
        }
        for (int t = 0; t < nt; ++t) {
            for (int r = 0; r < nw; ++r) s[(t0 + t) * s_stride + r] = acc[t][r];
        }
    }
}

template <class W>
void set32(Kernels& k, GgmlType t) {
    k.types[static_cast<uint32_t>(t)].vec_dot = neon_dot_32<W>;
    k.types[static_cast<uint32_t>(t)].gemm = neon_gemm_32<W>;
}

}  // namespace

void LLAMAS_NEON_DOT_FILL(fill_neon_quant_dots)(Kernels& k) {
    set32<Q8_0W>(k, GgmlType::Q8_0);
    set32<Q4_0W>(k, GgmlType::Q4_0);
    set32<Q4_1W>(k, GgmlType::Q4_1);
    set32<Q5_0W>(k, GgmlType::Q5_0);
    set32<Q5_1W>(k, GgmlType::Q5_1);
    set32<IQ4_NLW>(k, GgmlType::IQ4_NL);
}

}  // namespace llamas
