// Tiled ("flash-style") attention. A tile is one KV head with the query rows that read it: every
// query head of its GQA group for a few consecutive tokens of one document. The tile walks the
// visible keys in blocks of kKeyBlock positions; each block is read (and, if need be, decoded to
// floats) once and met by all the tile's rows, keeping a running max, a running sum and an
// output accumulator per row (online softmax), so no row of scores over the whole context is
// ever formed and each K/V row is read once per tile instead of once per query head and token.
//
// Two ways to run a tile over a key block, both kernel-table entries: attn_tile, which puts
// query rows in vector lanes and is the one for full tiles; and, for the few rows of decoding
// over F16 rows (where most lanes of a rows-in-lanes tile would be padding), attn_rows, which
// reads the F16 rows directly, one query row at a time.
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
constexpr int64_t kMinTileRows = 16;    // fewer rows than this take attn_rows, over F16 rows

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

// Positions [lo, hi) the query at key row qpos sees, within its document's rows [doc_lo, doc_hi).
void visible_range(const AttentionMask& m, int64_t qpos, int64_t doc_lo, int64_t doc_hi, int64_t* lo, int64_t* hi) {
    *lo = doc_lo;
    *hi = m.causal ? std::min(qpos + 1, doc_hi) : doc_hi;
    if (m.n_swa <= 0) return;
    if (m.swa_symmetric) {
        const int64_t half = m.n_swa / 2;
        *lo = std::max(*lo, qpos - half);
        *hi = std::min(*hi, qpos + half + 1);
    } else {
        *lo = std::max(*lo, qpos - m.n_swa + 1);
    }
}

// Token blocks: each document's queries cut into runs of at most T consecutive tokens, so that a
// tile never mixes documents. Blocks are numbered document by document; a cursor (the document
// of the last lookup) makes lookups of neighbouring numbers cheap, and each thread keeps its own.
class Blocks {
public:
    struct Block {
        int64_t t0 = 0, nt = 0;          // queries t0 .. t0 + nt - 1 of the call
        int64_t doc_lo = 0, doc_hi = 0;  // the key rows of their document
    };

    Blocks(const AttentionMask& m, int64_t pos0, int64_t n_tokens, int64_t n_kv, int64_t T)
        : m_(m), pos0_(pos0), n_tokens_(n_tokens), n_kv_(n_kv), T_(T), n_docs_(m.docs ? m.n_docs : 1) {
        for (int64_t s = 0; s < n_docs_; ++s) count_ += doc(s).blocks;
    }

    int64_t count() const { return count_; }

    Block at(int64_t b) {
        while (b >= first_ + doc(s_).blocks) first_ += doc(s_++).blocks;
        while (b < first_) first_ -= doc(--s_).blocks;
        const Doc d = doc(s_);
        Block out;
        out.t0 = d.q0 + (b - first_) * T_;
        out.nt = std::min(T_, d.q1 - out.t0);
        out.doc_lo = d.lo;
        out.doc_hi = d.hi;
        return out;
    }

private:
    struct Doc {
        int64_t q0, q1;   // its queries: [q0, q1) of the call
        int64_t lo, hi;   // its key rows
        int64_t blocks;
    };

    Doc doc(int64_t s) const {
        Doc d{0, n_tokens_, 0, n_kv_, 0};
        if (m_.docs) {
            const TextSpan& ts = m_.docs[s];
            d.q0 = std::clamp<int64_t>(ts.start - pos0_, 0, n_tokens_);
            d.q1 = std::clamp<int64_t>(ts.start + ts.n - pos0_, d.q0, n_tokens_);
            d.lo = ts.start;
            d.hi = std::min(ts.start + ts.n, n_kv_);
        }
        d.blocks = (d.q1 - d.q0 + T_ - 1) / T_;
        return d;
    }

    const AttentionMask& m_;
    int64_t pos0_, n_tokens_, n_kv_, T_, n_docs_;
    int64_t count_ = 0;
    int64_t s_ = 0, first_ = 0;  // cursor: document s_, whose first block is number first_
};

