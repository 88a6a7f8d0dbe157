// Tiled ("flash-style") attention. A tile is one KV head with the query rows that read it: every
// query head of its GQA group for a few consecutive tokens. The tile walks the visible keys in
// blocks of kKeyBlock positions; each block is read (and, if need be, decoded to floats) once and
// met by all the tile's rows, keeping a running max, a running sum
// and an output accumulator per row (online softmax), so no row of scores over the whole context
// is ever formed and each K/V row is read once per tile instead of once per query head and token.
//
// Three ways to run a tile over a key block: the kernel table's attn_tile (or scalar_attn_tile),
// which puts query rows in vector lanes and is the fast one for full tiles; for few rows
// (one-token decode, where most lanes of a rows-in-lanes tile would be padding) the table's
// attn_rows, which reads F16 rows directly; and, for F16 caches on tables without those, the
// per-row F16 loops (dot_f16_rows, softmax_exp, axpy_f16_rows) applied to each row in turn while
// the block is in L1.
//
// Work split: tiles (KV head x token block) are handed out to the pool's threads, latest tokens
// first (they see the most keys). When there are too few tiles to keep every thread busy (one
// token, few KV heads) and the context is long, each tile's key range is cut into chunks whose
// partial (max, sum, accumulator) are merged at the end.
#include "ops/attention.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {

