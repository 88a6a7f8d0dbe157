// Kernel table tests: every weight type's dot product against a float64 oracle built from the
// codec (dequantize_row), activation encoders against quantize_row byte for byte, every SIMD path
// against the scalar table, and matmul across token and thread counts.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops/matmul.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "quant/quantize.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace llamas;

namespace {

const GgmlType kWeightTypes[] = {
    GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1,
    GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K,
    GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS,
};

GgmlType expected_vec_dot_type(GgmlType t) {
    switch (t) {
        case GgmlType::F32: return GgmlType::F32;
        case GgmlType::F16: return GgmlType::F16;
        case GgmlType::BF16: return GgmlType::BF16;
        case GgmlType::Q4_0: case GgmlType::Q5_0: case GgmlType::Q8_0: case GgmlType::IQ4_NL: return GgmlType::Q8_0;
        case GgmlType::Q4_1: case GgmlType::Q5_1: return GgmlType::Q8_1;
        default: return GgmlType::Q8_K;
    }
}

// Gaussian-ish values with a few outliers, as real weights and activations have.
std::vector<float> random_floats(int64_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    for (int64_t i = 0; i < n; i += 97) v[static_cast<size_t>(i)] *= 6.0f;
    return v;
}

std::vector<uint8_t> encode(GgmlType t, const std::vector<float>& x) {
    std::vector<uint8_t> out(row_size(t, static_cast<int64_t>(x.size())));
    quantize_row(t, x.data(), out.data(), static_cast<int64_t>(x.size()));
    return out;
}

std::vector<float> decode(GgmlType t, const void* data, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    dequantize_row(t, data, out.data(), n);
    return out;
}

// The float64 product the kernels approximate: dequantized weights times dequantized
// activations. Q8_1 blocks carry their sum pre-multiplied and rounded to fp16 (s), which the
// Q4_1/Q5_1 products use for the weight-min term, so the oracle uses it too.
struct Oracle {
    double value = 0;
    double magnitude = 0;  // sum of |terms|, the scale of the float rounding error
};

Oracle oracle_dot(GgmlType wt, const void* w, GgmlType at, const void* a, int64_t n) {
    const std::vector<float> wf = decode(wt, w, n);
    const std::vector<float> af = decode(at, a, n);
    Oracle o;
    for (int64_t i = 0; i < n; ++i) {
        const double term = static_cast<double>(wf[static_cast<size_t>(i)]) * af[static_cast<size_t>(i)];
        o.value += term;
        o.magnitude += std::fabs(term);
    }
    if (at == GgmlType::Q8_1) {
        const auto* ab = static_cast<const block_q8_1*>(a);
        for (int64_t b = 0; b < n / 32; ++b) {
            const float m = wt == GgmlType::Q4_1 ? fp16_to_f32(static_cast<const block_q4_1*>(w)[b].m)
                                                 : fp16_to_f32(static_cast<const block_q5_1*>(w)[b].m);
            double sum_a = 0;
            for (int j = 0; j < 32; ++j) sum_a += af[static_cast<size_t>(b * 32 + j)];
            o.value += static_cast<double>(m) * (static_cast<double>(fp16_to_f32(ab[b].s)) - sum_a);
        }
    }
    return o;
}

std::string type_name(GgmlType t) { return type_info(t).name; }

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("kernel paths: scalar is always runnable and unknown paths are refused") {
    const std::vector<const char*> paths = runnable_kernel_paths();
    REQUIRE(!paths.empty());
    CHECK(std::string(paths.front()) == "scalar");
    CHECK(std::string(select_kernels("scalar").name) == "scalar");
    CHECK_THROWS_AS(select_kernels("sse9"), Error);
    for (const char* p : paths) CHECK(std::string(select_kernels(p).name) == p);
    // kernels() honours LLAMAS_CPU when set, otherwise picks the last (best) runnable path that
    // is not emulated (on x86 the NEON tables run through simde as test vehicles and are never
    // picked; nor are the x86 tables of the LLAMAS_EMULATE_X86 build that this CPU lacks).
    const char* forced = std::getenv("LLAMAS_CPU");
    if (!forced || !*forced) {
        std::string best = "scalar";
        for (const char* p : paths) {
            if (!kernel_path_emulated(p)) best = p;
        }
#if defined(__x86_64__) || defined(__i386__)
        for (const char* p : paths) {
            if (std::string(p).rfind("neon", 0) == 0) CHECK(kernel_path_emulated(p));
        }
#endif
        CHECK(std::string(kernels().name) == best);
        // scripts/test-aarch64.sh runs this under emulated CPUs with and without dotprod and i8mm
        // and names the path each must pick.
        if (const char* want = std::getenv("LLAMAS_TEST_EXPECT_PATH"); want && *want) {
            CHECK(std::string(kernels().name) == want);
        }
    }
    // The i8mm table has its own many-token products of the integer packed types.
    bool neon = false, i8mm = false;
    for (const char* p : paths) {
        neon = neon || std::string(p) == "neon";
        i8mm = i8mm || std::string(p) == "neon-i8mm";
    }
    CHECK(i8mm <= neon);
    if (i8mm) {
        for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K}) {
            const auto mm = select_kernels("neon-i8mm").of(t).packed.gemm;
            CHECK(static_cast<bool>(mm));
            const bool own_gemm = mm != select_kernels("neon").of(t).packed.gemm;
            CHECK(own_gemm);
        }
    }
    // A path the CPU cannot run is refused, not silently replaced.
    for (const char* p : {"scalar", "avx2", "avx2-vnni", "avx512", "neon-nodot", "neon", "neon-i8mm"}) {
        bool runnable = false;
        for (const char* q : paths) runnable = runnable || std::string(q) == p;
        if (!runnable) CHECK_THROWS_AS(select_kernels(p), Error);
    }
}

