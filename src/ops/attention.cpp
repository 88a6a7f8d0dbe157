#include "ops/attention.h"

#include <cmath>
#include <cstring>

#include "engine/thread_pool.h"
#include "kernels.h"
#include "ops/activations.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "util/error.h"

namespace llamas {

namespace {

constexpr size_t kAlign = 64;
size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// One thread's share of the scratch: scores for every position, the query in the K dot type,
// and a float row for decoding V.
struct ThreadScratch {
    size_t scores, query, vrow, total;
};

ThreadScratch layout(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max) {
    const GgmlType dot_type = kernels().of(kv_type).vec_dot_type;
    ThreadScratch s{};
    s.scores = 0;
    s.query = round_up(static_cast<size_t>(n_kv_max) * sizeof(float));
    s.vrow = s.query + round_up(row_size(dot_type, p.head_dim));
    s.total = s.vrow + round_up(static_cast<size_t>(p.head_dim) * sizeof(float));
    return s;
}

}  // namespace

size_t attention_scratch_bytes(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max, int n_threads) {
    return layout(p, kv_type, n_kv_max).total * static_cast<size_t>(n_threads) + kAlign;
}

void attention(const AttentionParams& p, const float* q, int64_t q_stride, int64_t n_tokens, int64_t pos0,
               const KvLayerView& kv, int64_t n_kv, float* out, int64_t out_stride, void* scratch,
               size_t scratch_bytes, ThreadPool& pool) {
    const Kernels& K = kernels();
    const TypeKernels& tk = K.of(kv.type);
    // The vectorised F16 path: query rows met with whole runs of cache rows at once.
    const bool fast_f16 = kv.type == GgmlType::F16 && K.dot_f16_rows && K.axpy_f16_rows && K.softmax_exp &&
                          p.head_dim % 16 == 0 && p.head_dim <= 256;
    if (!tk.vec_dot || !tk.quantize_activations) fail(Status::unsupported, "no attention kernels for KV type %s", type_info(kv.type).name);
    const ThreadScratch ts = layout(p, kv.type, n_kv);
    if (attention_scratch_bytes(p, kv.type, n_kv, pool.size()) > scratch_bytes) {
        fail(Status::internal, "attention scratch too small for %lld positions", (long long)n_kv);
    }
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    const int64_t group = p.n_head / p.n_head_kv;
    const int64_t n_items = n_tokens * p.n_head;
    const float inv_cap = p.softcap > 0 ? 1.0f / p.softcap : 0.0f;

    pool.run([&](int ith, int nth) {
        uint8_t* mine = base + static_cast<size_t>(ith) * ts.total;
        float* scores = reinterpret_cast<float*>(mine + ts.scores);
        void* qconv = mine + ts.query;
        float* vrow = reinterpret_cast<float*>(mine + ts.vrow);
        float* qf = vrow;  // the F16 path's widened query (that path decodes no V rows)

        for (int64_t item = ith; item < n_items; item += nth) {
            const int64_t t = item / p.n_head;
            const int64_t h = item % p.n_head;
            const int64_t kh = h / group;
            const int64_t qpos = pos0 + t;
            // Visible keys: [lo, hi).
            int64_t hi = p.causal ? qpos + 1 : n_kv;
            if (hi > n_kv) hi = n_kv;
            int64_t lo = 0;
            if (p.n_swa > 0 && qpos - p.n_swa + 1 > lo) lo = qpos - p.n_swa + 1;

            tk.quantize_activations(q + t * q_stride + h * p.head_dim, qconv, p.head_dim);
            const uint8_t* k0 = kv.k + static_cast<size_t>(lo) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes;
            const uint8_t* v0 = kv.v + static_cast<size_t>(lo) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes;
            float* o = out + t * out_stride + h * p.head_dim;
            if (fast_f16 && hi > lo) {
                // The query rounded to F16 (the cache's dot type, as the reference does), widened.
                fp16_to_f32_row(static_cast<const uint16_t*>(qconv), qf, p.head_dim);
                K.dot_f16_rows(p.head_dim, qf, k0, kv.row_bytes, hi - lo, scores);
                const int64_t m = hi - lo;
                if (p.softcap > 0) {
                    for (int64_t j = 0; j < m; ++j) scores[j] = std::tanh(scores[j] * inv_cap) * p.softcap * p.score_scale;
                } else {
                    for (int64_t j = 0; j < m; ++j) scores[j] *= p.score_scale;
                }
                const double sum = K.softmax_exp(scores, m);
                const float inv_sum = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;
                for (int64_t j = 0; j < m; ++j) scores[j] *= inv_sum;
                std::memset(o, 0, static_cast<size_t>(p.head_dim) * sizeof(float));
                K.axpy_f16_rows(p.head_dim, scores, v0, kv.row_bytes, m, o);
                continue;
            }
            float max = -INFINITY;
            for (int64_t j = lo; j < hi; ++j) {
                float s;
                tk.vec_dot(p.head_dim, &s, kv.k + static_cast<size_t>(j) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes, qconv);
                if (p.softcap > 0) s = std::tanh(s * inv_cap) * p.softcap;
                s *= p.score_scale;
                scores[j - lo] = s;
                max = s > max ? s : max;
            }
            double sum = 0;
            for (int64_t j = 0; j < hi - lo; ++j) {
                const float e = std::exp(scores[j] - max);
                scores[j] = e;
                sum += e;
            }
            const float inv_sum = sum > 0 ? static_cast<float>(1.0 / sum) : 0.0f;

            std::memset(o, 0, static_cast<size_t>(p.head_dim) * sizeof(float));
            for (int64_t j = lo; j < hi; ++j) {
                const uint8_t* vsrc = kv.v + static_cast<size_t>(j) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes;
                const float* vf;
                if (kv.type == GgmlType::F32) {
                    vf = reinterpret_cast<const float*>(vsrc);
                } else {
                    dequantize_row(kv.type, vsrc, vrow, p.head_dim);
                    vf = vrow;
                }
                const float w = scores[j - lo] * inv_sum;
                for (int64_t d = 0; d < p.head_dim; ++d) o[d] += w * vf[d];
            }
        }
    });
}

}  // namespace llamas
