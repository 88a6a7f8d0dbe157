// Block decoders: the scalar reference ("oracle") for every type llamas reads.
#pragma once
#include <cstdint>

#include "quant/types.h"

namespace llamas {

// Decodes n elements (n a multiple of the type's block size) starting at a block boundary.
// Supports F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL,
// IQ4_XS; throws Error(unsupported) for other types and Error(invalid_argument) when n is
// not a whole number of blocks. Results match ggml's dequantize_row_* bit for bit.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// True when dequantize_row handles the type.
bool can_dequantize(GgmlType type);

}  // namespace llamas
