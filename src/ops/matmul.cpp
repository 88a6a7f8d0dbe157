#include "ops/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <sys/mman.h>

#include "kernels.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace llamas {
namespace {

// Activation rows kept hot together: a weight tile is reused across this many bytes of
// converted activations before moving on (sized to stay in L2).
constexpr size_t kActivationBlockBytes = 256 * 1024;
// How many chunks a product's rows are cut into, for threads to take as they come: 16 per
// thread. Threads reach the end at different times (the caller prepared the activations, a woken
// worker started late, a VM's core was slowed or taken away), and the last chunk taken bounds the
// wait. One token, at 2 chunks each: the threads of a two-thread generation waited 4-13% of each
// product; at 16, 2-3%, and the token ran 7-14% faster (Zen 4). Many tokens, at 4 chunks each:
// 2-8% waiting per thread in a two-thread pp512 on a busy Zen 4 VM; at 16, 0.6-2.4%
// (docs/benchmarks.md). Smaller chunks cost no weight traffic: each weight still meets each token
// once per pass.
int64_t target_chunks(int n_threads) { return static_cast<int64_t>(n_threads) * 16; }
constexpr int64_t kMaxTokenBlock = 64;

const TypeKernels& checked_kernels(const WeightView& w) {
    const Kernels& k = kernels();
    if (!k.supports(w.type)) {
        fail(Status::unsupported, "no matrix-product kernel for weight type %s", type_info(w.type).name);
    }
    const TypeKernels& tk = k.of(w.type);
    const int64_t wb = type_info(w.type).block_size;
    const int64_t ab = type_info(tk.vec_dot_type).block_size;
    if (w.n_cols <= 0 || w.n_cols % wb != 0 || w.n_cols % ab != 0) {
        fail(Status::invalid_argument, "matmul: row length %lld is not a whole number of %s blocks",
             static_cast<long long>(w.n_cols), type_info(w.type).name);
    }
    if (w.row_bytes < row_size(w.type, w.n_cols)) {
        fail(Status::invalid_argument, "matmul: row stride %zu is shorter than a %s row of %lld", w.row_bytes,
             type_info(w.type).name, static_cast<long long>(w.n_cols));
    }
    return tk;
}

// Every table this CPU runs: kernels() may be switched to any of them after a context sized its
// scratch, and their prepared rows differ (AVX2's Q8_0 rows carry int16 values too).
const std::vector<const Kernels*>& runnable_tables() {
    static const std::vector<const Kernels*> tables = [] {
        std::vector<const Kernels*> v;
        for (const char* name : runnable_kernel_paths()) v.push_back(&select_kernels(name));
        return v;
    }();
    return tables;
}

// Bytes per activation row the scratch holds: the vec_dot_type row, with room for the prepared
// rows of a packed product under any table.
size_t scratch_row_bytes(GgmlType type, int64_t n_cols) {
    size_t packed = 0;
    for (const Kernels* k : runnable_tables()) {
        const PackedKernels& pk = k->of(type).packed;
        if (pk.act_row_bytes) packed = std::max(packed, pk.act_row_bytes(n_cols));
    }
    const TypeKernels& tk = kernels().of(type);
    if (tk.vec_dot_type == GgmlType::F32) return packed;  // float activations are used in place
    const size_t rs = row_size(tk.vec_dot_type, n_cols);
    return std::max(rs + rs / 4 + 64, packed);
}

}  // namespace

size_t matmul_scratch_bytes(const WeightView& w, int64_t n_tokens) {
    checked_kernels(w);
    return scratch_row_bytes(w.type, w.n_cols) * static_cast<size_t>(n_tokens) + 64;
}

bool can_multiply(GgmlType t) { return kernels().supports(t); }