// Documents must be in order and apart; queries outside every document see nothing, so their
// outputs are zeroed here (no tile covers them).
void check_docs_and_zero_gaps(const AttentionParams& p, int64_t pos0, int64_t n_tokens, float* out, int64_t out_stride) {
    const AttentionMask& m = p.mask;
    if (!m.docs) return;
    int64_t covered = pos0;  // key rows before this are covered or gaps already zeroed
    auto zero = [&](int64_t row0, int64_t row1) {
        for (int64_t r = std::max(row0, pos0); r < std::min(row1, pos0 + n_tokens); ++r) {
            std::memset(out + (r - pos0) * out_stride, 0, static_cast<size_t>(p.n_head * p.head_dim) * sizeof(float));
        }
    };
    for (int64_t s = 0; s < m.n_docs; ++s) {
        const TextSpan& ts = m.docs[s];
        if (ts.n < 0 || ts.start < 0 || (s > 0 && ts.start < m.docs[s - 1].start + m.docs[s - 1].n)) {
            fail(Status::invalid_argument, "attention documents must be in order and apart (document %lld)", (long long)s);
        }
        zero(covered, ts.start);
        covered = std::max(covered, ts.start + ts.n);
    }
    zero(covered, pos0 + n_tokens);
}

}  // namespace

size_t attention_scratch_bytes(const AttentionParams& p, GgmlType kv_type, int64_t n_kv_max, int n_threads) {
    (void)n_kv_max;  // tiles hold a block of keys at a time, whatever the context length
    const TileShape sh = tile_shape(p, n_threads);
    return thread_layout(p, kv_type, sh).total * static_cast<size_t>(n_threads) + partials_bytes(p, sh) + kAlign;
}

KvLayerView pack_kv_rows(const float* k, const float* v, int64_t stride, int64_t n, int64_t n_head_kv, int64_t head_dim,
                         uint16_t* k16, uint16_t* v16, ThreadPool& pool) {
    const int64_t width = n_head_kv * head_dim;
    parallel_rows(pool, n, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            f32_to_fp16_row(k + r * stride, k16 + r * width, width);
            f32_to_fp16_row(v + r * stride, v16 + r * width, width);
        }
    });
    KvLayerView view;
    view.type = GgmlType::F16;
    view.k = reinterpret_cast<const uint8_t*>(k16);
    view.v = reinterpret_cast<const uint8_t*>(v16);
    view.row_bytes = static_cast<size_t>(width) * sizeof(uint16_t);
    view.head_bytes = static_cast<size_t>(head_dim) * sizeof(uint16_t);
    return view;
}

