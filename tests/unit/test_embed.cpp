// Embedding models (gemma-embedding, bert): conformance with ../shared/reference/outputs under
// the README's cosine tolerances, batching (packed passes equal one text at a time), pooling
// and the finishing steps (Matryoshka truncation, normalisation), and the errors.
#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cosine.h"
#include "engine/context.h"
#include "engine/embedder.h"
#include "engine/model.h"
#include "ops/pooling.h"
#include "test_data.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace {

struct EmbedRecord {
    std::string prompt;
    std::vector<int32_t> tokens;
    std::vector<float> embedding;
};

std::vector<EmbedRecord> read_embed_records(const std::string& stem) {
    std::vector<EmbedRecord> out;
    std::ifstream in(llamas::test::data_path("reference/outputs/" + stem + ".jsonl"));
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line);
        EmbedRecord r;
        r.prompt = j.at("prompt").get<std::string>();
        r.tokens = j.at("tokens").get<std::vector<int32_t>>();
        r.embedding = j.at("embedding").get<std::vector<float>>();
        REQUIRE(static_cast<int64_t>(r.embedding.size()) == j.at("n_embd").get<int64_t>());
        out.push_back(std::move(r));
    }
    return out;
}

using llamas::test::cosine;

std::unique_ptr<llamas::Model> load(const std::string& stem) {
    const std::string path = llamas::test::data_path("models/" + stem + ".gguf");
    REQUIRE_MESSAGE(std::ifstream(path).good(), "missing test model " << path);
    return llamas::Model::load(path);
}

const std::vector<std::string>& embed_stems() {
    static const std::vector<std::string> s = {"bert-F16", "bert-Q8_0", "gemma-embedding-F16", "gemma-embedding-Q8_0"};
    return s;
}

// Texts of various lengths (longer than the gemma window, so the symmetric window matters).
std::vector<std::string> sample_texts() {
    return {"The cat sits on the mat.",
            "A feline is resting on a rug.",
            "Stock markets fell sharply on Monday after the central bank raised interest rates again, "
            "surprising analysts who had expected a pause.",
            "How do I reset my password?",
            "x",
            "Äpfel und Birnen 🦙",
            "In the beginning was the word, and the word was with the reader, who turned the page slowly.",
            // Long enough for several query chunks and the transposed-K attention path.
            "Semantic search and retrieval pipelines embed millions of short texts, and for them the latency of "
            "one short document and the number of documents embedded per second are what matter most. A batch "
            "of many short texts packed into one forward pass, with attention kept inside each text, costs far "
            "less than the same texts one call at a time, because the weight products become matrix products "
            "over all of their tokens at once, and the weights are read from memory only once per pass."};
}

int run(const std::string& cmd) {
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

// A temporary directory removed when the test binary exits.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/llamas-embed-test-XXXXXX";
        if (const char* d = mkdtemp(tmpl)) path = d;
    }
    ~TempDir() {
        std::error_code ec;
        if (!path.empty()) std::filesystem::remove_all(path, ec);
    }
};

const std::string& temp_dir() {
    static TempDir dir;
    REQUIRE_MESSAGE(!dir.path.empty(), "cannot create a temporary directory");
    return dir.path;
}

std::string tool(const std::string& name) {
    const std::string t = llamas::test::tool_path(name);
    REQUIRE_MESSAGE(std::ifstream(t).good(), name << " not built at " << t);
    return t;
}

std::string q(const std::string& s) { return "'" + s + "'"; }

}  // namespace

