// From per-token outputs to one embedding per text, and the finishing steps a caller asks for
// (Matryoshka truncation, L2 normalisation).
#pragma once
#include <cstdint>

#include "ops/text_span.h"

namespace llamas {

// How an embedding model turns its per-token outputs into one vector (values of ARCH.pooling_type).
enum class Pooling { none = 0, mean = 1, cls = 2, last = 3 };

// Writes one row of `width` floats per text to out: the mean of the text's rows of h (rows
// `width` floats apart), its first row (CLS) or its last row (LAST). Pooling::none is not a
// reduction: Error(invalid_argument).
void pool_rows(Pooling pooling, const float* h, int64_t width, const TextSpan* texts, int64_t n_texts, float* out);

// v /= |v| (a zero vector stays zero). The norm is accumulated in double.
void l2_normalize(float* v, int64_t n);

// The caller-facing form of one embedding: keep the first `dims` values (0 = all), then
// L2-normalise them when `normalize`. Returns the length kept.
int64_t finish_embedding(float* v, int64_t n, int64_t dims, bool normalize);

const char* pooling_name(Pooling p);

}  // namespace llamas
