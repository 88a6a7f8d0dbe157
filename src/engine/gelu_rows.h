// GELU over rows the way the reference computes it (each input rounded to fp16 indexes a table of
// fp16-rounded results; beyond +-10 the input passes through or gives 0), with the fp16
// conversion done a row at a time (F16C when the CPU has it) instead of value by value.
#pragma once
#include <cstdint>

namespace llamas {

// y[i] = gelu(x[i]). y may alias x. tmp: n uint16 of scratch.
void gelu_row(const float* x, float* y, int64_t n, uint16_t* tmp);

// out[i] = gelu(gate[i]) * up[i]. out may alias gate or up. tmp: n uint16 of scratch.
void gelu_mul_row(const float* gate, const float* up, float* out, int64_t n, uint16_t* tmp);

}  // namespace llamas
