#include "ops/layer_norm.h"

#include <cmath>

#include "kernels.h"

namespace llamas {

void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += x[i];
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    double sq = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float d = x[i] - mean;
        sq += static_cast<double>(d) * d;
    }
    const float var = static_cast<float>(sq / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) {
        float v = (x[i] - mean) * scale;
        if (w) v *= w[i];
        if (b) v += b[i];
        y[i] = v;
    }
}

void layer_norm_fast(const float* ones, const float* x, const float* w, const float* b, float* y, int64_t n, float eps) {
    const Kernels& kn = kernels();
    const float mean = kn.dot_f32(n, x, ones) / static_cast<float>(n);
    for (int64_t i = 0; i < n; ++i) y[i] = x[i] - mean;
    const float var = kn.dot_f32(n, y, y) / static_cast<float>(n);
    const float scale = 1.0f / std::sqrt(var + eps);
    for (int64_t i = 0; i < n; ++i) y[i] = (y[i] * scale) * w[i] + b[i];
}

}  // namespace llamas
