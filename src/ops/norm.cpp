#include "ops/norm.h"

#include <cmath>

#include "kernels.h"

namespace llamas {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    if (const auto fast = kernels().rms_norm) return fast(x, w, y, n, eps);
    rms_norm_scalar(x, w, y, n, eps);
}

void rms_norm_scalar(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    }
}

void rms_norm_rows(float* x, const float* w, int64_t n, int64_t n_rows, int64_t stride, float eps) {
    for (int64_t r = 0; r < n_rows; ++r) rms_norm(x + r * stride, w, x + r * stride, n, eps);
}

}  // namespace llamas
