// Scaled dot-product attention of a batch of queries over a KV cache, with grouped-query heads,
// causal masking, an optional sliding window and optional soft-capping of the scores.
#pragma once
#include <cstddef>
#include <cstdint>

#include "quant/types.h"

namespace llamas {

class ThreadPool;

struct AttentionParams {
    int64_t n_head = 0;
    int64_t n_head_kv = 0;   // query head h reads KV head h / (n_head / n_head_kv)
    int64_t head_dim = 0;
    float score_scale = 1.0f;  // multiplies each score after soft-capping
    float softcap = 0;         // 0 = off; else score = softcap * tanh(score / softcap)
    int64_t n_swa = 0;         // 0 = no window; else key j is visible from query i only if i - j < n_swa
    bool causal = true;        // key j is visible from query i only if j <= i
};

// The cache rows of one layer: row p holds position p's values for every KV head.
struct KvLayerView {
    GgmlType type = GgmlType::F32;  // F32, F16 or Q8_0
    const uint8_t* k = nullptr;
    const uint8_t* v = nullptr;
    size_t row_bytes = 0;   // bytes between positions
    size_t head_bytes = 0;  // bytes of one head within a row
};

// Scratch attention() needs for up to n_kv_max cache positions on a pool of n_threads threads
// (the pool passed to attention() must have that size).
size_t attention_scratch_bytes(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max, int n_threads);

// For each of n_tokens queries (rows of n_head * head_dim floats, q_stride apart; query t sits at
// position pos0 + t) attends over cache positions [0, n_kv) and writes n_head * head_dim floats
// per query to out (out_stride apart). The query is rounded to the cache's dot-product type (as
// the reference does) and q·k computed in float; the softmax is an online one (running max and
// sum per query, in float), computed tile by tile (attention.cpp). Allocates nothing.
void attention(const AttentionParams& p, const float* q, int64_t q_stride, int64_t n_tokens, int64_t pos0,
               const KvLayerView& kv, int64_t n_kv, float* out, int64_t out_stride, void* scratch,
               size_t scratch_bytes, ThreadPool& pool);

}  // namespace llamas
