// NEON products of the 256-element super-block types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) with
// Q8_K activation blocks. A weight super-block is decoded once into 256 signed bytes plus its
// integer sub-block scales (and mins); each activation block then takes 4-byte dot products per
// 16 values, scaled in integers. The integer sums are the scalar oracle's, and the float steps
// follow its order, so vec_dot and the tile product give the oracle's bits.
#include <cstring>

#include "neon_helpers.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

// One decoded weight super-block.
struct KDecoded {
    int8_t q[QK_K];   // the 256 values (Q4_K/Q5_K unsigned 0..31, the others signed)
    int32_t sc[16];   // integer scale of each 16 values
    int16_t mn[16];   // integer min of each 16 values (multiplies the activation's bsums)
    int8_t ls[8];     // IQ4_XS: signed scale of each 32 values
    float d = 0.0f;   // super-block scale
    float dmin = 0.0f;
};

// The 32 values of each byte's low and high nibbles, stored as two runs of 32.
inline void store_nibble_runs(const uint8_t* qs, int8_t* out) {
    const uint8x16_t m4 = vdupq_n_u8(0x0F);
    for (int h = 0; h < 2; ++h) {
        const uint8x16_t v = vld1q_u8(qs + 16 * h);
        vst1q_s8(out + 16 * h, vreinterpretq_s8_u8(vandq_u8(v, m4)));
        vst1q_s8(out + 32 + 16 * h, vreinterpretq_s8_u8(vshrq_n_u8(v, 4)));
    }
}

// The 6-bit scales and mins of Q4_K/Q5_K, each repeated for the two 16-value halves.
inline void k4_scales(const uint8_t* p, KDecoded& o) {
    for (int j = 0; j < 8; ++j) {
        int sc, mn;
        if (j < 4) {
            sc = p[j] & 63;
            mn = p[j + 4] & 63;
        } else {
            sc = (p[j + 4] & 0xF) | ((p[j - 4] >> 6) << 4);
            mn = (p[j + 4] >> 4) | ((p[j] >> 6) << 4);
        }
        o.sc[2 * j] = o.sc[2 * j + 1] = sc;
        o.mn[2 * j] = o.mn[2 * j + 1] = static_cast<int16_t>(mn);
    }
}

// Q2_K/Q3_K: each 32-byte run of qs holds four 2-bit planes, one 32-value chunk per shift.
inline void store_2bit_planes(const uint8_t* qs, int8_t* out) {
    const uint8x16_t m3 = vdupq_n_u8(3);
    for (int k = 0; k < 2; ++k) {
        const uint8x16_t a = vld1q_u8(qs + 32 * k), b = vld1q_u8(qs + 32 * k + 16);
        int8_t* o = out + 128 * k;
        vst1q_s8(o + 0, vreinterpretq_s8_u8(vandq_u8(a, m3)));
        vst1q_s8(o + 16, vreinterpretq_s8_u8(vandq_u8(b, m3)));
        vst1q_s8(o + 32, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(a, 2), m3)));
        vst1q_s8(o + 48, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 2), m3)));
        vst1q_s8(o + 64, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(a, 4), m3)));
        vst1q_s8(o + 80, vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(b, 4), m3)));
        vst1q_s8(o + 96, vreinterpretq_s8_u8(vshrq_n_u8(a, 6)));
        vst1q_s8(o + 112, vreinterpretq_s8_u8(vshrq_n_u8(b, 6)));
    }
}

// Adds 16 to the values of chunk c (32 values) whose bit c is set in the 32 bytes of hbits
// (Q5_K), or subtracts 4 where it is clear (Q3_K).
template <bool kAddWhenSet>
inline void apply_high_bits(const uint8_t* hbits, int8_t* q) {
    const uint8x16_t h0 = vld1q_u8(hbits), h1 = vld1q_u8(hbits + 16);
    for (int c = 0; c < 8; ++c) {
        const uint8x16_t m = vdupq_n_u8(static_cast<uint8_t>(1u << c));
        for (int h = 0; h < 2; ++h) {
            const uint8x16_t set = vtstq_u8(h == 0 ? h0 : h1, m);
            int8_t* p = q + 32 * c + 16 * h;
            const int8x16_t v = vld1q_s8(p);
            if (kAddWhenSet) {
                vst1q_s8(p, vaddq_s8(v, vreinterpretq_s8_u8(vandq_u8(set, vdupq_n_u8(16)))));
            } else {
                vst1q_s8(p, vsubq_s8(v, vreinterpretq_s8_u8(vbicq_u8(vdupq_n_u8(4), set))));
            }
        }
    }
}

struct Q2_KW {
    using Block = block_q2_K;
    static constexpr bool kMin = true;
    static void decode(const Block& b, KDecoded& o) {
        store_2bit_planes(b.qs, o.q);
        for (int j = 0; j < 16; ++j) {
            o.sc[j] = b.scales[j] & 0xF;
            o.mn[j] = static_cast<int16_t>(b.scales[j] >> 4);
        }
        o.d = fp16_to_f32(b.d);
        o.dmin = fp16_to_f32(b.dmin);
    }
};

