// Whole-model quantization against the reference quantizer: llama-F32.gguf quantized to each
// preset must give llama-T.gguf's tensor types, shapes and blocks, and its general.file_type.
// The per-tensor type policy is also checked on the other architectures (types only: their
// reference files were made from F32 weights that are not shipped), and the tool's errors.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/quant_policy.h"
#include "quant/types.h"
#include "quantizer/quantize_model.h"
#include "test_data.h"
#include "util/error.h"

using namespace llamas;

namespace {

bool is_k_quant(GgmlType t) {
    return t == GgmlType::Q2_K || t == GgmlType::Q3_K || t == GgmlType::Q4_K || t == GgmlType::Q5_K || t == GgmlType::Q6_K;
}

std::string name_of(GgmlType t) { return type_info(t).name; }

// A scratch directory removed (with its files) at scope exit.
struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/llamas-quant-XXXXXX";
        const char* p = mkdtemp(tmpl);
        REQUIRE(p != nullptr);
        path = p;
    }
    ~TempDir() {
        const std::string cmd = "rm -rf '" + path + "'";
        if (std::system(cmd.c_str()) != 0) std::fprintf(stderr, "could not remove %s\n", path.c_str());
    }
    std::string file(const std::string& name) const { return path + "/" + name; }
};

// Metadata values compared by their encoding (scalars widened, strings, raw array bytes).
std::string kv_value(const gguf::KeyValue& kv) {
    switch (kv.type) {
        case gguf::ValueType::STRING: return std::string(kv.str);
        case gguf::ValueType::F32:
        case gguf::ValueType::F64: return std::to_string(kv.f);
        case gguf::ValueType::ARRAY: {
            std::string s = std::to_string(static_cast<int>(kv.arr_type)) + ":" + std::to_string(kv.arr_count) + ":";
            if (kv.arr_type == gguf::ValueType::STRING)
                for (std::string_view e : kv.arr_strings) s.append(e).push_back('\0');
            else
                s.append(reinterpret_cast<const char*>(kv.arr_data), kv.arr_count * gguf::value_type_size(kv.arr_type));
            return s;
        }
        default: return std::to_string(kv.u);
    }
}

void compare_with_reference(const std::string& out_path, const std::string& ref_path) {
    auto out = gguf::File::open(out_path);
    auto ref = gguf::File::open(ref_path);

    // Metadata: the same keys with the same values (general.file_type included).
    CHECK(out->metadata().size() == ref->metadata().size());
    for (const gguf::KeyValue& r : ref->metadata()) {
        CAPTURE(r.key);
        const gguf::KeyValue* o = out->find(r.key);
        REQUIRE(o != nullptr);
        CHECK(o->type == r.type);
        CHECK(kv_value(*o) == kv_value(r));
    }

    // Tensors: same names, types, shapes; blocks identical (>= 99% for K-quants).
    REQUIRE(out->tensors().size() == ref->tensors().size());
    std::map<GgmlType, std::pair<int64_t, int64_t>> per_type;  // same, total
    for (const gguf::TensorInfo& r : ref->tensors()) {
        CAPTURE(r.name);
        const gguf::TensorInfo* o = out->find_tensor(r.name);
        REQUIRE(o != nullptr);
        CHECK_MESSAGE(o->type == r.type, "type " << name_of(o->type) << ", reference " << name_of(r.type));
        for (int d = 0; d < 4; ++d) CHECK(o->ne[d] == r.ne[d]);
        if (o->type != r.type || o->n_bytes != r.n_bytes) continue;
        const size_t bs = type_info(r.type).type_size;
        int64_t same = 0, total = 0;
        for (size_t b = 0; b < r.n_bytes; b += bs, ++total)
            if (std::memcmp(o->data + b, r.data + b, bs) == 0) ++same;
        if (!is_k_quant(r.type)) CHECK_MESSAGE(same == total, name_of(r.type) << ": " << same << "/" << total << " blocks identical");
        per_type[r.type].first += same;
        per_type[r.type].second += total;
    }
    for (const auto& entry : per_type) {
        const auto type = entry.first;  // not structured bindings: CHECK_MESSAGE takes them in a lambda
        const auto& st = entry.second;
        if (is_k_quant(type)) CHECK_MESSAGE(st.first >= 0.99 * st.second, name_of(type) << ": " << st.first << "/" << st.second);
    }
}

