// The key/value cache of one context: n_seq sequences, each with room for n_ctx rows. For every
// layer and sequence, row r holds one token's K (and V) values for every KV head (n_head_kv *
// head_dim values) in the cache's element type, and pos(seq, r) is that token's position.
// Positions increase strictly along a sequence's rows; they are usually 0, 1, 2, ... but may
// have gaps after an edit (kv_edit.h). Attention masks in row space, which is the same as in
// position space for causal masks (rows are in position order); sliding windows need contiguous
// positions, which the edits keep for models that have them.
// Allocated once for n_seq * n_ctx rows; nothing is allocated afterwards.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "quant/types.h"

namespace llamas {

struct HParams;

class KvCache {
public:
    // type: F16 (default), F32 or Q8_0 (needs head_dim to be a multiple of 32).
    KvCache(const HParams& hp, int64_t n_ctx, GgmlType type, int64_t n_seq = 1);

    GgmlType type() const { return type_; }
    int64_t n_ctx() const { return n_ctx_; }  // rows per sequence
    int64_t n_seq() const { return n_seq_; }
    int64_t n_layer() const { return n_layer_; }
    int64_t row_elems() const { return row_elems_; }  // values per row (all KV heads)
    size_t row_bytes() const { return row_bytes_; }
    size_t head_bytes() const { return head_bytes_; }  // bytes of one head's slice of a row
    size_t total_bytes() const { return 2 * static_cast<size_t>(n_layer_) * layer_bytes_; }

    // Rows a sequence holds, and their positions.
    int64_t n_rows(int64_t seq) const { return n_rows_[static_cast<size_t>(seq)]; }
    int32_t pos(int64_t seq, int64_t row) const { return pos_[static_cast<size_t>(seq * n_ctx_ + row)]; }
    const int32_t* positions(int64_t seq) const { return pos_.data() + seq * n_ctx_; }
    int32_t* positions(int64_t seq) { return pos_.data() + seq * n_ctx_; }
    // The lowest / highest position held, -1 when empty; the position after the last.
    int32_t pos_min(int64_t seq) const { return n_rows(seq) ? pos(seq, 0) : -1; }
    int32_t pos_max(int64_t seq) const { return n_rows(seq) ? pos(seq, n_rows(seq) - 1) : -1; }
    int64_t next_pos(int64_t seq) const { return n_rows(seq) ? int64_t{pos_max(seq)} + 1 : 0; }
    // The first row whose position is >= p (n_rows when none).
    int64_t row_of(int64_t seq, int64_t p) const;
    // Whether the sequence's positions are contiguous (pos(r) = pos(0) + r).
    bool contiguous(int64_t seq) const { return n_rows(seq) == 0 || pos_max(seq) - pos_min(seq) == n_rows(seq) - 1; }

    // Sequence 0's next position (the single-sequence API's "tokens in the cache").
    int64_t n_past() const { return next_pos(0); }

    // Forget everything / one sequence's rows from `row` on.
    void clear();
    void truncate(int64_t seq, int64_t row);
    // Records that rows [row0, row0 + n) of seq now hold tokens at positions p[0..n) (the forward
    // pass has written them); the sequence then ends there.
    void set_rows(int64_t seq, int64_t row0, const int32_t* p, int64_t n);

    uint8_t* k_row(int64_t layer, int64_t seq, int64_t row) { return base(0, layer) + offset(seq, row); }
    uint8_t* v_row(int64_t layer, int64_t seq, int64_t row) { return base(1, layer) + offset(seq, row); }
    const uint8_t* k_row(int64_t layer, int64_t seq, int64_t row) const {
        return const_cast<KvCache*>(this)->k_row(layer, seq, row);
    }
    const uint8_t* v_row(int64_t layer, int64_t seq, int64_t row) const {
        return const_cast<KvCache*>(this)->v_row(layer, seq, row);
    }

    // Converts n_rows float rows (row_elems values each, src_stride floats apart) into the
    // cache rows row0 .. row0+n_rows-1 of seq.
    void store_k(int64_t layer, int64_t seq, int64_t row0, const float* src, int64_t n_rows, int64_t src_stride);
    void store_v(int64_t layer, int64_t seq, int64_t row0, const float* src, int64_t n_rows, int64_t src_stride);

private:
    uint8_t* base(int kv, int64_t layer) { return data_.get() + (static_cast<size_t>(layer) * 2 + kv) * layer_bytes_; }
    size_t offset(int64_t seq, int64_t row) const { return static_cast<size_t>(seq * n_ctx_ + row) * row_bytes_; }
    void store(uint8_t* dst, const float* src, int64_t n_rows, int64_t src_stride);

    GgmlType type_;
    int64_t n_ctx_;
    int64_t n_seq_;
    int64_t n_layer_;
    int64_t row_elems_;
    size_t row_bytes_;
    size_t head_bytes_;
    size_t layer_bytes_;  // one layer's K (or V) rows of every sequence
    std::vector<int64_t> n_rows_;
    std::vector<int32_t> pos_;  // n_seq * n_ctx
    // Left uninitialised on purpose: pages are only touched (and counted in RSS) when written.
    std::unique_ptr<uint8_t[]> data_;
};

}  // namespace llamas
