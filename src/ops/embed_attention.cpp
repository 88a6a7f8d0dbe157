#include "ops/embed_attention.h"

#include <atomic>
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "quant/fp16.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {

namespace {

constexpr size_t kAlign = 64;
constexpr int64_t kQueryChunk = 32;  // queries of one text and head handled together

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Scratch: K and V transposed per (text, KV head) for all rows of the pass (head_dim rows of the
// text's length each, at the text's own offset), then one score row per thread.
struct Layout {
    size_t kt, vt, scores, per_thread, total;
};

Layout layout(int64_t max_rows, int64_t n_head_kv, int64_t head_dim, int n_threads) {
    Layout l{};
    const size_t kv = round_up(static_cast<size_t>(max_rows * n_head_kv * head_dim) * sizeof(float));
    l.kt = 0;
    l.vt = kv;
    l.scores = 2 * kv;
    l.per_thread = round_up(static_cast<size_t>(max_rows) * sizeof(float)) + round_up(static_cast<size_t>(head_dim) * sizeof(float));
    l.total = l.scores + l.per_thread * static_cast<size_t>(n_threads) + kAlign;
    return l;
}

}  // namespace

size_t encoder_attention_scratch_bytes(int64_t max_rows, int64_t n_head_kv, int64_t head_dim, int n_threads) {
    return layout(max_rows, n_head_kv, head_dim, n_threads).total;
}

void encoder_attention(const EncoderAttentionParams& p, const float* q, int64_t q_stride, const float* k,
                       const float* v, int64_t kv_stride, const TextSpan* texts, int64_t n_texts, float* out,
                       int64_t out_stride, void* scratch, size_t scratch_bytes, ThreadPool& pool) {
    int64_t n_rows = 0;
    for (int64_t s = 0; s < n_texts; ++s) n_rows += texts[s].n;
    const int64_t D = p.head_dim, HKV = p.n_head_kv;
    const Layout L = layout(n_rows, HKV, D, pool.size());
    if (L.total > scratch_bytes) {
        fail(Status::internal, "encoder attention scratch too small for %lld rows", (long long)n_rows);
    }
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    float* kt_all = reinterpret_cast<float*>(base + L.kt);
    float* vt_all = reinterpret_cast<float*>(base + L.vt);
    const Kernels& kn = kernels();
    const int64_t group = p.n_head / HKV;
    const int64_t half = p.n_swa / 2;

    // Visible keys of query i (a position in a text of n tokens): [lo, hi).
    auto window = [&](int64_t i, int64_t n, int64_t* lo, int64_t* hi) {
        *lo = 0;
        *hi = p.causal ? i + 1 : n;
        if (p.n_swa > 0) {
            if (p.swa_symmetric) {
                if (i - half > 0) *lo = i - half;
                if (i + half + 1 < *hi) *hi = i + half + 1;
            } else if (i - p.n_swa + 1 > 0) {
                *lo = i - p.n_swa + 1;
            }
        }
    };
    // Rows of keys longer than a head: transposed K and V make each query cost head_dim long
    // vector operations instead of one short one per key.
    // With the kernels' F16-row loops (as for an F16 KV cache), K and V are converted to F16
    // once and each query costs two calls; otherwise long texts transpose K and V.
    const bool f16 = kn.dot_f16_rows && kn.axpy_f16_rows && D % 16 == 0 && D <= 256;
    auto transposed = [&](const TextSpan& ts) { return !f16 && ts.n > D; };
    auto* k16 = reinterpret_cast<uint16_t*>(kt_all);
    auto* v16 = reinterpret_cast<uint16_t*>(vt_all);
    const size_t row16 = static_cast<size_t>(HKV * D) * sizeof(uint16_t);
    auto kt_of = [&](const TextSpan& ts, int64_t kh) { return kt_all + ts.start * HKV * D + kh * D * ts.n; };
    auto vt_of = [&](const TextSpan& ts, int64_t kh) { return vt_all + ts.start * HKV * D + kh * D * ts.n; };

    // Phase 1: F16 copies of K and V, or transposes, one item per (text, KV head).
    if (f16) {
        pool.run([&](int ith, int nth) {
            for (int64_t r = ith; r < n_rows; r += nth) {
                f32_to_fp16_row(k + r * kv_stride, k16 + r * HKV * D, HKV * D);
                f32_to_fp16_row(v + r * kv_stride, v16 + r * HKV * D, HKV * D);
            }
        });
    } else {
        std::atomic<int64_t> next{0};
        const int64_t n_items = n_texts * HKV;
        pool.run([&](int, int) {
            for (;;) {
                const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
                if (item >= n_items) return;
                const TextSpan& ts = texts[item / HKV];
                if (!transposed(ts)) continue;
                const int64_t kh = item % HKV;
                float* kt = kt_of(ts, kh);
                float* vt = vt_of(ts, kh);
                for (int64_t j = 0; j < ts.n; ++j) {
                    const float* kr = k + (ts.start + j) * kv_stride + kh * D;
                    const float* vr = v + (ts.start + j) * kv_stride + kh * D;
                    for (int64_t d = 0; d < D; ++d) {
                        kt[d * ts.n + j] = kr[d];
                        vt[d * ts.n + j] = vr[d];
                    }
                }
            }
        });
    }

    // Phase 2: work items (text, head, chunk of queries), texts in order; each thread takes
    // increasing item numbers, so it finds an item's text by scanning forward.
    auto items_of = [&](int64_t s) { return (texts[s].n + kQueryChunk - 1) / kQueryChunk * p.n_head; };
    int64_t n_items = 0;
    for (int64_t s = 0; s < n_texts; ++s) n_items += items_of(s);
    std::atomic<int64_t> next{0};

    pool.run([&](int ith, int) {
        float* scores = reinterpret_cast<float*>(base + L.scores + static_cast<size_t>(ith) * L.per_thread);
        float* qs = scores + round_up(static_cast<size_t>(n_rows) * sizeof(float)) / sizeof(float);
        int64_t s = 0, s_first = 0;
        for (;;) {
            const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
            if (item >= n_items) return;
            while (item >= s_first + items_of(s)) s_first += items_of(s++);
            const TextSpan& ts = texts[s];
            const int64_t local = item - s_first;
            const int64_t h = local % p.n_head;
            const int64_t i0 = (local / p.n_head) * kQueryChunk;
            const int64_t i1 = i0 + kQueryChunk < ts.n ? i0 + kQueryChunk : ts.n;
            const int64_t kh = h / group;
            const float* kbase = k + ts.start * kv_stride + kh * D;
            const float* vbase = v + ts.start * kv_stride + kh * D;
            const bool tr = transposed(ts);
            const float* kt = tr ? kt_of(ts, kh) : nullptr;
            const float* vt = tr ? vt_of(ts, kh) : nullptr;

            for (int64_t i = i0; i < i1; ++i) {
                int64_t lo, hi;
                window(i, ts.n, &lo, &hi);
                const int64_t m = hi - lo;
                const float* qh = q + (ts.start + i) * q_stride + h * D;
                if (f16) {
                    for (int64_t d = 0; d < D; ++d) qs[d] = qh[d] * p.score_scale;
                    const auto* krows = reinterpret_cast<const uint8_t*>(k16 + (ts.start + lo) * HKV * D + kh * D);
                    kn.dot_f16_rows(D, qs, krows, row16, m, scores);
                } else if (tr) {
                    std::memset(scores, 0, static_cast<size_t>(m) * sizeof(float));
                    for (int64_t d = 0; d < D; ++d) kn.axpy_f32(m, qh[d] * p.score_scale, kt + d * ts.n + lo, scores);
                } else {
                    for (int64_t j = 0; j < m; ++j) scores[j] = kn.dot_f32(D, qh, kbase + (lo + j) * kv_stride) * p.score_scale;
                }
                double sum;
                if (kn.softmax_exp) {
                    sum = kn.softmax_exp(scores, m);
                } else {
                    float max = -INFINITY;
                    for (int64_t j = 0; j < m; ++j) max = scores[j] > max ? scores[j] : max;
                    sum = 0;
                    for (int64_t j = 0; j < m; ++j) {
                        scores[j] = std::exp(scores[j] - max);
                        sum += scores[j];
                    }
                }
                const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
                float* o = out + (ts.start + i) * out_stride + h * D;
                if (f16) {
                    for (int64_t j = 0; j < m; ++j) scores[j] *= inv;
                    std::memset(o, 0, static_cast<size_t>(D) * sizeof(float));
                    const auto* vrows = reinterpret_cast<const uint8_t*>(v16 + (ts.start + lo) * HKV * D + kh * D);
                    kn.axpy_f16_rows(D, scores, vrows, row16, m, o);
                } else if (tr) {
                    for (int64_t d = 0; d < D; ++d) o[d] = kn.dot_f32(m, scores, vt + d * ts.n + lo) * inv;
                } else {
                    std::memset(o, 0, static_cast<size_t>(D) * sizeof(float));
                    for (int64_t j = 0; j < m; ++j) kn.axpy_f32(D, scores[j] * inv, vbase + (lo + j) * kv_stride, o);
                }
            }
        }
    });
}

}  // namespace llamas
