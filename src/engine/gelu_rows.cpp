#include "engine/gelu_rows.h"

#include "kernels.h"
#include "ops/activations.h"
#include "quant/fp16.h"

namespace llamas {

namespace {

// Written to compile to selects rather than branches (the clamps are rare but unpredictable).
inline float lookup(const float* t, float x, uint16_t h) {
    float g = t[h];
    g = x <= -10.0f ? 0.0f : g;
    g = x >= 10.0f ? x : g;
    return g;
}

}  // namespace

// Both run the kernel table's gelu_mul (fp16 rounding and table gather in registers) when it has
// one, else convert the row to fp16 first and look each value up.
void gelu_row(const float* x, float* y, int64_t n, uint16_t* tmp) {
    const float* t = gelu_fp16_table();
    if (const auto fast = kernels().gelu_mul) return fast(t, x, nullptr, y, n);
    f32_to_fp16_row(x, tmp, n);
    for (int64_t i = 0; i < n; ++i) y[i] = lookup(t, x[i], tmp[i]);
}

void gelu_mul_row(const float* gate, const float* up, float* out, int64_t n, uint16_t* tmp) {
    const float* t = gelu_fp16_table();
    if (const auto fast = kernels().gelu_mul) return fast(t, gate, up, out, n);
    f32_to_fp16_row(gate, tmp, n);
    for (int64_t i = 0; i < n; ++i) out[i] = lookup(t, gate[i], tmp[i]) * up[i];
}

}  // namespace llamas
