// Decoder inference: conformance with the reference outputs, batch vs token-by-token
// equivalence, KV cache operations and load errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include "alloc_watch.h"
#include "decoder_test_util.h"
#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "harness/prompt_run.h"
#include "kernels.h"
#include "test_data.h"
#include "test_decoder_conformance.h"
#include "util/error.h"

using namespace llamas;

namespace {

using llamas::test::under_sanitizer;

using test::conformance_params;
using test::max_abs_diff;
using test::model_path;
using test::range_of;

std::vector<test::PromptRecord> reference(const std::string& stem) {
    auto ref = test::read_records(test::data_path("reference/outputs"), stem);
    REQUIRE_MESSAGE(!ref.empty(), "missing reference outputs for " << stem);
    return ref;
}

}  // namespace

TEST_SUITE("decoder") {

// The decoder alone, fed the reference's token ids, on one file per architecture (every file
// goes through llamas-dump, tokenizer included, in test_decoder_dump.cpp).
TEST_CASE("forward pass matches the reference outputs given the reference tokens") {
    std::vector<std::string> stems = {"llama-F32", "llama-Q5_1", "qwen2-Q8_0", "qwen3-Q4_K_M", "gemma2-F16",
                                      "gemma3-Q4_K_M", "phi3-Q4_K_M", "kjv-tiny-Q4_K_M"};
    if (under_sanitizer()) stems = {"llama-F32", "gemma3-Q4_K_M", "phi3-Q4_K_M"};
    // LLAMAS_TEST_DECODER_STEMS=a,b picks the files (scripts/test-aarch64.sh: emulated runs are slow).
    if (const char* only = std::getenv("LLAMAS_TEST_DECODER_STEMS"); only && *only) {
        stems.clear();
        std::string list = only;
        for (size_t at = 0; at <= list.size();) {
            const size_t comma = std::min(list.find(',', at), list.size());
            if (comma > at) stems.push_back(list.substr(at, comma - at));
            at = comma + 1;
        }
    }
    // LLAMAS_TEST_DECODER_PROMPTS=n checks only each file's first n reference prompts (the same).
    const char* n_prompts = std::getenv("LLAMAS_TEST_DECODER_PROMPTS");
    for (const std::string& stem : stems) {
        CAPTURE(stem);
        auto ref = reference(stem);
        if (n_prompts && *n_prompts) ref.resize(std::min(ref.size(), static_cast<size_t>(std::atoi(n_prompts))));
        auto model = Model::load(model_path(stem));
        Context ctx(*model, conformance_params());
        std::vector<test::PromptRecord> ours;
        for (const auto& r : ref) {
            PromptRun run = run_prompt(ctx, r.tokens, static_cast<int>(r.greedy.size()));
            test::PromptRecord o;
            o.tokens = r.tokens;
            o.top = std::move(run.top);
            o.last_logits = std::move(run.last_logits);
            o.greedy = std::move(run.greedy);
            ours.push_back(std::move(o));
        }
        MESSAGE(test::check_against_reference(stem, ref, ours, false));
    }
}

// One batch and one token at a time must give the same logits (up to float rounding), on a
// prompt longer than gemma3's sliding window. With 8-bit activation blocks, a last-bit difference
// in summation order (tiled vs single-row products) can flip one rounding and move the result by
// a block's step, so quantized files get a looser bound.
TEST_CASE("a prompt in one batch and token by token give the same logits") {
    for (const std::string stem : {"llama-F16", "gemma3-F16", "phi3-F16", "gemma2-F16", "llama-Q4_K_M", "qwen2-Q8_0"}) {
        CAPTURE(stem);
        const double tol = stem.find("-Q") != std::string::npos ? 1e-2 : 1e-4;
        const auto ref = reference(stem);
        const std::vector<int32_t>& tokens = ref[3].tokens;  // 57 tokens
        const int64_t n = static_cast<int64_t>(tokens.size());
        auto model = Model::load(model_path(stem));
        const int64_t n_vocab = model->hparams().n_vocab;
        Context batch(*model, conformance_params());
        const std::vector<float> all(batch.decode(tokens.data(), n, 0, true),
                                     batch.decode(tokens.data(), n, 0, true) + n * n_vocab);
        Context step(*model, conformance_params());
        for (int64_t i = 0; i < n; ++i) {
            const float* l = step.decode(&tokens[static_cast<size_t>(i)], 1, i);
            const float* b = all.data() + i * n_vocab;
            const double err = max_abs_diff(l, b, n_vocab);
            CHECK_MESSAGE(err <= tol * range_of(b, n_vocab), "token " << i << ": max difference " << err);
        }
        // Uneven chunks (n_batch 5) give the same last logits too.
        ContextParams cp = conformance_params();
        cp.n_batch = 5;
        cp.logits_all = false;
        Context chunked(*model, cp);
        const float* l = chunked.decode(tokens.data(), n, 0);
        CHECK(max_abs_diff(l, all.data() + (n - 1) * n_vocab, n_vocab) <= tol * range_of(l, n_vocab));
    }
}

TEST_CASE("F16 and Q8_0 KV caches stay close to the F32 cache") {
    const auto ref = reference("llama-F16");
    auto model = Model::load(model_path("llama-F16"));
    const int64_t n_vocab = model->hparams().n_vocab;
    const std::vector<int32_t>& tokens = ref[4].tokens;
    for (GgmlType t : {GgmlType::F16, GgmlType::Q8_0}) {
        ContextParams cp = conformance_params();
        cp.kv_type = t;
        Context ctx(*model, cp);
        const float* l = ctx.decode(tokens.data(), static_cast<int64_t>(tokens.size()), 0);
        const std::vector<float>& r = ref[4].last_logits;
        const double err = max_abs_diff(l, r.data(), n_vocab);
        CHECK_MESSAGE(err <= (t == GgmlType::F16 ? 0.01 : 0.03) * range_of(r.data(), n_vocab), "KV " << type_info(t).name << ": " << err);
        CHECK(argmax(l, n_vocab) == ref[4].greedy[0]);
    }
}

TEST_CASE("KV cache: remove tokens from a position, clear, and continue") {
    const auto ref = reference("qwen2-Q8_0");
    auto model = Model::load(model_path("qwen2-Q8_0"));
    const int64_t n_vocab = model->hparams().n_vocab;
    const std::vector<int32_t>& a = ref[1].tokens;
    const std::vector<int32_t>& b = ref[0].tokens;
    ContextParams cp = conformance_params();
    cp.logits_all = false;
    Context ctx(*model, cp);
    ctx.decode(b.data(), static_cast<int64_t>(b.size()), 0);
    CHECK(ctx.kv_cache().n_past() == static_cast<int64_t>(b.size()));
    // Keep the first token (shared BOS or not), replace the rest with prompt a's tail.
    ctx.kv_cache().truncate(0, 1);
    CHECK(ctx.kv_cache().n_past() == 1);
    std::vector<int32_t> mixed = {b[0]};
    mixed.insert(mixed.end(), a.begin() + 1, a.end());
    const float* l = ctx.decode(mixed.data() + 1, static_cast<int64_t>(mixed.size()) - 1, 1);
    const std::vector<float> resumed(l, l + n_vocab);
    ctx.kv_cache().clear();
    const float* fresh = ctx.decode(mixed.data(), static_cast<int64_t>(mixed.size()), 0);
    CHECK(max_abs_diff(resumed.data(), fresh, n_vocab) <= 1e-2 * range_of(fresh, n_vocab));
    if (a[0] == b[0]) CHECK(max_abs_diff(fresh, ref[1].last_logits.data(), n_vocab) <= 0.03 * range_of(fresh, n_vocab));
    // decode at an earlier position drops what follows it.
    ctx.decode(mixed.data(), 2, 0);
    CHECK(ctx.kv_cache().n_past() == 2);
}

TEST_CASE("decode rejects bad input with clear errors") {
    auto model = Model::load(model_path("llama-Q8_0"));
    ContextParams cp;
    cp.n_ctx = 8;
    Context ctx(*model, cp);
    const int32_t bad[] = {1, 5000};
    CHECK_THROWS_WITH_AS(ctx.decode(bad, 2, 0), doctest::Contains("outside the vocabulary"), Error);
    std::vector<int32_t> many(9, 1);
    try {
        ctx.decode(many.data(), 9, 0);
        FAIL("expected context_full");
    } catch (const Error& e) {
        CHECK(e.status() == Status::context_full);
    }
    const int32_t one = 1;
    CHECK_THROWS_AS(ctx.decode(&one, 1, 3), Error);  // gap after position 0
    CHECK_THROWS_AS(ctx.decode(&one, 1, 0, true), Error);  // all logits not enabled
}

TEST_CASE("unknown architectures are refused by name") {
    try {
        // (bert and gemma-embedding are embedding models llamas runs; a GPT-2 vocab file is not.)
        Model::load(llamas::test::data_path("vocab/ggml-vocab-gpt-2.gguf"));
        FAIL("expected an error");
    } catch (const Error& e) {
        CHECK(e.status() == Status::unsupported);
        CHECK(std::string(e.what()).find("'gpt2'") != std::string::npos);
    }
}

// A copy of a model file with one tensor left out or replaced by a mis-shaped one.
std::vector<uint8_t> altered_model(const std::string& stem, const std::string& drop, const std::string& reshape) {
    auto src = gguf::File::open(model_path(stem));
    gguf::Writer w;
    w.copy_metadata(*src);
    for (const gguf::TensorInfo& t : src->tensors()) {
        if (t.name == drop) continue;
        if (t.name == reshape) {
            const int64_t ne[2] = {t.ne[0], t.ne[1] / 2};
            w.add_tensor_ref(t.name, t.type, 2, ne, t.data, t.n_bytes / 2);
        } else {
            w.add_tensor_ref(t.name, t.type, t.n_dims, t.ne, t.data, t.n_bytes);
        }
    }
    return w.to_bytes();
}

TEST_CASE("a missing or mis-shaped tensor is an error naming it") {
    {
        const auto bytes = altered_model("qwen3-Q4_K_M", "blk.1.attn_k_norm.weight", "");
        try {
            Model m(gguf::File::from_memory(bytes.data(), bytes.size()));
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.status() == Status::bad_format);
            CHECK(std::string(e.what()).find("'blk.1.attn_k_norm.weight' is missing") != std::string::npos);
        }
    }
    {
        const auto bytes = altered_model("phi3-F16", "", "blk.0.ffn_up.weight");
        try {
            Model m(gguf::File::from_memory(bytes.data(), bytes.size()));
            FAIL("expected an error");
        } catch (const Error& e) {
            CHECK(e.status() == Status::bad_format);
            CHECK(std::string(e.what()).find("'blk.0.ffn_up.weight' has shape [256, 768") != std::string::npos);
        }
    }
}

