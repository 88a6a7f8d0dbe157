// Packed weight products (kernels.h, PackedKernels) against the scalar oracle: prepared
// activations quantize exactly as the table's encoder does, every tile shape and row-group range
// of the packed gemm matches scalar vec_dot on the original rows, and matmul on a packed matrix
// matches it across thread counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"
#include "ops/activations.h"
#include "ops/matmul.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "util/thread_pool.h"

using namespace llamas;

namespace {

const GgmlType kTypes[] = {GgmlType::F16,  GgmlType::BF16,   GgmlType::Q4_0, GgmlType::Q4_1,
                           GgmlType::Q5_0, GgmlType::Q5_1,   GgmlType::IQ4_NL, GgmlType::Q8_0,
                           GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K,
                           GgmlType::IQ4_XS};

std::vector<float> gauss(int64_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.0f, scale);
    std::vector<float> v(static_cast<size_t>(n));
    for (auto& x : v) x = dist(rng);
    for (int64_t i = 0; i < n; i += 89) v[static_cast<size_t>(i)] *= 5.0f;
    return v;
}

struct Matrix {
    GgmlType type;
    int64_t n_cols, n_rows;
    size_t rb;
    std::vector<uint8_t> data;
};

Matrix make_matrix(GgmlType t, int64_t n_cols, int64_t n_rows, uint32_t seed) {
    Matrix m{t, n_cols, n_rows, row_size(t, n_cols), {}};
    m.data.resize(m.rb * static_cast<size_t>(n_rows));
    for (int64_t r = 0; r < n_rows; ++r) {
        const std::vector<float> x = gauss(n_cols, seed + static_cast<uint32_t>(r), 0.05f);
        quantize_row(t, x.data(), m.data.data() + r * m.rb, n_cols);
    }
    return m;
}

// Scalar-oracle products of every row with every activation row, and the sum of |terms| (the
// scale of float rounding) of each.
struct Reference {
    std::vector<float> value;
    std::vector<double> magnitude;
};