TEST_CASE("scalar table: vec_dot_type of every weight type is ggml's") {
    const Kernels& k = scalar_kernels();
    for (GgmlType t : kWeightTypes) {
        INFO(type_name(t));
        REQUIRE(k.supports(t));
        CHECK(k.of(t).vec_dot_type == expected_vec_dot_type(t));
    }
}

TEST_CASE("activation encoders equal quantize_row byte for byte, on every path") {
    const int64_t n = 1024;
    std::vector<float> x = random_floats(n, 7, 0.7f);
    // Ties: a block whose absmax is 127 has scale 1, so k + 0.5 values hit the rounding tie.
    for (int j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = (j % 2 ? -1.0f : 1.0f) * (static_cast<float>(j) + 0.5f);
    x[31] = 127.0f;
    // An all-zero block for each block size, and a block whose largest value is negative.
    std::fill(x.begin() + 256, x.begin() + 512, 0.0f);
    x[600] = -40.0f;
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        for (GgmlType wt : {GgmlType::Q8_0, GgmlType::Q4_1, GgmlType::Q4_K}) {
            const GgmlType at = k.of(wt).vec_dot_type;
            INFO(path, " ", type_name(at));
            const std::vector<uint8_t> want = encode(at, x);
            std::vector<uint8_t> got(want.size(), 0xAA);
            k.of(wt).quantize_activations(x.data(), got.data(), n);
            CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
        }
        for (GgmlType wt : {GgmlType::F16, GgmlType::BF16, GgmlType::F32}) {
            INFO(path, " ", type_name(wt));
            const std::vector<uint8_t> want = encode(wt, x);
            std::vector<uint8_t> got(want.size(), 0xAA);
            k.of(wt).quantize_activations(x.data(), got.data(), n);
            CHECK(std::memcmp(got.data(), want.data(), want.size()) == 0);
        }
    }
}