// Types the policy picks for a model whose weights are all in `file`.
std::vector<GgmlType> policy_types(const gguf::File& f, FileType ft) {
    std::vector<TensorDesc> d(f.tensors().size());
    for (size_t i = 0; i < d.size(); ++i) {
        d[i].name = f.tensors()[i].name;
        d[i].type = f.tensors()[i].type;
        for (int k = 0; k < 4; ++k) d[i].ne[k] = f.tensors()[i].ne[k];
    }
    QuantPolicy p(ft, model_shape_of(f));
    return p.choose(d);
}

TensorDesc desc(const std::string& name, std::initializer_list<int64_t> ne, GgmlType type = GgmlType::F32) {
    TensorDesc t;
    t.name = name;
    t.type = type;
    int k = 0;
    for (int64_t v : ne) t.ne[k++] = v;
    return t;
}

}  // namespace

TEST_SUITE("quant") {

TEST_CASE("quantizing llama-F32 reproduces every reference preset") {
    const std::string src = test::data_path("models/llama-F32.gguf");
    REQUIRE_MESSAGE(access(src.c_str(), R_OK) == 0, "missing " << src);
    TempDir dir;
    for (std::string t : {"F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "IQ4_NL"}) {
        CAPTURE(t);
        FileType ft;
        REQUIRE(file_type_from_name(t, &ft));
        QuantizeModelOptions opt;
        opt.n_threads = 2;
        int lines = 0;
        opt.log = [&](const std::string&) { ++lines; };
        const std::string out = dir.file("out-" + t + ".gguf");
        const QuantizeModelResult r = quantize_model(src, out, ft, opt);
        CHECK(lines == r.n_tensors);
        CHECK(r.n_fallback == 0);
        compare_with_reference(out, test::data_path("models/llama-" + t + ".gguf"));
    }
}

TEST_CASE("the type policy matches the reference files of every architecture") {
    // (source F16 file, reference quantized file, preset)
    const char* cases[][3] = {
        {"qwen2-F16", "qwen2-Q4_K_M", "Q4_K_M"},   {"qwen2-F16", "qwen2-Q8_0", "Q8_0"},
        {"gemma3-F16", "gemma3-Q4_K_M", "Q4_K_M"}, {"gemma3-F16", "gemma3-Q8_0", "Q8_0"},
        {"qwen3-F16", "qwen3-Q4_K_M", "Q4_K_M"},   {"gemma2-F16", "gemma2-Q4_K_M", "Q4_K_M"},
        {"phi3-F16", "phi3-Q4_K_M", "Q4_K_M"},     {"gemma-embedding-F16", "gemma-embedding-Q8_0", "Q8_0"},
        {"bert-F16", "bert-Q8_0", "Q8_0"},         {"kjv-tiny-F16", "kjv-tiny-Q4_K_M", "Q4_K_M"},
        {"kjv-tiny-F16", "kjv-tiny-Q8_0", "Q8_0"}, {"llama-F32", "llama-Q3_K_M", "Q3_K_M"},
    };
    for (const auto& c : cases) {
        CAPTURE(c[1]);
        auto src = gguf::File::open(test::data_path(std::string("models/") + c[0] + ".gguf"));
        auto ref = gguf::File::open(test::data_path(std::string("models/") + c[1] + ".gguf"));
        FileType ft;
        REQUIRE(file_type_from_name(c[2], &ft));
        CHECK(ref->get_u32("general.file_type") == static_cast<uint32_t>(ft));
        const std::vector<GgmlType> types = policy_types(*src, ft);
        REQUIRE(src->tensors().size() == ref->tensors().size());
        for (size_t i = 0; i < types.size(); ++i) {
            const gguf::TensorInfo& s = src->tensors()[i];
            const gguf::TensorInfo* r = ref->find_tensor(s.name);
            REQUIRE(r != nullptr);
            CAPTURE(s.name);
            // A tensor the policy leaves alone keeps the source's type; the reference came
            // from F32 weights, so compare only the ones that are converted.
            if (types[i] == s.type && !QuantPolicy::allows_quantization(desc(s.name, {s.ne[0], s.ne[1], s.ne[2], s.ne[3]})))
                continue;
            CHECK_MESSAGE(types[i] == r->type, "policy " << name_of(types[i]) << ", reference " << name_of(r->type));
        }
    }
}

TEST_CASE("type policy rules") {
    ModelShape shape;
    shape.arch = "llama";
    shape.n_layer = 32;
    shape.n_head = 32;
    shape.n_head_kv = 8;
    std::vector<TensorDesc> t = {
        desc("token_embd.weight", {4096, 32000}), desc("output.weight", {4096, 32000}),
        desc("output_norm.weight", {4096}),       desc("blk.0.attn_norm.weight", {4096}),
    };
    for (int l = 0; l < 32; ++l) {
        const std::string b = "blk." + std::to_string(l) + ".";
        t.push_back(desc(b + "attn_v.weight", {4096, 1024}));
        t.push_back(desc(b + "ffn_down.weight", {14336, 4096}));
        t.push_back(desc(b + "attn_output.weight", {4096, 4096}));
    }
    auto type_of = [&](const std::vector<GgmlType>& types, const std::string& name) {
        for (size_t i = 0; i < t.size(); ++i)
            if (t[i].name == name) return types[i];
        FAIL("no tensor " << name);
        return GgmlType::F32;
    };

    SUBCASE("Q4_K_M: more bits for output, some attn_v and ffn_down layers") {
        QuantPolicy p(FileType::MOSTLY_Q4_K_M, shape);
        const auto types = p.choose(t);
        CHECK(type_of(types, "output.weight") == GgmlType::Q6_K);
        CHECK(type_of(types, "token_embd.weight") == GgmlType::Q4_K);  // untied
        CHECK(type_of(types, "output_norm.weight") == GgmlType::F32);
        CHECK(type_of(types, "blk.0.attn_norm.weight") == GgmlType::F32);
        // use_more_bits(i, 32): i < 4, i >= 28, or (i - 4) % 3 == 2
        for (int l = 0; l < 32; ++l) {
            const bool more = l < 4 || l >= 28 || (l - 4) % 3 == 2;
            CAPTURE(l);
            CHECK(type_of(types, "blk." + std::to_string(l) + ".attn_v.weight") == (more ? GgmlType::Q6_K : GgmlType::Q4_K));
            CHECK(type_of(types, "blk." + std::to_string(l) + ".ffn_down.weight") == (more ? GgmlType::Q6_K : GgmlType::Q4_K));
            CHECK(type_of(types, "blk." + std::to_string(l) + ".attn_output.weight") == GgmlType::Q4_K);
        }
    }
    SUBCASE("Q3_K_M and Q3_K_L") {
        QuantPolicy m(FileType::MOSTLY_Q3_K_M, shape);
        const auto tm = m.choose(t);
        CHECK(type_of(tm, "blk.0.attn_v.weight") == GgmlType::Q5_K);
        CHECK(type_of(tm, "blk.1.attn_v.weight") == GgmlType::Q5_K);
        CHECK(type_of(tm, "blk.2.attn_v.weight") == GgmlType::Q4_K);
        CHECK(type_of(tm, "blk.1.ffn_down.weight") == GgmlType::Q5_K);  // i < 32/16
        CHECK(type_of(tm, "blk.2.ffn_down.weight") == GgmlType::Q4_K);
        CHECK(type_of(tm, "blk.5.attn_output.weight") == GgmlType::Q4_K);
        QuantPolicy l(FileType::MOSTLY_Q3_K_L, shape);
        const auto tl = l.choose(t);
        CHECK(type_of(tl, "blk.9.attn_v.weight") == GgmlType::Q5_K);
        CHECK(type_of(tl, "blk.9.ffn_down.weight") == GgmlType::Q5_K);
        CHECK(type_of(tl, "blk.9.attn_output.weight") == GgmlType::Q5_K);
    }
    SUBCASE("Q2_K with 4 query heads per KV head, and IQ4_XS") {
        QuantPolicy p(FileType::MOSTLY_Q2_K, shape);
        const auto types = p.choose(t);
        CHECK(type_of(types, "blk.3.attn_v.weight") == GgmlType::Q4_K);  // n_gqa = 4
        CHECK(type_of(types, "blk.3.ffn_down.weight") == GgmlType::Q3_K);
        CHECK(type_of(types, "blk.3.attn_output.weight") == GgmlType::Q3_K);
        QuantPolicy x(FileType::MOSTLY_IQ4_XS, shape);
        const auto tx = x.choose(t);
        CHECK(type_of(tx, "blk.3.attn_v.weight") == GgmlType::Q5_K);
        CHECK(type_of(tx, "blk.3.ffn_down.weight") == GgmlType::Q5_K);  // i < 32/8
        CHECK(type_of(tx, "blk.4.ffn_down.weight") == GgmlType::IQ4_XS);
    }
    SUBCASE("tied embeddings take the output's type; F16 keeps norms in F32") {
        std::vector<TensorDesc> tied = {desc("token_embd.weight", {4096, 32000}), desc("output_norm.weight", {4096})};
        QuantPolicy p(FileType::MOSTLY_Q4_0, shape);
        const auto types = p.choose(tied);
        CHECK(types[0] == GgmlType::Q6_K);
        QuantPolicy f(FileType::MOSTLY_F16, shape);
        const auto tf = f.choose(tied);
        CHECK(tf[0] == GgmlType::F16);
        CHECK(tf[1] == GgmlType::F32);
    }
    SUBCASE("rows that do not fit the block fall back") {
        std::vector<TensorDesc> odd = {desc("blk.0.ffn_up.weight", {4000, 64}), desc("blk.0.ffn_gate.weight", {4001, 64}),
                                       desc("output.weight", {4000, 100})};
        QuantPolicy p(FileType::MOSTLY_Q4_K_S, shape);
        const auto types = p.choose(odd);
        CHECK(types[0] == GgmlType::Q5_0);  // 4000 = 125 * 32
        CHECK(types[1] == GgmlType::F16);   // not even a multiple of 32
        CHECK(types[2] == GgmlType::Q8_0);  // output: Q8_0 when rows don't fit 256
        CHECK(p.n_fallback() == 2);
        QuantPolicy q(FileType::MOSTLY_Q4_0, shape);
        CHECK_THROWS_AS(q.choose({desc("blk.0.ffn_up.weight", {4001, 64})}), Error);
    }
    SUBCASE("preset names") {
        FileType ft;
        CHECK(file_type_from_name("q4_k_m", &ft));
        CHECK(ft == FileType::MOSTLY_Q4_K_M);
        CHECK(static_cast<uint32_t>(ft) == 15);
        CHECK(file_type_from_name("BF16", &ft));
        CHECK(static_cast<uint32_t>(ft) == 32);
        CHECK_FALSE(file_type_from_name("Q4_K", &ft));
        CHECK(file_type_default(FileType::MOSTLY_Q3_K_S) == GgmlType::Q3_K);
    }
}

TEST_CASE("the GGUF writer round-trips metadata and tensors") {
    gguf::Writer w;
    w.set_string("general.architecture", "test");
    w.set_u32("a.count", 7);
    w.set_f32("a.eps", 1e-5f);
    w.set_bool("a.flag", true);
    w.set_i32("a.neg", -3);
    w.set_u32("a.count", 9);  // replaces, moves to the end
    const float data[6] = {1, 2, 3, 4, 5, 6};
    const int64_t ne[2] = {3, 2};
    w.add_tensor("t", GgmlType::F32, 2, ne, data, sizeof data);
    CHECK_THROWS_AS(w.add_tensor("t", GgmlType::F32, 2, ne, data, sizeof data), Error);      // duplicate
    CHECK_THROWS_AS(w.add_tensor("u", GgmlType::F32, 2, ne, data, sizeof data - 4), Error);  // wrong size
    CHECK_THROWS_AS(w.add_tensor("v", GgmlType::Q4_0, 2, ne, data, 18), Error);               // row not a block multiple
    const std::vector<uint8_t> bytes = w.to_bytes();
    auto f = gguf::File::from_memory(bytes.data(), bytes.size());
    CHECK(f->version() == 3);
    REQUIRE(f->metadata().size() == 5);
    CHECK(f->metadata().back().key == "a.count");
    CHECK(f->get_u32("a.count") == 9);
    CHECK(f->get_f32("a.eps") == 1e-5f);
    CHECK(f->get_bool("a.flag"));
    CHECK(f->get_string("general.architecture") == "test");
    CHECK(f->find("a.neg")->i == -3);
    REQUIRE(f->tensors().size() == 1);
    CHECK(f->tensors()[0].ne[0] == 3);
    CHECK(f->tensors()[0].ne[1] == 2);
    CHECK(std::memcmp(f->tensors()[0].data, data, sizeof data) == 0);

    // Copying a real file's metadata reproduces its encoding.
    auto src = gguf::File::open(test::data_path("models/llama-Q4_K_M.gguf"));
    gguf::Writer c;
    c.copy_metadata(*src);
    for (const gguf::TensorInfo& t : src->tensors()) c.add_tensor_ref(t.name, t.type, t.n_dims, t.ne, t.data, t.n_bytes);
    const std::vector<uint8_t> copy = c.to_bytes();
    const std::string orig = test::read_text(test::data_path("models/llama-Q4_K_M.gguf"));
    CHECK(copy.size() == orig.size());
    CHECK(std::memcmp(copy.data(), orig.data(), std::min(copy.size(), orig.size())) == 0);
}

TEST_CASE("llamas-quantize reports errors") {
    const std::string tool = test::tool_path("llamas-quantize");
    REQUIRE_MESSAGE(access(tool.c_str(), X_OK) == 0, "tool not built: " << tool);
    TempDir dir;
    auto run = [&](const std::string& args) {
        const std::string cmd = "'" + tool + "' " + args + " > '" + dir.file("log") + "' 2>&1";
        const int st = std::system(cmd.c_str());
        return std::make_pair(WIFEXITED(st) ? WEXITSTATUS(st) : -1, test::read_text(dir.file("log")));
    };
    const std::string src = test::data_path("models/llama-F32.gguf");
    auto r = run("'" + src + "' '" + dir.file("o.gguf") + "' Q9_X");
    CHECK(r.first == 1);
    CHECK(r.second.find("error: unknown type 'Q9_X'") != std::string::npos);
    r = run("'" + dir.file("missing.gguf") + "' '" + dir.file("o.gguf") + "' Q8_0");
    CHECK(r.first == 1);
    CHECK(r.second.find("error: ") != std::string::npos);
    r = run("'" + test::data_path("models/llama-Q4_0.gguf") + "' '" + dir.file("o.gguf") + "' Q8_0");
    CHECK(r.first == 1);
    CHECK(r.second.find("already quantized") != std::string::npos);
    CHECK(access(dir.file("o.gguf").c_str(), F_OK) != 0);  // nothing left behind
    r = run("'" + src + "' '" + dir.file("o.gguf") + "' q8_0");
    CHECK(r.first == 0);
    CHECK(r.second.find("[  30/  30]") != std::string::npos);
    auto f = gguf::File::open(dir.file("o.gguf"));
    CHECK(f->get_u32("general.file_type") == 7);
}

}  // TEST_SUITE
