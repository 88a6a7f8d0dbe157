// Scaled dot-product attention, the one for decoders and encoders: a batch of queries over rows
// of keys and values (a decoder's KV cache, or an encoder's own batch packed into F16 rows),
// with grouped-query heads, optional soft-capping of the scores, and a mask descriptor: causal
// or not, a sliding or symmetric window, and documents side by side in the rows.
#pragma once
#include <cstddef>
#include <cstdint>

#include "ops/text_span.h"
#include "quant/types.h"

namespace llamas {

class ThreadPool;

// Which keys a query sees. Positions are key rows: query t of a call sits at row pos0 + t.
struct AttentionMask {
    bool causal = true;          // key j is visible from query i only if j <= i
    int64_t n_swa = 0;           // 0 = no window; else the window below
    bool swa_symmetric = false;  // window: |i - j| <= n_swa / 2 (encoders); else i - j < n_swa
    // Documents side by side in the rows (an encoder's packed batch): a query sees only the keys
    // of its own document, and a query in no document sees nothing. Null: one document holding
    // every row.
    const TextSpan* docs = nullptr;
    int64_t n_docs = 0;
};

struct AttentionParams {
    int64_t n_head = 0;
    int64_t n_head_kv = 0;   // query head h reads KV head h / (n_head / n_head_kv)
    int64_t head_dim = 0;
    float score_scale = 1.0f;  // multiplies each score after soft-capping
    float softcap = 0;         // 0 = off; else score = softcap * tanh(score / softcap)
    AttentionMask mask;
};

// The key and value rows of one layer: row p holds position p's values for every KV head.
struct KvLayerView {
    GgmlType type = GgmlType::F32;  // F32, F16 or Q8_0
    const uint8_t* k = nullptr;
    const uint8_t* v = nullptr;
    size_t row_bytes = 0;   // bytes between positions
    size_t head_bytes = 0;  // bytes of one head within a row
};

// An encoder's K/V source: n rows of n_head_kv * head_dim floats (k and v, stride floats apart)
// rounded to F16 into k16 and v16 (n * n_head_kv * head_dim values each), as an F16 cache would
// hold them (the reference rounds so too). Returns the view of those packed rows.
KvLayerView pack_kv_rows(const float* k, const float* v, int64_t stride, int64_t n, int64_t n_head_kv, int64_t head_dim,
                         uint16_t* k16, uint16_t* v16, ThreadPool& pool);

// Scratch attention() needs for up to n_kv_max key rows on a pool of n_threads threads (the pool
// passed to attention() must have that size).
size_t attention_scratch_bytes(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max, int n_threads);

// For each of n_tokens queries (rows of n_head * head_dim floats, q_stride apart; query t sits at
// row pos0 + t) attends over the key rows [0, n_kv) its mask lets it see and writes
// n_head * head_dim floats per query to out (out_stride apart); a query that sees no key gets
// zeros. The query is rounded to the rows' dot-product type (as the reference does) and q·k
// computed in float; the softmax is an online one (running max and sum per query, in float),
// computed tile by tile (attention.cpp). Allocates nothing.
void attention(const AttentionParams& p, const float* q, int64_t q_stride, int64_t n_tokens, int64_t pos0,
               const KvLayerView& kv, int64_t n_kv, float* out, int64_t out_stride, void* scratch,
               size_t scratch_bytes, ThreadPool& pool);

}  // namespace llamas
