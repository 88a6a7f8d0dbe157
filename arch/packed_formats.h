// The packed weight formats (see PackedKernels in kernels.h), one per weight type and shared by
// every table that has a packed form: how a group of kPackRows rows is laid out, how it is packed
// at load and how an activation row is prepared. Only the tiles that read them are per ISA
// (packed_tiles.inc over each table's traits); this code is compiled once, without ISA flags
// (packed_formats.cpp), so a matrix packed under one path reads the same under another.
//
// The common idea: a 64-byte line holds 4 consecutive columns of each of the 16 rows, row r in
// bytes 4r..4r+3. A 512-bit register reads the whole line; a 256-bit register reads rows 0..7
// (its first 32 bytes) or rows 8..15. Per-row scales are stored the same way (16 values, row r
// r-th), so a register of kRows rows reads its part of them too.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "kernels.h"
#include "quant/blocks.h"

namespace llamas {
namespace packed {

constexpr int G = kPackRows;  // 16 rows per group

// An activation encoder of a table (Q8_0, Q8_1, Q8_K or F16/BF16 rows). Every table's encoder
// gives the same bytes as the scalar one; the preparations take the table's own for speed.
using Encoder = void (*)(const float* x, void* y, int64_t n);

// ---- 32-element block types: Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0 ----
// Per group and block of 32 columns: the 16 rows' fp16 scales (32 bytes), for Q4_1/Q5_1 their
// 16 fp16 mins (32 more), then the payload:
// - 4-bit types: 4 lines; line j holds column 8j+i (i = 0..3) in the low nibble of lane byte
//   4r+i and column 8j+4+i in its high nibble. IQ4_NL's nibbles are table indices.
// - 5-bit types: those 4 lines, then the 5th bits as 4 x 16 bytes: for line j a 64-bit mask for
//   the low-nibble byte lanes (bit 4r+i: column 8j+i of row r), then one for the high nibbles.
// - Q8_0: 8 lines; line s holds columns 4s..4s+3, stored plus 128 (unsigned).
// Weights are stored unsigned, `offset` above their value; a product's integer sum over a block
// starts at -offset x Σ(activation bytes), a number the prepared activation row carries.
struct Format32 {
    size_t header;   // scale (and min) bytes per block
    size_t payload;  // value bytes per block
    int offset;      // the stored value minus the weight (Q4_0 8, Q5_0 16, IQ4_NL and Q8_0 128)
    bool has_min;    // Q4_1, Q5_1: a per-block min, and Q8_1 activations
    constexpr size_t block() const { return header + payload; }
};
constexpr Format32 kQ4_0{32, 256, 8, false};
constexpr Format32 kQ4_1{64, 256, 0, true};
constexpr Format32 kQ5_0{32, 256 + 64, 16, false};
constexpr Format32 kQ5_1{64, 256 + 64, 0, true};
constexpr Format32 kIQ4_NL{32, 256, 128, false};
constexpr Format32 kQ8_0{32, 512, 128, false};

// The format of a 32-element block type (evaluated at compile time only, so no ISA-flagged
// copy of it is ever emitted).
template <class B>
constexpr Format32 format32_of() {
    if constexpr (std::is_same<B, block_q4_0>::value) return kQ4_0;
    if constexpr (std::is_same<B, block_q4_1>::value) return kQ4_1;
    if constexpr (std::is_same<B, block_q5_0>::value) return kQ5_0;
    if constexpr (std::is_same<B, block_q5_1>::value) return kQ5_1;
    if constexpr (std::is_same<B, block_iq4_nl>::value) return kIQ4_NL;
    return kQ8_0;
}

// A prepared activation row of n columns (nb = n/32 blocks), 64-byte aligned in size:
// [nb x 32 int8 values][nb float scales][nb x 4 bytes: the int32 start -offset x Σq, or for the
// types with a min the float d x Σq (Q8_1's s)].
size_t act_row_bytes32(int64_t n_cols);
// q8: the table's Q8_0 encoder, or its Q8_1 encoder when has_min.
void prepare32(Encoder q8, int offset, bool has_min, const float* x, void* out, int64_t n_cols);
// Q8_0's activations for tables without VPDPBUSD that multiply its stored values (w + 128, up to
// 255) by VPMADDWD (TileWide16 in packed_tiles.inc): its values widened to int16, each 4 columns
// in the order 0 2 1 3, then prepare32's row (offset 128): [nb x 32 int16][nb x 32 int8]
// [nb floats][nb int32 starts]. A one-token tile reads prepare32's row from byte nb x 64 on.
size_t act_row_bytes32_i16(int64_t n_cols);
// The bytes of it that TileWide16 reads: the int16 values, the scales and the starts.
size_t act_hot_bytes32_i16(int64_t n_cols);
// Where a prepare32_i16 row of nb blocks holds prepare32's row, the block scales and the starts.
constexpr size_t act_i16_int8_at(int64_t nb) { return static_cast<size_t>(nb) * 64; }
constexpr size_t act_i16_scales_at(int64_t nb) { return static_cast<size_t>(nb) * 96; }
constexpr size_t act_i16_starts_at(int64_t nb) { return static_cast<size_t>(nb) * 100; }
void prepare32_i16(Encoder q8_0, const float* x, void* out, int64_t n_cols);

// ---- K-quants: Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS (super-blocks of 256 columns) ----
// Q4_K: per group and super-block: 16 fp16 d, 16 fp16 dmin, 8 x 16 scales, 8 x 16 mins (6-bit,
// one byte each, sub-block-major), then the 8 sub-blocks of 32 columns in Q4_0's payload layout.
constexpr size_t kQ4KBytes = 32 + 32 + 128 + 128 + 8 * 256;
constexpr size_t kQ4KNibbles = 320;  // where the sub-blocks' lines start
// Q5_K: Q4_K's layout, then the 5th bits: for sub-block j and line i a 64-bit mask for the
// low-nibble lanes (bit 4r+c: column 8i+c), then one for the high-nibble lanes (8i+4+c).
constexpr size_t kQ5KBytes = kQ4KBytes + 8 * 64;
// Q6_K: 16 fp16 d, 16 x 16 int8 scales, then for each 32 columns the low 4 bits in Q4_0's
// payload layout (8 x 256 bytes) and after them the high 2 bits (8 x 128 bytes: for each 16
// columns one line whose lane byte holds the 2-bit fields of its 4 columns, column c in bits
// 2c..2c+1).
constexpr size_t kQ6KBytes = 32 + 256 + 8 * 256 + 8 * 128;
constexpr size_t kQ6KNibbles = 288;
constexpr size_t kQ6KHigh = 288 + 2048;
// Q3_K: Q6_K's layout without the high fields: 16 fp16 d, 16 x 16 int8 scales (the 6-bit scales
// minus 32), then the nibbles u = q + 4 x hbit (0..7; the weight is u - 4, the -4 folded into
// each 16 columns' starting sum as o16 / 8).
constexpr size_t kQ3KBytes = 32 + 256 + 8 * 256;
// IQ4_XS: 16 fp16 d, 8 x 16 int8 scales (the 6-bit scales minus 32), then the 8 sub-blocks'
// nibbles in Q4_0's payload layout; they index IQ4_NL's table, stored plus 128, so each 32
// columns' integer sum starts at -128 x Σa = 4 x (o16 + o16').
constexpr size_t kIQ4XSBytes = 32 + 128 + 8 * 256;
constexpr size_t kIQ4XSNibbles = 160;

// A prepared Q8_K activation row of n columns (nsb = n/256 super-blocks), 64-byte aligned in
// size: [nsb x 256 int8][nsb float scales d][nsb x 8 float: Σ of each 32 values x d]
// [nsb x 16 int32: -32 x Σ of each 16 values][nsb x 32 int32: the pair sums of each 8 values].
// A pair sum of columns 8k..8k+7 holds two int16: the low one the sum of columns 8k, 8k+1, 8k+4
// and 8k+5, the high one that of 8k+2, 8k+3, 8k+6 and 8k+7 (the columns whose products one int16
// lane of two VPMADDUBSW results adds up, see kRows*4-byte steps in packed_tiles.inc). Q8_K
// values are in [-127, 127], so each half is within ±508.
size_t act_row_bytes_k(int64_t n_cols);
void prepare_k(Encoder q8k, const float* x, void* out, int64_t n_cols);
// The sum of the 8 values of a pair sum (its two int16 halves added). Static: each ISA-flagged
// file that calls it keeps its own copy, so the linker never hands one ISA's to another.
static inline int32_t pair_sum(const int32_t* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return static_cast<int16_t>(v & 0xFFFF) + static_cast<int16_t>(v >> 16);
}

// ---- F16 and BF16: a group of 16 rows stored column by column (the 16 rows' values of column
// k are 32 contiguous bytes at (g * n_cols + k) * 32) ----
// A prepared row: n floats already rounded to F16 / BF16 by the table's converter, so products
// see the values the reference's dot products see.
size_t act_row_bytes16(int64_t n_cols);
void prepare16(Encoder convert, bool bf16, const float* x, void* out, int64_t n_cols);

// IQ4_NL's 16 values plus 128, and as they are (signed), for a byte shuffle (16-byte aligned).
extern const uint8_t kIq4nlPlus128[16];
extern const int8_t kIq4nlSigned[16];

// Fills packed_bytes and pack of p for weight type t (Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL, Q8_0,
// Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS, F16, BF16) and act_row_bytes; the table fills prepare and gemm.
void set_format(GgmlType t, PackedKernels& p);

}  // namespace packed
}  // namespace llamas
