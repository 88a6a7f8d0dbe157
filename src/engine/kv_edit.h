// Editing the sequences of a context's KV cache: removing a range of positions (closing the gap
// or not), shifting positions, copying one sequence into another, keeping one.
// Keys carry their position in their RoPE rotation; rotations add, so re-rotating a cached key by
// delta is the same as having computed it at position + delta (up to rounding). Every function
// checks its arguments before changing anything and throws Error(invalid_argument) on a bad
// sequence id or range.
#pragma once
#include <cstdint>

namespace llamas {

class Context;

// Drops positions [p0, p1) of seq (p1 < 0: to the end; seq < 0: every sequence). With shift the
// later positions move down by p1 - p0; without, they keep theirs, which a model with sliding-
// window layers refuses (Error(unsupported)) unless nothing follows p1.
void kv_remove(Context& ctx, int64_t seq, int64_t p0, int64_t p1, bool shift);

// Adds delta to the positions in [p0, p1) of seq (p1 < 0: to the end; seq < 0: every
// sequence). The positions must stay non-negative and in order.
void kv_shift(Context& ctx, int64_t seq, int64_t p0, int64_t p1, int64_t delta);

// Makes dst a copy of src's rows at positions below p1 (p1 < 0: all).
void kv_copy(Context& ctx, int64_t src, int64_t dst, int64_t p1);

// Empties every sequence but seq.
void kv_keep(Context& ctx, int64_t seq);

}  // namespace llamas
