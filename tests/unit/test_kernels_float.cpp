// The float-loop entries of every runnable kernel path (kernels.h: rms_norm, rope, gelu_mul)
// against the ops' scalar code, on odd lengths that leave vector tails, and the ops calling them.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops/activations.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"

using namespace llamas;

namespace {

std::vector<float> gauss(int64_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    return v;
}

// |a - b| <= tol * scale, counted over a row.
int count_off(const float* a, const float* b, const float* scale, int64_t n, double tol) {
    int bad = 0;
    for (int64_t i = 0; i < n; ++i) bad += !(std::fabs(static_cast<double>(a[i]) - b[i]) <= tol * scale[i]);
    return bad;
}

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("every table fills every entry (the packed forms excepted)") {
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        CHECK((k.dot_f32 != nullptr));
        CHECK((k.axpy_f32 != nullptr));
        CHECK((k.silu_mul != nullptr));
        CHECK((k.softmax_exp != nullptr));
        CHECK((k.dot_f16_rows != nullptr));
        CHECK((k.axpy_f16_rows != nullptr));
        CHECK((k.rms_norm != nullptr));
        CHECK((k.rope != nullptr));
        CHECK((k.gelu_mul != nullptr));
        CHECK((k.softcap != nullptr));
        CHECK((k.attn_tile != nullptr));
        CHECK((k.attn_rows != nullptr));
        // Every weight type the scalar table has, with its encoder, row product and tile product.
        for (uint32_t t = 0; t < 40; ++t) {
            if (!scalar_kernels().types[t].vec_dot) continue;
            INFO("type " << type_info(static_cast<GgmlType>(t)).name);
            CHECK((k.types[t].vec_dot != nullptr));
            CHECK((k.types[t].quantize_activations != nullptr));
            CHECK((k.types[t].gemm != nullptr));
            CHECK(k.types[t].vec_dot_type == scalar_kernels().types[t].vec_dot_type);
        }
    }
}

TEST_CASE("rms_norm entry of every path matches the scalar RMSNorm, with and without weights") {
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        for (int64_t n : {1, 7, 15, 16, 17, 33, 64, 100, 255, 2048, 3001}) {
            INFO(n);
            const std::vector<float> x = gauss(n, 11 + static_cast<uint32_t>(n), 2.0f);
            const std::vector<float> w = gauss(n, 12 + static_cast<uint32_t>(n), 1.0f);
            for (bool weighted : {true, false}) {
                const float* wp = weighted ? w.data() : nullptr;
                std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n) + 1, -7.0f);
                scalar_kernels().rms_norm(x.data(), wp, want.data(), n, 1e-6f);
                k.rms_norm(x.data(), wp, got.data(), n, 1e-6f);
                std::vector<float> mag(want.size());
                for (size_t i = 0; i < mag.size(); ++i) mag[i] = std::fabs(want[i]);
                CHECK(count_off(got.data(), want.data(), mag.data(), n, 1e-6) == 0);
                CHECK(got[static_cast<size_t>(n)] == -7.0f);  // nothing written past the row
                // In place (y aliasing x) gives the same values.
                std::vector<float> inplace = x;
                k.rms_norm(inplace.data(), wp, inplace.data(), n, 1e-6f);
                CHECK(std::memcmp(inplace.data(), got.data(), want.size() * sizeof(float)) == 0);
            }
        }
    }
}