TEST_SUITE("embed") {

TEST_CASE("llamas-dump --embed writes the reference's records") {
    const std::string dir = temp_dir();
    for (const std::string& stem : embed_stems()) {
        CAPTURE(stem);
        REQUIRE(run(tool("llamas-dump") + " --embed --threads 2 --model " + q(llamas::test::data_path("models/" + stem + ".gguf")) +
                    " --prompts " + q(llamas::test::data_path("reference/embed_prompts.txt")) + " --out " +
                    q(dir + "/" + stem)) == 0);
        const std::vector<EmbedRecord> ref = read_embed_records(stem);
        REQUIRE(ref.size() >= 5);
        std::ifstream in(dir + "/" + stem + ".jsonl");
        size_t k = 0;
        for (std::string line; std::getline(in, line); ++k) {
            REQUIRE(k < ref.size());
            const nlohmann::json j = nlohmann::json::parse(line);
            CHECK(j.at("prompt").get<std::string>() == ref[k].prompt);
            CHECK(j.at("tokens").get<std::vector<int32_t>>() == ref[k].tokens);
            const std::vector<float> e = j.at("embedding").get<std::vector<float>>();
            REQUIRE(e.size() == ref[k].embedding.size());
            CHECK(j.at("n_embd").get<size_t>() == e.size());
            CHECK(cosine(e.data(), ref[k].embedding.data(), e.size()) >= 0.999);
        }
        CHECK(k == ref.size());
    }
}

TEST_CASE("llamas-embed prints one JSON array per line") {
    const std::string dir = temp_dir();
    const std::string model = llamas::test::data_path("models/bert-Q8_0.gguf");
    const std::string prompts = llamas::test::data_path("reference/embed_prompts.txt");
    const std::vector<EmbedRecord> ref = read_embed_records("bert-Q8_0");
    REQUIRE(ref.size() >= 5);
    REQUIRE(run(tool("llamas-embed") + " -m " + q(model) + " --normalize -t 2 " + q(prompts) + " > " + q(dir + "/n.txt")) == 0);
    REQUIRE(run(tool("llamas-embed") + " -m " + q(model) + " --dims 16 < " + q(prompts) + " > " + q(dir + "/d.txt")) == 0);
    std::ifstream n_in(dir + "/n.txt"), d_in(dir + "/d.txt");
    size_t k = 0;
    for (std::string line, dline; std::getline(n_in, line); ++k) {
        REQUIRE(k < ref.size());
        const std::vector<float> v = nlohmann::json::parse(line).get<std::vector<float>>();
        REQUIRE(v.size() == ref[k].embedding.size());
        double norm = 0;
        for (float x : v) norm += static_cast<double>(x) * x;
        CHECK(std::sqrt(norm) == doctest::Approx(1.0).epsilon(1e-4));
        CHECK(cosine(v.data(), ref[k].embedding.data(), v.size()) >= 0.999);
        REQUIRE(std::getline(d_in, dline));
        const std::vector<float> d = nlohmann::json::parse(dline).get<std::vector<float>>();
        REQUIRE(d.size() == 16);
        // Not normalised: the reference's own first 16 values (8-bit rounding noise aside).
        CHECK(cosine(d.data(), ref[k].embedding.data(), 16) >= 0.995);
        double dn = 0, rn = 0;
        for (size_t i = 0; i < 16; ++i) {
            dn += static_cast<double>(d[i]) * d[i];
            rn += static_cast<double>(ref[k].embedding[i]) * ref[k].embedding[i];
        }
        CHECK(std::sqrt(dn / rn) == doctest::Approx(1.0).epsilon(0.02));
    }
    CHECK(k == ref.size());
    const std::string quiet = " < /dev/null > /dev/null 2> " + q(dir + "/err.txt");
    CHECK(run(tool("llamas-embed") + " -m " + q(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf")) + quiet) == 1);
    CHECK(llamas::test::read_text(dir + "/err.txt").find("does not produce embeddings") != std::string::npos);
    CHECK(run(tool("llamas-embed") + " -m " + q(model) + " --dims 9999" + quiet) == 2);
    CHECK(run(tool("llamas-embed") + " -m " + q(model) + " --pooling max" + quiet) == 2);
}

TEST_CASE("embeddings meet the reference's cosine tolerance on every embedding model") {
    for (const std::string& stem : embed_stems()) {
        CAPTURE(stem);
        const std::vector<EmbedRecord> ref = read_embed_records(stem);
        REQUIRE_MESSAGE(ref.size() >= 5, "missing reference outputs for " << stem);
        auto model = load(stem);
        llamas::ThreadPool pool(2);
        llamas::Embedder emb(*model, pool);
        std::vector<std::vector<int32_t>> tokens;
        for (const EmbedRecord& r : ref) {
            tokens.push_back(model->tokenizer().encode(r.prompt, true, true));
            CHECK(tokens.back() == r.tokens);
        }
        const int64_t w = emb.n_embd_out();
        std::vector<float> out(ref.size() * static_cast<size_t>(w));
        emb.embed(tokens, model->hparams().pooling, out.data());
        double worst = 1;
        for (size_t i = 0; i < ref.size(); ++i) {
            REQUIRE(static_cast<int64_t>(ref[i].embedding.size()) == w);
            const double c = cosine(out.data() + i * static_cast<size_t>(w), ref[i].embedding.data(), static_cast<size_t>(w));
            CHECK_MESSAGE(c >= 0.999, stem << " prompt " << i << " cosine " << c);
            worst = std::min(worst, c);
        }
        MESSAGE(stem << ": worst cosine " << worst);
    }
}

TEST_CASE("a packed batch gives the embeddings of one text at a time") {
    for (const std::string& stem : embed_stems()) {
        CAPTURE(stem);
        auto model = load(stem);
        llamas::ThreadPool pool(2);
        llamas::Embedder emb(*model, pool);
        // A small pass capacity forces several passes with several texts each.
        llamas::Embedder small(*model, pool, 160);
        std::vector<std::vector<int32_t>> tokens;
        for (const std::string& t : sample_texts()) tokens.push_back(model->tokenizer().encode(t, true, true));
        const size_t w = static_cast<size_t>(emb.n_embd_out());
        std::vector<float> batch(tokens.size() * w), passes(tokens.size() * w), one(w);
        emb.embed(tokens, llamas::Pooling::mean, batch.data());
        small.embed(tokens, llamas::Pooling::mean, passes.data());
        for (size_t i = 0; i < tokens.size(); ++i) {
            emb.embed({tokens[i]}, llamas::Pooling::mean, one.data());
            CHECK(cosine(one.data(), batch.data() + i * w, w) >= 0.9999);
            CHECK(cosine(one.data(), passes.data() + i * w, w) >= 0.9999);
        }
    }
}

TEST_CASE("pooling picks the first, last or mean token output") {
    auto model = load("bert-F16");
    llamas::ThreadPool pool(1);
    llamas::Embedder emb(*model, pool);
    const int64_t E = model->hparams().n_embd;
    REQUIRE(emb.n_embd_out() == E);  // no dense projections: pooled rows are the outputs
    const std::vector<std::vector<int32_t>> tokens = {model->tokenizer().encode("hello world", true),
                                                      model->tokenizer().encode("a b c d e f", true)};
    std::vector<float> cls(2 * E), last(2 * E), mean(2 * E);
    emb.embed(tokens, llamas::Pooling::cls, cls.data());
    emb.embed(tokens, llamas::Pooling::last, last.data());
    emb.embed(tokens, llamas::Pooling::mean, mean.data());
    const float* h = emb.last_hidden();  // rows of the last pass: text 0 then text 1
    const int64_t n0 = static_cast<int64_t>(tokens[0].size()), n1 = static_cast<int64_t>(tokens[1].size());
    for (int64_t i = 0; i < E; ++i) {
        CHECK(cls[i] == h[i]);
        CHECK(cls[E + i] == h[n0 * E + i]);
        CHECK(last[i] == h[(n0 - 1) * E + i]);
        CHECK(last[E + i] == h[(n0 + n1 - 1) * E + i]);
        double s = 0;
        for (int64_t t = 0; t < n1; ++t) s += h[(n0 + t) * E + i];
        CHECK(mean[E + i] == doctest::Approx(s / n1).epsilon(1e-5));
    }
    std::vector<float> dummy(E);
    CHECK_THROWS_AS(emb.embed({tokens[0]}, llamas::Pooling::none, dummy.data()), llamas::Error);
}

TEST_CASE("finishing: Matryoshka truncation then L2 normalisation") {
    std::vector<float> v = {3, 4, 12, 0};
    CHECK(llamas::finish_embedding(v.data(), 4, 2, true) == 2);
    CHECK(v[0] == doctest::Approx(0.6));
    CHECK(v[1] == doctest::Approx(0.8));
    CHECK(v[2] == 12);  // beyond the kept dimensions: untouched
    std::vector<float> u = {3, 4, 12};
    CHECK(llamas::finish_embedding(u.data(), 3, 0, true) == 3);
    CHECK(u[2] == doctest::Approx(12.0 / 13));
    std::vector<float> z = {0, 0};
    CHECK(llamas::finish_embedding(z.data(), 2, 5, true) == 2);  // zero stays zero; dims > n keeps all
    CHECK(z[0] == 0);
    std::vector<float> raw = {3, 4};
    llamas::finish_embedding(raw.data(), 2, 0, false);
    CHECK(raw[0] == 3);
}

TEST_CASE("embedding errors: decoders, long texts, bad tokens, decoding an embedder") {
    llamas::ThreadPool pool(1);
    {
        auto dec = load("kjv-tiny-Q8_0");
        try {
            llamas::Embedder e(*dec, pool);
            FAIL("a decoder model was accepted");
        } catch (const llamas::Error& err) {
            CHECK(err.status() == llamas::Status::unsupported);
        }
    }
    auto model = load("gemma-embedding-Q8_0");
    llamas::Embedder emb(*model, pool, 8);
    std::vector<float> out(static_cast<size_t>(emb.n_embd_out()));
    const std::vector<int32_t> long_text(9, 5);
    try {
        emb.embed({long_text}, llamas::Pooling::mean, out.data());
        FAIL("a text longer than the capacity was accepted");
    } catch (const llamas::Error& err) {
        CHECK(err.status() == llamas::Status::context_full);
    }
    try {
        emb.embed({{1, 99999}}, llamas::Pooling::mean, out.data());
        FAIL("a bad token id was accepted");
    } catch (const llamas::Error& err) {
        CHECK(err.status() == llamas::Status::invalid_argument);
    }
    CHECK_THROWS_AS(emb.embed({std::vector<int32_t>{}}, llamas::Pooling::mean, out.data()), llamas::Error);

    llamas::ContextParams cp;
    cp.n_ctx = 64;
    llamas::Context ctx(*model, cp);
    const int32_t tok = 5;
    try {
        ctx.decode(&tok, 1, 0);
        FAIL("decoding an embedding model was accepted");
    } catch (const llamas::Error& err) {
        CHECK(err.status() == llamas::Status::unsupported);
    }
}

}  // TEST_SUITE
