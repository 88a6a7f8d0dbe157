// The key/value cache of one context: for every layer, one K row and one V row per position,
// each row holding all KV heads (n_head_kv * head_dim values) in the cache's element type.
// Allocated once for n_ctx positions; nothing is allocated afterwards. The cache holds one
// sequence whose cells are its positions 0 .. n_past-1.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>

#include "quant/types.h"

namespace llamas {

struct HParams;

class KvCache {
public:
    // type: F16 (default), F32 or Q8_0 (needs head_dim to be a multiple of 32).
    KvCache(const HParams& hp, int64_t n_ctx, GgmlType type);

    GgmlType type() const { return type_; }
    int64_t n_ctx() const { return n_ctx_; }
    int64_t n_layer() const { return n_layer_; }
    int64_t row_elems() const { return row_elems_; }  // values per row (all KV heads)
    size_t row_bytes() const { return row_bytes_; }
    size_t head_bytes() const { return head_bytes_; }  // bytes of one head's slice of a row
    size_t total_bytes() const { return 2 * static_cast<size_t>(n_layer_) * layer_bytes_; }

    // Positions 0 .. n_past()-1 hold valid entries.
    int64_t n_past() const { return n_past_; }
    // Marks positions [0, n) valid after the forward pass has written them.
    void set_n_past(int64_t n);

    // Forget everything.
    void clear() { n_past_ = 0; }
    // Remove the tokens at positions >= p (keep the first p). p beyond n_past is a no-op.
    void remove_from(int64_t p);
    // Keep only the first n positions (same as remove_from(n)).
    void truncate(int64_t n) { remove_from(n); }

    uint8_t* k_row(int64_t layer, int64_t pos) { return base(0, layer) + static_cast<size_t>(pos) * row_bytes_; }
    uint8_t* v_row(int64_t layer, int64_t pos) { return base(1, layer) + static_cast<size_t>(pos) * row_bytes_; }
    const uint8_t* k_row(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->k_row(layer, pos); }
    const uint8_t* v_row(int64_t layer, int64_t pos) const { return const_cast<KvCache*>(this)->v_row(layer, pos); }

    // Converts n_rows float rows (row_elems values each, src_stride floats apart) into the
    // cache rows of positions pos0 .. pos0+n_rows-1.
    void store_k(int64_t layer, int64_t pos0, const float* src, int64_t n_rows, int64_t src_stride);
    void store_v(int64_t layer, int64_t pos0, const float* src, int64_t n_rows, int64_t src_stride);

private:
    uint8_t* base(int kv, int64_t layer) { return data_.get() + (static_cast<size_t>(layer) * 2 + kv) * layer_bytes_; }
    void store(uint8_t* dst, const float* src, int64_t n_rows, int64_t src_stride);

    GgmlType type_;
    int64_t n_ctx_;
    int64_t n_layer_;
    int64_t row_elems_;
    size_t row_bytes_;
    size_t head_bytes_;
    size_t layer_bytes_;
    int64_t n_past_ = 0;
    // Left uninitialised on purpose: pages are only touched (and counted in RSS) when written.
    std::unique_ptr<uint8_t[]> data_;
};

}  // namespace llamas
