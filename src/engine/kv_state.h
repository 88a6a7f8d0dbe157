// Saving and restoring a context's sequences (KV rows, positions) and its last logits, in a
// versioned, checksummed byte format bound to the model:
//
//   "LLAMASST" | u32 version | u32 kind (0 whole context, 1 one sequence) | u64 model fingerprint
//   | u32 kv type | u32 n_layer | u64 row bytes | u32 n_vocab | u32 n_seq (sequences stored)
//   | u32 has_logits | f32 logits[n_vocab] if has_logits
//   | per sequence: u32 id | u32 n_rows | i32 pos[n_rows] | per layer: K rows, V rows
//   | u64 checksum of every byte before it
//
// Integers are little-endian (the byte order of every machine llamas builds for). Loading checks
// the checksum, then every field, and only then changes the context: a state of another model,
// cache type or version, or a truncated or altered one, is Error(bad_format) and leaves the
// context as it was.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>

namespace llamas {

class Context;

// Receives the saved bytes in order (a buffer, a file, or a counter).
using StateSink = std::function<void(const void* data, size_t size)>;

// Writes the state of every sequence (seq < 0) or of one, with `logits` (n_vocab floats, may be
// null; only for whole-context states) as the current logits.
void save_state(const Context& ctx, int64_t seq, const float* logits, const StateSink& sink);

// Restores a whole-context state (seq < 0: every sequence as saved, the others emptied) or puts a
// one-sequence state into sequence seq. *logits_out receives a pointer to the restored logits
// inside the context (null when the state has none).
void load_state(Context& ctx, int64_t seq, const uint8_t* data, size_t size, const float** logits_out);

}  // namespace llamas
