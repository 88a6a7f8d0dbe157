// Block decoders against the reference runtime: every tensor of every model in
// ../shared/models dequantizes to the sum, sum of squares and sample values recorded in
// ../shared/reference/tensors/MODEL.json (tolerances from ../shared/README.md). Also the
// fp16/bf16 scalar and row conversions, and the block geometry.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <dirent.h>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/blocks.h"
#include "quant/dequantize.h"
#include "quant/fp16.h"
#include "quant/types.h"
#include "test_data.h"
#include "util/error.h"

using namespace llamas;

namespace {

std::vector<std::string> model_names() {
    std::vector<std::string> out;
    const std::string dir = test::data_path("models");
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.substr(n.size() - 5) == ".gguf") out.push_back(n.substr(0, n.size() - 5));
        }
        closedir(d);
    }
    std::sort(out.begin(), out.end());
    return out;
}

bool close_rel(double ours, double ref, double rel) { return std::fabs(ours - ref) <= rel * std::max(1.0, std::fabs(ref)); }

// Checks one model file against its reference JSON; returns the number of tensors checked.
int check_model(const std::string& name) {
    const std::string json_text = test::read_text(test::data_path("reference/tensors/" + name + ".json"));
    REQUIRE_MESSAGE(!json_text.empty(), "missing reference/tensors/" << name << ".json");
    const nlohmann::json ref = nlohmann::json::parse(json_text);
    auto f = gguf::File::open(test::data_path("models/" + name + ".gguf"));
    CHECK(f->tensors().size() == ref.size());
    int checked = 0;
    std::vector<float> values;
    for (const gguf::TensorInfo& t : f->tensors()) {
        INFO(name << " tensor " << t.name);
        REQUIRE(ref.contains(t.name));
        const nlohmann::json& r = ref[t.name];
        const GgmlType ref_type = [&] {
            GgmlType ty{};
            REQUIRE(type_from_name(r["type"].get<std::string>(), &ty));
            return ty;
        }();
        CHECK(t.type == ref_type);
        CHECK(t.n_elements == r["n"].get<uint64_t>());
        REQUIRE(can_dequantize(t.type));

        values.resize(t.n_elements);
        const int64_t n_rows = static_cast<int64_t>(t.n_elements / t.ne[0]);
        const size_t rb = row_size(t.type, t.ne[0]);
        double sum = 0, sumsq = 0;
        for (int64_t row = 0; row < n_rows; ++row) {
            float* out = values.data() + row * t.ne[0];
            dequantize_row(t.type, t.data + row * rb, out, t.ne[0]);
            for (int64_t i = 0; i < t.ne[0]; ++i) {
                sum += out[i];
                sumsq += static_cast<double>(out[i]) * out[i];
            }
        }
        CHECK_MESSAGE(close_rel(sum, r["sum"].get<double>(), 1e-5), "sum " << sum << " vs " << r["sum"].get<double>());
        CHECK_MESSAGE(close_rel(sumsq, r["sumsq"].get<double>(), 1e-5), "sumsq " << sumsq << " vs " << r["sumsq"].get<double>());
        const auto& at = r["at"];
        const auto& vals = r["values"];
        REQUIRE(at.size() == vals.size());
        for (size_t k = 0; k < at.size(); ++k) {
            const uint64_t idx = at[k].get<uint64_t>();
            REQUIRE(idx < values.size());
            const double want = vals[k].get<double>();
            CHECK_MESSAGE(close_rel(values[idx], want, 1e-6), "value at " << idx << ": " << values[idx] << " vs " << want);
        }
        ++checked;
    }
    return checked;
}

}  // namespace