Reference reference(const Matrix& m, const std::vector<float>& x, int64_t n_tokens) {
    const TypeKernels& ref = scalar_kernels().of(m.type);
    Reference out;
    out.value.resize(static_cast<size_t>(n_tokens * m.n_rows));
    out.magnitude.resize(out.value.size());
    std::vector<uint8_t> a(row_size(ref.vec_dot_type, m.n_cols));
    std::vector<float> wf(static_cast<size_t>(m.n_cols)), af(static_cast<size_t>(m.n_cols));
    for (int64_t t = 0; t < n_tokens; ++t) {
        ref.quantize_activations(x.data() + t * m.n_cols, a.data(), m.n_cols);
        dequantize_row(ref.vec_dot_type, a.data(), af.data(), m.n_cols);
        for (int64_t r = 0; r < m.n_rows; ++r) {
            const size_t i = static_cast<size_t>(t * m.n_rows + r);
            ref.vec_dot(m.n_cols, &out.value[i], m.data.data() + r * m.rb, a.data());
            dequantize_row(m.type, m.data.data() + r * m.rb, wf.data(), m.n_cols);
            double mag = 0;
            for (int64_t k = 0; k < m.n_cols; ++k) mag += std::fabs(static_cast<double>(wf[k]) * af[k]);
            out.magnitude[i] = mag;
        }
    }
    return out;
}

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("packed gemm: every tile shape and row-group range matches the scalar oracle") {
    int n_tested = 0;
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        for (GgmlType wt : kTypes) {
            const PackedKernels& pk = k.of(wt).packed;
            if (!pk.gemm) continue;
            ++n_tested;
            const int64_t n_cols = 1024, n_rows = 5 * kPackRows, n_tokens = 14;
            INFO(std::string(path), " ", std::string(type_info(wt).name));
            CHECK(pk.packed_bytes(n_cols, n_rows + 1) == 0);  // only whole row groups are packed
            if (type_info(wt).block_size > 1) CHECK(pk.packed_bytes(n_cols + 1, n_rows) == 0);  // whole blocks only
            const Matrix m = make_matrix(wt, n_cols, n_rows, 31);
            const size_t bytes = pk.packed_bytes(n_cols, n_rows);
            REQUIRE(bytes > 0);
            std::vector<uint8_t> packed_mem(bytes + 64);
            uint8_t* packed = packed_mem.data() + (64 - reinterpret_cast<uintptr_t>(packed_mem.data()) % 64) % 64;
            pk.pack(m.data.data(), m.rb, n_cols, n_rows, packed);

            const std::vector<float> x = gauss(n_cols * n_tokens, 77, 1.5f);
            const Reference want = reference(m, x, n_tokens);
            const size_t arow = pk.act_row_bytes(n_cols);
            CHECK(arow % 64 == 0);
            std::vector<uint8_t> act_mem(arow * n_tokens + 64);
            uint8_t* act = act_mem.data() + (64 - reinterpret_cast<uintptr_t>(act_mem.data()) % 64) % 64;
            for (int64_t t = 0; t < n_tokens; ++t) pk.prepare(x.data() + t * n_cols, act + t * arow, n_cols);

            // Token counts cover the single-token tiles and every remainder of the many-token
            // ones; group ranges cover odd starts and lengths.
            for (int na : {1, 2, 3, 5, 6, 7, 13, 14}) {
                for (auto range : {std::pair<int64_t, int64_t>{0, 5}, {1, 5}, {2, 3}, {0, 4}}) {
                    INFO("tokens ", na, " groups ", range.first, "..", range.second);
                    const size_t stride = static_cast<size_t>(n_rows) + 3;
                    std::vector<float> s(stride * static_cast<size_t>(na) + 8, -5.0f);
                    pk.gemm(n_cols, packed, range.first, range.second, act, arow, na, s.data(), stride);
                    int bad = 0, untouched_bad = 0;
                    for (int t = 0; t < na; ++t) {
                        for (int64_t r = 0; r < static_cast<int64_t>(stride); ++r) {
                            const float got = s[t * stride + r];
                            const bool inside = r < n_rows && r / kPackRows >= range.first && r / kPackRows < range.second;
                            if (!inside) {
                                untouched_bad += got != -5.0f;
                                continue;
                            }
                            const size_t i = static_cast<size_t>(t * n_rows + r);
                            if (!(std::fabs(got - want.value[i]) <= 1e-5 * want.magnitude[i] + 1e-9)) {
                                if (bad++ < 3) CHECK(got == doctest::Approx(want.value[i]));
                            }
                        }
                    }
                    CHECK(bad == 0);
                    CHECK(untouched_bad == 0);
                }
            }
        }
    }
    MESSAGE("packed type/path combinations tested: " << n_tested);
}

TEST_CASE("packed matmul: model-style packing gives vec_dot's products on any thread count") {
    ThreadPool one(1), two(2), three(3);
    // Whole row groups; whole groups and a zero-padded last one; the padded group alone.
    for (GgmlType wt : kTypes) for (int64_t n_rows : {int64_t(6 * kPackRows), int64_t(6 * kPackRows + 5), int64_t(7)}) {
        const int64_t n_cols = 512;
        INFO("rows ", n_rows);
        Matrix m = make_matrix(wt, n_cols, n_rows, 1234);
        WeightView w{wt, n_cols, n_rows, m.rb, m.data.data()};
        const std::shared_ptr<const void> owner = pack_weight(w);
        const bool has_packed = static_cast<bool>(kernels().of(wt).packed.gemm);
        INFO(kernels().name, " ", type_info(wt).name);
        CHECK(static_cast<bool>(owner) == has_packed);
        CHECK((w.packed != nullptr) == has_packed);
        for (int64_t n_tokens : {1, 4, 19, 37}) {  // 37: more than the padded group's 16-token buffer, twice
            INFO("tokens ", n_tokens);
            const std::vector<float> x = gauss(n_cols * n_tokens, 55 + static_cast<uint32_t>(n_tokens), 1.0f);
            const Reference want = reference(m, x, n_tokens);
            std::vector<uint8_t> scratch(matmul_scratch_bytes(w, n_tokens));
            std::vector<float> y1(static_cast<size_t>(n_rows * n_tokens));
            matmul(w, x.data(), n_tokens, y1.data(), scratch.data(), one);
            int bad = 0;
            for (size_t i = 0; i < y1.size(); ++i) bad += !(std::fabs(y1[i] - want.value[i]) <= 1e-5 * want.magnitude[i] + 1e-9);
            CHECK(bad == 0);
            for (ThreadPool* pool : {&two, &three}) {
                std::vector<float> yn(y1.size(), -7.0f);
                matmul(w, x.data(), n_tokens, yn.data(), scratch.data(), *pool);
                CHECK(std::memcmp(yn.data(), y1.data(), y1.size() * sizeof(float)) == 0);
            }
        }
    }
}

}  // TEST_SUITE

