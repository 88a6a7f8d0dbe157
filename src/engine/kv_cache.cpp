#include "engine/kv_cache.h"

#include <cstring>
#include <new>

#include "engine/hparams.h"
#include "quant/fp16.h"
#include "quant/quantize.h"
#include "util/error.h"

namespace llamas {

KvCache::KvCache(const HParams& hp, int64_t n_ctx, GgmlType type)
    // An encoder (embedding model) keeps nothing between passes: its cache has no layers.
    : type_(type), n_ctx_(n_ctx), n_layer_(hp.embedder ? 0 : hp.n_layer), row_elems_(hp.n_embd_k_gqa()) {
    if (n_ctx <= 0) fail(Status::invalid_argument, "KV cache size must be positive (got %lld)", (long long)n_ctx);
    if (type != GgmlType::F32 && type != GgmlType::F16 && type != GgmlType::Q8_0) {
        fail(Status::unsupported, "KV cache type %s is not supported (use f32, f16 or q8_0)", type_info(type).name);
    }
    if (hp.head_dim_k % type_info(type).block_size != 0) {
        fail(Status::unsupported, "KV cache type %s needs a head size that is a multiple of %u (this model's is %lld)",
             type_info(type).name, type_info(type).block_size, (long long)hp.head_dim_k);
    }
    row_bytes_ = row_size(type, row_elems_);
    head_bytes_ = row_size(type, hp.head_dim_k);
    layer_bytes_ = row_bytes_ * static_cast<size_t>(n_ctx);
    const size_t total = total_bytes();
    if (total == 0) return;
    data_.reset(new (std::nothrow) uint8_t[total]);
    if (!data_) fail(Status::out_of_memory, "cannot allocate a %zu-byte KV cache", total);
}

void KvCache::set_n_past(int64_t n) {
    if (n < 0 || n > n_ctx_) fail(Status::internal, "KV cache position %lld outside [0, %lld]", (long long)n, (long long)n_ctx_);
    n_past_ = n;
}

void KvCache::remove_from(int64_t p) {
    if (p < 0) p = 0;
    if (p < n_past_) n_past_ = p;
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

void KvCache::store_k(int64_t layer, int64_t pos0, const float* src, int64_t n_rows, int64_t src_stride) {
    store(k_row(layer, pos0), src, n_rows, src_stride);
}

void KvCache::store_v(int64_t layer, int64_t pos0, const float* src, int64_t n_rows, int64_t src_stride) {
    store(v_row(layer, pos0), src, n_rows, src_stride);
}

}  // namespace llamas
