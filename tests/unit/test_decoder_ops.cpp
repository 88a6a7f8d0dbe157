// The decoder's scalar ops against direct double-precision formulas.
#include <doctest/doctest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels.h"
#include "ops/activations.h"
#include "ops/attention.h"
#include "ops/norm.h"
#include "ops/rope.h"
#include "util/thread_pool.h"

using namespace llamas;

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

}  // namespace

TEST_SUITE("decoder") {

TEST_CASE("rms_norm") {
    const auto x = random_vec(256, 1), w = random_vec(256, 2);
    std::vector<float> y(256);
    rms_norm(x.data(), w.data(), y.data(), 256, 1e-5f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double scale = 1.0 / std::sqrt(ss / 256 + 1e-5);
    for (int i = 0; i < 256; ++i) CHECK(y[i] == doctest::Approx(x[i] * scale * w[i]).epsilon(1e-5));
}

TEST_CASE("rope: both layouts rotate the right pairs by pos * base^(-2i/n_rot)") {
    const int64_t D = 64, n_rot = 32, pos = 7;
    for (RopeLayout layout : {RopeLayout::normal, RopeLayout::neox}) {
        RopeParams p;
        p.n_rot = n_rot;
        p.layout = layout;
        p.base = 10000.0f;
        std::vector<float> cs(n_rot);
        rope_cos_sin(p, pos, cs.data());
        const auto x = random_vec(2 * D, 3);
        std::vector<float> y = x;
        rope_apply(p, cs.data(), y.data(), 2, D);
        for (int h = 0; h < 2; ++h) {
            for (int64_t i = 0; i < n_rot / 2; ++i) {
                const int64_t a = layout == RopeLayout::normal ? 2 * i : i;
                const int64_t b = layout == RopeLayout::normal ? 2 * i + 1 : i + n_rot / 2;
                const double th = pos * std::pow(10000.0, -2.0 * i / n_rot);
                const double x0 = x[h * D + a], x1 = x[h * D + b];
                CHECK(y[h * D + a] == doctest::Approx(x0 * std::cos(th) - x1 * std::sin(th)).epsilon(1e-4));
                CHECK(y[h * D + b] == doctest::Approx(x0 * std::sin(th) + x1 * std::cos(th)).epsilon(1e-4));
            }
            for (int64_t i = n_rot; i < D; ++i) CHECK(y[h * D + i] == x[h * D + i]);  // past n_rot: untouched
        }
    }
}

TEST_CASE("rope: frequency factors divide the angles (Llama 3 rope_freqs)") {
    RopeParams p;
    p.n_rot = 16;
    std::vector<float> two(8, 2.0f), a(16), b(16);
    p.freq_factors = two.data();
    rope_cos_sin(p, 10, a.data());
    p.freq_factors = nullptr;
    rope_cos_sin(p, 5, b.data());
    CHECK(a == b);
}

TEST_CASE("attention: grouped heads, causal mask, sliding window, soft-capping") {
    const int64_t n_head = 4, n_head_kv = 2, D = 32, n_tok = 13;
    const auto q = random_vec(n_tok * n_head * D, 4), k = random_vec(n_tok * n_head_kv * D, 5),
               v = random_vec(n_tok * n_head_kv * D, 6);
    ThreadPool pool(2);
    for (int64_t swa : {int64_t(0), int64_t(4)}) {
        for (float cap : {0.0f, 5.0f}) {
            AttentionParams p;
            p.n_head = n_head;
            p.n_head_kv = n_head_kv;
            p.head_dim = D;
            p.score_scale = 0.125f;
            p.softcap = cap;
            p.mask.n_swa = swa;
            KvLayerView kv;
            kv.type = GgmlType::F32;
            kv.k = reinterpret_cast<const uint8_t*>(k.data());
            kv.v = reinterpret_cast<const uint8_t*>(v.data());
            kv.row_bytes = n_head_kv * D * sizeof(float);
            kv.head_bytes = D * sizeof(float);
            std::vector<uint8_t> scratch(attention_scratch_bytes(p, GgmlType::F32, n_tok, 2));
            // The last 5 queries, at positions 8..12, over the 13 cached positions.
            std::vector<float> out(5 * n_head * D);
            attention(p, q.data() + 8 * n_head * D, n_head * D, 5, 8, kv, n_tok, out.data(), n_head * D, scratch.data(),
                      scratch.size(), pool);
            for (int64_t t = 0; t < 5; ++t) {
                const int64_t pos = 8 + t;
                for (int64_t h = 0; h < n_head; ++h) {
                    const int64_t kh = h / 2;
                    std::vector<double> w(n_tok, 0.0);
                    double mx = -1e300, sum = 0;
                    for (int64_t j = 0; j <= pos; ++j) {
                        if (swa && pos - j >= swa) continue;
                        double s = 0;
                        for (int64_t d = 0; d < D; ++d) s += double(q[(pos * n_head + h) * D + d]) * k[(j * n_head_kv + kh) * D + d];
                        if (cap > 0) s = cap * std::tanh(s / cap);
                        w[j] = s * 0.125;
                        mx = std::max(mx, w[j]);
                    }
                    for (int64_t j = 0; j <= pos; ++j) {
                        if (swa && pos - j >= swa) { w[j] = 0; continue; }
                        w[j] = std::exp(w[j] - mx);
                        sum += w[j];
                    }
                    for (int64_t d = 0; d < D; ++d) {
                        double o = 0;
                        for (int64_t j = 0; j <= pos; ++j) o += w[j] / sum * v[(j * n_head_kv + kh) * D + d];
                        CHECK(out[(t * n_head + h) * D + d] == doctest::Approx(o).epsilon(1e-4).scale(1.0));
                    }
                }
            }
        }
    }
}

TEST_CASE("activations: exp approximation, SiLU, GELU, soft-capping") {
    for (float x = -80.0f; x <= 80.0f; x += 0.37f) CHECK(exp_approx(x) == doctest::Approx(std::exp(double(x))).epsilon(1e-6));
    CHECK(exp_approx(-INFINITY) == 0.0f);
    CHECK(silu(2.0f) == doctest::Approx(2.0 / (1.0 + std::exp(-2.0))).epsilon(1e-6));
    CHECK(gelu(1.0f) == doctest::Approx(0.8412).epsilon(1e-3));
    CHECK(gelu(-20.0f) == 0.0f);
    CHECK(gelu(20.0f) == 20.0f);
    std::vector<float> x = {100.0f, -100.0f, 1.0f};
    softcap(x.data(), 3, 30.0f);
    CHECK(x[0] == doctest::Approx(30.0 * std::tanh(100.0 / 30.0)));
    CHECK(x[1] == doctest::Approx(-30.0 * std::tanh(100.0 / 30.0)));
    CHECK(x[2] == doctest::Approx(30.0 * std::tanh(1.0 / 30.0)));
}

}  // TEST_SUITE
