// Tokenizer conformance against the reference runtime's test vectors and recorded prompts, plus
// robustness (random text and bytes) and round-trip properties.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "gguf/gguf.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "util/error.h"

namespace {

using llamas::Tokenizer;
namespace fs = std::filesystem;

// Tokenizers are loaded once per file and shared by the test cases.
const Tokenizer& tokenizer_for(const std::string& rel) {
    static std::mutex mu;
    static std::map<std::string, std::unique_ptr<Tokenizer>> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto& slot = cache[rel];
    if (!slot) {
        const std::string path = llamas::test::data_path(rel);
        REQUIRE_MESSAGE(fs::exists(path), "missing reference data: " << path);
        auto file = llamas::gguf::File::open(path);
        slot = std::make_unique<Tokenizer>(*file);  // the tokenizer outlives the file on purpose
    }
    return *slot;
}

std::vector<std::string> split_inputs(const std::string& all) {
    const std::string sep = "\n__ggml_vocab_test__\n";
    std::vector<std::string> out;
    size_t pos = 0;
    for (size_t m; (m = all.find(sep, pos)) != std::string::npos; pos = m + sep.size()) out.push_back(all.substr(pos, m - pos));
    return out;
}

std::vector<int32_t> parse_ids(const std::string& line) {
    std::istringstream ss(line);
    std::vector<int32_t> ids;
    for (int32_t id; ss >> id;) ids.push_back(id);
    return ids;
}

std::string show(const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) s += " " + std::to_string(id);
    return s;
}

const std::vector<std::string> k_vector_vocabs = {"llama-spm", "phi-3",  "gpt-2",        "falcon",        "mpt",
                                                  "deepseek-llm", "deepseek-coder", "bert-bge"};
const std::vector<std::string> k_all_vocabs = {"llama-spm", "phi-3", "baichuan", "gpt-2", "falcon", "mpt", "gpt-neox",
                                               "starcoder", "refact", "deepseek-llm", "deepseek-coder", "bert-bge"};

std::string vocab_file(const std::string& name) { return "vocab/ggml-vocab-" + name + ".gguf"; }

bool valid_utf8(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        if (n == 3 && c == 0xE0 && static_cast<unsigned char>(s[i + 1]) < 0xA0) return false;
        if (n == 3 && c == 0xED && static_cast<unsigned char>(s[i + 1]) >= 0xA0) return false;
        if (n == 4 && c == 0xF0 && static_cast<unsigned char>(s[i + 1]) < 0x90) return false;
        if (n == 4 && c == 0xF4 && static_cast<unsigned char>(s[i + 1]) >= 0x90) return false;
        i += n;
    }
    return true;
}

