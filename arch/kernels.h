// The kernel table: every hot loop the engine runs, behind function pointers chosen once per
// process from the CPU's features (see cpu.cpp). Every table fills every entry (the packed forms
// excepted: a type may have none), so callers never test for null; the scalar table is the
// oracle the SIMD tables are tested against and the entry a table keeps where it has no faster
// one.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/types.h"

namespace llamas {

// Weight rows per group of a packed matrix (see PackedKernels).
constexpr int kPackRows = 16;

// Optional packed form of a weight type, for the many-token products of prompt processing (and
// the one-token ones of generation): the matrix is copied once, at load, into groups of
// kPackRows rows whose blocks are interleaved so that one 512-bit register holds the same few
// columns of all 16 rows; activations are prepared once per token into a matching layout. The
// packed format of a type is the same for every table that has one (a model packed under one
// path stays usable under another; paths without a packed gemm use the original rows). The
// caller (ops/matmul.cpp) packs the whole groups of a matrix and, for a row count that is not a
// multiple of kPackRows, one more group of its last rows padded with zero rows.
struct PackedKernels {
    // Bytes of the packed copy of an n_rows x n_cols matrix; 0 when that shape isn't packed
    // (n_rows not a multiple of kPackRows, or n_cols not a whole number of blocks).
    size_t (*packed_bytes)(int64_t n_cols, int64_t n_rows) = nullptr;
    // Packs rows [0, n_rows) (row_bytes apart, in the stored type) into out (64-byte aligned).
    void (*pack)(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* out) = nullptr;
    // Bytes of one prepared activation row of n_cols values (a multiple of 64).
    size_t (*act_row_bytes)(int64_t n_cols) = nullptr;
    // Bytes of a prepared row that a product of several tokens reads, where that is less than the
    // row (for how many tokens meet the weights per pass); null: act_row_bytes.
    size_t (*act_hot_bytes)(int64_t n_cols) = nullptr;
    // Prepares one activation row (quantized exactly as quantize_activations does).
    void (*prepare)(const float* x, void* out, int64_t n_cols) = nullptr;
    // Row groups [g0, g1) of the packed matrix with na prepared activation rows (a_stride bytes
    // apart): s[t*s_stride + r] = dot(row r, activation row t) for rows r in those groups.
    void (*gemm)(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride,
                 int na, float* s, size_t s_stride) = nullptr;
    // Row groups one one-token tile of gemm covers: a range of a multiple of them runs on those
    // tiles alone (any other range is still right, its rest on smaller tiles).
    int one_token_groups = 1;
};

// Per weight type: how activations are prepared and how one weight row meets one activation row.
struct TypeKernels {
    // The block type the activations are converted to before a product with this weight type
    // (Q8_0, Q8_1 or Q8_K for quantized weights; F16, BF16 or F32 for float weights), as the
    // reference does.
    GgmlType vec_dot_type = GgmlType::F32;
    // Converts n floats (n a multiple of the vec_dot_type block size) to vec_dot_type blocks.
    void (*quantize_activations)(const float* x, void* y, int64_t n) = nullptr;
    // Dot product of n elements: one weight row (this type) with one activation row
    // (vec_dot_type). Writes the result to *s.
    void (*vec_dot)(int64_t n, float* s, const void* w, const void* a) = nullptr;
    // (The SIMD tables keep the scalar vec_dot and gemm of every type with a packed form: a
    // loaded model multiplies those types through the packed tiles only.)
    // Tile product: nw (1..kGemmMaxRows) weight rows, w_stride bytes apart, with na (>= 1, any number)
    // activation rows, a_stride bytes apart: s[j*s_stride + i] = dot(weight row i, activation
    // row j). Weight blocks are decoded once per call and reused across the activation rows,
    // so callers should pass many activation rows (a few dozen) per call. Results equal
    // vec_dot's up to float rounding (exactly, for the types whose tile is vec_dot in a loop).
    void (*gemm)(int64_t n, const void* w, size_t w_stride, int nw, const void* a, size_t a_stride,
                 int na, float* s, size_t s_stride) = nullptr;
    PackedKernels packed;  // all null when this table has no packed form of the type
};

// The most weight rows gemm() takes per call.
constexpr int kGemmMaxRows = 4;

// ---- Attention tile (arch/attention.inc, kernels_scalar.cpp; used by ops/attention.cpp) ----
// One block of nk keys met by a tile of query rows, with online softmax. Query rows sit in
// lanes: the arrays indexed by row are laid out [index][row], `rows` floats apart.
struct AttnTile {
    int64_t d = 0;               // values per head
    int64_t rows = 0;            // query rows, a multiple of 16 (padding rows see no keys)
    const float* qt = nullptr;   // d x rows: qt[i*rows + r] = value i of query row r
    const float* k = nullptr;    // nk key rows of d floats, k_stride floats apart
    const float* v = nullptr;    // nk value rows of d floats, v_stride floats apart
    int64_t k_stride = 0, v_stride = 0;
    // attn_rows only: when set, the key / value rows are F16 here instead (strides in values).
    const uint16_t* k16 = nullptr;
    const uint16_t* v16 = nullptr;
    int64_t nk = 0;              // keys in the block (>= 1)
    int64_t j0 = 0;              // position of the block's first key
    const int32_t* lo = nullptr; // row r sees the keys at positions [lo[r], hi[r]) ...
    const int32_t* hi = nullptr;
    bool masked = true;          // ... checked only when set (else every row sees every key)
    float score_scale = 1.0f;    // score = score_scale * (softcap > 0 ? softcap*tanh(q.k/softcap) : q.k)
    float softcap = 0.0f;
    float* s = nullptr;          // scratch: nk x rows
    float* alpha = nullptr;      // scratch: rows
    float* m = nullptr;          // per row: the largest score so far (-inf before any key)
    float* l = nullptr;          // per row: running sum of e^(score - m)
    float* ot = nullptr;         // d x rows: running sum of e^(score - m) * value, rescaled as m grows
};

// The most query rows attn_rows takes (ops/attention.cpp gives it fewer than a 16-row tile).
constexpr int kAttnRowsMax = 15;

struct Kernels {
    const char* name = "scalar";
    TypeKernels types[40];  // indexed by ggml type id