TEST_SUITE("kernels") {

TEST_CASE("float loops of every path: SiLU bit-exact, softmax exponentials, F16 attention rows") {
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        INFO(path);
        {  // silu_mul
            std::vector<float> g = gauss(1000, 3, 4.0f), u = gauss(1000, 4, 1.0f);
            // Far tails take exp_approx's two-step scaling and saturation branches.
            const float tails[] = {-300.0f, -150.0f, -100.0f, -88.5f, 88.5f, 100.0f, 150.0f, 300.0f, 0.0f, -0.0f};
            for (size_t i = 0; i < sizeof tails / sizeof tails[0]; ++i) g[100 + 7 * i] = tails[i];
            std::vector<float> out(1000, -1.0f);
            k.silu_mul(g.data(), u.data(), out.data(), 999);  // a ragged tail
            int bad = 0;
            for (size_t i = 0; i < 999; ++i) {
                const float want = silu(g[i]) * u[i];
                bad += std::memcmp(&want, &out[i], 4) != 0;
            }
            CHECK(bad == 0);
            CHECK(out[999] == -1.0f);
        }
        {  // softmax_exp
            for (int64_t n : {1, 15, 16, 17, 300}) {
                std::vector<float> x = gauss(n, 9 + static_cast<uint32_t>(n), 3.0f);
                if (n > 3) x[2] = -INFINITY;
                float max = -INFINITY;
                for (float v : x) max = v > max ? v : max;
                std::vector<float> got = x;
                const double sum = k.softmax_exp(got.data(), n);
                double want_sum = 0;
                for (int64_t i = 0; i < n; ++i) {
                    const double want = std::exp(static_cast<double>(x[i] - max));  // the float difference, as computed
                    want_sum += want;
                    CHECK(std::fabs(got[i] - want) <= 4e-7 * want + 1e-30);
                }
                CHECK(std::fabs(sum - want_sum) <= 1e-6 * want_sum);
            }
        }
        {  // dot_f16_rows, axpy_f16_rows
            for (int64_t d : {16, 64, 128, 256}) {
                const int64_t n = 37;
                const size_t stride = static_cast<size_t>(d) * 2 * 3;  // rows of 3 heads, head 1 used
                std::vector<uint8_t> rows(stride * n);
                const std::vector<float> vals = gauss(static_cast<int64_t>(rows.size() / 2), 21, 1.0f);
                quantize_row(GgmlType::F16, vals.data(), rows.data(), static_cast<int64_t>(vals.size()));
                const uint8_t* head = rows.data() + d * 2;
                std::vector<float> rowf(static_cast<size_t>(d));
                const std::vector<float> q = gauss(d, 5, 1.0f), w = gauss(n, 6, 1.0f);
                std::vector<float> dots(static_cast<size_t>(n)), acc(static_cast<size_t>(d), 0.5f);
                k.dot_f16_rows(d, q.data(), head, stride, n, dots.data());
                k.axpy_f16_rows(d, w.data(), head, stride, n, acc.data());
                std::vector<double> want_acc(static_cast<size_t>(d), 0.5), mag_acc(static_cast<size_t>(d), 0.5);
                for (int64_t j = 0; j < n; ++j) {
                    dequantize_row(GgmlType::F16, head + j * stride, rowf.data(), d);
                    double dot = 0, mag = 0;
                    for (int64_t i = 0; i < d; ++i) {
                        dot += static_cast<double>(q[i]) * rowf[i];
                        mag += std::fabs(static_cast<double>(q[i]) * rowf[i]);
                        want_acc[i] += static_cast<double>(w[j]) * rowf[i];
                        mag_acc[i] += std::fabs(static_cast<double>(w[j]) * rowf[i]);
                    }
                    CHECK(std::fabs(dots[j] - dot) <= 1e-6 * mag);
                }
                for (int64_t i = 0; i < d; ++i) CHECK(std::fabs(acc[i] - want_acc[i]) <= 1e-6 * mag_acc[i]);
            }
        }
    }
}

}  // TEST_SUITE