TEST_CASE("rope entry of every path matches the scalar rotation in both layouts") {
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        struct Shape { int64_t head_dim, n_rot, n_heads; };
        // Whole heads of the usual sizes, partial rotation (phi-style) and odd pair counts.
        const Shape shapes[] = {{64, 64, 3}, {128, 128, 2}, {256, 256, 1}, {96, 96, 5}, {80, 64, 2},
                                {128, 32, 3}, {40, 40, 4}, {18, 18, 3}, {6, 4, 2}, {128, 100, 2}};
        for (const Shape& sh : shapes) {
            for (RopeLayout layout : {RopeLayout::normal, RopeLayout::neox}) {
                INFO(sh.head_dim << " " << sh.n_rot << " " << sh.n_heads << " neox=" << (layout == RopeLayout::neox));
                RopeParams p;
                p.n_rot = sh.n_rot;
                p.layout = layout;
                std::vector<float> cs(static_cast<size_t>(sh.n_rot));
                rope_cos_sin(p, 1234, cs.data());
                const int64_t n = sh.head_dim * sh.n_heads;
                const std::vector<float> x = gauss(n + 1, 5 + static_cast<uint32_t>(n), 1.5f);
                std::vector<float> want = x, got = x;
                scalar_kernels().rope(cs.data(), want.data(), sh.n_heads, sh.head_dim, sh.n_rot, layout == RopeLayout::neox);
                k.rope(cs.data(), got.data(), sh.n_heads, sh.head_dim, sh.n_rot, layout == RopeLayout::neox);
                // A rotated value's error scale is its pair's magnitude (the two products can cancel).
                std::vector<float> mag(static_cast<size_t>(n));
                for (int64_t h = 0; h < sh.n_heads; ++h) {
                    for (int64_t i = 0; i < sh.head_dim; ++i) {
                        int64_t partner = i;
                        if (i < sh.n_rot) {
                            partner = layout == RopeLayout::normal ? (i ^ 1) : (i < sh.n_rot / 2 ? i + sh.n_rot / 2 : i - sh.n_rot / 2);
                        }
                        const size_t at = static_cast<size_t>(h * sh.head_dim);
                        mag[at + static_cast<size_t>(i)] = std::fabs(x[at + static_cast<size_t>(i)]) + std::fabs(x[at + static_cast<size_t>(partner)]);
                    }
                }
                CHECK(count_off(got.data(), want.data(), mag.data(), n, 1e-6) == 0);
                // Values past n_rot in each head, and past the last head, are untouched.
                int moved = 0;
                for (int64_t h = 0; h < sh.n_heads; ++h) {
                    for (int64_t i = sh.n_rot; i < sh.head_dim; ++i) moved += got[static_cast<size_t>(h * sh.head_dim + i)] != x[static_cast<size_t>(h * sh.head_dim + i)];
                }
                CHECK(moved == 0);
                CHECK(got[static_cast<size_t>(n)] == x[static_cast<size_t>(n)]);
            }
        }
    }
}

TEST_CASE("gelu_mul entry of every path equals the scalar table lookup bit for bit") {
    const float* table = gelu_fp16_table();
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        for (int64_t n : {1, 5, 8, 15, 16, 17, 31, 1000, 1537}) {
            INFO(n);
            std::vector<float> x = gauss(n, 31 + static_cast<uint32_t>(n), 3.0f);
            const std::vector<float> up = gauss(n, 32 + static_cast<uint32_t>(n), 1.0f);
            // The clamps (+-10 exactly and beyond), zeros and values between fp16 steps.
            const float edges[] = {-10.0f, 10.0f, -10.5f, 12.0f, -1e6f, 1e6f, 0.0f, -0.0f, 9.999f, -9.999f, 1e-6f, 65504.0f, 70000.0f};
            for (size_t i = 0; i < sizeof edges / sizeof edges[0] && static_cast<int64_t>(3 * i) < n; ++i) x[3 * i] = edges[i];
            std::vector<float> got(static_cast<size_t>(n) + 1, -7.0f), got1(static_cast<size_t>(n) + 1, -7.0f);
            k.gelu_mul(table, x.data(), up.data(), got.data(), n);
            k.gelu_mul(table, x.data(), nullptr, got1.data(), n);
            int bad = 0;
            for (int64_t i = 0; i < n; ++i) {
                const float g = gelu(x[static_cast<size_t>(i)]);
                const float want = g * up[static_cast<size_t>(i)];
                bad += std::memcmp(&want, &got[static_cast<size_t>(i)], 4) != 0;
                bad += std::memcmp(&g, &got1[static_cast<size_t>(i)], 4) != 0;
            }
            CHECK(bad == 0);
            CHECK(got[static_cast<size_t>(n)] == -7.0f);
            CHECK(got1[static_cast<size_t>(n)] == -7.0f);
            // In place over the gate, as the FFN runs it.
            std::vector<float> inplace = x;
            k.gelu_mul(table, inplace.data(), up.data(), inplace.data(), n);
            CHECK(std::memcmp(inplace.data(), got.data(), static_cast<size_t>(n) * sizeof(float)) == 0);
        }
    }
}

TEST_CASE("the GELU row helper and the gated activation give gelu() on the selected path") {
    // Whatever table kernels() picked (LLAMAS_CPU or the best path), the ops agree with gelu().
    const int64_t n = 301;
    std::vector<float> x = gauss(n, 77, 4.0f);
    x[0] = -10.0f;
    x[1] = 10.0f;
    const std::vector<float> up = gauss(n, 78, 1.0f);
    std::vector<float> a(static_cast<size_t>(n)), c(static_cast<size_t>(n));
    gelu_row(x.data(), a.data(), n);
    gated_activation(FfnActivation::gelu, x.data(), up.data(), c.data(), n);
    int bad = 0;
    for (size_t i = 0; i < static_cast<size_t>(n); ++i) {
        const float g = gelu(x[i]), gu = g * up[i];
        bad += std::memcmp(&g, &a[i], 4) != 0;
        bad += std::memcmp(&gu, &c[i], 4) != 0;
    }
    CHECK(bad == 0);
}

}  // TEST_SUITE

