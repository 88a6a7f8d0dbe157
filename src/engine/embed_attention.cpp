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
constexpr int64_t kQueryChunk = 32;  // queries of one text and head handled together

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// One thread's scratch: scores for one query, and K and V of one head transposed (head_dim
// rows of up to max_text keys) for the long-text path.
struct Slice {
    size_t scores, kt, vt, total;
};

Slice slice_layout(int64_t max_text, int64_t head_dim) {
    Slice s{};
    s.scores = 0;
    s.kt = round_up(static_cast<size_t>(max_text) * sizeof(float));
    s.vt = s.kt + round_up(static_cast<size_t>(max_text * head_dim) * sizeof(float));
    s.total = s.vt + round_up(static_cast<size_t>(max_text * head_dim) * sizeof(float));
    return s;
}

}  // namespace

size_t encoder_attention_scratch_bytes(int64_t max_text, int64_t head_dim, int n_threads) {
    return slice_layout(max_text, head_dim).total * static_cast<size_t>(n_threads) + kAlign;
}

void encoder_attention(const EncoderAttentionParams& p, const float* q, int64_t q_stride, const float* k,
                       const float* v, int64_t kv_stride, const TextSpan* texts, int64_t n_texts, float* out,
                       int64_t out_stride, void* scratch, size_t scratch_bytes, ThreadPool& pool) {
    int64_t max_text = 0;
    for (int64_t s = 0; s < n_texts; ++s) max_text = texts[s].n > max_text ? texts[s].n : max_text;
    const int64_t D = p.head_dim;
    if (encoder_attention_scratch_bytes(max_text, D, pool.size()) > scratch_bytes) {
        fail(Status::internal, "encoder attention scratch too small for a text of %lld tokens", (long long)max_text);
    }
    const Slice sl = slice_layout(max_text, D);
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    const Kernels& kn = kernels();
    const int64_t group = p.n_head / p.n_head_kv;
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

    // Work items: (text, head, chunk of queries), texts in order; each thread takes increasing
    // item numbers, so it finds an item's text by scanning forward.
    auto items_of = [&](int64_t s) { return (texts[s].n + kQueryChunk - 1) / kQueryChunk * p.n_head; };
    int64_t n_items = 0;
    for (int64_t s = 0; s < n_texts; ++s) n_items += items_of(s);
    std::atomic<int64_t> next{0};

    pool.run([&](int ith, int) {
        uint8_t* mine = base + static_cast<size_t>(ith) * sl.total;
        float* scores = reinterpret_cast<float*>(mine + sl.scores);
        float* kt = reinterpret_cast<float*>(mine + sl.kt);
        float* vt = reinterpret_cast<float*>(mine + sl.vt);
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

            // Keys any query of the chunk sees (windows move monotonically with i).
            int64_t klo, khi, tmp;
            window(i0, ts.n, &klo, &tmp);
            window(i1 - 1, ts.n, &tmp, &khi);
            const int64_t nk = khi - klo;
            // Long rows of keys: transpose K and V once so that each query costs head_dim long
            // vector operations instead of one short one per key.
            const bool transposed = nk > D;
            if (transposed) {
                for (int64_t j = 0; j < nk; ++j) {
                    const float* kr = kbase + (klo + j) * kv_stride;
                    const float* vr = vbase + (klo + j) * kv_stride;
                    for (int64_t d = 0; d < D; ++d) {
                        kt[d * nk + j] = kr[d];
                        vt[d * nk + j] = vr[d];
                    }
                }
            }
            for (int64_t i = i0; i < i1; ++i) {
                int64_t lo, hi;
                window(i, ts.n, &lo, &hi);
                const int64_t m = hi - lo;
                const float* qh = q + (ts.start + i) * q_stride + h * D;
                if (transposed) {
                    std::memset(scores, 0, static_cast<size_t>(m) * sizeof(float));
                    for (int64_t d = 0; d < D; ++d) kn.axpy_f32(m, qh[d], kt + d * nk + (lo - klo), scores);
                } else {
                    for (int64_t j = 0; j < m; ++j) scores[j] = kn.dot_f32(D, qh, kbase + (lo + j) * kv_stride);
                }
                float max = -INFINITY;
                for (int64_t j = 0; j < m; ++j) {
                    scores[j] *= p.score_scale;
                    max = scores[j] > max ? scores[j] : max;
                }
                double sum = 0;
                for (int64_t j = 0; j < m; ++j) {
                    const float e = std::exp(scores[j] - max);
                    scores[j] = e;
                    sum += e;
                }
                const float inv = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
                for (int64_t j = 0; j < m; ++j) scores[j] *= inv;
                float* o = out + (ts.start + i) * out_stride + h * D;
                if (transposed) {
                    for (int64_t d = 0; d < D; ++d) o[d] = kn.dot_f32(m, scores, vt + d * nk + (lo - klo));
                } else {
                    std::memset(o, 0, static_cast<size_t>(D) * sizeof(float));
                    for (int64_t j = 0; j < m; ++j) kn.axpy_f32(D, scores[j], vbase + (lo + j) * kv_stride, o);
                }
            }
        }
    });
}

}  // namespace llamas
