// Activation encoders of every path on the values random data never hits: fp16/bf16 specials
// (NaN, infinities, overflow, half subnormals and the rounding boundaries around them), Q8
// rounding ties, and Q8_K's scale sign when the largest magnitude occurs with both signs. Each
// must equal the scalar encoder byte for byte. (The NEON table runs here through simde.)
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kernels.h"
#include "quant/fp16.h"
#include "quant/types.h"

using namespace llamas;

namespace {

// 256 values (one Q8_K block, eight Q8_0 blocks) full of edge cases for the float encoders.
std::vector<float> special_floats() {
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<float> v = {
        0.0f, -0.0f, inf, -inf, std::nanf(""), -std::nanf(""), f32_from_bits(0x7fc01234u), f32_from_bits(0x7f800001u),
        65504.0f, 65519.99f, 65520.0f, 70000.0f, -65520.0f, 1e38f, -3.4e38f, 5.9604645e-08f,
        2.9802322e-08f, 2.9802326e-08f, 8.9406967e-08f, 6.0975552e-05f, 6.1035156e-05f, 6.1000e-05f, -1e-6f, 1e-45f,
        1.0f + 1.0f / 2048.0f, 1.0f + 3.0f / 2048.0f, 1.00390625f, 1.01171875f, f32_from_bits(0x3f808000u),
        f32_from_bits(0x3f818000u), f32_from_bits(0x3f817fffu), f32_from_bits(0x7f7fffffu)};
    std::mt19937 rng(3);
    std::uniform_int_distribution<uint32_t> bits;
    while (v.size() < 256) v.push_back(f32_from_bits(bits(rng)));  // every exponent, NaNs included
    return v;
}

}  // namespace

TEST_SUITE("kernels") {

TEST_CASE("F16 and BF16 activation encoders of every path keep the scalar bits on special values") {
    const std::vector<float> x = special_floats();
    const int64_t n = static_cast<int64_t>(x.size());
    const Kernels& ref = scalar_kernels();
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        for (GgmlType t : {GgmlType::F16, GgmlType::BF16}) {
            INFO(std::string(path), " ", std::string(type_info(t).name));
            std::vector<uint16_t> want(x.size()), got(x.size(), 0xAAAA);
            ref.of(t).quantize_activations(x.data(), want.data(), n);
            k.of(t).quantize_activations(x.data(), got.data(), n);
            int bad = 0;
            for (size_t i = 0; i < x.size(); ++i) {
                if (got[i] != want[i] && bad++ < 4) {
                    INFO("value bits ", f32_bits(x[i]), " want ", want[i], " got ", got[i]);
                    CHECK(got[i] == want[i]);
                }
            }
            CHECK(bad == 0);
            // A ragged length takes the scalar tail.
            std::vector<uint16_t> tail(7, 0xAAAA), tail_want(7);
            ref.of(t).quantize_activations(x.data() + 8, tail_want.data(), 7);
            k.of(t).quantize_activations(x.data() + 8, tail.data(), 7);
            CHECK(tail == tail_want);
        }
    }
}

TEST_CASE("Q8 activation encoders of every path: ties and the sign of Q8_K's scale") {
    std::vector<float> x(512);
    std::mt19937 rng(5);
    std::normal_distribution<float> dist(0.0f, 1.0f);
    for (auto& v : x) v = dist(rng);
    // Block 0: scale exactly 1, values on every k + 0.5 tie, both signs.
    for (int j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = (j % 2 ? -1.0f : 1.0f) * (static_cast<float>(j % 16) + 0.5f);
    // Super-block 0's largest magnitude appears negative first, then positive.
    x[3] = -127.0f;
    x[5] = 127.0f;
    // Super-block 1: positive first, then negative, and exact multiples of the step (ties
    // after scaling).
    x[300] = 12.7f;
    x[301] = -12.7f;
    for (int j = 0; j < 16; ++j) x[static_cast<size_t>(320 + j)] = 0.05f * static_cast<float>(j) - 0.35f;
    const Kernels& ref = scalar_kernels();
    for (const char* path : runnable_kernel_paths()) {
        const Kernels& k = select_kernels(path);
        for (GgmlType wt : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q6_K}) {
            const GgmlType at = ref.of(wt).vec_dot_type;
            INFO(std::string(path), " ", std::string(type_info(at).name));
            const size_t bytes = row_size(at, 512);
            std::vector<uint8_t> want(bytes), got(bytes, 0xAA);
            ref.of(wt).quantize_activations(x.data(), want.data(), 512);
            k.of(wt).quantize_activations(x.data(), got.data(), 512);
            CHECK(std::memcmp(got.data(), want.data(), bytes) == 0);
        }
    }
}

}  // TEST_SUITE