TEST_SUITE("kernels") {

TEST_CASE("softcap entry of every path: tanh within 2 ulp across both of its branches") {
    // Dense over [-12, 12] (the polynomial below |y| = 1, the exponential form above, and
    // saturation to +-1), plus tiny values, zeros and a ragged tail. The truth is tanh in double
    // of the scaled input as the scalar code computes it (glibc's tanhf itself is off by up to
    // about 1.5 ulp here).
    std::vector<float> y;
    for (int i = -120000; i <= 120000; ++i) y.push_back(static_cast<float>(i) * 1e-4f);
    const float extra[] = {1.0f, -1.0f, 0.99999994f, 1e-30f, -1e-30f, 1e-8f, 0.0f, -0.0f, 40.0f, -100.0f, 1e30f, -1e30f};
    for (float v : extra) y.push_back(v);
    y.push_back(0.3f);  // the vector count is odd, so a tail is left
    const int64_t n = static_cast<int64_t>(y.size());
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        for (float cap : {1.0f, 30.0f, 50.0f}) {
            INFO(cap);
            std::vector<float> x(static_cast<size_t>(n) + 1, -7.0f);
            for (size_t i = 0; i < y.size(); ++i) x[i] = y[i] * cap;
            const float inv = 1.0f / cap;
            std::vector<float> got = x;
            k.softcap(got.data(), n, cap);
            int bad = 0;
            double worst = 0;
            for (size_t i = 0; i < y.size(); ++i) {
                const double t = std::tanh(static_cast<double>(x[i] * inv));
                const float tf = static_cast<float>(std::fabs(t));
                const double ulp = static_cast<double>(std::nextafter(tf, INFINITY)) - tf;
                // In ulps of tanh: 2 for tanh, up to 1 more for rounding the product by cap.
                const double err = std::fabs(static_cast<double>(got[i]) - t * cap) / (ulp * cap);
                worst = err > worst ? err : worst;
                bad += !(err <= 3.0);
            }
            MESSAGE(std::string(path) << " cap " << cap << ": worst error " << worst << " ulp of tanh");
            CHECK(bad == 0);
            CHECK(got[static_cast<size_t>(n)] == -7.0f);
        }
    }
}

}  // TEST_SUITE

TEST_SUITE("kernels") {

TEST_CASE("F16 attention rows of every path: every head size, key counts with and without a tail") {
    // Each head size takes its own unrolled loop (dot_f16_rows / axpy_f16_rows dispatch on d / 16).
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        for (int64_t d = 16; d <= 256; d += 16) {
            for (int64_t n : {1, 3, 4, 13}) {
                INFO(d << " x " << n);
                const size_t stride = static_cast<size_t>(d) * 2 + 64;  // rows with a gap between them
                std::vector<uint8_t> rows(stride * static_cast<size_t>(n), 0xEE);
                const std::vector<float> vals = gauss(d * n, 40 + static_cast<uint32_t>(d + n), 1.0f);
                for (int64_t j = 0; j < n; ++j) quantize_row(GgmlType::F16, vals.data() + j * d, rows.data() + j * stride, d);
                const std::vector<float> q = gauss(d, 41, 1.0f), w = gauss(n, 42, 1.0f);
                std::vector<float> dots(static_cast<size_t>(n) + 1, -7.0f), acc(static_cast<size_t>(d) + 1, 0.25f);
                k.dot_f16_rows(d, q.data(), rows.data(), stride, n, dots.data());
                k.axpy_f16_rows(d, w.data(), rows.data(), stride, n, acc.data());
                std::vector<float> rowf(static_cast<size_t>(d));
                std::vector<double> want_acc(static_cast<size_t>(d), 0.25), mag_acc(static_cast<size_t>(d), 0.25);
                int bad = 0;
                for (int64_t j = 0; j < n; ++j) {
                    dequantize_row(GgmlType::F16, rows.data() + j * stride, rowf.data(), d);
                    double dot = 0, mag = 0;
                    for (int64_t i = 0; i < d; ++i) {
                        const size_t ii = static_cast<size_t>(i);
                        dot += static_cast<double>(q[ii]) * rowf[ii];
                        mag += std::fabs(static_cast<double>(q[ii]) * rowf[ii]);
                        want_acc[ii] += static_cast<double>(w[static_cast<size_t>(j)]) * rowf[ii];
                        mag_acc[ii] += std::fabs(static_cast<double>(w[static_cast<size_t>(j)]) * rowf[ii]);
                    }
                    bad += !(std::fabs(dots[static_cast<size_t>(j)] - dot) <= 1e-6 * mag);
                }
                for (size_t i = 0; i < static_cast<size_t>(d); ++i) bad += !(std::fabs(acc[i] - want_acc[i]) <= 1e-6 * mag_acc[i]);
                CHECK(bad == 0);
                CHECK(dots[static_cast<size_t>(n)] == -7.0f);
                CHECK(acc[static_cast<size_t>(d)] == 0.25f);
            }
        }
    }
}

}  // TEST_SUITE