std::shared_ptr<const void> pack_weight(WeightView& w) {
    const TypeKernels& tk = checked_kernels(w);
    const PackedKernels& pk = tk.packed;
    if (!pk.packed_bytes || !w.data) return nullptr;
    // Whole groups of kPackRows rows, and the last n_rows % kPackRows rows as one more group
    // padded with zero rows (all-zero blocks: scales 0, every product 0), which matmul_packed
    // multiplies into a buffer of its own.
    const int64_t whole = w.n_rows / kPackRows * kPackRows, tail = w.n_rows - whole;
    const size_t group_bytes = pk.packed_bytes(w.n_cols, kPackRows);
    if (group_bytes == 0) return nullptr;
    const size_t bytes = group_bytes * static_cast<size_t>((w.n_rows + kPackRows - 1) / kPackRows);
    void* mem = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
    if (!mem) fail(Status::out_of_memory, "cannot allocate %zu bytes for a packed weight matrix", bytes);
    std::shared_ptr<const void> owner(mem, [](const void* p) { std::free(const_cast<void*>(p)); });
#if defined(MADV_HUGEPAGE)
    // Generation streams every packed byte once per token: 2 MiB pages spare the TLB misses of
    // 4 KiB ones (asked for before the first write; the OS may decline).
    {
        const uintptr_t page = 4096;
        const uintptr_t lo = (reinterpret_cast<uintptr_t>(mem) + page - 1) / page * page;
        const uintptr_t hi = (reinterpret_cast<uintptr_t>(mem) + bytes) / page * page;
        if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
    }
#endif
    if (whole > 0) pk.pack(w.data, w.row_bytes, w.n_cols, whole, mem);
    if (tail > 0) {
        std::vector<uint8_t> rows(w.row_bytes * kPackRows, 0);
        std::memcpy(rows.data(), w.data + whole * w.row_bytes, static_cast<size_t>(tail) * w.row_bytes);
        pk.pack(rows.data(), w.row_bytes, w.n_cols, kPackRows, static_cast<uint8_t*>(mem) + bytes - group_bytes);
    }
    w.packed = static_cast<const uint8_t*>(mem);
#if defined(MADV_PAGEOUT)
    // The rows just read are now only a fallback: let the kernel reclaim their pages (never
    // changes their contents, whether file-backed or not).
    const uintptr_t page = 4096;
    const uintptr_t lo = (reinterpret_cast<uintptr_t>(w.data) + page - 1) / page * page;
    const uintptr_t hi = (reinterpret_cast<uintptr_t>(w.data) + w.row_bytes * static_cast<size_t>(w.n_rows)) / page * page;
    if (hi > lo) ::madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_PAGEOUT);
#endif
    return owner;
}

