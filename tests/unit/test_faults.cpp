// Hostile inputs and faults below the C API: models whose metadata lies (every hyperparameter
// set to zero, odd, huge or the wrong type), decode calls with out-of-range positions and
// counts, and tokenizer inputs built to be slow. Each must end in success or a llamas::Error —
// never a crash, a sanitizer report or a hang. (The C-level faults — allocation failure, files
// that cannot be mapped, cancellation, leaks — are in tests/api/test_faults.c; random inputs
// are the fuzz targets' job, tests/fuzz/.)
#include <doctest/doctest.h>

#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

using llamas::Status;
using llamas::gguf::File;
using llamas::gguf::Writer;

const File& kjv() {
    static const std::unique_ptr<File> f = File::open(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf"));
    return *f;
}

// kjv-tiny with its metadata edited by `edit`; the tensors are the original ones.
std::vector<uint8_t> edited_model(const std::function<void(Writer&)>& edit) {
    Writer w;
    w.copy_metadata(kjv());
    for (const auto& t : kjv().tensors()) w.add_tensor_ref(t.name, t.type, t.n_dims, t.ne, t.data, t.n_bytes);
    edit(w);
    return w.to_bytes();
}

struct Outcome {
    Status status = Status::ok;
    std::string message;
};

// Loads the bytes as a model and, when that works, evaluates three tokens in a tiny context.
Outcome load_and_run(const std::vector<uint8_t>& bytes) {
    try {
        llamas::Model model(File::from_memory(bytes.data(), bytes.size()));
        llamas::ContextParams p;
        p.n_ctx = 8;
        p.n_batch = 2;
        p.n_threads = 2;
        llamas::Context ctx(model, p);
        const int32_t n_vocab = static_cast<int32_t>(ctx.n_vocab());
        const int32_t ids[3] = {1 % n_vocab, n_vocab - 1, 0};
        const float* logits = ctx.decode(ids, 3, 0);
        volatile float sink = logits[0] + logits[n_vocab - 1];
        (void)sink;
        return {};
    } catch (const llamas::Error& e) {
        return {e.status(), e.what()};
    }
}

const char* status_name(Status s) {
    switch (s) {
        case Status::ok: return "ok";
        case Status::invalid_argument: return "invalid_argument";
        case Status::io: return "io";
        case Status::bad_format: return "bad_format";
        case Status::unsupported: return "unsupported";
        case Status::out_of_memory: return "out_of_memory";
        case Status::context_full: return "context_full";
        case Status::cancelled: return "cancelled";
        case Status::internal: return "internal";
        case Status::buffer_too_small: return "buffer_too_small";
        case Status::not_found: return "not_found";
    }
    return "?";
}

using llamas::test::under_sanitizer;

}  // namespace