TEST_SUITE("kernels") {

TEST_CASE("matmul_many: one prepared input for several matrices gives each matmul's result") {
    ThreadPool two(2);
    // One type; two types whose packed forms share the prepared input (Q4_K_M's Q4_K and Q6_K);
    // two that don't.
    const GgmlType cases[3][3] = {{GgmlType::Q4_0, GgmlType::Q4_0, GgmlType::Q4_0},
                                  {GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::Q4_K},
                                  {GgmlType::Q4_0, GgmlType::Q6_K, GgmlType::Q4_0}};
    for (const auto& types : cases) {
        const int64_t n_cols = 512, n_tokens = 7;
        const int64_t rows[3] = {4 * kPackRows, kPackRows, 3 * kPackRows + 9};  // the last with a padded group
        std::vector<Matrix> ms;
        std::vector<WeightView> ws;
        std::vector<std::shared_ptr<const void>> owners;
        for (int i = 0; i < 3; ++i) ms.push_back(make_matrix(types[i], n_cols, rows[i], 40 + 10 * static_cast<uint32_t>(i)));
        for (int i = 0; i < 3; ++i) {
            ws.push_back(WeightView{types[i], n_cols, rows[i], ms[static_cast<size_t>(i)].rb, ms[static_cast<size_t>(i)].data.data()});
        }
        for (WeightView& w : ws) owners.push_back(pack_weight(w));
        size_t scratch_bytes = 0;
        for (const WeightView& w : ws) scratch_bytes = std::max(scratch_bytes, matmul_scratch_bytes(w, n_tokens));
        std::vector<uint8_t> scratch(scratch_bytes);
        const std::vector<float> x = gauss(n_cols * n_tokens, 8, 1.0f);
        std::vector<std::vector<float>> want(3), got(3);
        for (int i = 0; i < 3; ++i) {
            want[static_cast<size_t>(i)].resize(static_cast<size_t>(rows[i] * n_tokens));
            got[static_cast<size_t>(i)].assign(static_cast<size_t>(rows[i] * n_tokens), -3.0f);
            matmul(ws[static_cast<size_t>(i)], x.data(), n_tokens, want[static_cast<size_t>(i)].data(), scratch.data(), two);
        }
        const WeightView* wp[3] = {&ws[0], &ws[1], &ws[2]};
        float* yp[3] = {got[0].data(), got[1].data(), got[2].data()};
        matmul_many(wp, yp, 3, x.data(), n_tokens, scratch.data(), two);
        for (int i = 0; i < 3; ++i) {
            INFO("types ", type_info(types[0]).name, "/", type_info(types[1]).name, " matrix ", i);
            CHECK(std::memcmp(got[static_cast<size_t>(i)].data(), want[static_cast<size_t>(i)].data(),
                              want[static_cast<size_t>(i)].size() * sizeof(float)) == 0);
        }
    }
}

}  // TEST_SUITE
