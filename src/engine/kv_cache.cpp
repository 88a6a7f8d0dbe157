#include "engine/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <new>

#include "engine/hparams.h"
#include "quant/fp16.h"
#include "quant/quantize.h"
#include "util/error.h"

namespace llamas {

KvCache::KvCache(const HParams& hp, int64_t n_ctx, GgmlType type, int64_t n_seq)
    // An encoder (embedding model) keeps nothing between passes: its cache has no layers.
    : type_(type), n_ctx_(n_ctx), n_seq_(n_seq), n_layer_(hp.embedder ? 0 : hp.n_layer), row_elems_(hp.n_embd_k_gqa()) {
    if (n_ctx <= 0) fail(Status::invalid_argument, "KV cache size must be positive (got %lld)", (long long)n_ctx);
    if (n_seq <= 0 || n_seq > 4096) fail(Status::invalid_argument, "n_seq_max must be in 1..4096 (got %lld)", (long long)n_seq);
    if (n_ctx > (int64_t{1} << 40) / n_seq)
        fail(Status::out_of_memory, "a KV cache of %lld sequences of %lld positions is too large", (long long)n_seq,
             (long long)n_ctx);
    if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::Q8_0) {
        fail(Status::unsupported, "KV cache type %s is not supported (use f32, f16 or q8_0)", type_info(type).name);
    }
    if (hp.head_dim_k % type_info(type).block_size != 0) {
        fail(Status::unsupported, "KV cache type %s needs a head size that is a multiple of %u (this model's is %lld)",
             type_info(type).name, type_info(type).block_size, (long long)hp.head_dim_k);
    }
    row_bytes_ = row_size(type, row_elems_);
    head_bytes_ = row_size(type, hp.head_dim_k);
    layer_bytes_ = row_bytes_ * static_cast<size_t>(n_ctx) * static_cast<size_t>(n_seq);
    try {
        n_rows_.assign(static_cast<size_t>(n_seq), 0);
        pos_.assign(static_cast<size_t>(n_seq * n_ctx), 0);
    } catch (const std::bad_alloc&) {
        fail(Status::out_of_memory, "cannot allocate the positions of a %lld x %lld KV cache", (long long)n_seq,
             (long long)n_ctx);
    }
    const size_t total = total_bytes();
    if (total == 0) return;
    data_.reset(new (std::nothrow) uint8_t[total]);
    if (!data_) fail(Status::out_of_memory, "cannot allocate a %zu-byte KV cache", total);
}

int64_t KvCache::row_of(int64_t seq, int64_t p) const {
    const int32_t* b = positions(seq);
    const int32_t* e = b + n_rows(seq);
    return std::lower_bound(b, e, p, [](int32_t a, int64_t v) { return a < v; }) - b;
}

void KvCache::clear() { std::fill(n_rows_.begin(), n_rows_.end(), 0); }

void KvCache::truncate(int64_t seq, int64_t row) {
    if (row < 0) row = 0;
    if (row < n_rows(seq)) n_rows_[static_cast<size_t>(seq)] = row;
}

void KvCache::set_rows(int64_t seq, int64_t row0, const int32_t* p, int64_t n) {
    if (seq < 0 || seq >= n_seq_ || row0 < 0 || row0 > n_rows(seq) || n < 0 || n > n_ctx_ - row0)
        fail(Status::internal, "KV rows [%lld, +%lld) of sequence %lld outside the cache", (long long)row0,
             (long long)n, (long long)seq);
    std::copy(p, p + n, positions(seq) + row0);
    n_rows_[static_cast<size_t>(seq)] = row0 + n;
}

void KvCache::store(uint8_t* dst, const float* src, int64_t n_rows, int64_t src_stride) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const float* s = src + r * src_stride;
        uint8_t* d = dst + static_cast<size_t>(r) * row_bytes_;
        switch (type_) {
            case GgmlType::F32: std::memcpy(d, s, row_bytes_); break;
            case GgmlType::F16: f32_to_fp16_row(s, reinterpret_cast<uint16_t*>(d), row_elems_); break;
            default: quantize_row(type_, s, d, row_elems_); break;
        }
    }
}

void KvCache::store_k(int64_t layer, int64_t seq, int64_t row0, const float* src, int64_t n_rows, int64_t src_stride) {
    store(k_row(layer, seq, row0), src, n_rows, src_stride);
}

void KvCache::store_v(int64_t layer, int64_t seq, int64_t row0, const float* src, int64_t n_rows, int64_t src_stride) {
    store(v_row(layer, seq, row0), src, n_rows, src_stride);
}

}  // namespace llamas
