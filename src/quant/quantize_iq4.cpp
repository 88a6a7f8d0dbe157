// Encoders of the non-linear 4-bit types IQ4_NL (32-element blocks, fp16 scale) and IQ4_XS
// (256-element super-blocks with 6-bit sub-block scales), as ggml's quantize_iq4_nl /
// quantize_iq4_xs do without an importance matrix: weights x^2 and a search over 15 scales
// around the absmax one (ntry = 7).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant/fp16.h"
#include "quant/quantize_internal.h"

namespace llamas::quant_detail {
namespace {

constexpr int kNtry = 7;

// Index of the level in the sorted table nearest to x; on an exact tie between two levels
// the upper one wins, as in ggml's binary search. Counting the levels <= x gives the same
// bracket as that search without its unpredictable branches (this is the encoder's hot loop).
int best_level(const int8_t* val, float x) {
    if (x <= val[0]) return 0;
    if (x >= val[15] || std::isnan(x)) return 15;
    int mu = 1;  // first level above x
    for (int k = 1; k < 15; ++k) mu += x >= val[k];
    return x - val[mu - 1] < val[mu] - x ? mu - 1 : mu;
}

// Best scale for one 32-element sub-block: returns it (0 for an all-zero block) and leaves
// the level indices in L.
float search_sub_block(const float* xb, uint8_t* L) {
    constexpr int kBlock = 32;
    const int8_t* values = kIq4nlValues;
    float weight[kBlock];
    for (int j = 0; j < kBlock; ++j) weight[j] = xb[j] * xb[j];
    float amax = 0, max = 0;
    for (int j = 0; j < kBlock; ++j) {
        const float ax = std::fabs(xb[j]);
        if (ax > amax) {
            amax = ax;
            max = xb[j];
        }
    }
    if (amax < kGroupMaxEps) return 0;
    float d = -max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
        const float al = id * xb[j];
        const int l = best_level(values, al);
        L[j] = static_cast<uint8_t>(l);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -kNtry; itry <= kNtry; ++itry) {
        id = (itry + values[0]) / max;
        sumqx = sumq2 = 0;
        for (int j = 0; j < kBlock; ++j) {
            const float al = id * xb[j];
            const int l = best_level(values, al);
            const float q = values[l];
            const float w = weight[j];
            sumqx += w * q * xb[j];
            sumq2 += w * q * q;
        }
        if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
            d = sumqx / sumq2;
            best = d * sumqx;
        }
    }
    return d;
}

// 32 level indices -> 16 bytes: element j low nibble, j+16 high nibble.
void pack_nibbles(const uint8_t* L, uint8_t* q4) {
    for (int j = 0; j < 16; ++j) q4[j] = static_cast<uint8_t>(L[j] | (L[16 + j] << 4));
}

}  // namespace

void quantize_iq4_nl(const float* x, block_iq4_nl* y, int64_t n) {
    const int64_t nb = n / QK4_NL;
    uint8_t L[QK4_NL];
    for (int64_t i = 0; i < nb; ++i, x += QK4_NL) {
        const float d = search_sub_block(x, L);
        y[i].d = f32_to_fp16(d);
        // Re-pick every level for the final scale (an all-zero block encodes as level 8, ~0).
        const float id = d ? 1 / d : 0;
        for (int j = 0; j < QK4_NL; ++j) L[j] = static_cast<uint8_t>(best_level(kIq4nlValues, id * x[j]));
        pack_nibbles(L, y[i].qs);
    }
}

void quantize_iq4_xs(const float* x, block_iq4_xs* y, int64_t n) {
    const int64_t nb = n / QK_K;
    constexpr int kSub = QK_K / 32;
    uint8_t L[QK_K];
    float scales[kSub];
    for (int64_t i = 0; i < nb; ++i, x += QK_K) {
        float max_scale = 0, amax_scale = 0;
        for (int ib = 0; ib < kSub; ++ib) {
            scales[ib] = search_sub_block(x + 32 * ib, L + 32 * ib);
            const float abs_d = std::fabs(scales[ib]);
            if (abs_d > amax_scale) {
                amax_scale = abs_d;
                max_scale = scales[ib];
            }
        }
        // Sub-block scales become 6-bit multiples (-32..31) of the super-block scale d.
        const float d = -max_scale / 32;
        y[i].d = f32_to_fp16(d);
        y[i].scales_h = 0;
        const float id = d ? 1 / d : 0.f;
        for (int ib = 0; ib < kSub; ++ib) {
            int l = nearest_int(id * scales[ib]);
            l = std::max(-32, std::min(31, l));
            const float dl = d * l;
            const float idl = dl ? 1 / dl : 0.f;
            const float* xb = x + 32 * ib;
            for (int j = 0; j < 32; ++j) L[32 * ib + j] = static_cast<uint8_t>(best_level(kIq4nlValues, idl * xb[j]));
            l += 32;
            const uint8_t l_l = static_cast<uint8_t>(l & 0xF);
            const uint8_t l_h = static_cast<uint8_t>(l >> 4);
            if (ib % 2 == 0)
                y[i].scales_l[ib / 2] = l_l;
            else
                y[i].scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
            y[i].scales_h = static_cast<uint16_t>(y[i].scales_h | (l_h << 2 * (ib % 8)));
        }
        for (int s = 0; s < kSub; ++s) pack_nibbles(L + 32 * s, y[i].qs + 16 * s);
    }
}

}  // namespace llamas::quant_detail
