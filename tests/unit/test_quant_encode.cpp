// Block encoders against the reference quantizer: re-encoding llama-F32.gguf's tensors to the
// type each llama-T.gguf stores them in must give the same blocks (all of them for the
// non-K types; at least 99% for the K-quants, whose scale searches are sensitive to the
// last bit of float rounding in the reference build). Plus round trips for the types that
// have no reference file (Q8_1, Q8_K, IQ4_XS).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "quant/quantize.h"
#include "quant/types.h"
#include "test_data.h"
#include "util/error.h"

using namespace llamas;

namespace {

// The whole-file comparison lives in test_quant_tool.cpp (it runs the quantizer end to end);
// here a sample of rows keeps the codec check quick, including under sanitizers.
constexpr int64_t kRowStep = 7;

std::string name_of(GgmlType t) { return type_info(t).name; }

struct BlockMatch {
    int64_t blocks = 0;
    int64_t same = 0;
};

bool is_k_quant(GgmlType t) {
    return t == GgmlType::Q2_K || t == GgmlType::Q3_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K;
}

// Encodes every row_step-th row of src (F32) to ref's type and counts blocks equal to ref's.
BlockMatch compare_tensor(const gguf::TensorInfo& src, const gguf::TensorInfo& ref, int64_t row_step) {
    BlockMatch m;
    const TypeInfo& ti = type_info(ref.type);
    const int64_t n_rows = static_cast<int64_t>(src.n_elements / src.ne[0]);
    const size_t rb = row_size(ref.type, src.ne[0]);
    std::vector<uint8_t> out(rb);
    const float* x = reinterpret_cast<const float*>(src.data);
    for (int64_t r = 0; r < n_rows; r += row_step) {
        REQUIRE(quantize_row(ref.type, x + r * src.ne[0], out.data(), src.ne[0]) == rb);
        const uint8_t* want = ref.data + r * rb;
        for (size_t b = 0; b < rb; b += ti.type_size) {
            ++m.blocks;
            if (std::memcmp(out.data() + b, want + b, ti.type_size) == 0) ++m.same;
        }
    }
    return m;
}

void check_type_file(const std::string& type_name) {
    auto f32 = gguf::File::open(test::data_path("models/llama-F32.gguf"));
    auto ref = gguf::File::open(test::data_path("models/llama-" + type_name + ".gguf"));
    std::map<GgmlType, BlockMatch> per_type;
    for (const gguf::TensorInfo& t : ref->tensors()) {
        const gguf::TensorInfo* src = f32->find_tensor(t.name);
        REQUIRE_MESSAGE(src, "llama-F32.gguf lacks " << t.name);
        REQUIRE(src->type == GgmlType::F32);
        REQUIRE(src->n_elements == t.n_elements);
        const BlockMatch m = compare_tensor(*src, t, kRowStep);
        BlockMatch& acc = per_type[t.type];
        acc.blocks += m.blocks;
        acc.same += m.same;
        if (!is_k_quant(t.type)) CHECK_MESSAGE(m.same == m.blocks, t.name << " (" << name_of(t.type) << "): " << m.same << "/" << m.blocks);
    }
    for (const auto& entry : per_type) {
        const auto type = entry.first;  // not structured bindings: CHECK_MESSAGE takes them in a lambda
        const auto& m = entry.second;
        const double frac = static_cast<double>(m.same) / static_cast<double>(m.blocks);
        if (is_k_quant(type))
            CHECK_MESSAGE(frac >= 0.99, "llama-" << type_name << " " << name_of(type) << ": " << m.same << "/" << m.blocks << " blocks identical");
    }
}

std::vector<float> random_row(int64_t n, uint32_t seed, float scale) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> nd(0.0f, scale);
    std::vector<float> x(static_cast<size_t>(n));
    for (float& v : x) v = nd(rng);
    return x;
}

// Quantizes and dequantizes; returns max |error| relative to the row's absmax.
double round_trip_error(GgmlType type, const std::vector<float>& x) {
    const int64_t n = static_cast<int64_t>(x.size());
    std::vector<uint8_t> q(row_size(type, n));
    std::vector<float> back(x.size());
    CHECK(quantize_row(type, x.data(), q.data(), n) == q.size());
    dequantize_row(type, q.data(), back.data(), n);
    double amax = 0, err = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        amax = std::max(amax, static_cast<double>(std::fabs(x[i])));
        err = std::max(err, static_cast<double>(std::fabs(back[i] - x[i])));
    }
    return err / amax;
}

}  // namespace

