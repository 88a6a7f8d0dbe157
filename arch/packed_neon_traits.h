// The NEON vector traits `V` of packed_tiles.inc (see there): 128-bit registers, which read a
// quarter of a 64-byte line (4 of a group's 16 rows) each. Shared by packed_neon.cpp (SDOT tiles)
// and packed_neon_i8mm.cpp (SMMLA many-token tiles over the same packed formats); each includes
// it inside its own anonymous namespace.
//
// SDOT multiplies signed bytes: the narrow formats' values (below 64) are used as they are,
// Q8_0's values (stored plus 128) are turned back into signed bytes and IQ4_NL's come from the
// signed table, so their starting sums drop the -128 x Sum(a).
#pragma once
#include <cstring>

#include "neon_helpers.h"
#include "packed_formats.h"
#include "quant/blocks.h"

namespace llamas {
namespace {

using namespace packed;

struct V {
    static constexpr int kRows = 4;
    using I = int8x16_t;  // bytes, or four int32 sums (reinterpreted where used as such)
    using F = float32x4_t;

    // Tile shapes (32 registers: P x T int sums, P x T float sums, 2P weight registers).
    static constexpr int kT32 = 4, kP32 = 2;
    static constexpr int kT32W = kT32, kP32W = kP32;  // Q8_0, IQ4_NL (wide values)
    static constexpr int kTK = 4, kPK = 2;
    static constexpr int kT16 = 6, kP16 = 4;
    static constexpr int kP1 = 8, kP1f = 8;
    static constexpr int kP1K = 8;

    static I load(const uint8_t* p) { return vreinterpretq_s8_u8(vld1q_u8(p)); }
    static I nib_lo(I v) { return vandq_s8(v, vdupq_n_s8(0x0F)); }
    static I nib_hi(I v) { return vreinterpretq_s8_u8(vshrq_n_u8(vreinterpretq_u8_s8(v), 4)); }
    static I and_(I a, I b) { return vandq_s8(a, b); }
    static I or_(I a, I b) { return vorrq_s8(a, b); }
    template <int N>
    static I shl16(I v) { return vreinterpretq_s8_u16(vshlq_n_u16(vreinterpretq_u16_s8(v), N)); }
    template <int N>
    static I shr16(I v) { return vreinterpretq_s8_u16(vshrq_n_u16(vreinterpretq_u16_s8(v), N)); }
    static I set1(int32_t x) { return vreinterpretq_s8_s32(vdupq_n_s32(x)); }
    static I bcast(const int8_t* p) {
        int32_t v;
        std::memcpy(&v, p, 4);
        return vreinterpretq_s8_s32(vdupq_n_s32(v));
    }
    // 0x10 in byte i where bit i of the 16-bit mask at p is set.
    static I bits(const uint8_t* p) {
        const uint8x16_t spread = vcombine_u8(vdup_n_u8(p[0]), vdup_n_u8(p[1]));
        static const uint8_t kBit[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
        const uint8x16_t set = vtstq_u8(spread, vld1q_u8(kBit));
        return vreinterpretq_s8_u8(vandq_u8(set, vdupq_n_u8(0x10)));
    }
    static I dot2(I acc, I u0, I s0, I u1, I s1) {
        return vreinterpretq_s8_s32(neon_dot4(neon_dot4(vreinterpretq_s32_s8(acc), u0, s0), u1, s1));
    }
    // Partials are int32 lanes already (SDOT), scaled by a multiply-accumulate.
    using N = I;
    static N ndot(I u0, I a0, I u1, I a1) { return dot2(set1(0), u0, a0, u1, a1); }
    static N nacc(N n, I u0, I a0, I u1, I a1) { return dot2(n, u0, a0, u1, a1); }
    static N nadd(N x, N y) { return vreinterpretq_s8_s32(vaddq_s32(vreinterpretq_s32_s8(x), vreinterpretq_s32_s8(y))); }
    static N nsub(N x, N y) { return vreinterpretq_s8_s32(vsubq_s32(vreinterpretq_s32_s8(x), vreinterpretq_s32_s8(y))); }
    template <int K>
    static N noff(const int32_t* p) { return set1(pair_sum(p) * (1 << K)); }
    using S = I;  // int32 lanes
    static S scales(const uint8_t* p) {
        int8_t b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        std::memcpy(b, p, 4);
        return vreinterpretq_s8_s32(vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(b)))));
    }
    static S ones() { return set1(1); }
    static I nscale(I acc, N n, S s) {
        return vreinterpretq_s8_s32(
            vmlaq_s32(vreinterpretq_s32_s8(acc), vreinterpretq_s32_s8(n), vreinterpretq_s32_s8(s)));
    }
    using W = I;  // w as signed bytes
    static W wide(I u) { return veorq_s8(u, vdupq_n_s8(static_cast<int8_t>(0x80))); }
    static W wlut(const int8_t* table, I idx) { return vqtbl1q_s8(vld1q_s8(table), vreinterpretq_u8_s8(idx)); }
    static I dot2w(I acc, W w0, I s0, W w1, I s1) { return dot2(acc, w0, s0, w1, s1); }
    static constexpr bool kWideU = false, kDirectNarrow = false;
    static constexpr bool kDecodeAllParts = false;
    // (No one-register wide tiles here: SDOT takes a line's two registers as cheaply.)
    static constexpr bool kSplitW = false;
    static I dot1w(I acc, W w, I s) { return vreinterpretq_s8_s32(neon_dot4(vreinterpretq_s32_s8(acc), w, s)); }
    using WP = I;  // unscaled int32 sums, scaled once by wflush
    static WP wzero() { return set1(0); }
    static WP wacc(WP wp, W w0, I s0, W w1, I s1, S) { return dot2(wp, w0, s0, w1, s1); }
    static I wflush(I acc, WP wp, S s) { return nscale(acc, wp, s); }