TEST_CASE("a block_count beyond the file's tensors is refused before allocating for it") {
    auto src = gguf::File::open(model_path("llama-Q8_0"));
    gguf::Writer w;
    w.copy_metadata(*src);
    w.set_u32("llama.block_count", 2000000000u);
    for (const gguf::TensorInfo& t : src->tensors()) w.add_tensor_ref(t.name, t.type, t.n_dims, t.ne, t.data, t.n_bytes);
    const auto bytes = w.to_bytes();
    CHECK_THROWS_WITH_AS(Model(gguf::File::from_memory(bytes.data(), bytes.size())), doctest::Contains("block_count"), Error);
}

// The C API lets a caller switch paths while contexts exist, and the tables prepare activation
// rows of different sizes (AVX2's Q8_0 rows carry int16 values too): a context's scratch holds
// the largest, so a context made under one path decodes under any other as a new one does.
TEST_CASE("a context made under one kernel path decodes under every other") {
    const std::string best = kernels().name;
    std::vector<const char*> paths;
    for (const char* p : runnable_kernel_paths()) {
        if (!kernel_path_emulated(p)) paths.push_back(p);
    }
    const int32_t prompt[] = {1, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000};
    const int64_t n = 11;
    for (const std::string stem : {"llama-Q8_0", "llama-F16", "llama-Q4_K_M"}) {
        auto model = Model::load(model_path(stem));
        const int64_t n_vocab = model->hparams().n_vocab;
        for (const char* made : paths) {
            use_kernels(made);
            Context old_ctx(*model, conformance_params(64));
            for (const char* now : paths) {
                CAPTURE(stem);
                CAPTURE(made);
                CAPTURE(now);
                use_kernels(now);
                Context fresh(*model, conformance_params(64));
                const float* want = fresh.decode(prompt, n, 0, true);
                const float* got = old_ctx.decode(prompt, n, 0, true);
                CHECK(max_abs_diff(got, want, n * n_vocab) == 0.0);
            }
        }
    }
    use_kernels(best.c_str());
}

