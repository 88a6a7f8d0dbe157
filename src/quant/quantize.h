// Block encoders from f32, reproducing what ggml's quantizer writes when no importance
// matrix is given (ggml_quantize_chunk with imatrix == NULL), byte for byte.
#pragma once
#include <cstddef>
#include <cstdint>

#include "quant/blocks.h"
#include "quant/types.h"

namespace llamas {

// Encodes n floats (n a multiple of the type's block size; for the K-quants and IQ4_XS a
// multiple of 256) into dst; returns the bytes written (row_size(type, n)). Supports F32,
// F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1, Q2_K..Q6_K, Q8_K, IQ4_NL, IQ4_XS; throws
// Error(unsupported / invalid_argument) otherwise. Rows are independent: encoding a matrix
// row by row or in one call gives the same bytes.
size_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n);

// True when quantize_row handles the type.
bool can_quantize(GgmlType type);

// The activation encoders the matrix products use (also reachable through quantize_row).
// Q8_0/Q8_1: fp16 scale = absmax/127 per 32 values, round half away from zero; Q8_1 also
// stores d * sum(qs). Q8_K: float scale per 256 values set by the signed largest-magnitude
// value (d = max/-127, so that value becomes -127), round to nearest even, per-16 sums.
void quantize_row_q8_0(const float* x, block_q8_0* y, int64_t n);
void quantize_row_q8_1(const float* x, block_q8_1* y, int64_t n);
void quantize_row_q8_K(const float* x, block_q8_K* y, int64_t n);

}  // namespace llamas
