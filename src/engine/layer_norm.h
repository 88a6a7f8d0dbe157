// LayerNorm as BERT uses it: y = (x - mean) / sqrt(var + eps) * w + b.
#pragma once
#include <cstdint>

namespace llamas {

// y may alias x. w and b may be null (no scale / no shift). Mean and variance are accumulated in
// double.
void layer_norm(const float* x, const float* w, const float* b, float* y, int64_t n, float eps);

}  // namespace llamas