void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) s.push_back(static_cast<char>(cp));
    else if (cp < 0x800) s += {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    else if (cp < 0x10000)
        s += {static_cast<char>(0xE0 | (cp >> 12)), static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
    else
        s += {static_cast<char>(0xF0 | (cp >> 18)), static_cast<char>(0x80 | ((cp >> 12) & 0x3F)),
              static_cast<char>(0x80 | ((cp >> 6) & 0x3F)), static_cast<char>(0x80 | (cp & 0x3F))};
}

// Random valid UTF-8 biased towards what tokenizers find interesting.
std::string random_unicode(std::mt19937& rng, size_t max_len) {
    static const uint32_t picks[] = {' ', ' ', '\n', '\t', '\r', '\'', 's', 'a', 'Z', '0', '7', '.', ',', '!', '$', '<', '`',
                                     0xA0, 0xE9, 0x301, 0x3000, 0x2003, 0x4E2D, 0xAC00, 0x1F999, 0x0416, 0x05D0, 0xFFFD, 0x85};
    std::uniform_int_distribution<size_t> len_d(0, max_len);
    std::uniform_int_distribution<int> kind(0, 3);
    std::uniform_int_distribution<size_t> pick(0, std::size(picks) - 1);
    std::uniform_int_distribution<uint32_t> any(0, 0x10FFFF), ascii(0x20, 0x7E);
    std::string s;
    const size_t n = len_d(rng);
    for (size_t i = 0; i < n; ++i) {
        uint32_t cp;
        switch (kind(rng)) {
            case 0: cp = picks[pick(rng)]; break;
            case 1: cp = ascii(rng); break;
            case 2: cp = any(rng) % 0x3000; break;
            default: cp = any(rng); break;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) cp = 0xFFFD;
        put_utf8(s, cp);
    }
    return s;
}

std::string random_bytes(std::mt19937& rng, size_t max_len) {
    std::uniform_int_distribution<size_t> len_d(0, max_len);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(len_d(rng), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    return s;
}

}  // namespace

TEST_SUITE("tokenizer") {

TEST_CASE("reference test vectors: exact ids and round trip") {
    for (const std::string& name : k_vector_vocabs) {
        CAPTURE(name);
        const std::string base = llamas::test::data_path(vocab_file(name));
        REQUIRE_MESSAGE(fs::exists(base + ".inp"), "missing test vectors: " << base << ".inp");
        const std::vector<std::string> texts = split_inputs(llamas::test::read_text(base + ".inp"));
        std::vector<std::string> lines;
        {
            std::istringstream ss(llamas::test::read_text(base + ".out"));
            for (std::string l; std::getline(ss, l);) lines.push_back(l);
        }
        REQUIRE(texts.size() >= 40);
        REQUIRE(lines.size() >= texts.size());
        const Tokenizer& tok = tokenizer_for(vocab_file(name));
        for (size_t i = 0; i < texts.size(); ++i) {
            CAPTURE(i);
            CAPTURE(texts[i]);
            const std::vector<int32_t> want = parse_ids(lines[i]);
            const std::vector<int32_t> got = tok.encode(texts[i], false, false);
            CHECK_MESSAGE(got == want, "want" << show(want) << "\n got" << show(got));
            if (tok.kind() != llamas::TokenizerKind::wordpiece) CHECK(tok.decode(want) == texts[i]);
        }
    }
}

TEST_CASE("recorded prompts: tokens identical to the reference") {
    const fs::path dir = llamas::test::data_path("reference/outputs");
    REQUIRE_MESSAGE(fs::is_directory(dir), "missing reference data: " << dir.string());
    int files = 0;
    for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() != ".jsonl") continue;
        const std::string stem = entry.path().stem().string();  // ARCH-TYPE
        std::string model = stem;
        if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, "-F32") == 0) {
            const std::string arch = stem.substr(0, stem.size() - 4);
            model = fs::exists(llamas::test::data_path("models/" + stem + ".gguf")) ? stem : arch + "-F16";
        }
        CAPTURE(stem);
        const Tokenizer& tok = tokenizer_for("models/" + model + ".gguf");
        std::ifstream in(entry.path());
        int prompts = 0;
        for (std::string line; std::getline(in, line);) {
            if (line.empty()) continue;
            const auto j = nlohmann::json::parse(line);
            const std::string prompt = j.at("prompt").get<std::string>();
            const std::vector<int32_t> want = j.at("tokens").get<std::vector<int32_t>>();
            CAPTURE(prompt);
            const std::vector<int32_t> got = tok.encode(prompt, true, false);
            CHECK_MESSAGE(got == want, "want" << show(want) << "\n got" << show(got));
            ++prompts;
        }
        CHECK(prompts > 0);
        ++files;
    }
    CHECK(files >= 30);
}

TEST_CASE("random text and random bytes never crash; byte-level BPE round-trips valid UTF-8") {
    std::mt19937 rng(1234);
    for (const std::string& name : k_all_vocabs) {
        CAPTURE(name);
        const Tokenizer& tok = tokenizer_for(vocab_file(name));
        const bool byte_level = tok.kind() == llamas::TokenizerKind::bpe;
        // A byte-level vocabulary can only give back bytes it has a token for (falcon lacks a few,
        // and the reference then drops them too).
        bool has_byte[256];
        for (int b = 0; b < 256; ++b)
            has_byte[b] = !byte_level || tok.find_token(llamas::tok::byte_to_unicode(static_cast<uint8_t>(b))) != Tokenizer::no_token;
        auto representable = [&](const std::string& s) {
            for (unsigned char c : s)
                if (!has_byte[c]) return false;
            return true;
        };
        for (int iter = 0; iter < 60; ++iter) {
            const std::string text = random_unicode(rng, 48);
            CAPTURE(text);
            for (bool special : {false, true}) {
                const std::vector<int32_t> ids = tok.encode(text, true, special);
                for (int32_t id : ids) REQUIRE((id >= 0 && id < tok.n_vocab()));
                (void)tok.decode(ids, true);
            }
            const std::vector<int32_t> ids = tok.encode(text, false, false);
            const std::string back = tok.decode(ids);
            if ((byte_level && representable(text)) || tok.kind() == llamas::TokenizerKind::spm) CHECK(back == text);

            std::string bytes = random_bytes(rng, 48);
            const std::vector<int32_t> bids = tok.encode(bytes, true, true);
            for (int32_t id : bids) REQUIRE((id >= 0 && id < tok.n_vocab()));
            // SentencePiece keeps invalid bytes as byte tokens, so even they come back unchanged (a space
            // swallowed into a broken character comes back as its escaped form, as in the reference).
            std::replace(bytes.begin(), bytes.end(), ' ', 'x');
            if (tok.kind() == llamas::TokenizerKind::spm && tok.find_token("<0x80>") != Tokenizer::no_token &&
                bytes.find("\xE2\x96\x81") == std::string::npos)
                CHECK(tok.decode(tok.encode(bytes, false, false)) == bytes);
        }
    }
}

