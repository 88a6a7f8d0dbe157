#include "ops/rope.h"

#include <cmath>

#include "kernels.h"

namespace llamas {

void rope_cos_sin(const RopeParams& p, int64_t pos, float* cs) {
    const float theta_scale = std::pow(p.base, -2.0f / static_cast<float>(p.n_rot));
    float theta = static_cast<float>(pos);
    for (int64_t i = 0; i < p.n_rot; i += 2) {
        const float ff = p.freq_factors ? p.freq_factors[i / 2] : 1.0f;
        const float t = p.freq_scale * (theta / ff);
        cs[i] = std::cos(t);
        cs[i + 1] = std::sin(t);
        theta *= theta_scale;
    }
}

void rope_apply(const RopeParams& p, const float* cs, float* x, int64_t n_heads, int64_t head_dim) {
    if (const auto fast = kernels().rope) return fast(cs, x, n_heads, head_dim, p.n_rot, p.layout == RopeLayout::neox);
    rope_apply_scalar(p, cs, x, n_heads, head_dim);
}

void rope_apply_scalar(const RopeParams& p, const float* cs, float* x, int64_t n_heads, int64_t head_dim) {
    const int64_t half = p.n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < p.n_rot; i += 2) {
            const float c = cs[i], s = cs[i + 1];
            // normal: adjacent pairs; neox: element i/2 pairs with i/2 + n_rot/2
            const int64_t a = p.layout == RopeLayout::normal ? i : i / 2;
            const int64_t b = p.layout == RopeLayout::normal ? i + 1 : i / 2 + half;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

}  // namespace llamas