TEST_SUITE("faults") {

TEST_CASE("models whose metadata lies load with an error or run; never crash") {
    REQUIRE(load_and_run(edited_model([](Writer&) {})).status == Status::ok);  // the unedited model runs

    struct Case {
        std::string what;
        std::function<void(Writer&)> edit;
    };
    std::vector<Case> cases;
    const uint32_t u32s[] = {0, 1, 2, 3, 5, 7, 63, 255, 1024, 65536, 1u << 31, UINT32_MAX};
    for (const char* key : {"llama.block_count", "llama.embedding_length", "llama.feed_forward_length",
                            "llama.attention.head_count", "llama.attention.head_count_kv", "llama.context_length",
                            "llama.rope.dimension_count", "llama.attention.key_length", "llama.attention.value_length",
                            "llama.attention.sliding_window", "tokenizer.ggml.bos_token_id",
                            "tokenizer.ggml.eos_token_id", "tokenizer.ggml.unknown_token_id",
                            "tokenizer.ggml.padding_token_id"}) {
        for (uint32_t v : u32s) cases.push_back({std::string(key) + " = " + std::to_string(v), [key, v](Writer& w) { w.set_u32(key, v); }});
        cases.push_back({std::string(key) + " as a string", [key](Writer& w) { w.set_string(key, "four"); }});
        cases.push_back({std::string(key) + " as -1 (i32)", [key](Writer& w) { w.set_i32(key, -1); }});
        cases.push_back({std::string(key) + " removed", [key](Writer& w) { w.remove(key); }});
    }
    // Alignment separately: the writer really pads to it, so no 2 GiB values.
    for (uint32_t v : {1u, 2u, 4u, 8u, 16u, 64u, 4096u}) {
        cases.push_back({"general.alignment = " + std::to_string(v), [v](Writer& w) { w.set_u32("general.alignment", v); }});
    }
    const float f32s[] = {0.0f, -1.0f, 1e-30f, 1e30f, std::numeric_limits<float>::infinity(),
                          std::numeric_limits<float>::quiet_NaN()};
    for (const char* key : {"llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "llama.rope.scaling.factor",
                            "llama.attn_logit_softcapping", "llama.final_logit_softcapping"}) {
        for (float v : f32s) cases.push_back({std::string(key) + " = " + std::to_string(v), [key, v](Writer& w) { w.set_f32(key, v); }});
        cases.push_back({std::string(key) + " as a string", [key](Writer& w) { w.set_string(key, "x"); }});
    }
    for (const char* arch : {"", "gemma3", "gemma2", "qwen2", "qwen3", "phi3", "bert", "gemma-embedding", "mamba",
                             "llama\xff"}) {
        cases.push_back({std::string("general.architecture = '") + arch + "'", [arch](Writer& w) {
                             w.set_string("general.architecture", arch);
                         }});
    }
    for (const char* model : {"", "gpt2", "bert", "none", "rwkv", "t5"}) {
        cases.push_back({std::string("tokenizer.ggml.model = '") + model + "'", [model](Writer& w) {
                             w.set_string("tokenizer.ggml.model", model);
                         }});
    }
    for (const char* key : {"tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                            "general.architecture", "tokenizer.ggml.model"}) {
        cases.push_back({std::string(key) + " removed", [key](Writer& w) { w.remove(key); }});
    }
    cases.push_back({"rope.scaling.type = 'yarn'", [](Writer& w) { w.set_string("llama.rope.scaling.type", "yarn"); }});
    cases.push_back({"rope.scaling.type = 'linear', factor 0", [](Writer& w) {
                         w.set_string("llama.rope.scaling.type", "linear");
                         w.set_f32("llama.rope.scaling.factor", 0.0f);
                     }});
    cases.push_back({"head_count 8 with head_count_kv 8 (shapes then disagree)", [](Writer& w) {
                         w.set_u32("llama.attention.head_count", 8);
                         w.set_u32("llama.attention.head_count_kv", 8);
                     }});

    int n_ok = 0, n_err = 0, n_unwritable = 0;
    for (const Case& c : cases) {
        CAPTURE(c.what);
        std::vector<uint8_t> bytes;
        try {
            bytes = edited_model(c.edit);
        } catch (const std::exception&) {
            ++n_unwritable;  // values the writer itself refuses (not our subject)
            continue;
        }
        const Outcome o = load_and_run(bytes);
        // Only statuses that describe a file; anything else (internal, a foreign exception
        // escaping as a crash) is a bug.
        CHECK((o.status == Status::ok || o.status == Status::bad_format || o.status == Status::unsupported ||
               o.status == Status::out_of_memory));
        if (o.status != Status::ok) CHECK(!o.message.empty());
        (o.status == Status::ok ? n_ok : n_err)++;
        if (std::getenv("LLAMAS_FAULTS_VERBOSE"))
            std::printf("%-55s %-12s %s\n", c.what.c_str(), status_name(o.status), o.message.c_str());
    }
    MESSAGE((n_ok + n_err) << " edited models: " << n_err << " refused with an error, " << n_ok << " loaded and ran ("
                          << n_unwritable << " edits the writer itself refuses)");
}

TEST_CASE("decode refuses bad positions, counts and ids and leaves the cache as it was") {
    const std::unique_ptr<llamas::Model> model = llamas::Model::load(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf"));
    llamas::ContextParams p;
    p.n_ctx = 16;
    p.n_batch = 4;
    p.n_threads = 1;
    p.kv_type = llamas::GgmlType::F32;
    llamas::Context ctx(*model, p);
    const int32_t ids[16] = {1, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1500, 1600};
    ctx.decode(ids, 4, 0);
    REQUIRE(ctx.kv_cache().n_past() == 4);

    struct Bad {
        const char* what;
        const int32_t* tokens;
        int64_t n, pos0;
        Status expect;
    };
    const int32_t out_of_range[3][2] = {{1, -1}, {1, 2048}, {INT32_MIN, INT32_MAX}};
    const Bad bad[] = {
        {"pos0 -1", ids, 1, -1, Status::invalid_argument},
        {"pos0 past the cache", ids, 1, 5, Status::invalid_argument},
        {"pos0 INT64_MAX", ids, 1, INT64_MAX, Status::invalid_argument},
        {"pos0 INT64_MIN", ids, 1, INT64_MIN, Status::invalid_argument},
        {"n 0", ids, 0, 4, Status::invalid_argument},
        {"n -5", ids, -5, 4, Status::invalid_argument},
        {"n INT64_MIN", ids, INT64_MIN, 4, Status::invalid_argument},
        {"n beyond n_ctx", ids, 13, 4, Status::context_full},
        {"n INT64_MAX (pos0 + n overflows)", ids, INT64_MAX, 4, Status::context_full},
        {"token -1", out_of_range[0], 2, 4, Status::invalid_argument},
        {"token n_vocab", out_of_range[1], 2, 4, Status::invalid_argument},
        {"tokens INT32_MIN, INT32_MAX", out_of_range[2], 2, 4, Status::invalid_argument},
    };
    for (const Bad& b : bad) {
        CAPTURE(b.what);
        Status got = Status::ok;
        std::string msg;
        try {
            ctx.decode(b.tokens, b.n, b.pos0);
        } catch (const llamas::Error& e) {
            got = e.status();
            msg = e.what();
        }
        CHECK(got == b.expect);
        CHECK(!msg.empty());
        CHECK(ctx.kv_cache().n_past() == 4);
    }
    // The cache is intact: continuing gives exactly what a fresh context computes.
    const float* cont = ctx.decode(ids + 4, 2, 4);
    const std::vector<float> got(cont, cont + ctx.n_vocab());
    llamas::Context fresh(*model, p);
    const float* ref = fresh.decode(ids, 6, 0);
    CHECK(std::vector<float>(ref, ref + fresh.n_vocab()) == got);
}

TEST_CASE("slow-looking tokenizer inputs finish quickly") {
    // Inputs that make naive tokenizers quadratic or worse: one endless word, one endless run of
    // a single character, of spaces, of digits, of an emoji, of combining marks, of invalid bytes,
    // and of special-token text. Every vocabulary must tokenize each in bounded time.
    const size_t n = under_sanitizer() ? 16 * 1024 : 64 * 1024;
    std::vector<std::pair<std::string, std::string>> inputs;
    auto repeat = [n](const std::string& unit) {
        std::string s;
        while (s.size() < n) s += unit;
        return s;
    };
    inputs.push_back({"one letter", repeat("a")});
    inputs.push_back({"one word", repeat("abcdefghijklmnopqrstuvwxyz")});
    inputs.push_back({"spaces", repeat(" ")});
    inputs.push_back({"newlines and tabs", repeat("\n\t")});
    inputs.push_back({"digits", repeat("1234567890")});
    inputs.push_back({"emoji", repeat("\xf0\x9f\xa6\x99")});
    inputs.push_back({"combining marks", "e" + repeat("\xcc\x81")});
    inputs.push_back({"invalid bytes", repeat("\xff\xfe\xc0")});
    inputs.push_back({"special-token text", repeat("<s></s><|endoftext|>[CLS]")});
    inputs.push_back({"apostrophes", repeat("'s")});
    const std::vector<std::string> vocabs = {"llama-spm", "phi-3", "baichuan", "gpt-2", "falcon", "mpt", "gpt-neox",
                                             "starcoder", "refact", "deepseek-llm", "deepseek-coder", "bert-bge"};
    double worst = 0;
    std::string worst_what;
    for (const std::string& v : vocabs) {
        const llamas::Tokenizer tok(*File::open(llamas::test::data_path("vocab/ggml-vocab-" + v + ".gguf")));
        for (const auto& input : inputs) {
            const auto& what = input.first;  // not structured bindings: CAPTURE takes them in a lambda
            const auto& text = input.second;
            CAPTURE(v);
            CAPTURE(what);
            const auto t0 = std::chrono::steady_clock::now();
            const std::vector<int32_t> ids = tok.encode(text, true, true);
            (void)tok.decode(ids);
            const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            CHECK(!ids.empty());
            if (sec > worst) {
                worst = sec;
                worst_what = v + " / " + what;
            }
            CHECK(sec < 10.0);  // a hang or a quadratic blow-up, not a slow machine
        }
    }
    MESSAGE("slowest of " << vocabs.size() * inputs.size() << " (" << n / 1024 << " KiB each): " << worst_what << " "
                          << worst << " s");
}

}  // TEST_SUITE