namespace {

constexpr size_t kAlign = 64;
constexpr int64_t kKeyBlock = 64;      // keys per kernel call
constexpr int64_t kRowsTarget = 64;    // query rows per tile, when the group allows
constexpr int kChunksPerThread = 2;    // at most this many key-range chunks per thread (decode)
constexpr int64_t kMinChunkKeys = 256;  // no chunk shorter than this
constexpr int64_t kMinTileRows = 16;    // fewer rows than this take attn_rows or the per-row F16 loops, if they apply

size_t round_up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

// How queries are grouped into tiles.
struct TileShape {
    int64_t group;      // query heads per KV head
    int64_t tokens;     // tokens per tile (at most)
    int64_t rows;       // rows of a full tile, padded to a multiple of 16
    int64_t max_chunks;  // key-range chunks per tile at most
};

TileShape tile_shape(const AttentionParams& p, int n_threads) {
    TileShape s{};
    s.group = p.n_head / p.n_head_kv;
    s.tokens = std::max<int64_t>(1, kRowsTarget / s.group);
    s.rows = round16(s.group * s.tokens);
    s.max_chunks = static_cast<int64_t>(kChunksPerThread) * n_threads;
    return s;
}

// One thread's share of the scratch (byte offsets).
struct ThreadScratch {
    size_t qconv, qrow, qt, ot, s, m, l, alpha, lo, hi, kbuf, vbuf, total;
};

ThreadScratch thread_layout(const AttentionParams& p, GgmlType kv_type, const TileShape& sh) {
    const GgmlType dot_type = kernels().of(kv_type).vec_dot_type;
    const size_t d = static_cast<size_t>(p.head_dim), rows = static_cast<size_t>(sh.rows), f = sizeof(float);
    ThreadScratch s{};
    size_t at = 0;
    auto take = [&](size_t bytes) {
        const size_t here = at;
        at += round_up(bytes);
        return here;
    };
    s.qconv = take(row_size(dot_type, p.head_dim));
    s.qrow = take(d * f);
    s.qt = take(d * rows * f);
    s.ot = take(d * rows * f);
    s.s = take(static_cast<size_t>(kKeyBlock) * rows * f);
    s.m = take(rows * f);
    s.l = take(rows * f);
    s.alpha = take(rows * f);
    s.lo = take(rows * sizeof(int32_t));
    s.hi = take(rows * sizeof(int32_t));
    s.kbuf = take(static_cast<size_t>(kKeyBlock) * d * f);
    s.vbuf = take(static_cast<size_t>(kKeyBlock) * d * f);
    s.total = at;
    return s;
}

// Floats of one chunk's partial result: m and l per row, then the d x rows accumulator.
size_t partial_floats(const AttentionParams& p, const TileShape& sh) {
    return static_cast<size_t>(sh.rows) * static_cast<size_t>(p.head_dim + 2);
}

size_t partials_bytes(const AttentionParams& p, const TileShape& sh) {
    return round_up(static_cast<size_t>(p.n_head_kv) * static_cast<size_t>(sh.max_chunks) * partial_floats(p, sh) *
                    sizeof(float));
}

// The portable tile (same contract as Kernels::attn_tile); loops over rows are innermost so the
// compiler can vectorise them.
void scalar_attn_tile(const AttnTile& t) {
    const int64_t R = t.rows;
    const float inv_cap = t.softcap > 0 ? 1.0f / t.softcap : 0.0f;
    for (int64_t j = 0; j < t.nk; ++j) {
        float* s = t.s + j * R;
        const float* k = t.k + j * t.k_stride;
        for (int64_t r = 0; r < R; ++r) s[r] = 0.0f;
        for (int64_t i = 0; i < t.d; ++i) {
            const float* q = t.qt + i * R;
            const float kv = k[i];
            for (int64_t r = 0; r < R; ++r) s[r] += q[r] * kv;
        }
        const int64_t pos = t.j0 + j;
        for (int64_t r = 0; r < R; ++r) {
            float x = s[r];
            if (t.softcap > 0) x = std::tanh(x * inv_cap) * t.softcap;
            x *= t.score_scale;
            if (t.masked && (pos < t.lo[r] || pos >= t.hi[r])) x = -INFINITY;
            s[r] = x;
        }
    }
    for (int64_t r = 0; r < R; ++r) {
        float mx = t.m[r];
        for (int64_t j = 0; j < t.nk; ++j) mx = std::max(mx, t.s[j * R + r]);
        const float safe = mx == -INFINITY ? 0.0f : mx;  // no key seen yet: e^(-inf - 0) = 0
        const float alpha = std::exp(t.m[r] - safe);
        float sum = 0.0f;
        for (int64_t j = 0; j < t.nk; ++j) {
            const float e = std::exp(t.s[j * R + r] - safe);
            t.s[j * R + r] = e;
            sum += e;
        }
        t.m[r] = mx;
        t.alpha[r] = alpha;
        t.l[r] = t.l[r] * alpha + sum;
    }
    for (int64_t i = 0; i < t.d; ++i) {
        float* o = t.ot + i * R;
        for (int64_t r = 0; r < R; ++r) o[r] *= t.alpha[r];
        for (int64_t j = 0; j < t.nk; ++j) {
            const float* w = t.s + j * R;
            const float v = t.v[j * t.v_stride + i];
            for (int64_t r = 0; r < R; ++r) o[r] += w[r] * v;
        }
    }
}

enum class Way { tile, rows, f16_rows };

// Positions [lo, hi) query position qpos sees among n_kv cached ones.
void visible_range(const AttentionParams& p, int64_t qpos, int64_t n_kv, int64_t* lo, int64_t* hi) {
    *hi = p.causal ? std::min(qpos + 1, n_kv) : n_kv;
    *lo = 0;
    if (p.n_swa > 0 && qpos - p.n_swa + 1 > 0) *lo = qpos - p.n_swa + 1;
}

// The per-row F16 way of one key block: for each of the R rows (queries row-major in q, D apart;
// accumulators row-major in o), scores by dot_f16_rows, then online softmax with the block's own
// max: m' = max(m, block max); the old sum and accumulator are scaled by e^(m - m'), the block's
// weights (from softmax_exp, relative to the block max) by e^(block max - m').
void f16_rows_block(const Kernels& K, const AttentionParams& p, int64_t D, int64_t R, const float* q,
                    const uint8_t* k0, const uint8_t* v0, size_t row_bytes, int64_t j0, int64_t nk, const int32_t* lo,
                    const int32_t* hi, bool masked, float* w, float* m, float* l, float* o) {
    const float inv_cap = p.softcap > 0 ? 1.0f / p.softcap : 0.0f;
    for (int64_t r = 0; r < R; ++r) {
        K.dot_f16_rows(D, q + r * D, k0, row_bytes, nk, w);
        if (p.softcap > 0 && K.softcap) {
            K.softcap(w, nk, p.softcap);
            for (int64_t j = 0; j < nk; ++j) w[j] *= p.score_scale;
        } else if (p.softcap > 0) {
            for (int64_t j = 0; j < nk; ++j) w[j] = std::tanh(w[j] * inv_cap) * p.softcap * p.score_scale;
        } else {
            for (int64_t j = 0; j < nk; ++j) w[j] *= p.score_scale;
        }
        if (masked) {
            for (int64_t j = 0; j < nk; ++j) {
                if (j0 + j < lo[r] || j0 + j >= hi[r]) w[j] = -INFINITY;
            }
        }
        float bmax = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) bmax = std::max(bmax, w[j]);
        if (bmax == -INFINITY) continue;  // the row sees none of these keys
        const float sum = static_cast<float>(K.softmax_exp(w, nk));
        float* orow = o + r * D;
        if (bmax > m[r]) {
            const float c = std::exp(m[r] - bmax);  // 0 for the first keys the row sees
            for (int64_t i = 0; i < D; ++i) orow[i] *= c;
            l[r] = l[r] * c + sum;
            m[r] = bmax;
        } else {
            const float c = std::exp(bmax - m[r]);
            for (int64_t j = 0; j < nk; ++j) w[j] *= c;
            l[r] += sum * c;
        }
        K.axpy_f16_rows(D, w, v0, row_bytes, nk, orow);
    }
}

}  // namespace

