// Element-wise activations (GELU over whole rows included) and soft-capping, computed the way the
// reference CPU backend does.
#pragma once
#include <cstdint>

namespace llamas {

// The gated feed-forward: act(gate) * up, with act SiLU (SwiGLU) or tanh-GELU (GeGLU).
enum class FfnActivation { silu, gelu };

// x / (1 + e^-x) with exp_approx (kernels.h: e^x as the reference's vectorised CPU code computes
// it, so that SiLU rounds like the reference's and the 8-bit activation blocks after it quantize
// the same).
float silu(float x);

// tanh-approximated GELU evaluated like ggml: the input rounded to fp16 indexes a table of
// fp16-rounded results (inputs beyond +-10 pass through / give 0).
float gelu(float x);

// The table gelu() reads: GELU of every fp16 value (indexed by its bits), rounded to fp16 and
// widened, as the reference's. Built on first use.
const float* gelu_fp16_table();

// GELU over rows the way gelu() computes it, by the kernel table's gelu_mul (the fp16 conversion a
// row at a time, F16C when the CPU has it). y[i] = gelu(x[i]); y may alias x.
void gelu_row(const float* x, float* y, int64_t n);

// out[i] = act(gate[i]) * up[i] by the kernel table's silu_mul / gelu_mul. out may alias gate or up.
void gated_activation(FfnActivation act, const float* gate, const float* up, float* out, int64_t n);

// x[i] = cap * tanh(x[i] / cap), computed as tanh(x[i] * (1/cap)) * cap by the kernel table's
// softcap entry (std::tanh, or a vector tanh within 2 ulp of the exact value).
void softcap(float* x, int64_t n, float cap);

// In-place softmax of n values; the sum is accumulated in double. Entries equal to -INFINITY
// become 0.
void softmax(float* x, int64_t n);

}  // namespace llamas