TEST_SUITE("quant") {

TEST_CASE("block structs match the type table") {
    CHECK(sizeof(block_q4_0) == type_info(GgmlType::Q4_0).type_size);
    CHECK(sizeof(block_q4_1) == type_info(GgmlType::Q4_1).type_size);
    CHECK(sizeof(block_q5_0) == type_info(GgmlType::Q5_0).type_size);
    CHECK(sizeof(block_q5_1) == type_info(GgmlType::Q5_1).type_size);
    CHECK(sizeof(block_q8_0) == type_info(GgmlType::Q8_0).type_size);
    CHECK(sizeof(block_q8_1) == type_info(GgmlType::Q8_1).type_size);
    CHECK(sizeof(block_q2_K) == type_info(GgmlType::Q2_K).type_size);
    CHECK(sizeof(block_q3_K) == type_info(GgmlType::Q3_K).type_size);
    CHECK(sizeof(block_q4_K) == type_info(GgmlType::Q4_K).type_size);
    CHECK(sizeof(block_q5_K) == type_info(GgmlType::Q5_K).type_size);
    CHECK(sizeof(block_q6_K) == type_info(GgmlType::Q6_K).type_size);
    CHECK(sizeof(block_q8_K) == type_info(GgmlType::Q8_K).type_size);
    CHECK(sizeof(block_iq4_nl) == type_info(GgmlType::IQ4_NL).type_size);
    CHECK(sizeof(block_iq4_xs) == type_info(GgmlType::IQ4_XS).type_size);
    CHECK(type_info(GgmlType::Q4_K).block_size == QK_K);
    CHECK(type_info(GgmlType::IQ4_NL).block_size == QK4_NL);
}

TEST_CASE("fp16 scalar conversion is exact and rounds to nearest even") {
    // Every half value survives a round trip through f32 (NaNs stay NaN).
    for (uint32_t h = 0; h < 0x10000; ++h) {
        const float f = fp16_to_f32(static_cast<uint16_t>(h));
        if (std::isnan(f)) {
            CHECK(std::isnan(fp16_to_f32(f32_to_fp16(f))));
            continue;
        }
        REQUIRE(f32_to_fp16(f) == h);
    }
    CHECK(fp16_to_f32(0x3c00) == 1.0f);
    CHECK(fp16_to_f32(0xc000) == -2.0f);
    CHECK(fp16_to_f32(0x0001) == std::ldexp(1.0f, -24));
    CHECK(fp16_to_f32(0x7c00) == INFINITY);
    // Ties: 1 + 2^-11 lies halfway between 1 and the next half; even mantissa wins.
    CHECK(f32_to_fp16(1.0f + std::ldexp(1.0f, -11)) == 0x3c00);
    CHECK(f32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3c02);
    CHECK(f32_to_fp16(65504.0f) == 0x7bff);
    CHECK(f32_to_fp16(65520.0f) == 0x7c00);  // rounds up to inf
    CHECK(f32_to_fp16(1e10f) == 0x7c00);
    CHECK(f32_to_fp16(-1e10f) == 0xfc00);
    CHECK(f32_to_fp16(std::ldexp(1.0f, -25)) == 0x0000);          // tie at half the smallest subnormal -> 0
    CHECK(f32_to_fp16(std::ldexp(1.5f, -25)) == 0x0001);
    CHECK(f32_to_fp16(std::ldexp(3.0f, -25)) == 0x0002);          // 1.5 subnormal units, tie -> even (2)
    CHECK(f32_to_fp16(std::nanf("")) == 0x7e00);
    CHECK(f32_to_fp16(-0.0f) == 0x8000);
}

TEST_CASE("fp16 and bf16 row converters agree with the scalar ones") {
    std::mt19937 rng(7);
    std::vector<float> x(1003);
    std::uniform_real_distribution<float> u(-70000.f, 70000.f);
    for (size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 0 ? u(rng) : u(rng) * 1e-6f;
    x[5] = 0.0f;
    x[6] = -0.0f;
    x[7] = std::ldexp(1.0f, -20);
    std::vector<uint16_t> h(x.size()), b(x.size());
    std::vector<float> back(x.size());
    f32_to_fp16_row(x.data(), h.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(h[i] == f32_to_fp16(x[i]));
    fp16_to_f32_row(h.data(), back.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) REQUIRE(back[i] == fp16_to_f32(h[i]));
    f32_to_bf16_row(x.data(), b.data(), static_cast<int64_t>(x.size()));
    bf16_to_f32_row(b.data(), back.data(), static_cast<int64_t>(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        REQUIRE(b[i] == f32_to_bf16(x[i]));
        REQUIRE(std::fabs(back[i] - x[i]) <= std::fabs(x[i]) * (1.0f / 256));
    }
    MESSAGE("fp16 rows use F16C: " << fp16_rows_use_f16c());
}

TEST_CASE("bf16 rounding follows ggml") {
    CHECK(f32_to_bf16(1.0f) == 0x3f80);
    CHECK(f32_to_bf16(f32_from_bits(0x3f808000)) == 0x3f80);  // tie, even stays
    CHECK(f32_to_bf16(f32_from_bits(0x3f818000)) == 0x3f82);  // tie, odd rounds up
    CHECK(f32_to_bf16(f32_from_bits(0x3f808001)) == 0x3f81);
    CHECK(f32_to_bf16(f32_from_bits(0x7f800001)) == 0x7fc0);  // signalling NaN -> quiet
    CHECK(f32_to_bf16(f32_from_bits(0xffc12345)) == 0xffc1);
    CHECK(f32_to_bf16(f32_from_bits(0x7f7fffff)) == 0x7f80);  // max float rounds to inf
    CHECK(bf16_to_f32(0xc040) == -3.0f);
}

TEST_CASE("dequantize_row rejects what it cannot decode") {
    float out[256];
    const uint8_t zeros[512] = {};
    CHECK_THROWS_AS(dequantize_row(GgmlType::IQ2_XXS, zeros, out, 256), Error);
    CHECK_THROWS_AS(dequantize_row(GgmlType::Q4_0, zeros, out, 33), Error);
    CHECK_NOTHROW(dequantize_row(GgmlType::Q4_0, zeros, out, 64));
}

TEST_CASE("every model tensor dequantizes to the reference sums and values") {
    const std::vector<std::string> names = model_names();
    REQUIRE_MESSAGE(names.size() >= 20, "reference models not found under " << test::data_path("models"));
    int tensors = 0;
    for (const std::string& name : names) {
        CAPTURE(name);
        tensors += check_model(name);
    }
    MESSAGE("checked " << tensors << " tensors in " << names.size() << " files");
}

}  // TEST_SUITE