namespace {

// Products with packed copies (kernels.h, PackedKernels) of count matrices that share a row
// length and an activation preparation (one type, or types such as Q4_K and Q6_K whose packed
// forms take the same prepared rows), so one prepared activation set serves them all, in one
// pass over the pool.
constexpr int kMaxMany = 4;

int64_t groups_of(const WeightView& w) { return (w.n_rows + kPackRows - 1) / kPackRows; }

// The last, zero-padded group of a matrix whose row count is not a multiple of kPackRows
// (pack_weight): its products go to a small buffer, a few tokens at a time, and only the real
// rows are copied out.
void padded_group(const PackedKernels& pk, const WeightView& w, const uint8_t* act, size_t act_row, int64_t t0,
                  int64_t t1, float* y) {
    constexpr int kTokens = 16;
    alignas(64) float buf[kTokens * kPackRows];
    const int64_t g = w.n_rows / kPackRows, real = w.n_rows - g * kPackRows;
    const uint8_t* group = w.packed + pk.packed_bytes(w.n_cols, kPackRows) * static_cast<size_t>(g);
    for (int64_t t = t0; t < t1; t += kTokens) {
        const int nt = static_cast<int>(std::min<int64_t>(kTokens, t1 - t));
        pk.gemm(w.n_cols, group, 0, 1, act + t * act_row, act_row, nt, buf, kPackRows);
        for (int i = 0; i < nt; ++i) {
            std::memcpy(y + (t + i) * w.n_rows + g * kPackRows, buf + i * kPackRows, static_cast<size_t>(real) * sizeof(float));
        }
    }
}

void matmul_packed(const WeightView* const* ws, float* const* ys, int count, const float* x, int64_t n_tokens,
                   void* scratch, ThreadPool& pool) {
    const PackedKernels& pk = kernels().of(ws[0]->type).packed;
    const PackedKernels* pks[kMaxMany];
    for (int i = 0; i < count; ++i) pks[i] = &kernels().of(ws[i]->type).packed;
    const int64_t n = ws[0]->n_cols;
    const int n_threads = pool.size();
    const size_t act_row = pk.act_row_bytes(n);
    if (act_row > scratch_row_bytes(ws[0]->type, n)) {
        fail(Status::internal, "matmul: prepared activation rows outgrow the scratch");
    }
    auto* act = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) / 64 * 64);
    if (n_tokens == 1 || n_threads == 1) {
        for (int64_t t = 0; t < n_tokens; ++t) pk.prepare(x + t * n, act + t * act_row, n);
    } else {
        pool.run([&](int ti, int nt) {
            for (int64_t t = ti; t < n_tokens; t += nt) pk.prepare(x + t * n, act + t * act_row, n);
        });
    }

    // Each matrix's row groups in chunks handed out dynamically; a chunk is a whole number of
    // kernel tiles.
    int64_t unit = 2;
    if (n_tokens == 1) {
        unit = 1;
        for (int i = 0; i < count; ++i) unit = std::max<int64_t>(unit, pks[i]->one_token_groups);
    }
    const int64_t n_targets = target_chunks(n_threads);
    int64_t total_groups = 0;
    for (int i = 0; i < count; ++i) total_groups += groups_of(*ws[i]);
    int64_t chunk = (total_groups + n_targets - 1) / n_targets;
    chunk = std::max<int64_t>(unit, (chunk + unit - 1) / unit * unit);
    int64_t first_chunk[kMaxMany + 1] = {0};
    for (int i = 0; i < count; ++i) first_chunk[i + 1] = first_chunk[i] + (groups_of(*ws[i]) + chunk - 1) / chunk;
    const int64_t n_chunks = first_chunk[count];
    // Tokens per pass over a chunk's weights: as many as keep their activations in L2; for float
    // weights all of them. Those are 2 bytes a value, so streaming them again for every pass cost
    // more than activations that outgrow L2: at 6 tokens a pass for the 8192-column product the
    // F16 weights came from memory for every 6 (llama-1b F16 pp512 on a Zen 4's avx2 path: 97
    // t/s in passes, 103 in one; quantized weights ran 2-7% slower in one).
    const bool float_weights = ws[0]->type == GgmlType::F16 || ws[0]->type == GgmlType::BF16;
    const size_t hot_row = pk.act_hot_bytes ? pk.act_hot_bytes(n) : act_row;
    const int64_t token_block =
        float_weights ? n_tokens : std::max<int64_t>(6, static_cast<int64_t>(kActivationBlockBytes / hot_row) / 6 * 6);
    std::atomic<int64_t> next_chunk{0};
    auto work = [&](int, int) {
        for (;;) {
            const int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
            if (c >= n_chunks) return;
            int m = 0;
            while (c >= first_chunk[m + 1]) ++m;
            const WeightView& w = *ws[m];
            const int64_t g0 = (c - first_chunk[m]) * chunk;
            const int64_t g1 = std::min(groups_of(w), g0 + chunk);
            const int64_t whole_end = std::min(g1, w.n_rows / kPackRows);  // groups before a padded one
            for (int64_t t0 = 0; t0 < n_tokens; t0 += token_block) {
                const int64_t t1 = std::min(n_tokens, t0 + token_block);
                if (g0 < whole_end) {
                    pks[m]->gemm(n, w.packed, g0, whole_end, act + t0 * act_row, act_row, static_cast<int>(t1 - t0),
                                 ys[m] + t0 * w.n_rows, static_cast<size_t>(w.n_rows));
                }
                if (whole_end < g1) padded_group(*pks[m], w, act, act_row, t0, t1, ys[m]);
            }
        }
    };
    if (n_threads == 1) {
        work(0, 1);
    } else {
        pool.run(work);
    }
}

}  // namespace