TEST_CASE("scalar vec_dot of every weight type matches the float64 product of the decoded rows") {
    const Kernels& k = scalar_kernels();
    const int64_t n = 1024;
    for (GgmlType wt : kWeightTypes) {
        for (uint32_t seed = 1; seed <= 4; ++seed) {
            INFO(type_name(wt), " seed ", seed);
            const std::vector<uint8_t> w = encode(wt, random_floats(n, seed * 11, 0.05f));
            const std::vector<float> x = random_floats(n, seed * 13 + 1, 2.0f);
            const TypeKernels& tk = k.of(wt);
            std::vector<uint8_t> a(row_size(tk.vec_dot_type, n));
            tk.quantize_activations(x.data(), a.data(), n);
            float got = 0;
            tk.vec_dot(n, &got, w.data(), a.data());
            const Oracle o = oracle_dot(wt, w.data(), tk.vec_dot_type, a.data(), n);
            CHECK(std::fabs(got - o.value) <= 2e-6 * o.magnitude + 1e-9);
        }
    }
}

TEST_CASE("every path's kernels match the scalar oracle") {
    const Kernels& ref = scalar_kernels();
    const int64_t n = 2048;
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        for (GgmlType wt : kWeightTypes) {
            INFO(path, " ", type_name(wt));
            const TypeKernels& tk = k.of(wt);
            REQUIRE(static_cast<bool>(tk.vec_dot));
            REQUIRE(tk.vec_dot_type == ref.of(wt).vec_dot_type);
            // Four weight rows and four activation rows, to cover the tile kernel too.
            const size_t wrow = row_size(wt, n), arow = row_size(tk.vec_dot_type, n);
            std::vector<uint8_t> w(4 * wrow), a(4 * arow), a_ref(4 * arow);
            for (int r = 0; r < 4; ++r) {
                const std::vector<uint8_t> e = encode(wt, random_floats(n, 100 + r, 0.05f));
                std::memcpy(w.data() + r * wrow, e.data(), wrow);
                const std::vector<float> x = random_floats(n, 200 + r, 1.5f);
                tk.quantize_activations(x.data(), a.data() + r * arow, n);
                ref.of(wt).quantize_activations(x.data(), a_ref.data() + r * arow, n);
            }
            CHECK(std::memcmp(a.data(), a_ref.data(), a.size()) == 0);
            for (int r = 0; r < 4; ++r) {
                for (int t = 0; t < 4; ++t) {
                    float want = 0, got = 0;
                    ref.of(wt).vec_dot(n, &want, w.data() + r * wrow, a.data() + t * arow);
                    tk.vec_dot(n, &got, w.data() + r * wrow, a.data() + t * arow);
                    const Oracle o = oracle_dot(wt, w.data() + r * wrow, tk.vec_dot_type, a.data() + t * arow, n);
                    CHECK(std::fabs(got - want) <= 1e-5 * o.magnitude + 1e-9);
                }
            }
            if (tk.gemm) {
                // Activation rows 4..6 repeat rows 0..2 (via a stride trick below: na up to 7).
                std::vector<uint8_t> a7(7 * arow);
                for (int t = 0; t < 7; ++t) std::memcpy(a7.data() + t * arow, a.data() + (t % 4) * arow, arow);
                for (int nw = 1; nw <= kGemmMaxRows; ++nw) {
                    for (int na = 1; na <= 7; ++na) {
                        float s[8 * 5];
                        std::fill(std::begin(s), std::end(s), -1.0f);
                        tk.gemm(n, w.data(), wrow, nw, a7.data(), arow, na, s, 5);
                        for (int t = 0; t < 8; ++t) {
                            for (int r = 0; r < 5; ++r) {
                                INFO("gemm nw=", nw, " na=", na, " r=", r, " t=", t);
                                if (r >= nw || t >= na) {
                                    CHECK(s[t * 5 + r] == -1.0f);  // untouched
                                    continue;
                                }
                                float want = 0;
                                ref.of(wt).vec_dot(n, &want, w.data() + r * wrow, a7.data() + t * arow);
                                const Oracle o = oracle_dot(wt, w.data() + r * wrow, tk.vec_dot_type,
                                                            a7.data() + t * arow, n);
                                CHECK(std::fabs(s[t * 5 + r] - want) <= 1e-5 * o.magnitude + 1e-9);
                            }
                        }
                    }
                }
            }
        }
        INFO(path);
        const std::vector<float> p = random_floats(1000, 1), q = random_floats(1000, 2);
        double want = 0, mag = 0;
        for (size_t i = 0; i < p.size(); ++i) {
            want += static_cast<double>(p[i]) * q[i];
            mag += std::fabs(static_cast<double>(p[i]) * q[i]);
        }
        CHECK(std::fabs(k.dot_f32(1000, p.data(), q.data()) - want) <= 1e-6 * mag);
        std::vector<float> y = q;
        k.axpy_f32(1000, 0.5f, p.data(), y.data());
        for (size_t i = 0; i < y.size(); ++i) CHECK(y[i] == doctest::Approx(q[i] + 0.5f * p[i]).epsilon(1e-6));
    }
}