void attention(const AttentionParams& p, const float* q, int64_t q_stride, int64_t n_tokens, int64_t pos0,
               const KvLayerView& kv, int64_t n_kv, float* out, int64_t out_stride, void* scratch,
               size_t scratch_bytes, ThreadPool& pool) {
    const Kernels& K = kernels();
    if (kv.type != GgmlType::F32 && kv.type != GgmlType::F16 && kv.type != GgmlType::Q8_0) {
        fail(Status::unsupported, "no attention over K/V rows of type %s", type_info(kv.type).name);
    }
    const TypeKernels& tk = K.of(kv.type);
    if (attention_scratch_bytes(p, kv.type, n_kv, pool.size()) > scratch_bytes) {
        fail(Status::internal, "attention scratch too small for %lld positions", (long long)n_kv);
    }
    if (n_tokens <= 0) return;
    check_docs_and_zero_gaps(p, pos0, n_tokens, out, out_stride);
    const int nth = pool.size();
    const TileShape sh = tile_shape(p, nth);
    const ThreadScratch ts = thread_layout(p, kv.type, sh);
    uint8_t* base = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + kAlign - 1) / kAlign * kAlign);
    float* partials = reinterpret_cast<float*>(base + ts.total * static_cast<size_t>(nth));
    const size_t pfloats = partial_floats(p, sh);

    const GgmlType dot_type = tk.vec_dot_type;
    const int64_t D = p.head_dim, group = sh.group;
    const int64_t T = std::min(sh.tokens, n_tokens);
    Blocks blocks(p.mask, pos0, n_tokens, n_kv, T);
    const int64_t n_blocks = blocks.count();
    const int64_t n_tiles = p.n_head_kv * n_blocks;
    // Key-range chunks per tile: only for a single token block (that keeps the partials bounded),
    // when the tiles alone would leave threads idle.
    int64_t chunks = 1;
    Blocks::Block only;
    if (n_blocks == 1) only = blocks.at(0);
    if (n_blocks == 1 && n_tiles < 2 * nth) {
        int64_t lo0, hi0, lo1, hi1;  // the keys the first and the last token see span them all
        visible_range(p.mask, pos0 + only.t0, only.doc_lo, only.doc_hi, &lo0, &hi0);
        visible_range(p.mask, pos0 + only.t0 + only.nt - 1, only.doc_lo, only.doc_hi, &lo1, &hi1);
        const int64_t span = std::max(hi0, hi1) - std::min(lo0, lo1);
        chunks = std::min<int64_t>({(2 * nth + n_tiles - 1) / n_tiles, sh.max_chunks, span / kMinChunkKeys});
        chunks = std::max<int64_t>(chunks, 1);
    }
    const int64_t n_items = n_tiles * chunks;
    const bool f32_rows = kv.type == GgmlType::F32;
    // Few rows over F16 rows (decoding) take attn_rows, which reads the rows in place, one query
    // row at a time: its arrays are row-major (r*D + i) instead of rows in lanes (i*Rp + r). Full
    // tiles, F32 rows (the reference's cache type, used by the conformance tests, so that a prompt
    // decoded in one batch and token by token goes through the same arithmetic) and head sizes
    // the F16 row loops do not take stay on attn_tile.
    const bool rows_fit = kv.type == GgmlType::F16 && kv.row_bytes % 2 == 0 && D % 16 == 0 && D <= 256;
    auto by_rows_for = [&](int64_t R) { return rows_fit && R < kMinTileRows; };
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
        Blocks my_blocks = blocks;

        for (;;) {
            const int64_t item = next.fetch_add(1, std::memory_order_relaxed);
            if (item >= n_items) break;
            // KV head by KV head (the threads share one head's rows while they stay in cache),
            // latest tokens first (they see the most keys; the small tiles come last).
            const int64_t kh = item / (n_blocks * chunks);
            const Blocks::Block blk = my_blocks.at(n_blocks - 1 - (item / chunks) % n_blocks);
            const int64_t chunk = item % chunks;
            const int64_t t0 = blk.t0, nt = blk.nt;
            const int64_t R = nt * group, Rp = round16(R);
            const bool by_rows = by_rows_for(R);

            // The tile's queries, converted to the rows' dot type (as the reference does) and
            // back to floats, transposed; each row's visible keys.
            int64_t klo = n_kv, khi = 0;
            for (int64_t tt = 0; tt < nt; ++tt) {
                int64_t vlo, vhi;
                visible_range(p.mask, pos0 + t0 + tt, blk.doc_lo, blk.doc_hi, &vlo, &vhi);
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
            at.rows = by_rows ? R : Rp;
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
                if (by_rows) {
                    at.k16 = reinterpret_cast<const uint16_t*>(k0);
                    at.v16 = reinterpret_cast<const uint16_t*>(v0);
                    at.k_stride = at.v_stride = static_cast<int64_t>(kv.row_bytes / 2);
                } else if (f32_rows) {
                    at.k = reinterpret_cast<const float*>(k0);
                    at.v = reinterpret_cast<const float*>(v0);
                    at.k_stride = at.v_stride = static_cast<int64_t>(kv.row_bytes / sizeof(float));
                } else {
                    for (int64_t j = 0; j < nk; ++j) {
                        const uint8_t* ks = k0 + static_cast<size_t>(j) * kv.row_bytes;
                        const uint8_t* vs = v0 + static_cast<size_t>(j) * kv.row_bytes;
                        dequantize_row(kv.type, ks, kbuf + j * D, D);
                        dequantize_row(kv.type, vs, vbuf + j * D, D);
                    }
                    at.k = kbuf;
                    at.v = vbuf;
                    at.k_stride = at.v_stride = D;
                }
                at.nk = nk;
                at.j0 = j0;
                at.masked = masked;
                if (by_rows) {
                    K.attn_rows(at);
                } else {
                    K.attn_tile(at);
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
        const int64_t R = only.nt * group, Rp = round16(R);
        const bool by_rows = by_rows_for(R);
        for (int64_t kh = 0; kh < p.n_head_kv; ++kh) {
            const float* first = partials + static_cast<size_t>(kh * chunks) * pfloats;
            for (int64_t r = 0; r < R; ++r) {
                const int64_t tt = r / group, g = r % group;
                float* o = out + (only.t0 + tt) * out_stride + (kh * group + g) * D;
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
