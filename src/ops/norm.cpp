#include "ops/norm.h"

#include "kernels.h"

namespace llamas {

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) { kernels().rms_norm(x, w, y, n, eps); }

void rms_norm_rows(float* x, const float* w, int64_t n, int64_t n_rows, int64_t stride, float eps) {
    for (int64_t r = 0; r < n_rows; ++r) rms_norm(x + r * stride, w, x + r * stride, n, eps);
}

}  // namespace llamas