TEST_CASE("long texts (word memo) tokenize like their words one by one") {
    // Single spaces between plain words: both SentencePiece and the GPT-2 style regexes cut there,
    // so the tokens of the whole text are the tokens of its words concatenated.
    std::mt19937 rng(7);
    const char* syllables[] = {"the", "ka", "lo", "ri", "ment", "ing", "qu", "ax", "zz", "ed", "Th", "ion", "s", "x"};
    std::uniform_int_distribution<int> n_syl(1, 4), syl(0, static_cast<int>(std::size(syllables)) - 1);
    std::vector<std::string> words;
    std::string text;
    while (text.size() < 20000) {
        std::string w;
        for (int k = n_syl(rng); k > 0; --k) w += syllables[syl(rng)];
        words.push_back(w);
        text += (text.empty() ? "" : " ") + w;
    }
    for (const std::string& file : {vocab_file("gpt-2"), vocab_file("llama-spm"), std::string("models/qwen2-F16.gguf")}) {
        CAPTURE(file);
        const Tokenizer& tok = tokenizer_for(file);
        std::vector<int32_t> expect;
        for (size_t i = 0; i < words.size(); ++i) {
            const std::string piece = (i == 0 || tok.kind() == llamas::TokenizerKind::spm ? "" : " ") + words[i];
            const std::vector<int32_t> ids = tok.encode(piece, false);
            expect.insert(expect.end(), ids.begin(), ids.end());
        }
        CHECK(tok.encode(text, false) == expect);
    }
}

TEST_CASE("one tokenizer encodes from many threads at once") {
    const Tokenizer& tok = tokenizer_for(vocab_file("deepseek-llm"));
    std::string text;
    for (int i = 0; i < 200; ++i) text += "Thread " + std::to_string(i) + ": na\xC3\xAFve caf\xC3\xA9, \xE6\x97\xA5\xE6\x9C\xAC 12345\n";
    const std::vector<int32_t> expect = tok.encode(text, true);
    std::vector<std::vector<int32_t>> got(4);
    std::vector<std::thread> threads;
    for (size_t t = 0; t < got.size(); ++t) threads.emplace_back([&, t] { got[t] = tok.encode(text, true); });
    for (auto& th : threads) th.join();
    for (const auto& g : got) CHECK(g == expect);
}