void matmul(const WeightView& w, const float* x, int64_t n_tokens, float* y, void* scratch, ThreadPool& pool) {
    const TypeKernels& tk = checked_kernels(w);
    if (n_tokens <= 0 || w.n_rows <= 0) return;
    if (w.packed && tk.packed.gemm) {
        const WeightView* ws[1] = {&w};
        float* ys[1] = {y};
        matmul_packed(ws, ys, 1, x, n_tokens, scratch, pool);
        return;
    }
    const int64_t n = w.n_cols;
    const int n_threads = pool.size();

    // 1. Activations in the weight's dot-product type.
    const uint8_t* act = reinterpret_cast<const uint8_t*>(x);
    size_t act_row = n * sizeof(float);
    if (tk.vec_dot_type != GgmlType::F32) {
        act_row = row_size(tk.vec_dot_type, n);
        auto* out = static_cast<uint8_t*>(scratch);
        if (n_tokens == 1 || n_threads == 1) {
            for (int64_t t = 0; t < n_tokens; ++t) tk.quantize_activations(x + t * n, out + t * act_row, n);
        } else {
            pool.run([&](int ti, int nt) {
                for (int64_t t = ti; t < n_tokens; t += nt) tk.quantize_activations(x + t * n, out + t * act_row, n);
            });
        }
        act = out;
    }

    // 2. Output rows in chunks handed out dynamically (a busy core just takes fewer chunks).
    const int64_t n_rows = w.n_rows;
    const int64_t n_targets = target_chunks(n_threads);
    int64_t chunk_rows = (n_rows + n_targets - 1) / n_targets;
    chunk_rows = std::max<int64_t>(kGemmMaxRows, (chunk_rows + kGemmMaxRows - 1) / kGemmMaxRows * kGemmMaxRows);
    const int64_t n_chunks = (n_rows + chunk_rows - 1) / chunk_rows;
    const int64_t token_block =
        std::min<int64_t>(kMaxTokenBlock, std::max<int64_t>(4, static_cast<int64_t>(kActivationBlockBytes / act_row)));
    std::atomic<int64_t> next_chunk{0};

    auto work = [&](int, int) {
        for (;;) {
            const int64_t c = next_chunk.fetch_add(1, std::memory_order_relaxed);
            if (c >= n_chunks) return;
            const int64_t r0 = c * chunk_rows;
            const int64_t r1 = std::min(n_rows, r0 + chunk_rows);
            for (int64_t t0 = 0; t0 < n_tokens; t0 += token_block) {
                const int64_t t1 = std::min(n_tokens, t0 + token_block);
                if (t1 - t0 > 1) {
                    for (int64_t r = r0; r < r1; r += kGemmMaxRows) {
                        const int nw = static_cast<int>(std::min<int64_t>(kGemmMaxRows, r1 - r));
                        tk.gemm(n, w.data + r * w.row_bytes, w.row_bytes, nw, act + t0 * act_row, act_row,
                                static_cast<int>(t1 - t0), y + t0 * n_rows + r, static_cast<size_t>(n_rows));
                    }
                } else {
                    for (int64_t r = r0; r < r1; ++r) {
                        const uint8_t* wr = w.data + r * w.row_bytes;
                        for (int64_t t = t0; t < t1; ++t) tk.vec_dot(n, y + t * n_rows + r, wr, act + t * act_row);
                    }
                }
            }
        }
    };
    if (n_threads == 1) {
        work(0, 1);
    } else {
        pool.run(work);
    }
}

}  // namespace llamas

namespace llamas {

void matmul_many(const WeightView* const* w, float* const* y, int count, const float* x, int64_t n_tokens,
                 void* scratch, ThreadPool& pool) {
    if (count <= 0 || n_tokens <= 0) return;
    const PackedKernels& pk0 = checked_kernels(*w[0]).packed;
    bool shared = count <= kMaxMany && w[0]->packed && pk0.gemm;
    for (int i = 1; shared && i < count; ++i) {
        const PackedKernels& pk = checked_kernels(*w[i]).packed;
        shared = w[i]->n_cols == w[0]->n_cols && w[i]->packed && w[i]->n_rows > 0 && pk.gemm &&
                 pk.prepare == pk0.prepare && pk.act_row_bytes == pk0.act_row_bytes;
    }
    if (shared) {
        matmul_packed(w, y, count, x, n_tokens, scratch, pool);
        return;
    }
    for (int i = 0; i < count; ++i) matmul(*w[i], x, n_tokens, y[i], scratch, pool);
}

}  // namespace llamas