TEST_CASE("decoding allocates nothing") {
    auto model = Model::load(model_path("gemma3-Q4_K_M"));
    ContextParams cp;
    cp.n_ctx = 64;
    cp.n_threads = 2;
    Context ctx(*model, cp);
    const int32_t prompt[] = {2, 100, 200, 300, 400, 500, 600, 700, 800, 900};
    ctx.decode(prompt, 10, 0);  // first use builds lazy tables (GELU)
    test::AllocWatch watch;
    int32_t next = 5;
    for (int i = 0; i < 20; ++i) next = argmax(ctx.decode(&next, 1, 10 + i), ctx.n_vocab());
    ctx.decode(prompt, 10, 30);
    CHECK(watch.count() == 0);
}

TEST_CASE("loading maps the weights without copying them") {
    auto model = Model::load(model_path("llama-Q4_K_M"));
    const gguf::File& f = model->file();
    const auto& L = model->layers()[0];
    CHECK(L.wq.data == f.find_tensor("blk.0.attn_q.weight")->data);
    CHECK(L.wq.type == GgmlType::Q4_K);
    CHECK(model->output().type == GgmlType::Q6_K);
    CHECK_FALSE(model->tied_output());
    auto qwen = Model::load(model_path("qwen2-F16"));
    CHECK(qwen->tied_output());
    CHECK(qwen->output().data == qwen->token_embd().data);
}

}  // TEST_SUITE
