// Differential test of the hand-written pre-tokenizers: the reference runtime runs most of its
// pre-tokenizer regexes through std::regex on a "collapsed" text (every non-ASCII codepoint replaced
// by one byte naming its category) or std::wregex on the codepoints. This test does the same with
// the original regexes and checks that the linear-time splitters cut random texts identically.
#include <doctest/doctest.h>

#include <random>
#include <regex>
#include <string>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"
#include "util/utf8.h"

namespace {

using llamas::tok::CpRange;
using llamas::tok::PreTokenizer;

const std::string k_gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const std::string k_llama3 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const std::string k_qwen2 =
    "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A regex of the reference's list: either with \p{..} categories (run on collapsed text) or
// plain (run with std::wregex on codepoints).
struct Rx {
    std::string collapsed;  // non-empty: category regex
    std::wstring wide;
};

Rx cat(const std::string& r) { return Rx{r, L""}; }
Rx wide(const std::wstring& r) { return Rx{"", r}; }

std::wstring deepseek_letters_regex() {
    static const uint32_t ranges[][2] = {
        {0x0041, 0x005A}, {0x0061, 0x007A}, {0x00B5, 0x00B5}, {0x00C0, 0x00D6}, {0x00D8, 0x00F6}, {0x00F8, 0x01BA},
        {0x01BC, 0x01BF}, {0x01C4, 0x0293}, {0x0295, 0x02AF}, {0x0370, 0x0373}, {0x0376, 0x0377}, {0x037B, 0x037D},
        {0x037F, 0x037F}, {0x0386, 0x0386}, {0x0388, 0x038A}, {0x038C, 0x038C}, {0x038E, 0x03A1}, {0x03A3, 0x03F5},
        {0x03F7, 0x0481}, {0x048A, 0x052F}, {0x0531, 0x0556}, {0x10A0, 0x10C5}, {0x13A0, 0x13F5}, {0x13F8, 0x13FD},
        {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1D00, 0x1D2B}, {0x1D6B, 0x1D77}, {0x1D79, 0x1D9A}, {0x1E00, 0x1F15},
        {0x1F18, 0x1F1D}, {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
        {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE}, {0x1FC2, 0x1FC4},
        {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC}, {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC},
        {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D}, {0x2124, 0x2124},
        {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2134}, {0x2139, 0x2139}, {0x213C, 0x213F},
        {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2C7B}, {0x2C7E, 0x2CE4}, {0x2CEB, 0x2CEE},
        {0x2CF2, 0x2CF3}, {0xA640, 0xA66D}, {0xA680, 0xA69B}, {0xA722, 0xA76F}, {0xA771, 0xA787}, {0xA78B, 0xA78E},
        {0xAB70, 0xABBF}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A}, {0x10400, 0x1044F},
        {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x118A0, 0x118DF},
        {0x1E900, 0x1E943},
    };
    std::wstring r = L"\\s?[";
    for (const auto& x : ranges) {
        r += static_cast<wchar_t>(x[0]);
        if (x[1] != x[0]) r += L'-', r += static_cast<wchar_t>(x[1]);
    }
    return r + L"]+";
}

std::vector<Rx> regexes_for(PreTokenizer kind) {
    const std::wstring cjk = L"[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+";
    switch (kind) {
        case PreTokenizer::gpt2: return {cat(k_gpt2)};
        case PreTokenizer::llama3: return {cat(k_llama3)};
        case PreTokenizer::qwen2: return {cat(k_qwen2)};
        case PreTokenizer::starcoder: return {cat("\\p{N}"), cat(k_gpt2)};
        case PreTokenizer::falcon: return {cat("[\\p{P}\\$\\+<=>\\^~\\|`]+"), cat(k_gpt2), wide(L"[0-9][0-9][0-9]")};
        case PreTokenizer::deepseek_coder:
            return {wide(L"[\r\n]"), cat("\\s?\\p{L}+"), cat("\\s?\\p{P}+"), wide(cjk), cat("\\p{N}")};
        case PreTokenizer::deepseek_llm:
            return {wide(L"[\r\n]"), wide(deepseek_letters_regex()),
                    wide(L"\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+"), wide(L"\\s+$"), wide(cjk),
                    cat("\\p{N}+")};
        case PreTokenizer::default_: break;
    }
    return {cat("[\\p{P}\\$\\+<=>\\^~\\|]+"), cat(k_gpt2), cat("\\p{N}+"), wide(L"[0-9][0-9][0-9]")};
}

// \p{X} -> one category byte plus the ASCII members of the category.
std::string collapse_regex(const std::string& r) {
    struct Cat {
        const char* name;
        char byte;
        const char* ascii;
    };
    static const Cat cats[] = {
        {"\\p{N}", '\xD1', "0-9"},
        {"\\p{L}", '\xD2', "A-Za-z"},
        {"\\p{P}", '\xD3', "\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D"},
        {"\\p{M}", '\xD4', ""},
        {"\\p{S}", '\xD5', "\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C"},
    };
    std::string out;
    bool inside = false;
    for (size_t i = 0; i < r.size(); ++i) {
        if (r[i] == '[' && (i == 0 || r[i - 1] != '\\')) inside = true;
        if (inside && r[i] == ']' && r[i - 1] != '\\') inside = false;
        bool replaced = false;
        for (const Cat& c : cats) {
            if (r.compare(i, 5, c.name) == 0) {
                if (!inside) out += '[';
                out += c.byte;
                out += c.ascii;
                if (!inside) out += ']';
                i += 4;
                replaced = true;
                break;
            }
        }
        if (!replaced) out += r[i];
    }
    return out;
}

template <class Str>
void regex_split(const Str& text, const std::basic_regex<typename Str::value_type>& rx, std::vector<size_t>& lens) {
    std::vector<size_t> out;
    size_t start = 0;
    for (size_t len : lens) {
        using It = const typename Str::value_type*;
        std::regex_iterator<It> it(text.data() + start, text.data() + start + len, rx), end;
        size_t done = 0;
        for (; it != end; ++it) {
            const size_t pos = static_cast<size_t>(it->position()), n = static_cast<size_t>(it->length());
            if (pos > done) out.push_back(pos - done);
            out.push_back(n);
            done = pos + n;
        }
        if (done < len) out.push_back(len - done);
        start += len;
    }
    lens.swap(out);
}

std::vector<CpRange> reference_split(PreTokenizer kind, const std::vector<uint32_t>& cps) {
    std::string collapsed;
    std::wstring wtext;
    for (uint32_t c : cps) {
        const uint16_t f = llamas::tok::cp_flags(c);
        const bool ws = f & llamas::tok::cp_whitespace;
        wtext += static_cast<wchar_t>(c > 0x7F && ws ? 0x0B : c);
        if (c < 128) collapsed += static_cast<char>(c);
        else if (ws) collapsed += '\x0B';
        else if (f & llamas::tok::cp_number) collapsed += '\xD1';
        else if (f & llamas::tok::cp_letter) collapsed += '\xD2';
        else if (f & llamas::tok::cp_punct) collapsed += '\xD3';
        else if (f & llamas::tok::cp_mark) collapsed += '\xD4';
        else if (f & llamas::tok::cp_symbol) collapsed += '\xD5';
        else collapsed += '\xD0';
    }
    std::vector<size_t> lens;
    if (!cps.empty()) lens.push_back(cps.size());
    const auto flags = std::regex_constants::optimize | std::regex_constants::nosubs;
    for (const Rx& r : regexes_for(kind)) {
        if (!r.collapsed.empty()) regex_split(collapsed, std::regex(collapse_regex(r.collapsed), flags), lens);
        else regex_split(wtext, std::wregex(r.wide, flags), lens);
    }
    std::vector<CpRange> out;
    uint32_t at = 0;
    for (size_t n : lens) {
        out.emplace_back(at, at + static_cast<uint32_t>(n));
        at += static_cast<uint32_t>(n);
    }
    return out;
}

std::vector<uint32_t> random_cps(std::mt19937& rng) {
    static const uint32_t picks[] = {' ', ' ', ' ', '\n', '\n', '\r', '\t', '\'', 's', 'S', 'l', 'e', 'd', 'a', 'Z', '0', '1', '9',
                                     '.', ',', '!', '$', '+', '<', '|', '`', '~', '-', '/', ':', '@', '[', '_', '{', 0x0B,
                                     0xA0, 0x85, 0x3000, 0x2003, 0xE9, 0xC4, 0x301, 0x4E2D, 0x65E5, 0xAC00, 0xFF01, 0xFF21,
                                     0x2018, 0x3001, 0x1F999, 0x0416, 0x05D0, 0x0660, 0x00B2, 0x2164, 0x1FBE, 0x212A, 0xFFFD,
                                     0x0378, 0xE000, 0x200B, 0x0800, 0x2028};
    std::uniform_int_distribution<size_t> len_d(0, 40), pick(0, std::size(picks) - 1);
    std::uniform_int_distribution<int> coin(0, 9);
    std::uniform_int_distribution<uint32_t> any(0x80, 0x2FFFF);
    std::vector<uint32_t> cps(len_d(rng));
    for (uint32_t& c : cps) {
        c = coin(rng) == 0 ? any(rng) : picks[pick(rng)];
        if (c >= 0xD800 && c <= 0xDFFF) c = 0xFFFD;
    }
    return cps;
}

}  // namespace

