#include "engine/embed_attention.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "engine/thread_pool.h"
#include "kernels.h"
#include "util/error.h"

namespace llamas {

namespace {

constexpr size_t kAlign = 64;
size_t per_thread_bytes(int64_t max_text) {
    return (static_cast<size_t>(max_text) * sizeof(float) + kAlign - 1) / kAlign * kAlign;
}

}  // namespace

size_t encoder_attention_scratch_bytes(int64_t max_text, int n_threads) {
    return per_thread_bytes(max_text) * static_cast<size_t>(n_threads) + kAlign;
}

void encoder_attention(const EncoderAttentionParams& p, const float* q, int64_t q_stride, const float* k,
                       const float* v, int64_t kv_stride, const TextSpan* texts, int64_t n_texts, float* out,
                       int64_t out_stride, void* scratch, size_t scratch_bytes, ThreadPool& pool) {
    int64_t max_text = 0, n_rows = 0;
    for (int64_t s = 0; s < n_texts; ++s) {
        max_text = texts[s].n > max_text ? texts[s].n : max_text;
        n_rows += texts[s].n;
    }
    if (encoder_attention_scratch_bytes(max_text, pool.size()) > scratch_bytes) {
        fail(Status::internal, "encoder attention scratch too small for a text of %lld tokens", (long long)max_text);
    }
    const size_t slice = per_thread_bytes(max_text);
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    const Kernels& kn = kernels();
    const int64_t D = p.head_dim;
    const int64_t group = p.n_head / p.n_head_kv;
    const int64_t half = p.n_swa / 2;

    // Work items are (row, head) pairs in row order; a thread takes blocks of them so that
    // neighbouring queries of one head share the cache lines of their keys.
    const int64_t n_items = n_rows * p.n_head;
    constexpr int64_t kBlock = 16;
    std::atomic<int64_t> next{0};
    pool.run([&](int ith, int) {
        float* scores = reinterpret_cast<float*>(base + static_cast<size_t>(ith) * slice);
        int64_t text = 0;  // texts are visited in increasing row order by each block
        for (;;) {
            const int64_t b0 = next.fetch_add(kBlock, std::memory_order_relaxed);
            if (b0 >= n_items) return;
            const int64_t b1 = b0 + kBlock < n_items ? b0 + kBlock : n_items;
            for (int64_t item = b0; item < b1; ++item) {
                const int64_t h = item / n_rows;
                const int64_t row = item % n_rows;
                if (row == 0 || row < texts[text].start) text = 0;
                while (row >= texts[text].start + texts[text].n) ++text;
                const TextSpan& ts = texts[text];
                const int64_t i = row - ts.start;  // position inside the text
                int64_t lo = 0, hi = ts.n;         // visible keys [lo, hi) in text positions
                if (p.causal) hi = i + 1;
                if (p.n_swa > 0) {
                    if (p.swa_symmetric) {
                        lo = i - half > 0 ? i - half : 0;
                        if (i + half + 1 < hi) hi = i + half + 1;
                    } else if (i - p.n_swa + 1 > 0) {
                        lo = i - p.n_swa + 1;
                    }
                }
                const int64_t kh = h / group;
                const float* qh = q + row * q_stride + h * D;
                const float* kbase = k + ts.start * kv_stride + kh * D;
                const float* vbase = v + ts.start * kv_stride + kh * D;

                float max = -INFINITY;
                for (int64_t j = lo; j < hi; ++j) {
                    const float s = kn.dot_f32(D, qh, kbase + j * kv_stride) * p.score_scale;
                    scores[j - lo] = s;
                    max = s > max ? s : max;
                }
                double sum = 0;
                for (int64_t j = 0; j < hi - lo; ++j) {
                    const float e = std::exp(scores[j] - max);
                    scores[j] = e;
                    sum += e;
                }
                const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
                float* o = out + row * out_stride + h * D;
                std::memset(o, 0, static_cast<size_t>(D) * sizeof(float));
                for (int64_t j = lo; j < hi; ++j) kn.axpy_f32(D, scores[j - lo] * inv, vbase + j * kv_stride, o);
            }
        }
    });
}

}  // namespace llamas
