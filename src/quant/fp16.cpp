#include "quant/fp16.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define LLAMAS_HAVE_F16C_PATH 1
#endif

namespace llamas {
namespace {

#if LLAMAS_HAVE_F16C_PATH
__attribute__((target("avx,f16c"))) void fp16_to_f32_f16c(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i));
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

__attribute__((target("avx,f16c"))) void f32_to_fp16_f16c(const float* x, uint16_t* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT);
        _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), h);
    }
    // NaNs: F16C keeps the payload where ggml writes 0x7e00; only the tail loop is scalar, so
    // rows with NaNs may differ from the scalar path in the NaN bits (never in numbers).
    for (; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

// CPUID leaf 1: F16C (ecx bit 29) and AVX (bit 28), plus the OS saving YMM state (OSXSAVE,
// bit 27, and XCR0 bits 1-2). Read directly because clang's __builtin_cpu_supports does not
// know "f16c".
bool detect_f16c() {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return false;
    const bool f16c = (c >> 29) & 1u, avx = (c >> 28) & 1u, osxsave = (c >> 27) & 1u;
    if (!(f16c && avx && osxsave)) return false;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6u) == 6u;
}
#else
bool detect_f16c() { return false; }
#endif

bool has_f16c() {
    static const bool yes = detect_f16c();
    return yes;
}

}  // namespace

bool fp16_rows_use_f16c() { return has_f16c(); }

void fp16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
#if LLAMAS_HAVE_F16C_PATH
    if (has_f16c()) return fp16_to_f32_f16c(x, y, n);
#endif
    for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(x[i]);
}

void f32_to_fp16_row(const float* x, uint16_t* y, int64_t n) {
#if LLAMAS_HAVE_F16C_PATH
    if (has_f16c()) return f32_to_fp16_f16c(x, y, n);
#endif
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void bf16_to_f32_row(const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
}

void f32_to_bf16_row(const float* x, uint16_t* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

}  // namespace llamas