    static F cvt(I v) { return vcvtq_f32_s32(vreinterpretq_s32_s8(v)); }
    static F fmadd(F a, F b, F c) { return vfmaq_f32(c, a, b); }
    static F fnmadd(F a, F b, F c) { return vfmaq_f32(c, vnegq_f32(a), b); }  // simde has no vfmsq
    static F mul(F a, F b) { return vmulq_f32(a, b); }
    static F set1f(float x) { return vdupq_n_f32(x); }
    static F zerof() { return vdupq_n_f32(0.0f); }
    static F f16(const uint8_t* p) {
        uint16_t h[4];
        std::memcpy(h, p, sizeof h);
        return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
    }
    static F bf16(const uint8_t* p) {
        uint16_t h[4];
        std::memcpy(h, p, sizeof h);
        return vreinterpretq_f32_u32(vshlq_n_u32(vmovl_u16(vld1_u16(h)), 16));
    }
    static F u8f(const uint8_t* p) {
        uint8_t b[8] = {p[0], p[1], p[2], p[3], 0, 0, 0, 0};
        return vcvtq_f32_u32(vmovl_u16(vget_low_u16(vmovl_u8(vld1_u8(b)))));
    }
    static F i8f(const uint8_t* p) {
        int8_t b[8];
        std::memcpy(b, p, 4);
        std::memset(b + 4, 0, 4);
        return vcvtq_f32_s32(vmovl_s16(vget_low_s16(vmovl_s8(vld1_s8(b)))));
    }
    static void store(float* p, F v) { vst1q_f32(p, v); }
    static void prefetch(const uint8_t* p) { __builtin_prefetch(p); }
};

// Under simde's emulation every intrinsic is a loop the compiler must inline: packed_tiles.inc
// unrolls less there (LLAMAS_TILES_EMULATED), or these files take many minutes to compile.
#if !defined(SIMDE_ARM_NEON_A32V7_NATIVE) && !defined(__aarch64__)
#define LLAMAS_TILES_EMULATED
#endif

}  // namespace
}  // namespace llamas