    // ---- Float loops ----
    float (*dot_f32)(int64_t n, const float* a, const float* b) = nullptr;
    void (*axpy_f32)(int64_t n, float a, const float* x, float* y) = nullptr;  // y += a*x
    // out[i] = silu(gate[i]) * up[i], silu(x) = x / (1 + exp_approx(-x)): bit-exact on every table.
    void (*silu_mul)(const float* gate, const float* up, float* out, int64_t n) = nullptr;
    // x[i] = e^(x[i] - max x) (-inf gives 0); returns Σ x[i], accumulated in double.
    double (*softmax_exp)(float* x, int64_t n) = nullptr;
    // Attention over an F16 cache, d (a multiple of 16, at most 256) values per head:
    // out[j] = Σ_i q[i] * k_j[i] for n F16 rows k_j stride bytes apart ...
    void (*dot_f16_rows)(int64_t d, const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) = nullptr;
    // ... and out[i] += Σ_j w[j] * v_j[i].
    void (*axpy_f16_rows)(int64_t d, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) = nullptr;
    // RMSNorm: y[i] = x[i] * (1/sqrt(Σx²/n + eps)) * w[i] (w null: no scale), the sum of
    // squares accumulated in double. y may alias x.
    void (*rms_norm)(const float* x, const float* w, float* y, int64_t n, float eps) = nullptr;
    // RoPE: rotates the first n_rot values of n_heads heads, head_dim floats apart, by the
    // interleaved (cos, sin) pairs cs[0..n_rot); pairs are adjacent values, or element i and
    // i + n_rot/2 when neox.
    void (*rope)(const float* cs, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox) = nullptr;
    // GELU by table: g = table[fp16 bits of x[i]] (x <= -10 gives 0, x >= 10 gives x), table =
    // ops' gelu_fp16_table(); out[i] = g * up[i], or g when up is null. out may alias x or up.
    // Bit-exact on every table.
    void (*gelu_mul)(const float* table, const float* x, const float* up, float* out, int64_t n) = nullptr;
    // Soft-capping: x[i] = tanh(x[i] * (1/cap)) * cap, with tanh within 2 ulp of the exact value.
    void (*softcap)(float* x, int64_t n, float cap) = nullptr;

    // ---- Attention ----
    // Runs one AttnTile: scores of the block (soft-capped, scaled, masked to -inf), then
    // m' = max(m, scores), alpha = e^(m - m'), l = alpha*l + sum e^(s - m'), ot = alpha*ot + sum e^(s - m') v.
    void (*attn_tile)(const AttnTile& t) = nullptr;
    // The same step for a few query rows (1..kAttnRowsMax, no padding), with row-major arrays:
    // qt is q[r*d + i], s is rows x nk (s[r*nk + j]), ot is o[r*d + i]. For one-token decode,
    // where a rows-in-lanes tile would be mostly padding. Tables without a kernel of their own
    // run each row in turn on their F16 row loops (attn_rows_by_row), which rounds as the
    // per-row loops do: the block's weights relative to the block's own max.
    void (*attn_rows)(const AttnTile& t) = nullptr;

