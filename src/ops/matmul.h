// Matrix products of a weight matrix (any supported ggml type, one row per output) with a batch
// of float activation rows, parallel over the output rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/types.h"

namespace llamas {

class ThreadPool;

// A weight matrix in its stored form: n_rows rows of n_cols elements, row_bytes apart.
struct WeightView {
    GgmlType type;
    int64_t n_cols;
    int64_t n_rows;
    size_t row_bytes;
    const uint8_t* data;
    // The kernels' packed copy (kernels.h, PackedKernels), or null: made once by pack_weight().
    const uint8_t* packed = nullptr;
};

// Whether the current kernel table multiplies matrices stored as t.
bool can_multiply(GgmlType t);

// Packs w for the current kernel table when that table has a packed form of w's type and row
// length (any row count: a last partial group of rows is padded with zero rows): returns the
// copy (its owner; w.packed points into it) or null (w unchanged). The original rows
// stay mapped (other paths, and embedding lookups, read them); their pages are handed back to
// the OS so that they don't count twice in the resident size.
std::shared_ptr<const void> pack_weight(WeightView& w);

// Bytes of scratch needed to hold n_tokens activation rows converted to w's vec_dot_type.
size_t matmul_scratch_bytes(const WeightView& w, int64_t n_tokens);

// y[t*n_rows + r] = dot(w row r, x row t) for t < n_tokens; x is n_tokens rows of n_cols floats.
// Converts the activations once into `scratch` (vec_dot_type; at least matmul_scratch_bytes),
// then splits the output rows across the pool's threads. Never allocates. Throws
// Error(unsupported) for a weight type without kernels, Error(invalid_argument) for a row
// length that is not a whole number of blocks.
void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, void* scratch, ThreadPool& pool);

// matmul(*w[i], x, n_tokens, y[i], ...) for i < count, the products of one input (q/k/v,
// gate/up): when the matrices are packed with one type and row length, the activations are
// prepared once and all products share one pass over the pool. scratch: the largest
// matmul_scratch_bytes of the matrices.
void matmul_many(const WeightView* const* w, float* const* y, int count, const float* x, int64_t n_tokens,
                 void* scratch, ThreadPool& pool);

}  // namespace llamas