struct Q3_KW {
    using Block = block_q3_K;
    static constexpr bool kMin = false;
    static void decode(const Block& b, KDecoded& o) {
        store_2bit_planes(b.qs, o.q);
        apply_high_bits<false>(b.hmask, o.q);
        const uint8_t* p = b.scales;
        for (int j = 0; j < 16; ++j) {
            const int lo = j < 8 ? (p[j] & 0xF) : (p[j - 8] >> 4);
            const int hi = (p[8 + (j % 4)] >> (2 * (j / 4))) & 3;
            o.sc[j] = (lo | (hi << 4)) - 32;
        }
        o.d = fp16_to_f32(b.d);
    }
};

struct Q4_KW {
    using Block = block_q4_K;
    static constexpr bool kMin = true;
    static void decode(const Block& b, KDecoded& o) {
        for (int j = 0; j < 4; ++j) store_nibble_runs(b.qs + 32 * j, o.q + 64 * j);
        k4_scales(b.scales, o);
        o.d = fp16_to_f32(b.d);
        o.dmin = fp16_to_f32(b.dmin);
    }
};

struct Q5_KW {
    using Block = block_q5_K;
    static constexpr bool kMin = true;
    static void decode(const Block& b, KDecoded& o) {
        for (int j = 0; j < 4; ++j) store_nibble_runs(b.qs + 32 * j, o.q + 64 * j);
        apply_high_bits<true>(b.qh, o.q);
        k4_scales(b.scales, o);
        o.d = fp16_to_f32(b.d);
        o.dmin = fp16_to_f32(b.dmin);
    }
};

struct Q6_KW {
    using Block = block_q6_K;
    static constexpr bool kMin = false;
    static void decode(const Block& b, KDecoded& o) {
        const uint8x16_t m4 = vdupq_n_u8(0x0F), m3 = vdupq_n_u8(3);
        const int8x16_t off = vdupq_n_s8(32);
        // Two halves of 128 values: 64 bytes of ql and 32 of qh make four runs of 32.
        for (int half = 0; half < 2; ++half) {
            const uint8_t* ql = b.ql + 64 * half;
            const uint8_t* qh = b.qh + 32 * half;
            int8_t* o8 = o.q + 128 * half;
            for (int h = 0; h < 2; ++h) {
                const uint8x16_t l0 = vld1q_u8(ql + 16 * h), l1 = vld1q_u8(ql + 32 + 16 * h);
                const uint8x16_t hb = vld1q_u8(qh + 16 * h);
                const uint8x16_t r0 = vorrq_u8(vandq_u8(l0, m4), vshlq_n_u8(vandq_u8(hb, m3), 4));
                const uint8x16_t r1 = vorrq_u8(vandq_u8(l1, m4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 2), m3), 4));
                const uint8x16_t r2 = vorrq_u8(vshrq_n_u8(l0, 4), vshlq_n_u8(vandq_u8(vshrq_n_u8(hb, 4), m3), 4));
                const uint8x16_t r3 = vorrq_u8(vshrq_n_u8(l1, 4), vshlq_n_u8(vshrq_n_u8(hb, 6), 4));
                vst1q_s8(o8 + 0 + 16 * h, vsubq_s8(vreinterpretq_s8_u8(r0), off));
                vst1q_s8(o8 + 32 + 16 * h, vsubq_s8(vreinterpretq_s8_u8(r1), off));
                vst1q_s8(o8 + 64 + 16 * h, vsubq_s8(vreinterpretq_s8_u8(r2), off));
                vst1q_s8(o8 + 96 + 16 * h, vsubq_s8(vreinterpretq_s8_u8(r3), off));
            }
        }
        for (int j = 0; j < 16; ++j) o.sc[j] = b.scales[j];
        o.d = fp16_to_f32(b.d);
    }
};

// Σ_j sc[j] * (values · activations of the j-th 16), in integers.
inline int scaled_sum(const KDecoded& w, const block_q8_K& y) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int j = 0; j < 16; ++j) {
        const int32x4_t p = neon_dot4(vdupq_n_s32(0), vld1q_s8(w.q + 16 * j), vld1q_s8(y.qs + 16 * j));
        acc = vmlaq_n_s32(acc, p, w.sc[j]);
    }
    return vaddvq_s32(acc);
}

// Σ_j mn[j] * bsums[j].
inline int min_sum(const KDecoded& w, const block_q8_K& y) {
    int32x4_t acc = vdupq_n_s32(0);
    for (int h = 0; h < 2; ++h) {
        const int16x8_t m = vld1q_s16(w.mn + 8 * h), b = vld1q_s16(y.bsums + 8 * h);
        acc = vmlal_s16(acc, vget_low_s16(m), vget_low_s16(b));
        acc = vmlal_high_s16(acc, m, b);
    }
    return vaddvq_s32(acc);
}

