// Self-attention of an encoder over a packed batch: many texts side by side in one buffer, each
// token attending only to the tokens of its own text (a block-diagonal mask), bidirectionally
// or causally, with an optional sliding window. No cache: the whole text is in the batch. K and V
// are rounded to F16 when the kernels have F16-row loops (as an F16 KV cache would hold them),
// else kept float.
#pragma once
#include <cstddef>
#include <cstdint>

namespace llamas {

class ThreadPool;

// One text inside a packed batch: rows [start, start + n).
struct TextSpan {
    int64_t start = 0;
    int64_t n = 0;
};

struct EncoderAttentionParams {
    int64_t n_head = 0;
    int64_t n_head_kv = 0;     // query head h reads KV head h / (n_head / n_head_kv)
    int64_t head_dim = 0;
    float score_scale = 1.0f;  // multiplies q·k before the softmax
    bool causal = false;       // key j visible from query i only if j <= i (positions in the text)
    int64_t n_swa = 0;         // 0 = no window
    bool swa_symmetric = true; // window: |i - j| <= n_swa / 2; else (causal kind) i - j < n_swa
};

// Scratch bytes for passes of at most max_rows rows (all texts together) on n_threads threads.
size_t encoder_attention_scratch_bytes(int64_t max_rows, int64_t n_head_kv, int64_t head_dim, int n_threads);

// q: rows of n_head * head_dim floats (q_stride apart); k, v: rows of n_head_kv * head_dim
// (kv_stride apart); out: rows of n_head * head_dim (out_stride apart). Rows are those of the
// packed batch; texts[] says which rows form each text. Softmax sums in double.
void encoder_attention(const EncoderAttentionParams& p, const float* q, int64_t q_stride, const float* k,
                       const float* v, int64_t kv_stride, const TextSpan* texts, int64_t n_texts, float* out,
                       int64_t out_stride, void* scratch, size_t scratch_bytes, ThreadPool& pool);

}  // namespace llamas
