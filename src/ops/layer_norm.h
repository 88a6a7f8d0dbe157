// LayerNorm as BERT uses it: y = (x - mean) / sqrt(var + eps) * w + b.
#pragma once
#include <cstdint>

namespace llamas {

// y may alias x. w and b may be null (no scale / no shift). Mean and variance are accumulated in
// double.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

// The same with the sums in float from the kernels' dot product (against `ones`, n ones, for the
// mean): the BERT blocks' post-norms. w and b are required; y may alias x.
void layer_norm_fast(const float* ones, const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

}  // namespace llamas
