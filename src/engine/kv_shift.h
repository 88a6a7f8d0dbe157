// Editing a context's KV cache in the middle: removing a range of positions and closing the gap.
#pragma once
#include <cstdint>

namespace llamas {

class Context;

// Drops positions [p0, p1) of the cache; the entries after p1 move down to start at p0 and their
// keys are re-rotated by -(p1 - p0) positions (RoPE angles add, so rotating a cached key by the
// difference is the same as having computed it at its new position, up to rounding).
// p1 >= n_past (or p1 < 0) just truncates at p0. Throws Error(invalid_argument) on a bad range.
void kv_remove_range(Context& ctx, int64_t p0, int64_t p1);

}  // namespace llamas