TEST_CASE("matmul: any thread count gives the single-threaded result, which matches vec_dot") {
    const int64_t n_cols = 512, n_rows = 37;
    ThreadPool one(1);
    ThreadPool pools[] = {ThreadPool(2), ThreadPool(3), ThreadPool(4)};
    for (GgmlType wt : {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16,
                        GgmlType::F32, GgmlType::Q5_1}) {
        const size_t rb = row_size(wt, n_cols);
        std::vector<uint8_t> wdata(rb * n_rows);
        for (int64_t r = 0; r < n_rows; ++r) {
            const std::vector<uint8_t> e = encode(wt, random_floats(n_cols, 500 + static_cast<uint32_t>(r), 0.1f));
            std::memcpy(wdata.data() + r * rb, e.data(), rb);
        }
        const WeightView w{wt, n_cols, n_rows, rb, wdata.data()};
        for (int64_t n_tokens : {1, 2, 5, 9, 33}) {
            INFO(type_name(wt), " tokens ", n_tokens);
            const std::vector<float> x = random_floats(n_cols * n_tokens, 900 + static_cast<uint32_t>(n_tokens));
            std::vector<uint8_t> scratch(matmul_scratch_bytes(w, n_tokens) + 1);
            std::vector<float> y1(static_cast<size_t>(n_rows * n_tokens));
            matmul(w, x.data(), n_tokens, y1.data(), scratch.data(), one);
            // Against per-element vec_dot.
            const TypeKernels& tk = kernels().of(wt);
            std::vector<uint8_t> a(row_size(tk.vec_dot_type, n_cols));
            for (int64_t t = 0; t < n_tokens; ++t) {
                tk.quantize_activations(x.data() + t * n_cols, a.data(), n_cols);
                for (int64_t r = 0; r < n_rows; ++r) {
                    float want = 0;
                    tk.vec_dot(n_cols, &want, wdata.data() + r * rb, a.data());
                    const Oracle o = oracle_dot(wt, wdata.data() + r * rb, tk.vec_dot_type, a.data(), n_cols);
                    CHECK(std::fabs(y1[static_cast<size_t>(t * n_rows + r)] - want) <= 1e-5 * o.magnitude + 1e-9);
                }
            }
            for (ThreadPool& pool : pools) {
                std::vector<float> yn(y1.size(), -7.0f);
                matmul(w, x.data(), n_tokens, yn.data(), scratch.data(), pool);
                CHECK(std::memcmp(yn.data(), y1.data(), y1.size() * sizeof(float)) == 0);
            }
        }
    }
}

TEST_CASE("matmul refuses unsupported types and ragged rows") {
    ThreadPool pool(1);
    std::vector<uint8_t> data(4096);
    float x[64] = {}, y[4] = {};
    const WeightView bad_type{GgmlType::IQ2_XXS, 256, 1, 66, data.data()};
    CHECK_THROWS_AS(matmul(bad_type, x, 1, y, data.data(), pool), Error);
    const WeightView ragged{GgmlType::Q4_K, 100, 1, 144, data.data()};
    CHECK_THROWS_AS(matmul(ragged, x, 1, y, data.data(), pool), Error);
}

}  // TEST_SUITE
