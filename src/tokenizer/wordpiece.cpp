#include "tokenizer/wordpiece.h"

#include <algorithm>

#include "tokenizer/unicode.h"
#include "util/utf8.h"

namespace llamas::tok {

namespace {

// The CJK ideograph blocks BERT isolates (including the reference's 0x2B920 start for one block).
bool is_cjk_ideograph(uint32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) || (c >= 0x20000 && c <= 0x2A6DF) ||
           (c >= 0x2A700 && c <= 0x2B73F) || (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

}  // namespace

std::vector<std::string> wordpiece_words(std::string_view text, const WordPieceOptions& opt) {
    std::vector<std::string> words(1);
    for (uint32_t c : decode_utf8(text)) {
        if (opt.strip_accents) c = nfd_first(c);
        const uint32_t orig = c;
        const uint16_t f = cp_flags(c);
        if (f & cp_whitespace) {
            if (!words.back().empty()) words.emplace_back();
            continue;
        }
        if (c == 0 || c == 0xFFFD || (f & cp_control)) continue;
        if (opt.strip_accents && (f & cp_mark)) continue;
        if (opt.lowercase) c = to_lower(c);
        if ((f & cp_punct) || (orig < 0x7F && (f & cp_symbol)) || is_cjk_ideograph(orig)) {
            if (!words.back().empty()) words.emplace_back();
            append_utf8(words.back(), c);
            words.emplace_back();
        } else {
            append_utf8(words.back(), c);
        }
    }
    if (words.back().empty()) words.pop_back();
    return words;
}

void wordpiece_encode(const Vocab& vocab, std::string_view text, const WordPieceOptions& opt, std::vector<int32_t>& out) {
    std::string word;
    for (const std::string& w : wordpiece_words(text, opt)) {
        if (w.empty()) continue;
        word.assign("\xE2\x96\x81").append(w);  // word-initial pieces carry the U+2581 marker
        const size_t n = word.size();
        const size_t first = out.size();
        for (size_t i = 0; i < n;) {
            size_t j = std::min(n, i + vocab.max_token_len + 1);
            int32_t id = k_no_token;
            for (; j > i; --j) {
                id = vocab.find(std::string_view(word).substr(i, j - i));
                if (id != k_no_token) break;
            }
            if (id == k_no_token) {  // an unmatched rest makes the whole word unknown
                out.resize(first);
                break;
            }
            out.push_back(id);
            i = j;
        }
        if (out.size() == first && opt.unk != k_no_token) out.push_back(opt.unk);
    }
}

}  // namespace llamas::tok
