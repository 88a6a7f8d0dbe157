#include "ops/activations.h"

#include <cmath>
#include <vector>

#include "kernels.h"
#include "quant/fp16.h"

namespace llamas {

namespace {

float gelu_exact_f32(float x) {
    constexpr float kCoefA = 0.044715f;
    constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * (1.0f + kCoefA * x * x)));
}

}  // namespace

const float* gelu_fp16_table() {
    static const std::vector<float> table = [] {
        std::vector<float> t(65536);
        for (uint32_t i = 0; i < 65536; ++i) {
            t[i] = fp16_to_f32(f32_to_fp16(gelu_exact_f32(fp16_to_f32(static_cast<uint16_t>(i)))));
        }
        return t;
    }();
    return table.data();
}

float silu(float x) { return x / (1.0f + exp_approx(-x)); }

float gelu(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return gelu_fp16_table()[f32_to_fp16(x)];
}

void gated_activation(FfnActivation act, const float* gate, const float* up, float* out, int64_t n) {
    if (act == FfnActivation::silu) {
        kernels().silu_mul(gate, up, out, n);
    } else {
        kernels().gelu_mul(gelu_fp16_table(), gate, up, out, n);
    }
}

void softcap(float* x, int64_t n, float cap) { kernels().softcap(x, n, cap); }

void softmax(float* x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; ++i) max = x[i] > max ? x[i] : max;
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float e = x[i] == -INFINITY ? 0.0f : std::exp(x[i] - max);
        x[i] = e;
        sum += e;
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

// The kernel table's gelu_mul (fp16 rounding and table gather in registers) without the up row.
void gelu_row(const float* x, float* y, int64_t n) { kernels().gelu_mul(gelu_fp16_table(), x, nullptr, y, n); }

}  // namespace llamas