TEST_CASE("special tokens: defaults, flags and parsing") {
    const Tokenizer& spm = tokenizer_for(vocab_file("llama-spm"));
    CHECK(spm.kind() == llamas::TokenizerKind::spm);
    CHECK(spm.bos() == 1);
    CHECK(spm.eos() == 2);
    CHECK(spm.add_bos());
    CHECK_FALSE(spm.add_eos());
    CHECK(spm.is_eog(2));
    CHECK(spm.encode("Hello", true).front() == 1);
    CHECK(spm.encode("", true) == std::vector<int32_t>{1});
    CHECK(spm.encode("", false).empty());
    CHECK(spm.token_to_piece(1) == "<s>");
    CHECK(spm.token_to_piece(1, true).empty());
    CHECK(spm.token_type(1) == llamas::TokenType::control);
    CHECK(spm.is_byte(spm.find_token("<0x0A>")));
    CHECK(spm.newline() == spm.find_token("<0x0A>"));
    // Control-token text is only a token when asked for.
    const std::vector<int32_t> parsed = spm.encode("<s>hi", false, true);
    CHECK(parsed.front() == 1);
    CHECK(spm.encode("<s>hi", false, false).front() != 1);

    const Tokenizer& phi = tokenizer_for(vocab_file("phi-3"));
    const int32_t user = phi.find_token("<|user|>");
    const int32_t end = phi.find_token("<|end|>");
    REQUIRE(user != Tokenizer::no_token);
    CHECK(phi.is_eog(end));
    CHECK(phi.eot() == end);
    const std::vector<int32_t> chat = phi.encode("<|user|>\nHi<|end|>", true, true);
    REQUIRE(chat.size() >= 4);
    CHECK(chat[0] == phi.bos());
    CHECK(chat[1] == user);  // Phi-3 strips the whitespace after its special tokens
    CHECK(chat.back() == end);
    const std::vector<int32_t> plain = phi.encode("<|user|>", false, false);
    CHECK(plain.size() > 1);

    const Tokenizer& gpt2 = tokenizer_for(vocab_file("gpt-2"));
    CHECK(gpt2.kind() == llamas::TokenizerKind::bpe);
    CHECK(gpt2.bos() == 50256);
    CHECK_FALSE(gpt2.add_bos());
    CHECK(gpt2.encode("<|endoftext|>", false, true) == std::vector<int32_t>{50256});
    CHECK(gpt2.encode("<|endoftext|>", false, false).size() > 1);
    CHECK(gpt2.is_eog(50256));

    const Tokenizer& ds = tokenizer_for(vocab_file("deepseek-llm"));
    const int32_t ds_end = ds.find_token("<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>");
    REQUIRE(ds_end != Tokenizer::no_token);
    CHECK(ds.eot() == ds_end);
    CHECK(ds.is_eog(ds_end));
    CHECK(ds.add_bos());
    CHECK(ds.encode("hi", true).front() == ds.bos());

    const Tokenizer& bert = tokenizer_for(vocab_file("bert-bge"));
    CHECK(bert.kind() == llamas::TokenizerKind::wordpiece);
    CHECK(bert.cls() == 101);
    CHECK(bert.sep() == 102);
    CHECK(bert.unk() == 100);
    const std::vector<int32_t> b = bert.encode("Hello", true);
    CHECK(b.front() == 101);
    CHECK(b.back() == 102);
    CHECK(bert.encode("\xF0\x9F\xA6\x99", false) == std::vector<int32_t>{100});  // 🦙 is unknown
}

TEST_CASE("decode: skip_special, leading space, out-of-range ids") {
    const Tokenizer& spm = tokenizer_for(vocab_file("llama-spm"));
    const std::vector<int32_t> ids = spm.encode("Hello world", true);
    CHECK(spm.decode(ids) == "<s> Hello world");
    CHECK(spm.decode(ids, true) == " Hello world");  // as the reference: the BOS keeps the space
    CHECK(spm.decode(spm.encode("Hello world", false)) == "Hello world");
    CHECK_THROWS_AS(spm.decode({1, spm.n_vocab()}), llamas::Error);
    CHECK_THROWS_AS(spm.decode({-1}), llamas::Error);
    CHECK_THROWS_AS(spm.token_to_piece(spm.n_vocab()), llamas::Error);
    try {
        spm.decode({1 << 30});
    } catch (const llamas::Error& e) {
        CHECK(e.status() == llamas::Status::invalid_argument);
    }

    const Tokenizer& gpt2 = tokenizer_for(vocab_file("gpt-2"));
    CHECK(gpt2.decode(gpt2.encode("Hello , world !", false), false, true) == "Hello, world!");
}

TEST_CASE("streaming detokenizer emits whole UTF-8 characters only") {
    for (const std::string& name : {std::string("gpt-2"), std::string("llama-spm")}) {
        CAPTURE(name);
        const Tokenizer& tok = tokenizer_for(vocab_file(name));
        const std::string text = "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\xA6\x99 na\xC3\xAFve \xE2\x82\xAC";
        const std::vector<int32_t> ids = tok.encode(text, false);
        llamas::Detokenizer detok(tok);
        std::string joined;
        bool split_seen = false;
        for (int32_t id : ids) {
            const std::string piece = tok.token_to_piece(id);
            if (!valid_utf8(piece)) split_seen = true;
            const std::string chunk = detok.push(id);
            CHECK(valid_utf8(chunk));
            joined += chunk;
        }
        joined += detok.flush();
        CHECK(split_seen);  // the text really does split characters across tokens
        const std::string expect = tok.kind() == llamas::TokenizerKind::spm ? " " + text : text;
        CHECK(joined == expect);
    }
    // Bytes that can never complete a character are not held back.
    const Tokenizer& spm = tokenizer_for(vocab_file("llama-spm"));
    llamas::Detokenizer d(spm);
    CHECK(d.push(spm.find_token("<0xFF>")) == "\xFF");
    CHECK(d.push(spm.find_token("<0xE2>")).empty());
    CHECK(d.flush() == "\xE2");
}

