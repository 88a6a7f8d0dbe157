// NEON products of Q2_K (the one K-quant without a packed form: the others go through the packed
// tiles, packed_neon.cpp) with Q8_K activation blocks. A weight super-block is decoded once into
// 256 values (0..3) plus its integer sub-block scales and mins; each activation block then takes
// 4-byte dot products per 16 values, scaled in integers. The integer sums are the scalar
// oracle's, and the float steps follow its order, so vec_dot and the tile product give the
// oracle's bits.
#include <cstring>

#include "neon_helpers.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

// One decoded weight super-block.
struct KDecoded {
    int8_t q[QK_K];   // the 256 values
    int32_t sc[16];   // integer scale of each 16 values
    int16_t mn[16];   // integer min of each 16 values (multiplies the activation's bsums)
    float d = 0.0f;   // super-block scale
    float dmin = 0.0f;
};

// Each 32-byte run of qs holds four 2-bit planes, one 32-value chunk per shift.
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

inline void decode(const block_q2_K& b, KDecoded& o) {
    store_2bit_planes(b.qs, o.q);
    for (int j = 0; j < 16; ++j) {
        o.sc[j] = b.scales[j] & 0xF;
        o.mn[j] = static_cast<int16_t>(b.scales[j] >> 4);
    }
    o.d = fp16_to_f32(b.d);
    o.dmin = fp16_to_f32(b.dmin);
}

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

// Adds one super-block's contribution to sumf, in the scalar kernel's float order.
inline void accumulate(float& sumf, const KDecoded& w, const block_q8_K& y) {
    const float isum = static_cast<float>(scaled_sum(w, y));
    sumf += w.d * y.d * isum - w.dmin * y.d * static_cast<float>(min_sum(w, y));
}

void neon_dot_q2_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q2_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    KDecoded dec;
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        decode(x[i], dec);
        accumulate(sumf, dec, y[i]);
    }
    *s = sumf;
}

// Activation rows per pass of the tile product: each decoded super-block is reused this often.
constexpr int kTileActs = 8;

// nw weight rows x na activation rows, each super-block decoded once per kTileActs activation
// rows; every (row, activation) sum is built exactly as neon_dot_q2_k builds it.
void neon_gemm_q2_k(int64_t n, const void* vw, size_t w_stride, int nw, const void* va, size_t a_stride, int na,
                    float* s, size_t s_stride) {
    const auto* wb = static_cast<const uint8_t*>(vw);
    const auto* ab = static_cast<const uint8_t*>(va);
    KDecoded dec[kGemmMaxRows];
    for (int t0 = 0; t0 < na; t0 += kTileActs) {
        const int nt = na - t0 < kTileActs ? na - t0 : kTileActs;
        float acc[kTileActs][kGemmMaxRows] = {};
        for (int64_t i = 0; i < n / QK_K; ++i) {
            for (int r = 0; r < nw; ++r) decode(reinterpret_cast<const block_q2_K*>(wb + r * w_stride)[i], dec[r]);
            for (int t = 0; t < nt; ++t) {
                const block_q8_K& y = reinterpret_cast<const block_q8_K*>(ab + (t0 + t) * a_stride)[i];
                for (int r = 0; r < nw; ++r) accumulate(acc[t][r], dec[r], y);
            }
        }
        for (int t = 0; t < nt; ++t) {
            for (int r = 0; r < nw; ++r) s[(t0 + t) * s_stride + r] = acc[t][r];
        }
    }
}

}  // namespace

void LLAMAS_NEON_DOT_FILL(fill_neon_q2_k_dots)(Kernels& k) {
    k.types[static_cast<uint32_t>(GgmlType::Q2_K)].vec_dot = neon_dot_q2_k;
    k.types[static_cast<uint32_t>(GgmlType::Q2_K)].gemm = neon_gemm_q2_k;
}

}  // namespace llamas