size_t attention_scratch_bytes(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max, int n_threads) {
    (void)n_kv_max;  // tiles hold a block of keys at a time, whatever the context length
    const TileShape sh = tile_shape(p, n_threads);
    return thread_layout(p, kv_type, sh).total * static_cast<size_t>(n_threads) + partials_bytes(p, sh) + kAlign;
}

void attention(const AttentionParams& p, const float* q, int64_t q_stride, int64_t n_tokens, int64_t pos0,
               const KvLayerView& kv, int64_t n_kv, float* out, int64_t out_stride, void* scratch,
               size_t scratch_bytes, ThreadPool& pool) {
    const Kernels& K = kernels();
    const TypeKernels& tk = K.of(kv.type);
    if (!tk.vec_dot || !tk.quantize_activations) fail(Status::unsupported, "no attention kernels for KV type %s", type_info(kv.type).name);
    if (attention_scratch_bytes(p, kv.type, n_kv, pool.size()) > scratch_bytes) {
        fail(Status::internal, "attention scratch too small for %lld positions", (long long)n_kv);
    }
    if (n_tokens <= 0) return;
    const int nth = pool.size();
    const TileShape sh = tile_shape(p, nth);
    const ThreadScratch ts = thread_layout(p, kv.type, sh);
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    float* partials = reinterpret_cast<float*>(base + ts.total * static_cast<size_t>(nth));
    const size_t pfloats = partial_floats(p, sh);

    const GgmlType dot_type = tk.vec_dot_type;
    const int64_t D = p.head_dim, group = sh.group;
    const int64_t T = std::min(sh.tokens, n_tokens);
    const int64_t n_blocks = (n_tokens + T - 1) / T;
    const int64_t n_tiles = p.n_head_kv * n_blocks;
    // Key-range chunks per tile: only for a single token block (that keeps the partials bounded),
    // when the tiles alone would leave threads idle.
    int64_t chunks = 1;
    if (n_blocks == 1 && n_tiles < 2 * nth) {
        int64_t lo0, hi0, lo1, hi1;  // the keys the first and the last token see span them all
        visible_range(p, pos0, n_kv, &lo0, &hi0);
        visible_range(p, pos0 + n_tokens - 1, n_kv, &lo1, &hi1);
        const int64_t span = std::max(hi0, hi1) - std::min(lo0, lo1);
        chunks = std::min<int64_t>({(2 * nth + n_tiles - 1) / n_tiles, sh.max_chunks, span / kMinChunkKeys});
        chunks = std::max<int64_t>(chunks, 1);
    }
    const int64_t n_items = n_tiles * chunks;
    void (*tile_fn)(const AttnTile&) = K.attn_tile ? K.attn_tile : scalar_attn_tile;
    const bool f32_cache = kv.type == GgmlType::F32;
    const bool f16_cache = kv.type == GgmlType::F16;
    const bool f16_rows = f16_cache && K.dot_f16_rows && K.axpy_f16_rows && K.softmax_exp && D % 16 == 0 && D <= 256;
    // How a tile of R rows is run. Full tiles: rows in lanes (attn_tile, or the scalar tile when
    // nothing else fits). Few rows: the table's attn_rows, else the per-row F16 loops; their
    // arrays are row-major (r*D + i) instead of rows in lanes (i*Rp + r).
    auto way_for = [&](int64_t R) {
        if (K.attn_tile && R >= kMinTileRows) return Way::tile;
        // attn_rows only for F16 caches (the default), and not for one row (multi-head decode),
        // where it gains nothing over the per-row F16 loops. F32 caches (the reference's, used
        // by the conformance tests) keep the tile for any number of rows, so a prompt decoded
        // in one batch and token by token goes through the same arithmetic.
        if (K.attn_rows && R <= kAttnRowsMax && R >= 2 && f16_cache) return Way::rows;
        if (f16_rows) return Way::f16_rows;
        return Way::tile;
    };
    std::atomic<int64_t> next{0};

    pool.run([&](int ith, int) {
        uint8_t* mine = base + static_cast<size_t>(ith) * ts.total;
        void* qconv = mine + ts.qconv;
        float* qrow = reinterpret_cast<float*>(mine + ts.qrow);
        float* qt = reinterpret_cast<float*>(mine + ts.qt);
        float* ot = reinterpret_cast<float*>(mine + ts.ot);
        float* m = reinterpret_cast<float*>(mine + ts.m);
        float* l = reinterpret_cast<float*>(mine + ts.l);
        int32_t* lo = reinterpret_cast<int32_t*>(mine + ts.lo);
        int32_t* hi = reinterpret_cast<int32_t*>(mine + ts.hi);
        float* kbuf = reinterpret_cast<float*>(mine + ts.kbuf);
        float* vbuf = reinterpret_cast<float*>(mine + ts.vbuf);

        for (;;) {
            const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
            if (item >= n_items) break;
            // KV head by KV head (the threads share one head's rows while they stay in cache),
            // latest tokens first (they see the most keys; the small tiles come last).
            const int64_t kh = item / (n_blocks * chunks);
            const int64_t blk = n_blocks - 1 - (item / chunks) % n_blocks;
            const int64_t chunk = item % chunks;
            const int64_t t0 = blk * T, nt = std::min(T, n_tokens - t0);
            const int64_t R = nt * group, Rp = round16(R);
            const Way way = way_for(R);
            const bool by_rows = way != Way::tile;

            // The tile's queries, converted to the cache's dot type (as the reference does) and
            // back to floats, transposed; each row's visible keys.
            int64_t klo = n_kv, khi = 0;
            for (int64_t tt = 0; tt < nt; ++tt) {
                int64_t vlo, vhi;
                visible_range(p, pos0 + t0 + tt, n_kv, &vlo, &vhi);
                if (vhi > vlo) {
                    klo = std::min(klo, vlo);
                    khi = std::max(khi, vhi);
                }
                for (int64_t g = 0; g < group; ++g) {
                    const int64_t r = tt * group + g;
                    const float* src = q + (t0 + tt) * q_stride + (kh * group + g) * D;
                    if (dot_type == GgmlType::F32) {
                        std::memcpy(qrow, src, static_cast<size_t>(D) * sizeof(float));
                    } else {
                        tk.quantize_activations(src, qconv, D);
                        dequantize_row(dot_type, qconv, qrow, D);
                    }
                    if (by_rows) {
                        std::memcpy(qt + r * D, qrow, static_cast<size_t>(D) * sizeof(float));
                    } else {
                        for (int64_t i = 0; i < D; ++i) qt[i * Rp + r] = qrow[i];
                    }
                    lo[r] = static_cast<int32_t>(vlo);
                    hi[r] = static_cast<int32_t>(vhi);
                }
            }
            for (int64_t r = R; r < Rp; ++r) {  // padding rows: zero queries that see nothing
                if (!by_rows) {
                    for (int64_t i = 0; i < D; ++i) qt[i * Rp + r] = 0.0f;
                }
                lo[r] = hi[r] = 0;
            }
            for (int64_t r = 0; r < Rp; ++r) {
                m[r] = -INFINITY;
                l[r] = 0.0f;
            }
            std::memset(ot, 0, static_cast<size_t>(D * Rp) * sizeof(float));

            // This item's share of the keys.
            int64_t a = klo, b = khi;
            if (chunks > 1 && khi > klo) {
                const int64_t len = khi - klo;
                a = klo + len * chunk / chunks;
                b = klo + len * (chunk + 1) / chunks;
            }

            AttnTile at;
            at.d = D;
            at.rows = way == Way::rows ? R : Rp;
            at.qt = qt;
            at.lo = lo;
            at.hi = hi;
            at.score_scale = p.score_scale;
            at.softcap = p.softcap;
            at.s = reinterpret_cast<float*>(mine + ts.s);
            at.alpha = reinterpret_cast<float*>(mine + ts.alpha);
            at.m = m;
            at.l = l;
            at.ot = ot;
            for (int64_t j0 = a; j0 < b; j0 += kKeyBlock) {
                const int64_t nk = std::min(kKeyBlock, b - j0);
                bool masked = false;
                for (int64_t r = 0; r < R && !masked; ++r) masked = lo[r] > j0 || hi[r] < j0 + nk;
                const uint8_t* k0 = kv.k + static_cast<size_t>(j0) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes;
                const uint8_t* v0 = kv.v + static_cast<size_t>(j0) * kv.row_bytes + static_cast<size_t>(kh) * kv.head_bytes;
                if (j0 + kKeyBlock < b) {
                    // The next block's rows are fetched while this one is used.
                    const size_t ahead = static_cast<size_t>(kKeyBlock) * kv.row_bytes;
                    for (int64_t j = 0; j < nk; ++j) {
                        for (size_t c = 0; c < kv.head_bytes; c += 64) {
                            __builtin_prefetch(k0 + ahead + static_cast<size_t>(j) * kv.row_bytes + c);
                            __builtin_prefetch(v0 + ahead + static_cast<size_t>(j) * kv.row_bytes + c);
                        }
                    }
                }
                if (way == Way::f16_rows) {
                    f16_rows_block(K, p, D, R, qt, k0, v0, kv.row_bytes, j0, nk, lo, hi, masked, at.s, m, l, ot);
                    continue;
                }
                if (way == Way::rows && f16_cache && kv.row_bytes % 2 == 0) {
                    // attn_rows reads F16 rows directly (each value is read once per block).
                    at.k16 = reinterpret_cast<const uint16_t*>(k0);
                    at.v16 = reinterpret_cast<const uint16_t*>(v0);
                    at.k_stride = at.v_stride = static_cast<int64_t>(kv.row_bytes / 2);
                } else if (f32_cache) {
                    at.k = reinterpret_cast<const float*>(k0);
                    at.v = reinterpret_cast<const float*>(v0);
                    at.k_stride = at.v_stride = static_cast<int64_t>(kv.row_bytes / sizeof(float));
                } else {
                    for (int64_t j = 0; j < nk; ++j) {
                        const uint8_t* ks = k0 + static_cast<size_t>(j) * kv.row_bytes;
                        const uint8_t* vs = v0 + static_cast<size_t>(j) * kv.row_bytes;
                        if (f16_cache) {
                            fp16_to_f32_row(reinterpret_cast<const uint16_t*>(ks), kbuf + j * D, D);
                            fp16_to_f32_row(reinterpret_cast<const uint16_t*>(vs), vbuf + j * D, D);
                        } else {
                            dequantize_row(kv.type, ks, kbuf + j * D, D);
                            dequantize_row(kv.type, vs, vbuf + j * D, D);
                        }
                    }
                    at.k = kbuf;
                    at.v = vbuf;
                    at.k_stride = at.v_stride = D;
                }
                at.nk = nk;
                at.j0 = j0;
                at.masked = masked;
                if (way == Way::rows) {
                    K.attn_rows(at);
                } else {
                    tile_fn(at);
                }
            }

            if (chunks == 1) {
                for (int64_t r = 0; r < R; ++r) {
                    const int64_t tt = r / group, g = r % group;
                    float* o = out + (t0 + tt) * out_stride + (kh * group + g) * D;
                    const float inv = l[r] > 0 ? 1.0f / l[r] : 0.0f;
                    if (by_rows) {
                        for (int64_t i = 0; i < D; ++i) o[i] = ot[r * D + i] * inv;
                    } else {
                        for (int64_t i = 0; i < D; ++i) o[i] = ot[i * Rp + r] * inv;
                    }
                }
            } else {
                float* part = partials + static_cast<size_t>(kh * chunks + chunk) * pfloats;
                std::memcpy(part, m, static_cast<size_t>(Rp) * sizeof(float));
                std::memcpy(part + Rp, l, static_cast<size_t>(Rp) * sizeof(float));
                std::memcpy(part + 2 * Rp, ot, static_cast<size_t>(D * Rp) * sizeof(float));
            }
        }
    });

    if (chunks > 1) {
        // One token block: merge each row's chunks, rescaled to the common max.
        const int64_t R = n_tokens * group, Rp = round16(R);
        const bool by_rows = way_for(R) != Way::tile;
        for (int64_t kh = 0; kh < p.n_head_kv; ++kh) {
            const float* first = partials + static_cast<size_t>(kh * chunks) * pfloats;
            for (int64_t r = 0; r < R; ++r) {
                const int64_t tt = r / group, g = r % group;
                float* o = out + tt * out_stride + (kh * group + g) * D;
                float mx = -INFINITY;
                for (int64_t c = 0; c < chunks; ++c) mx = std::max(mx, first[static_cast<size_t>(c) * pfloats + r]);
                std::memset(o, 0, static_cast<size_t>(D) * sizeof(float));
                if (mx == -INFINITY) continue;
                float sum = 0.0f;
                for (int64_t c = 0; c < chunks; ++c) {
                    const float* part = first + static_cast<size_t>(c) * pfloats;
                    if (part[r] == -INFINITY) continue;
                    const float w = std::exp(part[r] - mx);
                    sum += w * part[Rp + r];
                    const float* acc = part + 2 * Rp;
                    if (by_rows) {
                        for (int64_t i = 0; i < D; ++i) o[i] += w * acc[r * D + i];
                    } else {
                        for (int64_t i = 0; i < D; ++i) o[i] += w * acc[i * Rp + r];
                    }
                }
                const float inv = sum > 0 ? 1.0f / sum : 0.0f;
                for (int64_t i = 0; i < D; ++i) o[i] *= inv;
            }
        }
    }
}

}  // namespace llamas
