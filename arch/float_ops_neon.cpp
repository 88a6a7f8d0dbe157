// The NEON float loops and attention tile: float_ops.inc and attention.inc on 4-lane traits
// (V4 below; vec_avx2.inc lists what the traits hold), and attn_rows, each row in turn on these
// loops. Under simde (x86) the fused multiply-add and the division are computed lane by lane
// with std::fma and '/', so the emulated path rounds as aarch64 does.
#include <cmath>
#include <cstring>

#include "neon_helpers.h"

namespace llamas {
namespace {

struct V4 {
    static constexpr int kN = 4;
    using F = float32x4_t;
    using I = uint32x4_t;  // unsigned lanes (wrapping arithmetic); in_range compares them signed
    using D = float64x2_t;
    using M = uint32x4_t;
    // Attention tile blocking: 32 registers, as AVX-512.
    static constexpr int kScoreKeys = 8, kValueCols = 8;

    static F load(const float* p) { return vld1q_f32(p); }
    static void store(float* p, F v) { vst1q_f32(p, v); }
    static F load_part(const float* p, int64_t n, float fill) {
        float t[kN] = {fill, fill, fill, fill};
        std::memcpy(t, p, static_cast<size_t>(n) * sizeof(float));
        return vld1q_f32(t);
    }
    static void store_part(float* p, F v, int64_t n) {
        float t[kN];
        vst1q_f32(t, v);
        std::memcpy(p, t, static_cast<size_t>(n) * sizeof(float));
    }
    static F set1(float x) { return vdupq_n_f32(x); }
    static F zero() { return vdupq_n_f32(0.0f); }
    static F add(F a, F b) { return vaddq_f32(a, b); }
    static F sub(F a, F b) { return vsubq_f32(a, b); }
    static F mul(F a, F b) { return vmulq_f32(a, b); }
    static F div(F a, F b) {
#if defined(LLAMAS_NEON_NATIVE)
        return vdivq_f32(a, b);
#else  // simde lacks vdivq_f32 (an AArch64 instruction)
        float av[4], bv[4];
        vst1q_f32(av, a);
        vst1q_f32(bv, b);
        for (int i = 0; i < 4; ++i) av[i] /= bv[i];
        return vld1q_f32(av);
#endif
    }
    static F max(F a, F b) { return vmaxq_f32(a, b); }
    // a*b + c rounded once, as std::fma (simde's vfmaq_f32 is a multiply and an add on a host
    // without FMA, so there each lane goes through std::fma).
    static F fmadd(F a, F b, F c) {
#if defined(LLAMAS_NEON_NATIVE)
        return vfmaq_f32(c, a, b);
#else
        float av[4], bv[4], cv[4];
        vst1q_f32(av, a);
        vst1q_f32(bv, b);
        vst1q_f32(cv, c);
        for (int i = 0; i < 4; ++i) cv[i] = std::fma(av[i], bv[i], cv[i]);
        return vld1q_f32(cv);
#endif
    }
    static F fnmadd(F a, F b, F c) { return fmadd(vnegq_f32(a), b, c); }  // c - a*b
    static F fmsub(F a, F b, F c) { return fmadd(a, b, vnegq_f32(c)); }   // a*b - c
    static F and_(F a, F b) { return from_bits(vandq_u32(bits(a), bits(b))); }
    static F or_(F a, F b) { return from_bits(vorrq_u32(bits(a), bits(b))); }
    static F neg(F a) { return vnegq_f32(a); }
    static F abs(F a) { return vabsq_f32(a); }
    static M lt(F a, F b) { return vcltq_f32(a, b); }
    static M le(F a, F b) { return vcleq_f32(a, b); }
    static M gt(F a, F b) { return vcgtq_f32(a, b); }
    static M ge(F a, F b) { return vcgeq_f32(a, b); }
    static M eq(F a, F b) { return vceqq_f32(a, b); }
    static F select(M m, F a, F b) { return vbslq_f32(m, a, b); }  // m ? a : b
    static bool any(M m) { return vmaxvq_u32(m) != 0; }
    static float hsum(F v) { return vaddvq_f32(v); }
    static float hmax(F v) { return vmaxvq_f32(v); }
    // The four sums of a0..a3 to out[0..3]: two rounds of pairwise adds.
    static void hsum4(float* out, F a0, F a1, F a2, F a3) {
        vst1q_f32(out, vpaddq_f32(vpaddq_f32(a0, a1), vpaddq_f32(a2, a3)));
    }

    static I bits(F a) { return vreinterpretq_u32_f32(a); }
    static F from_bits(I a) { return vreinterpretq_f32_u32(a); }
    static I set1i(uint32_t x) { return vdupq_n_u32(x); }
    static I addi(I a, I b) { return vaddq_u32(a, b); }
    static I subi(I a, I b) { return vsubq_u32(a, b); }
    static I shl23(I a) { return vshlq_n_u32(a, 23); }
    static I andi(M m, I a) { return vandq_u32(m, a); }  // m ? a : 0
    static I loadi(const int32_t* p) { return vreinterpretq_u32_s32(vld1q_s32(p)); }
    // lo <= pos < hi, lane-wise, as signed values.
    static M in_range(I lo, I hi, I pos) {
        const int32x4_t l = vreinterpretq_s32_u32(lo), h = vreinterpretq_s32_u32(hi), p = vreinterpretq_s32_u32(pos);
        return vandq_u32(vcleq_s32(l, p), vcltq_s32(p, h));
    }

    // Sums in double: each half of a register widened (squares of floats are exact in double,
    // so fmaddd rounds as a multiply and an add).
    static D zerod() { return vdupq_n_f64(0.0); }
    static D lo_d(F a) { return vcvt_f64_f32(vget_low_f32(a)); }
    static D hi_d(F a) { return vcvt_f64_f32(vget_high_f32(a)); }
    static D addd(D a, D b) { return vaddq_f64(a, b); }
    static D fmaddd(D a, D b, D c) { return vfmaq_f64(c, a, b); }
    static double hsumd(D v) { return vaddvq_f64(v); }

    static F load_f16(const void* p) { return neon_f16x4_to_f32(static_cast<const uint16_t*>(p)); }
    // table[fp16 bits of x] per lane (x rounded to nearest even, as f32_to_fp16).
    static F gather_f16(const float* table, F x) {
        uint16_t h[4];
        vst1_u16(h, neon_f32x4_to_fp16(x));
        const float g[4] = {table[h[0]], table[h[1]], table[h[2]], table[h[3]]};
        return vld1q_f32(g);
    }
    // RoPE helpers (see vec_avx2.inc).
    static void deinterleave(const float* p, F& c, F& s) {
        const float32x4x2_t t = vld2q_f32(p);
        c = t.val[0];
        s = t.val[1];
    }
    static F swap_pairs(F a) { return vrev64q_f32(a); }
    static F dup_even(F a) { return vtrn1q_f32(a, a); }
    static F dup_odd(F a) { return vtrn2q_f32(a, a); }
    static F addsub(F a, F b) {  // a + (-b) in even lanes: the same bits as a - b
        static const uint32_t even_sign[4] = {0x80000000u, 0u, 0x80000000u, 0u};
        return vaddq_f32(a, vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(b), vld1q_u32(even_sign))));
    }
};

#include "float_ops.inc"
#include "attention.inc"

}  // namespace

void fill_neon_float_ops(Kernels& k) {
    fill_float_ops<V4>(k);
    k.attn_tile = attn_tile<V4>;
}

}  // namespace llamas
