// Many sequences in one context: interleaved batches against single-sequence runs, copied
// prefixes against recomputation, removals with and without shifting, and the batch checks.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>

#include "engine/context.h"
#include "engine/kv_edit.h"
#include "engine/model.h"
#include "decoder_test_util.h"
#include "test_data.h"
#include "test_decoder_conformance.h"
#include "util/error.h"

using namespace llamas;

namespace {

using test::conformance_params;
using test::max_abs_diff;
using test::model_path;
using test::range_of;

// As in "a prompt in one batch and token by token give the same logits": 8-bit activation
// blocks can move a result by one block step when the summation order changes.
double tolerance(const std::string& stem) { return stem.find("-Q") != std::string::npos ? 1e-2 : 1e-4; }

int32_t argmax(const float* l, int64_t n) { return static_cast<int32_t>(std::max_element(l, l + n) - l); }

}  // namespace

TEST_SUITE("decoder") {

TEST_CASE("sequences interleaved in one batch give each sequence's own logits, prompt and steps") {
    for (const std::string stem : {"llama-F16", "gemma3-F16", "qwen2-Q8_0", "llama-Q4_K_M"}) {
        CAPTURE(stem);
        const double tol = tolerance(stem);
        const auto ref = test::read_records(test::data_path("reference/outputs"), stem);
        REQUIRE(ref.size() >= 4);
        auto model = Model::load(model_path(stem));
        const int64_t n_vocab = model->hparams().n_vocab;
        constexpr int kSeqs = 4, kSteps = 6;

        // Each prompt alone: logits of every position, then greedy steps.
        std::vector<std::vector<float>> alone(kSeqs);
        std::vector<std::vector<int32_t>> alone_greedy(kSeqs);
        for (int s = 0; s < kSeqs; ++s) {
            const auto& t = ref[static_cast<size_t>(s)].tokens;
            Context ctx(*model, conformance_params(256, 1));
            const float* l = ctx.decode(t.data(), static_cast<int64_t>(t.size()), 0, true);
            alone[s].assign(l, l + static_cast<int64_t>(t.size()) * n_vocab);
            int32_t next = argmax(l + (static_cast<int64_t>(t.size()) - 1) * n_vocab, n_vocab);
            for (int k = 0; k < kSteps; ++k) {
                alone_greedy[s].push_back(next);
                next = argmax(ctx.decode(&next, 1, static_cast<int64_t>(t.size()) + k), n_vocab);
            }
        }

        // All four, round-robin interleaved in one batch (positions and sequence ids given).
        std::vector<int32_t> tokens, pos, seq, index_in_prompt;
        size_t longest = 0;
        for (int s = 0; s < kSeqs; ++s) longest = std::max(longest, ref[static_cast<size_t>(s)].tokens.size());
        for (size_t i = 0; i < longest; ++i)
            for (int s = 0; s < kSeqs; ++s)
                if (i < ref[static_cast<size_t>(s)].tokens.size()) {
                    tokens.push_back(ref[static_cast<size_t>(s)].tokens[i]);
                    pos.push_back(static_cast<int32_t>(i));
                    seq.push_back(s);
                    index_in_prompt.push_back(static_cast<int32_t>(i));
                }
        const std::vector<int8_t> want(tokens.size(), 1);
        Context multi(*model, conformance_params(512, kSeqs));
        Batch b;
        b.tokens = tokens.data();
        b.pos = pos.data();
        b.seq = seq.data();
        b.want = want.data();
        b.n = static_cast<int64_t>(tokens.size());
        multi.decode_batch(b);
        double worst = 0;
        for (size_t i = 0; i < tokens.size(); ++i) {
            const float* got = multi.output(static_cast<int64_t>(i));
            REQUIRE(got);
            const float* exp = alone[seq[i]].data() + static_cast<int64_t>(index_in_prompt[i]) * n_vocab;
            const double err = max_abs_diff(got, exp, n_vocab) / range_of(exp, n_vocab);
            worst = std::max(worst, err);
            CHECK_MESSAGE(err <= tol, "sequence " << seq[i] << " token " << index_in_prompt[i] << ": " << err);
        }
        MESSAGE(stem << ": " << tokens.size() << " interleaved tokens, worst difference " << worst << " of the range");

        // Then greedy steps of all four in one batch per step (positions implied, logits of the
        // last token of each sequence by default).
        std::vector<int32_t> next(kSeqs);
        for (int s = 0; s < kSeqs; ++s) {
            const int64_t last = static_cast<int64_t>(ref[static_cast<size_t>(s)].tokens.size()) - 1;
            next[s] = argmax(alone[s].data() + last * n_vocab, n_vocab);
        }
        std::vector<int32_t> ids(kSeqs);
        for (int s = 0; s < kSeqs; ++s) ids[s] = s;
        for (int k = 0; k < kSteps; ++k) {
            for (int s = 0; s < kSeqs; ++s) CHECK(next[s] == alone_greedy[s][k]);
            Batch step;
            step.tokens = next.data();
            step.seq = ids.data();
            step.n = kSeqs;
            multi.decode_batch(step);
            for (int s = 0; s < kSeqs; ++s) {
                REQUIRE(multi.output(s));
                next[s] = argmax(multi.output(s), n_vocab);
            }
        }
        for (int s = 0; s < kSeqs; ++s)
            CHECK(multi.kv_cache().n_rows(s) == static_cast<int64_t>(ref[static_cast<size_t>(s)].tokens.size()) + kSteps);
    }
}

TEST_CASE("a copied prefix continues exactly as recomputing it") {
    for (const std::string stem : {"llama-Q4_K_M", "gemma3-F16"}) {
        CAPTURE(stem);
        const auto ref = test::read_records(test::data_path("reference/outputs"), stem);
        auto model = Model::load(model_path(stem));
        const int64_t n_vocab = model->hparams().n_vocab;
        const std::vector<int32_t>& a = ref[3].tokens;
        const int64_t shared = 20;
        // Sequence 1 gets the first `shared` tokens of sequence 0 by copy, then its own tail.
        std::vector<int32_t> tail = {ref[1].tokens.begin() + 1, ref[1].tokens.end()};
        Context ctx(*model, conformance_params(256, 3));
        ctx.decode(a.data(), static_cast<int64_t>(a.size()), 0);
        kv_copy(ctx, 0, 1, shared);
        CHECK(ctx.kv_cache().n_rows(1) == shared);
        CHECK(ctx.kv_cache().pos_max(1) == shared - 1);
        std::vector<int32_t> seq1(tail.size(), 1);
        Batch b;
        b.tokens = tail.data();
        b.seq = seq1.data();
        b.n = static_cast<int64_t>(tail.size());
        ctx.decode_batch(b);
        const std::vector<float> copied(ctx.last_output(), ctx.last_output() + n_vocab);

        std::vector<int32_t> full(a.begin(), a.begin() + shared);
        full.insert(full.end(), tail.begin(), tail.end());
        Context fresh(*model, conformance_params(256, 1));
        const float* l = fresh.decode(full.data(), static_cast<int64_t>(full.size()), 0);
        CHECK(max_abs_diff(copied.data(), l, n_vocab) <= 1e-5 * range_of(l, n_vocab));
        // Sequence 0 is untouched by the copy and the decode into sequence 1.
        CHECK(ctx.kv_cache().n_rows(0) == static_cast<int64_t>(a.size()));
        kv_keep(ctx, 1);
        CHECK(ctx.kv_cache().n_rows(0) == 0);
        CHECK(ctx.kv_cache().n_rows(1) == static_cast<int64_t>(full.size()));
    }
}

TEST_CASE("removing without shifting keeps rows and positions; shifting then closes the gap") {
    // (Dropped tokens still shaped the later tokens' cached values in the upper layers, so no
    // recomputation equals an edited cache: the checks are on the rows themselves.)
    const std::string stem = "llama-F16";
    const auto ref = test::read_records(test::data_path("reference/outputs"), stem);
    auto model = Model::load(model_path(stem));
    const int64_t n_vocab = model->hparams().n_vocab;
    const std::vector<int32_t>& t = ref[3].tokens;
    const int64_t n = static_cast<int64_t>(t.size());
    Context edited(*model, conformance_params(256, 1));
    edited.decode(t.data(), n, 0);
    const KvCache& kv = edited.kv_cache();
    const int64_t layer = model->hparams().n_layer - 1;
    const std::vector<uint8_t> k_before(kv.k_row(layer, 0, 7), kv.k_row(layer, 0, n));
    kv_remove(edited, 0, 2, 7, /*shift=*/false);
    CHECK(kv.n_rows(0) == n - 5);
    CHECK(kv.pos(0, 1) == 1);
    CHECK(kv.pos(0, 2) == 7);
    CHECK(kv.pos_max(0) == n - 1);
    CHECK(!kv.contiguous(0));
    CHECK(std::equal(k_before.begin(), k_before.end(), kv.k_row(layer, 0, 2)));  // moved, not rotated
    CHECK(edited.kv_cache().next_pos(0) == n);

    // Shifting positions 7.. down by 5 gives the cache that removing with shift gives.
    kv_shift(edited, 0, 7, -1, -5);
    CHECK(kv.contiguous(0));
    CHECK(kv.pos_max(0) == n - 6);
    Context shifted(*model, conformance_params(256, 1));
    shifted.decode(t.data(), n, 0);
    kv_remove(shifted, 0, 2, 7, /*shift=*/true);
    const int64_t row_floats = kv.row_elems();
    for (int64_t r = 0; r < n - 5; ++r) {
        const float* a = reinterpret_cast<const float*>(kv.k_row(layer, 0, r));
        const float* b = reinterpret_cast<const float*>(shifted.kv_cache().k_row(layer, 0, r));
        CHECK(max_abs_diff(a, b, row_floats) <= 1e-5);
    }
    const int32_t next = 42;
    const std::vector<float> e(edited.decode(&next, 1, n - 5), edited.decode(&next, 1, n - 5) + n_vocab);
    const float* l = shifted.decode(&next, 1, n - 5);
    CHECK(max_abs_diff(e.data(), l, n_vocab) <= 1e-4 * range_of(l, n_vocab));

    // A token at an explicit position after a gap lands there.
    const int32_t far = static_cast<int32_t>(n + 10);
    Batch b;
    b.tokens = &next;
    b.pos = &far;
    b.n = 1;
    edited.decode_batch(b);
    CHECK(kv.pos_max(0) == far);
    CHECK(kv.n_rows(0) == n - 5 + 2);  // the rows up to n - 6, `next` at n - 5, then `far`
}

TEST_CASE("batch and sequence edits check their arguments before changing anything") {
    auto model = Model::load(model_path("gemma3-F16"));  // has sliding-window layers
    Context ctx(*model, conformance_params(32, 2));
    const int32_t toks[4] = {1, 5, 6, 7};
    ctx.decode(toks, 4, 0);
    auto status_of = [](auto&& f) {
        try {
            f();
        } catch (const Error& e) {
            return e.status();
        }
        return Status::ok;
    };
    int32_t bad_seq[2] = {0, 2};
    Batch b;
    b.tokens = toks;
    b.seq = bad_seq;
    b.n = 2;
    CHECK(status_of([&] { ctx.decode_batch(b); }) == Status::invalid_argument);
    int32_t backwards[2] = {5, 4};
    b.seq = nullptr;
    b.pos = backwards;
    CHECK(status_of([&] { ctx.decode_batch(b); }) == Status::invalid_argument);
    int32_t gap[2] = {6, 7};  // position 4 and 5 missing: a sliding-window model refuses
    b.pos = gap;
    CHECK(status_of([&] { ctx.decode_batch(b); }) == Status::invalid_argument);
    CHECK(status_of([&] { kv_remove(ctx, 0, 1, 2, false); }) == Status::unsupported);
    CHECK(status_of([&] { kv_shift(ctx, 0, 2, -1, 3); }) == Status::unsupported);
    CHECK(status_of([&] { kv_shift(ctx, 0, 2, 3, -2); }) == Status::invalid_argument);  // out of order
    CHECK(status_of([&] { kv_copy(ctx, 0, 5, -1); }) == Status::invalid_argument);
    std::vector<int32_t> many(30, 9);
    std::vector<int32_t> on1(30, 1);
    b.pos = nullptr;
    b.tokens = many.data();
    b.seq = on1.data();
    b.n = 30;
    kv_copy(ctx, 0, 1, -1);  // 4 + 30 > 32
    CHECK(status_of([&] { ctx.decode_batch(b); }) == Status::context_full);
    // Nothing changed by the refusals.
    CHECK(ctx.kv_cache().n_rows(0) == 4);
    CHECK(ctx.kv_cache().n_rows(1) == 4);
    CHECK(ctx.kv_cache().contiguous(0));
    kv_remove(ctx, 0, 1, 3, true);  // with shift a sliding-window model is fine
    CHECK(ctx.kv_cache().n_rows(0) == 2);
    CHECK(ctx.kv_cache().pos_max(0) == 1);
}

}  // TEST_SUITE
