// The integer half of the packed_tiles.inc traits for tables with VPDPBUSD (AVX-512 VNNI on zmm,
// AVX-VNNI on ymm): Σ4 u*s per lane straight into int32, so no partial is narrow (kDirectNarrow)
// and the wide values stay as stored, 128 above (kWideU). B is the table's own traits (loads,
// floats, tile shapes) plus the width's primitives:
//   dpbusd(acc, u, s), add32, sub32, mullo32 (int32 lanes), zero(), scales8(p) (kRows signed bytes
//   as int32 lanes), lut(table, idx) (a byte shuffle of a 16-byte table in every 128 bits).
// Included inside an anonymous namespace by packed_avx512.cpp and packed_avx2.cpp.
template <class B>
struct VnniTraits : B {
    using I = typename B::I;
    static constexpr bool kWideU = true, kDirectNarrow = true;
    // The wide values are loaded as they are stored, one register per line like the narrow ones,
    // so their tiles take the narrow shape, a line at a time.
    static constexpr int kT32W = B::kT32, kP32W = B::kP32;
    static constexpr bool kSplitW = false;

    static I dot2(I acc, I u0, I s0, I u1, I s1) { return B::dpbusd(B::dpbusd(acc, u0, s0), u1, s1); }
    using N = I;
    static N ndot(I u0, I a0, I u1, I a1) { return dot2(B::zero(), u0, a0, u1, a1); }
    static N nacc(N n, I u0, I a0, I u1, I a1) { return dot2(n, u0, a0, u1, a1); }
    static N nadd(N x, N y) { return B::add32(x, y); }
    static N nsub(N x, N y) { return B::sub32(x, y); }
    template <int K>
    static N noff(const int32_t* p) { return B::set1(packed::pair_sum(p) * (1 << K)); }
    using S = I;  // int32 lanes
    static S scales(const uint8_t* p) { return B::scales8(p); }
    struct One {};  // a scale of 1: nscale adds
    static One ones() { return One{}; }
    static I nscale(I acc, N n, S s) { return B::add32(acc, B::mullo32(n, s)); }
    static I nscale(I acc, N n, One) { return B::add32(acc, n); }
    using W = I;  // the stored (unsigned) values
    static W wide(I u) { return u; }
    static W wlut(const int8_t* table, I idx) { return B::lut(table, idx); }
    static I dot2w(I acc, W w0, I s0, W w1, I s1) { return dot2(acc, w0, s0, w1, s1); }
    static I dot1w(I acc, W w, I s) { return B::dpbusd(acc, w, s); }
    using WP = I;  // unscaled int32 sums, scaled once by wflush
    static WP wzero() { return B::zero(); }
    static WP wacc(WP wp, W w0, I s0, W w1, I s1, S) { return dot2(wp, w0, s0, w1, s1); }
    static I wflush(I acc, WP wp, S s) { return nscale(acc, wp, s); }
};