// Adds one super-block's contribution to sumf, in the scalar kernels' float order.
template <class W>
inline void accumulate(float& sumf, const KDecoded& w, const block_q8_K& y) {
    const float isum = static_cast<float>(scaled_sum(w, y));
    if constexpr (W::kMin) {
        sumf += w.d * y.d * isum - w.dmin * y.d * static_cast<float>(min_sum(w, y));
    } else {
        sumf += w.d * y.d * isum;
    }
}

struct IQ4_XSW {
    using Block = block_iq4_xs;
    static void decode(const Block& b, KDecoded& o) {
        const int8x16_t table = vld1q_s8(kIq4nlValues);
        for (int ib = 0; ib < 8; ++ib) {
            const uint8x16_t v = vld1q_u8(b.qs + 16 * ib);
            vst1q_s8(o.q + 32 * ib, vqtbl1q_s8(table, vandq_u8(v, vdupq_n_u8(0x0F))));
            vst1q_s8(o.q + 32 * ib + 16, vqtbl1q_s8(table, vshrq_n_u8(v, 4)));
            const int ls = ((b.scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((b.scales_h >> (2 * ib)) & 3) << 4);
            o.ls[ib] = static_cast<int8_t>(ls - 32);
        }
        o.d = fp16_to_f32(b.d);
    }
};

// IQ4_XS adds each 32 values' product to the row's float sum, as the scalar kernel does.
template <>
inline void accumulate<IQ4_XSW>(float& sumf, const KDecoded& w, const block_q8_K& y) {
    const float d4d8 = w.d * y.d;
    for (int ib = 0; ib < 8; ++ib) {
        const int sumi = vaddvq_s32(neon_dot32(vld1q_s8(w.q + 32 * ib), vld1q_s8(w.q + 32 * ib + 16),
                                               vld1q_s8(y.qs + 32 * ib), vld1q_s8(y.qs + 32 * ib + 16)));
        sumf += d4d8 * static_cast<float>(w.ls[ib]) * static_cast<float>(sumi);
    }
}

template <class W>
void neon_dot_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const typename W::Block*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    KDecoded dec;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        W::decode(x[i], dec);
        accumulate<W>(sumf, dec, y[i]);
    }
    *s = sumf;
}

// Activation rows per pass of the tile product: each decoded super-block is reused this often.
constexpr int kTileActs = 8;

// nw weight rows x na activation rows, each super-block decoded once per kTileActs activation
// rows; every (row, activation) sum is built exactly as neon_dot_k builds it.
template <class W>
void neon_gemm_k(int64_t n, const void* vw, size_t w_stride, int nw, const void* va, size_t a_stride, int na,
                 float* s, size_t s_stride) {
    using Block = typename W::Block;
    const auto* wb = static_cast<const uint8_t*>(vw);
    const auto* ab = static_cast<const uint8_t*>(va);
    KDecoded dec[kGemmMaxRows];
    for (int t0 = 0; t0 < na; t0 += kTileActs) {
        const int nt = na - t0 < kTileActs ? na - t0 : kTileActs;
        float acc[kTileActs][kGemmMaxRows] = {};
        for (int64_t i = 0; i < n / QK_K; ++i) {
            for (int r = 0; r < nw; ++r) W::decode(reinterpret_cast<const Block*>(wb + r * w_stride)[i], dec[r]);
            for (int t = 0; t < nt; ++t) {
                const block_q8_K& y = reinterpret_cast<const block_q8_K*>(ab + (t0 + t) * a_stride)[i];
                for (int r = 0; r < nw; ++r) accumulate<W>(acc[t][r], dec[r], y);
            }
        }
        for (int t = 0; t < nt; ++t) {
            for (int r = 0; r < nw; ++r) s[(t0 + t) * s_stride + r] = acc[t][r];
        }
    }
}

template <class W>
void set_k(Kernels& k, GgmlType t) {
    k.types[static_cast<uint32_t>(t)].vec_dot = neon_dot_k<W>;
    k.types[static_cast<uint32_t>(t)].gemm = neon_gemm_k<W>;
}

}  // namespace

void LLAMAS_NEON_DOT_FILL(fill_neon_kquant_dots)(Kernels& k) {
    set_k<Q2_KW>(k, GgmlType::Q2_K);
    set_k<Q3_KW>(k, GgmlType::Q3_K);
    set_k<Q4_KW>(k, GgmlType::Q4_K);
    set_k<Q5_KW>(k, GgmlType::Q5_K);
    set_k<Q6_KW>(k, GgmlType::Q6_K);
    set_k<IQ4_XSW>(k, GgmlType::IQ4_XS);
}

}  // namespace llamas