TEST_SUITE("tokenizer") {

TEST_CASE("pre-tokenizers split exactly like the reference's regexes") {
    const PreTokenizer kinds[] = {PreTokenizer::default_, PreTokenizer::gpt2, PreTokenizer::llama3,
                                  PreTokenizer::qwen2, PreTokenizer::starcoder, PreTokenizer::falcon,
                                  PreTokenizer::deepseek_coder, PreTokenizer::deepseek_llm};
    std::mt19937 rng(42);
    std::vector<CpRange> ours;
    for (PreTokenizer kind : kinds) {
        CAPTURE(static_cast<int>(kind));
        int mismatches = 0;
        for (int iter = 0; iter < 150 && mismatches < 3; ++iter) {
            const std::vector<uint32_t> cps = random_cps(rng);
            std::string text;
            for (uint32_t c : cps) llamas::append_utf8(text, c);
            CAPTURE(text);
            llamas::tok::pre_tokenize(kind, cps, ours);
            const std::vector<CpRange> ref = reference_split(kind, cps);
            if (ours != ref) ++mismatches;
            CHECK(ours == ref);
        }
    }
}

TEST_CASE("pre-tokenizer names: known ones map, others are rejected") {
    using llamas::tok::pre_tokenizer_config;
    CHECK(pre_tokenizer_config("").kind == PreTokenizer::default_);
    CHECK(pre_tokenizer_config("gpt-neox").kind == PreTokenizer::default_);
    CHECK(pre_tokenizer_config("gpt-2").kind == PreTokenizer::gpt2);
    CHECK(pre_tokenizer_config("mpt").kind == PreTokenizer::gpt2);
    CHECK(pre_tokenizer_config("llama3").kind == PreTokenizer::llama3);
    CHECK(pre_tokenizer_config("llama-bpe").kind == PreTokenizer::llama3);
    CHECK(pre_tokenizer_config("llama-bpe").add_bos);
    CHECK(pre_tokenizer_config("llama-bpe").ignore_merges);
    CHECK(pre_tokenizer_config("qwen2").kind == PreTokenizer::qwen2);
    CHECK(pre_tokenizer_config("deepseek-llm").kind == PreTokenizer::deepseek_llm);
    CHECK(pre_tokenizer_config("deepseek-coder").kind == PreTokenizer::deepseek_coder);
    CHECK(pre_tokenizer_config("falcon").kind == PreTokenizer::falcon);
    for (const char* n : {"starcoder", "refact", "smollm", "command-r"})
        CHECK(pre_tokenizer_config(n).kind == PreTokenizer::starcoder);
    CHECK_THROWS_WITH(pre_tokenizer_config("klingon"), doctest::Contains("klingon"));
}

}  // TEST_SUITE
