#include "tokenizer/pretokenize.h"

#include <algorithm>
#include <string>

#include "tokenizer/unicode.h"
#include "util/error.h"

namespace llamas::tok {

PreTokenizerConfig pre_tokenizer_config(std::string_view name) {
    PreTokenizerConfig c;
    if (name.empty() || name == "default" || name == "gpt-neox") {
        // gpt-neox vocabularies carry no pre metadata; the reference then uses its default.
        c.kind = PreTokenizer::default_;
    } else if (name == "gpt-2" || name == "mpt" || name == "phi-2" || name == "olmo" || name == "jais") {
        c.kind = PreTokenizer::gpt2;
    } else if (name == "llama3" || name == "llama-v3" || name == "llama-bpe" || name == "falcon3" || name == "dbrx" ||
               name == "smaug-bpe") {
        c.kind = PreTokenizer::llama3;
        c.ignore_merges = name != "dbrx" && name != "smaug-bpe";
        c.add_bos = c.ignore_merges;
    } else if (name == "qwen2" || name == "deepseek-r1-qwen" || name == "stablelm2" || name == "megrez") {
        c.kind = PreTokenizer::qwen2;
        c.clean_spaces = !(name == "qwen2" || name == "deepseek-r1-qwen");
    } else if (name == "deepseek-llm") {
        c.kind = PreTokenizer::deepseek_llm;
        c.clean_spaces = false;
    } else if (name == "deepseek-coder") {
        c.kind = PreTokenizer::deepseek_coder;
        c.clean_spaces = false;
    } else if (name == "falcon") {
        c.kind = PreTokenizer::falcon;
    } else if (name == "starcoder" || name == "refact" || name == "codeshell" || name == "exaone" || name == "minerva-7b") {
        c.kind = PreTokenizer::starcoder;
    } else if (name == "command-r" || name == "smollm") {
        c.kind = PreTokenizer::starcoder;
        c.clean_spaces = false;
    } else {
        fail(Status::unsupported, "unknown pre-tokenizer type '%.*s' (tokenizer.ggml.pre)", static_cast<int>(name.size()),
             name.data());
    }
    return c;
}

namespace {

constexpr uint16_t k_lnw = cp_letter | cp_number | cp_whitespace;

// One fragment being split: codepoints and flags in [b, e); positions at or past e read as
// "nothing" (flags 0), which is how the regexes see the end of their input.
struct Frag {
    const uint32_t* cp;
    const uint16_t* fl;
    uint32_t b, e;
    uint16_t f(uint32_t p) const { return p < e ? fl[p] : 0; }
    uint32_t c(uint32_t p) const { return p < e ? cp[p] : 0xFFFFFFFFu; }
};

// Emits consecutive pieces that together cover a fragment.
struct Cutter {
    std::vector<CpRange>& out;
    uint32_t start;
    void cut(uint32_t end) {
        if (end > start) out.emplace_back(start, end);
        start = end;
    }
};

bool is_nl(uint32_t c) { return c == '\r' || c == '\n'; }

// Shared tail of the GPT-2 and llama3 regexes: \s+(?!\S) | \s+ (llama3 also has \s*[\r\n]+ first).
uint32_t whitespace_run(const Frag& s, uint32_t p, bool newline_rule) {
    uint32_t n = 0, after_last_nl = 0;
    while (s.f(p + n) & cp_whitespace) {
        if (newline_rule && is_nl(s.cp[p + n])) after_last_nl = p + n + 1;
        ++n;
    }
    if (after_last_nl) return after_last_nl;              // \s*[\r\n]+
    if (n > 1 && p + n < s.e) return p + n - 1;           // \s+(?!\S): leave one space for the next word
    if (n > 0) return p + n;                              // \s+
    return p + 1;                                         // nothing matched: the character alone
}

// 's|'t|'re|'ve|'m|'ll|'d (ASCII case-insensitive when `any_case`); returns the end or 0.
uint32_t contraction(const Frag& s, uint32_t p, bool any_case) {
    if (s.cp[p] != '\'' || p + 1 >= s.e) return 0;
    auto low = [&](uint32_t c) { return any_case && c >= 'A' && c <= 'Z' ? c + 32 : c; };
    const uint32_t a = low(s.cp[p + 1]);
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return p + 2;
    if (p + 2 < s.e) {
        const uint32_t b = low(s.cp[p + 2]);
        if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return p + 3;
    }
    return 0;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
void split_gpt2(const Frag& s, std::vector<CpRange>& out) {
    Cutter cut{out, s.b};
    for (uint32_t p = s.b; p < s.e;) {
        if (uint32_t end = contraction(s, p, false)) {
            cut.cut(p = end);
            continue;
        }
        const uint32_t c = s.cp[p];
        const uint16_t f2 = c == ' ' ? s.f(p + 1) : s.fl[p];  // class of the word after an optional space
        uint16_t cls = 0;
        if (f2 & cp_letter) cls = cp_letter;
        else if (f2 & cp_number) cls = cp_number;
        if (cls) {
            p += c == ' ';
            while (s.f(p) & cls) ++p;
            cut.cut(p);
            continue;
        }
        if (!(f2 & k_lnw) && f2) {  // ?[^\s\p{L}\p{N}]+
            p += c == ' ';
            while (!(s.f(p) & k_lnw) && s.f(p)) ++p;
            cut.cut(p);
            continue;
        }
        cut.cut(p = whitespace_run(s, p, false));
    }
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
void split_llama3(const Frag& s, uint32_t max_digits, std::vector<CpRange>& out) {
    Cutter cut{out, s.b};
    for (uint32_t p = s.b; p < s.e;) {
        if (uint32_t end = contraction(s, p, true)) {
            cut.cut(p = end);
            continue;
        }
        const uint32_t c = s.cp[p];
        const uint16_t f = s.fl[p];
        if (!is_nl(c) && !(f & cp_number) && ((f & cp_letter) || (s.f(p + 1) & cp_letter))) {
            ++p;  // a letter, or one leading non-letter before the letters
            while (s.f(p) & cp_letter) ++p;
            cut.cut(p);
            continue;
        }
        if (f & cp_number) {
            uint32_t group = p;
            while (s.f(p) & cp_number) {
                if (++p - group >= max_digits) {
                    cut.cut(p);
                    group = p;
                }
            }
            cut.cut(p);
            continue;
        }
        const uint16_t f2 = c == ' ' ? s.f(p + 1) : f;
        if (!(f2 & k_lnw) && f) {  // ?[^\s\p{L}\p{N}]+[\r\n]*
            p += c == ' ';
            while (!(s.f(p) & k_lnw) && s.f(p)) ++p;
            while (is_nl(s.c(p))) ++p;
            cut.cut(p);
            continue;
        }
        cut.cut(p = whitespace_run(s, p, true));
    }
}

// Regexes that only pick out some matches: the text between matches stays as its own piece.
// `match(p)` returns the end of the leftmost-first match starting at p, or 0.
template <class Match>
void split_matches(const Frag& s, std::vector<CpRange>& out, Match match) {
    Cutter cut{out, s.b};
    for (uint32_t p = s.b; p < s.e;) {
        const uint32_t end = match(p);
        if (end > p) {
            cut.cut(p);
            cut.cut(end);
            p = end;
        } else {
            ++p;
        }
    }
    cut.cut(s.e);
}

// \s? followed by a run of class members.
template <class InClass>
uint32_t optional_space_then_run(const Frag& s, uint32_t p, InClass in) {
    uint32_t q = p;
    if ((s.fl[p] & cp_whitespace) && p + 1 < s.e && in(p + 1)) q = p + 1;
    else if (!in(p)) return 0;
    while (q < s.e && in(q)) ++q;
    return q;
}

// Regexes without \p{..} classes run, in the reference, on the codepoints with non-ASCII
// whitespace replaced by U+000B; literal classes must see that replaced value.
uint32_t wide_value(const Frag& s, uint32_t p) {
    const uint32_t c = s.cp[p];
    return c > 0x7F && (s.fl[p] & cp_whitespace) ? 0x0B : c;
}

bool in_cjk(uint32_t c) { return (c >= 0x0800 && c <= 0x9FA5) || (c >= 0xAC00 && c <= 0xD7FF); }

// The letter class of deepseek-llm's second regex.
constexpr uint32_t k_deepseek_letters[][2] = {
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

bool in_deepseek_letters(uint32_t c) {
    if (c < 0x80) return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    const auto* end = std::end(k_deepseek_letters);
    const auto* it = std::upper_bound(std::begin(k_deepseek_letters), end, c,
                                      [](uint32_t v, const uint32_t(&r)[2]) { return v < r[0]; });
    return it != std::begin(k_deepseek_letters) && c <= (it - 1)[0][1];
}

// [!-/:-~！-／：-～‘-‟　-。]
bool in_deepseek_punct(uint32_t c) {
    return (c >= 0x21 && c <= 0x2F) || (c >= 0x3A && c <= 0x7E) || (c >= 0xFF01 && c <= 0xFF0F) ||
           (c >= 0xFF1A && c <= 0xFF5E) || (c >= 0x2018 && c <= 0x201F) || (c >= 0x3000 && c <= 0x3002);
}

enum class Step {
    gpt2, llama3, qwen2,
    newline,          // [\r\n]
    number,           // \p{N}
    numbers,          // \p{N}+
    digit_triple,     // [0-9][0-9][0-9]
    punct_default,    // [\p{P}\$\+<=>\^~\|]+
    punct_falcon,     // [\p{P}\$\+<=>\^~\|`]+
    space_letters,    // \s?\p{L}+
    space_punct,      // \s?\p{P}+
    cjk,              // [一-龥ࠀ-一가-퟿]+
    ds_letters,       // \s?[A-Za-zµÀ-Ö...]+
    ds_punct,         // \s?[!-/:-~！-／：-～‘-‟　-。]+
    trailing_space,   // \s+$
};

std::vector<Step> steps_for(PreTokenizer kind) {
    switch (kind) {
        case PreTokenizer::gpt2: return {Step::gpt2};
        case PreTokenizer::llama3: return {Step::llama3};
        case PreTokenizer::qwen2: return {Step::qwen2};
        case PreTokenizer::starcoder: return {Step::number, Step::gpt2};
        case PreTokenizer::falcon: return {Step::punct_falcon, Step::gpt2, Step::digit_triple};
        case PreTokenizer::deepseek_coder:
            return {Step::newline, Step::space_letters, Step::space_punct, Step::cjk, Step::number};
        case PreTokenizer::deepseek_llm:
            return {Step::newline, Step::ds_letters, Step::ds_punct, Step::trailing_space, Step::cjk, Step::numbers};
        case PreTokenizer::default_: break;
    }
    return {Step::punct_default, Step::gpt2, Step::numbers, Step::digit_triple};
}

bool is_ascii_symbol_in_punct_class(uint32_t c, bool with_backtick) {
    return c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' || c == '~' || c == '|' ||
           (with_backtick && c == '`');
}

void run_step(Step step, const Frag& s, std::vector<CpRange>& out) {
    auto run_of = [&](auto in) {
        split_matches(s, out, [&](uint32_t p) {
            uint32_t q = p;
            while (q < s.e && in(q)) ++q;
            return q;
        });
    };
    auto digit = [&](uint32_t p) { return s.cp[p] >= '0' && s.cp[p] <= '9'; };
    switch (step) {
        case Step::gpt2: split_gpt2(s, out); return;
        case Step::llama3: split_llama3(s, 3, out); return;
        case Step::qwen2: split_llama3(s, 1, out); return;
        case Step::newline:
            split_matches(s, out, [&](uint32_t p) { return is_nl(s.cp[p]) ? p + 1 : 0; });
            return;
        case Step::number:
            split_matches(s, out, [&](uint32_t p) { return (s.fl[p] & cp_number) ? p + 1 : 0; });
            return;
        case Step::numbers: run_of([&](uint32_t p) { return (s.fl[p] & cp_number) != 0; }); return;
        case Step::digit_triple:
            split_matches(s, out, [&](uint32_t p) { return p + 2 < s.e && digit(p) && digit(p + 1) && digit(p + 2) ? p + 3 : 0; });
            return;
        case Step::punct_default:
        case Step::punct_falcon: {
            const bool tick = step == Step::punct_falcon;
            run_of([&](uint32_t p) { return (s.fl[p] & cp_punct) || is_ascii_symbol_in_punct_class(s.cp[p], tick); });
            return;
        }
        case Step::space_letters:
            split_matches(s, out, [&](uint32_t p) {
                return optional_space_then_run(s, p, [&](uint32_t q) { return (s.fl[q] & cp_letter) != 0; });
            });
            return;
        case Step::space_punct:
            split_matches(s, out, [&](uint32_t p) {
                return optional_space_then_run(s, p, [&](uint32_t q) { return (s.fl[q] & cp_punct) != 0; });
            });
            return;
        case Step::cjk: run_of([&](uint32_t p) { return in_cjk(wide_value(s, p)); }); return;
        case Step::ds_letters:
            split_matches(s, out, [&](uint32_t p) {
                return optional_space_then_run(s, p, [&](uint32_t q) { return in_deepseek_letters(wide_value(s, q)); });
            });
            return;
        case Step::ds_punct:
            split_matches(s, out, [&](uint32_t p) {
                return optional_space_then_run(s, p, [&](uint32_t q) { return in_deepseek_punct(wide_value(s, q)); });
            });
            return;
        case Step::trailing_space: {
            uint32_t t = s.e;
            while (t > s.b && (s.fl[t - 1] & cp_whitespace)) --t;
            Cutter cut{out, s.b};
            cut.cut(t);
            cut.cut(s.e);
            return;
        }
    }
}

}  // namespace

void pre_tokenize(PreTokenizer kind, const std::vector<uint32_t>& cps, std::vector<CpRange>& words) {
    words.clear();
    if (cps.empty()) return;
    std::vector<uint16_t> flags(cps.size());
    for (size_t i = 0; i < cps.size(); ++i) flags[i] = cp_flags(cps[i]);

    std::vector<CpRange> frags{{0u, static_cast<uint32_t>(cps.size())}};
    std::vector<CpRange> next;
    for (Step step : steps_for(kind)) {
        next.clear();
        next.reserve(frags.size() * 2);
        for (const CpRange& r : frags) run_step(step, Frag{cps.data(), flags.data(), r.first, r.second}, next);
        frags.swap(next);
    }
    words.swap(frags);
}

}  // namespace llamas::tok
