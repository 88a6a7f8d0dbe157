// Removing a range of the KV cache re-rotates the keys that move. In layer 0 a key depends only
// on its token and position, so after the shift each moved layer-0 key must equal the key a
// fresh context computes for the same token at the new position; values must be unchanged.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "engine/context.h"
#include "engine/kv_edit.h"
#include "engine/model.h"
#include "test_data.h"

using namespace llamas;

namespace {

float max_abs_diff(const float* a, const float* b, int64_t n, float* scale) {
    float worst = 0, big = 0;
    for (int64_t i = 0; i < n; ++i) {
        worst = std::max(worst, std::fabs(a[i] - b[i]));
        big = std::max(big, std::fabs(b[i]));
    }
    *scale = big;
    return worst;
}

void check_shift(const char* model_file) {
    INFO(model_file);
    auto model = Model::load(test::data_path(std::string("models/") + model_file));
    ContextParams p;
    p.n_ctx = 64;
    p.n_threads = 2;
    p.kv_type = GgmlType::F32;
    Context shifted(*model, p), fresh(*model, p);

    std::vector<int32_t> tokens;
    for (int i = 0; i < 20; ++i) tokens.push_back(10 + 37 * i % 1500);
    shifted.decode(tokens.data(), 20, 0);
    kv_remove(shifted, 0, 2, 7, true);
    REQUIRE(shifted.kv_cache().n_past() == 15);

    std::vector<int32_t> kept(tokens.begin(), tokens.begin() + 2);
    kept.insert(kept.end(), tokens.begin() + 7, tokens.end());
    fresh.decode(kept.data(), static_cast<int64_t>(kept.size()), 0);

    const KvCache& a = shifted.kv_cache();
    const KvCache& b = fresh.kv_cache();
    for (int64_t pos = 0; pos < 15; ++pos) {
        CAPTURE(pos);
        float scale = 0;
        const float* ka = reinterpret_cast<const float*>(a.k_row(0, 0, pos));
        const float* kb = reinterpret_cast<const float*>(b.k_row(0, 0, pos));
        const float dk = max_abs_diff(ka, kb, a.row_elems(), &scale);
        CHECK(dk <= 1e-4f * std::max(1.0f, scale));
        const float* va = reinterpret_cast<const float*>(a.v_row(0, 0, pos));
        const float* vb = reinterpret_cast<const float*>(b.v_row(0, 0, pos));
        CHECK(max_abs_diff(va, vb, a.row_elems(), &scale) == 0.0f);
    }
}

}  // namespace

TEST_SUITE("decoder") {

TEST_CASE("removing a KV range re-rotates the moved keys (normal RoPE)") { check_shift("kjv-tiny-Q8_0.gguf"); }
TEST_CASE("removing a KV range re-rotates the moved keys (NeoX RoPE)") { check_shift("qwen2-Q8_0.gguf"); }
TEST_CASE("removing a KV range re-rotates the moved keys (sliding-window layers, own base)") {
    check_shift("gemma3-Q8_0.gguf");
}

}  // TEST_SUITE