TEST_SUITE("quant") {

TEST_CASE("encoders reproduce the reference quantizer's blocks") {
    for (std::string t : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL"}) {
        CAPTURE(t);
        check_type_file(t);
    }
}

TEST_CASE("round trips of the types without reference files") {
    const std::vector<float> x = random_row(4096, 11, 0.7f);
    // 8-bit: error at most half a step of absmax/127 (plus fp16 rounding of the scale).
    CHECK(round_trip_error(GgmlType::Q8_0, x) <= 0.5 / 127 * 1.01);
    CHECK(round_trip_error(GgmlType::Q8_1, x) <= 0.5 / 127 * 1.01);
    CHECK(round_trip_error(GgmlType::Q8_K, x) <= 0.5 / 127 * 1.0001);
    // 4-bit non-linear: the widest gap between levels is 24/127 of the block's scale.
    CHECK(round_trip_error(GgmlType::IQ4_XS, x) <= 0.15);
    CHECK(round_trip_error(GgmlType::IQ4_NL, x) <= 0.15);
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K,
                       GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K}) {
        const std::string type_name = name_of(t);
        CAPTURE(type_name);
        CHECK(round_trip_error(t, x) <= 0.5);
    }

    // Q8_1's s field is d * sum(qs) (up to fp16 rounding); Q8_K's bsums are the per-16 sums and its largest-magnitude
    // value encodes as -127 exactly.
    std::vector<block_q8_1> b1(x.size() / QK8_1);
    quantize_row_q8_1(x.data(), b1.data(), static_cast<int64_t>(x.size()));
    for (const block_q8_1& b : b1) {
        int sum = 0;
        for (int8_t q : b.qs) sum += q;
        // s comes from the unrounded scale, so allow the fp16 rounding of d and of s.
        const double want = sum * static_cast<double>(fp16_to_f32(b.d));
        CHECK(std::fabs(fp16_to_f32(b.s) - want) <= std::fabs(want) * 2e-3 + 1e-6);
    }
    std::vector<block_q8_K> bk(x.size() / QK_K);
    quantize_row_q8_K(x.data(), bk.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < bk.size(); ++i) {
        int k_max = 0;
        for (int j = 0; j < QK_K; ++j)
            if (std::fabs(x[i * QK_K + j]) > std::fabs(x[i * QK_K + k_max])) k_max = j;
        CHECK(bk[i].qs[k_max] == -127);
        CHECK(bk[i].d == 1 / (-127.f / x[i * QK_K + k_max]));  // the reciprocal of ggml's iscale
        for (int g = 0; g < QK_K / 16; ++g) {
            int sum = 0;
            for (int j = 0; j < 16; ++j) sum += bk[i].qs[g * 16 + j];
            CHECK(bk[i].bsums[g] == sum);
        }
    }
}

TEST_CASE("all-zero rows encode to zeros") {
    const std::vector<float> zeros(512, 0.0f);
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q8_1,
                       GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_K,
                       GgmlType::IQ4_NL, GgmlType::IQ4_XS, GgmlType::F16, GgmlType::BF16}) {
        const std::string type_name = name_of(t);
        CAPTURE(type_name);
        std::vector<uint8_t> q(row_size(t, 512));
        std::vector<float> back(512, 1.0f);
        quantize_row(t, zeros.data(), q.data(), 512);
        dequantize_row(t, q.data(), back.data(), 512);
        for (float v : back) REQUIRE(v == 0.0f);
    }
}

TEST_CASE("quantize_row rejects what it cannot encode") {
    std::vector<float> x(256, 1.0f);
    std::vector<uint8_t> q(1024);
    CHECK_THROWS_AS(quantize_row(GgmlType::IQ2_XXS, x.data(), q.data(), 256), Error);
    CHECK_THROWS_AS(quantize_row(GgmlType::Q4_K, x.data(), q.data(), 32), Error);
}

}  // TEST_SUITE
