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
    kernels().rope(cs, x, n_heads, head_dim, p.n_rot, p.layout == RopeLayout::neox);
}

}  // namespace llamas