TEST_CASE("llamas-tokenize prints the ids, pieces and clear errors") {
    const std::string exe = llamas::test::tool_path("llamas-tokenize");
    REQUIRE_MESSAGE(fs::exists(exe), "llamas-tokenize is not built: " << exe);
    const std::string model = llamas::test::data_path("models/llama-F16.gguf");
    const fs::path dir = fs::temp_directory_path() / ("llamas-tok-" + std::to_string(::getpid()));
    fs::create_directories(dir);
    const std::string in = (dir / "in.txt").string(), out = (dir / "out.txt").string(), err = (dir / "err.txt").string();
    {
        std::ofstream f(in, std::ios::binary);
        f << "Hello world\n\xFF";
    }
    auto run = [&](const std::string& args) {
        return std::system((exe + " " + args + " > " + out + " 2> " + err).c_str());
    };
    const Tokenizer& tok = tokenizer_for("models/llama-F16.gguf");
    const std::string text = llamas::test::read_text(in);

    REQUIRE(run(model + " " + in) == 0);
    CHECK(llamas::test::read_text(out) == show(tok.encode(text, true)).substr(1) + "\n");
    REQUIRE(run("--raw " + model + " < " + in) == 0);  // stdin
    CHECK(llamas::test::read_text(out) == show(tok.encode(text, false)).substr(1) + "\n");
    REQUIRE(run("--pieces --raw " + model + " " + in) == 0);
    const std::string pieces = llamas::test::read_text(out);
    CHECK(pieces.find("\\xFF") != std::string::npos);  // broken UTF-8 is escaped, not printed raw
    CHECK(pieces.find("\\n") != std::string::npos);
    CHECK(std::count(pieces.begin(), pieces.end(), '\n') == static_cast<long>(tok.encode(text, false).size()));

    CHECK(run(model + " " + (dir / "missing.txt").string()) != 0);
    CHECK(llamas::test::read_text(err).rfind("error: ", 0) == 0);
    CHECK(run(in + " " + in) != 0);  // not a GGUF file
    CHECK(llamas::test::read_text(err).rfind("error: ", 0) == 0);
    fs::remove_all(dir);
}

TEST_CASE("unknown tokenizer model or pre-tokenizer is an error naming it") {
    // A minimal GGUF holding only tokenizer metadata.
    auto build = [](const std::string& model, const std::string& pre) {
        std::string b = "GGUF";
        auto u32 = [&](uint32_t v) { b.append(reinterpret_cast<const char*>(&v), 4); };
        auto u64 = [&](uint64_t v) { b.append(reinterpret_cast<const char*>(&v), 8); };
        auto str = [&](const std::string& s) { u64(s.size()); b += s; };
        u32(3);
        u64(0);  // tensors
        u64(4);  // key-values
        str("tokenizer.ggml.model"), u32(8), str(model);
        str("tokenizer.ggml.pre"), u32(8), str(pre);
        str("tokenizer.ggml.tokens"), u32(9), u32(8), u64(3), str("a"), str("b"), str("ab");
        str("tokenizer.ggml.merges"), u32(9), u32(8), u64(1), str("a b");
        return b;
    };
    {
        const std::string blob = build("gpt2", "no-such-pre");
        auto file = llamas::gguf::File::from_memory(blob.data(), blob.size());
        try {
            Tokenizer t(*file);
            FAIL("accepted an unknown pre-tokenizer");
        } catch (const llamas::Error& e) {
            CHECK(e.status() == llamas::Status::unsupported);
            CHECK(std::string(e.what()).find("no-such-pre") != std::string::npos);
        }
    }
    {
        const std::string blob = build("gpt2", "gpt-2");
        auto file = llamas::gguf::File::from_memory(blob.data(), blob.size());
        Tokenizer t(*file);
        CHECK(t.encode("ab", false) == std::vector<int32_t>{2});
        CHECK(t.encode("aab", false) == std::vector<int32_t>{0, 2});
    }
    {
        const std::string blob = build("rwkv", "");
        auto file = llamas::gguf::File::from_memory(blob.data(), blob.size());
        CHECK_THROWS_AS(Tokenizer{*file}, llamas::Error);
    }
}

}  // TEST_SUITE
