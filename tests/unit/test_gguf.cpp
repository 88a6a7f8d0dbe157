// GGUF reader: valid files, typed accessors, and a malformed-file suite. Every malformed input
// must give a llamas::Error whose message names the problem, never a crash, hang or huge
// allocation (the suite also runs under ASan/UBSan).
#include <doctest/doctest.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "gguf_builder.h"
#include "test_data.h"
#include "util/error.h"

using llamas::Error;
using llamas::Status;
using llamas::gguf::File;
using llamas::test::GgufBuilder;

#include "alloc_watch.h"

namespace {

// Parses bytes; returns the error message ("" when the file is valid).
std::string parse_error(const std::vector<uint8_t>& b) {
    llamas::test::AllocWatch watch;
    std::string msg;
    try {
        File::from_memory(b.data(), b.size());
    } catch (const Error& e) {
        msg = e.what();
        CHECK(e.status() == Status::bad_format);
    }
    // Parsing may allocate in proportion to the input (the copy from_memory makes, key
    // strings, tensor records), never in proportion to a count or length read from it.
    CHECK(watch.largest() <= 4 * b.size() + 4096);
    return msg;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A small valid file: two metadata keys, two F32 tensors of 8 and 4 elements.
GgufBuilder valid_file() {
    GgufBuilder g;
    g.header(2, 3).kv_str("general.architecture", "llama").kv_u32("llama.block_count", 2);
    g.key("tokenizer.ggml.tokens", 9).u32(8).u64(2).str("a").str("b");
    g.tensor("a", {8}, 0, 0).tensor("b", {2, 2}, 0, 32);
    g.pad_to(32).zeros(32 + 16);
    return g;
}


}  // namespace

TEST_SUITE("gguf") {

TEST_CASE("a valid file parses and its metadata is typed") {
    GgufBuilder g = valid_file();
    auto f = File::from_memory(g.bytes.data(), g.bytes.size());
    CHECK(f->version() == 3);
    CHECK(f->get_string("general.architecture") == "llama");
    CHECK(f->get_u32("llama.block_count") == 2);
    CHECK(f->get_f32("llama.block_count") == 2.0f);
    CHECK(f->get_u32("missing.key", 7) == 7);
    CHECK(f->get_array("tokenizer.ggml.tokens").size() == 2);
    CHECK(f->get_array("tokenizer.ggml.tokens").string(1) == "b");
    REQUIRE(f->tensors().size() == 2);
    CHECK(f->find_tensor("b")->ne[1] == 2);
    CHECK(f->find_tensor("b")->n_bytes == 16);
    CHECK(f->find_tensor("b")->data == f->find_tensor("a")->data + 32);
    CHECK_THROWS_WITH_AS(f->get_u32("missing.key"), doctest::Contains("missing metadata key 'missing.key'"), Error);
    CHECK_THROWS_WITH_AS(f->get_u32("general.architecture"), doctest::Contains("has type STRING"), Error);
    CHECK_THROWS_WITH_AS(f->get_bool("llama.block_count"), doctest::Contains("expected BOOL"), Error);
}

TEST_CASE("every shipped model and vocabulary file parses") {
    auto files = llamas::test::gguf_files(llamas::test::data_path("models"));
    auto vocab = llamas::test::gguf_files(llamas::test::data_path("vocab"));
    files.insert(files.end(), vocab.begin(), vocab.end());
    REQUIRE_MESSAGE(files.size() >= 40, "reference data missing: set LLAMAS_TEST_DATA");
    for (const auto& path : files) {
        INFO(path);
        auto f = File::open(path);
        CHECK(f->has("general.architecture"));
        for (const auto& t : f->tensors()) CHECK(t.data + t.n_bytes <= f->tensors()[0].data + f->file_size());
    }
}

TEST_CASE("a missing file is an io error naming the path") {
    try {
        File::open("/nonexistent/model.gguf");
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.status() == Status::io);
        CHECK(contains(e.what(), "/nonexistent/model.gguf"));
    }
}

TEST_CASE("truncation at every offset of a small file and many offsets of a real one") {
    GgufBuilder g = valid_file();
    for (size_t n = 0; n < g.bytes.size(); ++n) {
        std::vector<uint8_t> cut(g.bytes.begin(), g.bytes.begin() + n);
        CHECK(!parse_error(cut).empty());
    }
    std::string real = llamas::test::read_text(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf"));
    REQUIRE(real.size() > 100000);
    std::mt19937 rng(1);
    std::vector<size_t> cuts;
    for (size_t n = 0; n < 2048; n += 7) cuts.push_back(n);
    for (int i = 0; i < 300; ++i) cuts.push_back(rng() % real.size());
    for (size_t n : cuts) {
        std::vector<uint8_t> cut(real.begin(), real.begin() + n);
        CHECK(!parse_error(cut).empty());
    }
}

TEST_CASE("hostile counts and lengths") {
    for (uint64_t huge : {uint64_t(1) << 63, ~uint64_t(0), uint64_t(1) << 40}) {
        CAPTURE(huge);
        GgufBuilder a; a.header(huge, 0);
        CHECK(contains(parse_error(a.bytes), "tensor count"));
        GgufBuilder b; b.header(0, huge);
        CHECK(contains(parse_error(b.bytes), "metadata key count"));
        GgufBuilder c; c.header(0, 1).u64(huge).raw("key", 3).zeros(64);
        CHECK(contains(parse_error(c.bytes), "length"));
        GgufBuilder d; d.header(0, 1).key("k", 8).u64(huge).zeros(64);
        CHECK(contains(parse_error(d.bytes), "metadata 'k'"));
        GgufBuilder e; e.header(0, 1).key("arr", 9).u32(0).u64(huge).zeros(64);
        CHECK(contains(parse_error(e.bytes), "metadata 'arr'"));
        GgufBuilder f; f.header(0, 1).key("arr", 9).u32(8).u64(huge).zeros(64);
        CHECK(contains(parse_error(f.bytes), "strings cannot fit"));
        GgufBuilder h; h.header(0, 1).key("arr", 9).u32(8).u64(2).str("ok").u64(huge).zeros(64);
        CHECK(contains(parse_error(h.bytes), "metadata 'arr'[1]"));
        GgufBuilder t; t.header(1, 0).u64(huge).zeros(64);
        CHECK(contains(parse_error(t.bytes), "tensor info #0 name"));
    }
}

TEST_CASE("bad magic, version and value types") {
    GgufBuilder m; m.raw("GGUX", 4).u32(3).u64(0).u64(0);
    CHECK(contains(parse_error(m.bytes), "bad magic"));
    for (uint32_t v : {0u, 1u, 4u, 0xffffffffu}) {
        GgufBuilder g; g.header(0, 0, v);
        CHECK(contains(parse_error(g.bytes), "version"));
    }
    GgufBuilder t; t.header(0, 1).key("k", 13).u32(0);
    CHECK(contains(parse_error(t.bytes), "unknown value type 13"));
    GgufBuilder nested; nested.header(0, 1).key("k", 9).u32(9).u64(1).u32(4).u64(1).u32(1);
    CHECK(contains(parse_error(nested.bytes), "nested arrays"));
    GgufBuilder badel; badel.header(0, 1).key("k", 9).u32(77).u64(0);
    CHECK(contains(parse_error(badel.bytes), "unknown array element type 77"));
    GgufBuilder b; b.header(0, 1).key("flag", 7).put<uint8_t>(2);
    CHECK(contains(parse_error(b.bytes), "BOOL value 2"));
    GgufBuilder ba; ba.header(0, 1).key("flags", 9).u32(7).u64(3).put<uint8_t>(0).put<uint8_t>(1).put<uint8_t>(5);
    CHECK(contains(parse_error(ba.bytes), "BOOL value 5"));
    GgufBuilder dup; dup.header(0, 2).kv_u32("k", 1).kv_u32("k", 2);
    CHECK(contains(parse_error(dup.bytes), "duplicate key"));
    GgufBuilder empty; empty.header(0, 1).kv_u32("", 1);
    CHECK(contains(parse_error(empty.bytes), "empty key"));
}

TEST_CASE("alignment must be a UINT32 power of two") {
    for (uint32_t a : {0u, 3u, 48u}) {
        GgufBuilder g; g.header(0, 1).kv_u32("general.alignment", a);
        CHECK(contains(parse_error(g.bytes), "not a power of two"));
    }
    GgufBuilder s; s.header(0, 1).kv_str("general.alignment", "32");
    CHECK(contains(parse_error(s.bytes), "expected UINT32"));
    GgufBuilder ok; ok.header(1, 1).kv_u32("general.alignment", 64).tensor("t", {4}, 0, 0).pad_to(64).zeros(16);
    CHECK(parse_error(ok.bytes).empty());
}

TEST_CASE("bad tensor infos") {
    auto one = [](std::vector<uint64_t> ne, uint32_t type, uint64_t offset, size_t data = 64) {
        GgufBuilder g; g.header(1, 0).tensor("w", ne, type, offset).pad_to(32).zeros(data);
        return parse_error(g.bytes);
    };
    CHECK(one({4}, 0, 0).empty());
    CHECK(contains(one({}, 0, 0), "n_dims 0"));
    CHECK(contains(one({1, 1, 1, 1, 1}, 0, 0), "n_dims 5"));
    CHECK(contains(one({4, 0}, 0, 0), "dimension 1 is 0"));
    CHECK(contains(one({uint64_t(1) << 63}, 0, 0), "dimension 0"));
    CHECK(contains(one({uint64_t(1) << 32, uint64_t(1) << 32}, 0, 0), "overflows"));
    CHECK(contains(one({4}, 4, 0), "unknown tensor type 4"));
    CHECK(contains(one({4}, 1000, 0), "unknown tensor type 1000"));
    CHECK(contains(one({16}, 2, 0), "not a multiple of the q4_0 block size 32"));
    CHECK(contains(one({4}, 0, 3), "not a multiple of the alignment"));
    CHECK(contains(one({4}, 0, 64), "outside"));
    CHECK(contains(one({1024}, 0, 0), "outside"));
    CHECK(contains(one({4}, 0, ~uint64_t(0) - 31), "outside"));
    GgufBuilder dup; dup.header(2, 0).tensor("w", {4}, 0, 0).tensor("w", {4}, 0, 32).pad_to(32).zeros(64);
    CHECK(contains(parse_error(dup.bytes), "duplicate tensor name"));
    GgufBuilder overlap; overlap.header(2, 0).tensor("a", {16}, 0, 0).tensor("b", {4}, 0, 32).pad_to(32).zeros(64);
    CHECK(contains(parse_error(overlap.bytes), "overlaps"));
}

TEST_CASE("flipped bytes in a real header never crash") {
    std::string real = llamas::test::read_text(llamas::test::data_path("models/kjv-tiny-Q8_0.gguf"));
    REQUIRE(real.size() > 100000);
    std::vector<uint8_t> base(real.begin(), real.end());
    std::mt19937 rng(42);
    int errors = 0;
    const int iterations = llamas::test::under_sanitizer() ? 100 : 400;
    for (int i = 0; i < iterations; ++i) {
        std::vector<uint8_t> b = base;
        const int flips = 1 + rng() % 4;
        for (int k = 0; k < flips; ++k) b[rng() % 48064] ^= static_cast<uint8_t>(1u << (rng() % 8));  // header region
        errors += !parse_error(b).empty();
    }
    MESSAGE(errors << " of " << iterations << " mutated files were rejected, the rest parsed");
    CHECK(errors > 0);
}

}  // TEST_SUITE
