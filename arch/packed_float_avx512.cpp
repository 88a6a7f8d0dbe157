// Packed F16 and BF16 weights for AVX-512 (see PackedKernels in kernels.h). A group of 16 weight
// rows is stored column by column: the 16 rows' values of one column are 32 contiguous bytes, so
// one conversion gives a register holding that column for all 16 rows. A product then is one
// FMA per (group, token, column) with the token's activation value broadcast: no horizontal sums,
// and a tile of 4 groups x 6 tokens keeps its 24 sums in registers while each weight register
// serves 6 tokens and each broadcast value 4 groups.
//
// Activations are prepared as floats already rounded to F16 / BF16 (with the table's own
// converter), so the products see the values the reference's F16/BF16 dot products see; results
// differ from vec_dot only by float summation order.
#include <cstring>

#include "kernels.h"
#include "packed_formats.h"

// g++ 12 sees its own intrinsics' undefined-start registers as uninitialized (as in packed_avx512.cpp).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <simde/x86/f16c.h>

namespace llamas {
namespace {

using namespace packed;

// The table's activation converters (F32 -> F16 / BF16), captured when filling.
Encoder g_convert_f16 = nullptr;
Encoder g_convert_bf16 = nullptr;

struct F16 {
    static inline __m512 load16(const uint8_t* p) {
        return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    }
    static void prepare(const float* x, void* out, int64_t n) { prepare16(g_convert_f16, false, x, out, n); }
};

struct BF16 {
    static inline __m512 load16(const uint8_t* p) {
        const __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
    }
    static void prepare(const float* x, void* out, int64_t n) { prepare16(g_convert_bf16, true, x, out, n); }
};

// R groups (gs bytes apart) x T activation rows (a_stride bytes apart) over all n columns.
template <class E, int R, int T>
inline void tile16(int64_t n, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, float* s,
                   size_t s_stride) {
    const float* a[T];
    for (int t = 0; t < T; ++t) a[t] = reinterpret_cast<const float*>(act + t * a_stride);
    __m512 acc[R][T];
    for (int r = 0; r < R; ++r) {
        for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
    }
    for (int64_t k = 0; k < n; ++k) {
        if (T == 1) {
            // One token: the weights stream from memory once; fetch 8 columns (4 lines) ahead.
            for (int r = 0; r < R; ++r) _mm_prefetch(reinterpret_cast<const char*>(w + r * gs + (k + 8) * 32), _MM_HINT_T0);
        }
        __m512 wv[R];
        for (int r = 0; r < R; ++r) wv[r] = E::load16(w + r * gs + k * 32);
        for (int t = 0; t < T; ++t) {
            const __m512 av = _mm512_set1_ps(a[t][k]);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(wv[r], av, acc[r][t]);
        }
    }
    for (int t = 0; t < T; ++t) {
        for (int r = 0; r < R; ++r) _mm512_storeu_ps(s + t * s_stride + r * G, acc[r][t]);
    }
}

constexpr int kT = 6;  // tokens per tile

template <class E, int R>
inline void tile16_rows(int64_t n, const uint8_t* w, size_t gs, const uint8_t* act, size_t a_stride, int na, float* s,
                        size_t s_stride) {
    int t0 = 0;
    for (; t0 + kT <= na; t0 += kT) tile16<E, R, kT>(n, w, gs, act + t0 * a_stride, a_stride, s + t0 * s_stride, s_stride);
    const uint8_t* a = act + t0 * a_stride;
    float* st = s + t0 * s_stride;
    switch (na - t0) {
        case 5: tile16<E, R, 5>(n, w, gs, a, a_stride, st, s_stride); break;
        case 4: tile16<E, R, 4>(n, w, gs, a, a_stride, st, s_stride); break;
        case 3: tile16<E, R, 3>(n, w, gs, a, a_stride, st, s_stride); break;
        case 2: tile16<E, R, 2>(n, w, gs, a, a_stride, st, s_stride); break;
        case 1: tile16<E, R, 1>(n, w, gs, a, a_stride, st, s_stride); break;
        default: break;
    }
}

template <class E>
void gemm_16(int64_t n_cols, const void* packed, int64_t g0, int64_t g1, const void* act, size_t a_stride, int na,
             float* s, size_t s_stride) {
    const size_t gs = static_cast<size_t>(n_cols) * 32;
    const auto* base = static_cast<const uint8_t*>(packed);
    const auto* a = static_cast<const uint8_t*>(act);
    int64_t g = g0;
    for (; g + 4 <= g1; g += 4) tile16_rows<E, 4>(n_cols, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
    for (; g + 2 <= g1; g += 2) tile16_rows<E, 2>(n_cols, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
    for (; g < g1; ++g) tile16_rows<E, 1>(n_cols, base + g * gs, gs, a, a_stride, na, s + g * G, s_stride);
}

template <class E>
void set16(GgmlType t, PackedKernels& p) {
    set_format(t, p);
    p.prepare = E::prepare;
    p.gemm = gemm_16<E>;
}

}  // namespace

void fill_avx512_packed_float(Kernels& k) {
    g_convert_f16 = k.of(GgmlType::F16).quantize_activations;
    g_convert_bf16 = k.of(GgmlType::BF16).quantize_activations;
    set16<F16>(GgmlType::F16, k.types[static_cast<uint32_t>(GgmlType::F16)].packed);
    set16<BF16>(GgmlType::BF16, k.types[static_cast<uint32_t>(GgmlType::BF16)].packed);
}

}  // namespace llamas