    const TypeKernels& of(GgmlType t) const { return types[static_cast<uint32_t>(t)]; }
    // True when products with weights of type t are implemented.
    bool supports(GgmlType t) const {
        const uint32_t i = static_cast<uint32_t>(t);
        return i < 40 && types[i].vec_dot != nullptr;
    }
};

// The table for the best ISA level this CPU runs, or the one the LLAMAS_CPU environment variable
// (scalar, avx2, avx2-vnni, avx512, neon-nodot, neon, neon-i8mm) forces. Chosen once per process. Throws Error(unsupported) when
// LLAMAS_CPU names a path that is unknown or that this CPU cannot run (call it once at start-up
// so that error surfaces early).
const Kernels& kernels();
// The scalar oracle.
const Kernels& scalar_kernels();
// The table of a named path ("scalar", "avx2", "avx2-vnni", "avx512", "neon-nodot", "neon", "neon-i8mm"); throws Error(unsupported) if
// the name is unknown, the path is not compiled in, or this CPU cannot run it.
const Kernels& select_kernels(const char* name);
// Makes kernels() return the named path from now on (select_kernels' errors apply). Contexts
// created earlier may keep the table they started with.
void use_kernels(const char* name);
// Names of the paths this build and this CPU can run, scalar first, best last.
std::vector<const char*> runnable_kernel_paths();
// Whether a runnable path is only a test vehicle here, run through simde's emulation and never
// chosen by default: the NEON tables on x86, and in the LLAMAS_EMULATE_X86 test build the
// x86 tables this CPU lacks.
bool kernel_path_emulated(const char* name);

// Per-ISA tables (defined in kernels_<isa>.cpp). Each builds on the scalar table, replacing the
// entries it has faster versions of. Only call the ones runnable_kernel_paths() lists.
void fill_scalar_kernels(Kernels& k);
void fill_avx2_kernels(Kernels& k);
void fill_avx2_vnni_kernels(Kernels& k);  // the avx2 table with VPDPBUSD packed tiles (AVX-VNNI)
void fill_avx512_kernels(Kernels& k);
void fill_neon_nodot_kernels(Kernels& k); // NEON without the dot-product extension (Armv8.0)
void fill_neon_kernels(Kernels& k);       // NEON with SDOT (Armv8.2 dotprod)
void fill_neon_i8mm_kernels(Kernels& k);  // the same with SMMLA many-token packed tiles (i8mm)
// The packed entries of the AVX-512 and AVX2 tables (packed_avx512.cpp, packed_avx2.cpp).
void fill_avx512_packed(Kernels& k);
void fill_avx2_packed(Kernels& k);
// The float loops and attention kernels of the AVX-512 and AVX2 tables (float_ops_<isa>.cpp:
// float_ops.inc and attention.inc over the vector width).
void fill_avx512_float_ops(Kernels& k);
void fill_avx2_float_ops(Kernels& k);

// e^x by ggml_v_expf's steps (a range reduction and a degree-5 polynomial in fused
// multiply-adds, within 1.5 ulp): the one exp of the scalar table; every vector table's exp
// (float_ops.inc's vexp) gives the same bits lane by lane.
float exp_approx(float x);

// TypeKernels::gemm for the types a table has no tile product for: Dot (the table's vec_dot) per
// weight and activation row, so the results are vec_dot's exactly. Instantiated by each table
// with its own vec_dot (internal to that table's translation unit).
template <void (*Dot)(int64_t, float*, const void*, const void*)>
void gemm_by_dot(int64_t n, const void* w, size_t w_stride, int nw, const void* a, size_t a_stride, int na, float* s,
                 size_t s_stride) {
    for (int t = 0; t < na; ++t) {
        for (int r = 0; r < nw; ++r) {
            Dot(n, s + t * s_stride + r, static_cast<const uint8_t*>(w) + r * w_stride,
                static_cast<const uint8_t*>(a) + t * a_stride);
        }
    }
}

// The F16 row loops of a table, for attn_rows_by_row.
struct RowLoops {
    decltype(Kernels::dot_f16_rows) dot_f16_rows;
    decltype(Kernels::axpy_f16_rows) axpy_f16_rows;
    decltype(Kernels::softmax_exp) softmax_exp;
    decltype(Kernels::softcap) softcap;
};
// attn_rows by rows in turn on a table's F16 row loops (kernels_scalar.cpp; compiled without ISA
// flags, so its own arithmetic rounds the same under every table).
void attn_rows_by_row(const AttnTile& t, const RowLoops& loops);

}  // namespace llamas
