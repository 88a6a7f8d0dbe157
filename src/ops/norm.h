// Normalisation of activation rows.
#pragma once
#include <cstdint>

namespace llamas {

// y = x / sqrt(mean(x^2) + eps) * w   (w may be null: no scaling). y may alias x.
// The sum of squares is accumulated in double, as the reference does.
// The kernel table's rms_norm (the vector tables add the same sums in double in another order).
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// rms_norm applied to n_rows rows of n values each, rows `stride` floats apart (in place).
void rms_norm_rows(float* x, const float* w, int64_t n, int64_t n_rows, int64_t stride, float eps);

}  // namespace llamas
