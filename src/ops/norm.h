// Normalisation of activation rows.
#pragma once
#include <cstdint>

namespace llamas {

// y = x / sqrt(mean(x^2) + eps) * w   (w may be null: no scaling). y may alias x.
// The sum of squares is accumulated in double, as the reference does.
// Runs the kernel table's rms_norm when it has one (the same sum in double, added in another
// order), else rms_norm_scalar.
void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps);

// The scalar code: the oracle the kernel tables' rms_norm entries are tested against.
void rms_norm_scalar(const float* x, const float* w, float* y, int64_t n, float eps);

// rms_norm applied to n_rows rows of n values each, rows `stride` floats apart (in place).
void rms_norm_rows(float* x, const float* w, int64_t n, int64_t n_rows, int64_t stride, float eps);

}  // namespace llamas
