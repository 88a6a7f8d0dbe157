#include "engine/gelu_rows.h"

#include <vector>

#include "ops/activations.h"
#include "quant/fp16.h"

namespace llamas {

namespace {

// gelu() of every fp16 value: the same entries as the ops' table (gelu() of an fp16-exact input
// is its table entry).
const float* table() {
    static const std::vector<float> t = [] {
        std::vector<float> v(65536);
        for (uint32_t i = 0; i < 65536; ++i) v[i] = gelu(fp16_to_f32(static_cast<uint16_t>(i)));
        return v;
    }();
    return t.data();
}

// Written to compile to selects rather than branches (the clamps are rare but unpredictable).
inline float lookup(const float* t, float x, uint16_t h) {
    float g = t[h];
    g = x <= -10.0f ? 0.0f : g;
    g = x >= 10.0f ? x : g;
    return g;
}

}  // namespace

void gelu_row(const float* x, float* y, int64_t n, uint16_t* tmp) {
    const float* t = table();
    f32_to_fp16_row(x, tmp, n);
    for (int64_t i = 0; i < n; ++i) y[i] = lookup(t, x[i], tmp[i]);
}

void gelu_mul_row(const float* gate, const float* up, float* out, int64_t n, uint16_t* tmp) {
    const float* t = table();
    f32_to_fp16_row(gate, tmp, n);
    for (int64_t i = 0; i < n; ++i) out[i] = lookup(t, gate[i], tmp[i]) * up[i];
}

}  // namespace llamas
