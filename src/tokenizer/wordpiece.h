// WordPiece (tokenizer.ggml.model = bert): BERT basic tokenization (whitespace split, punctuation
// and CJK characters as words of their own, optional lowercasing and accent stripping), then
// greedy longest-match. The GGUF vocabulary spells word-initial pieces with a leading U+2581 and
// continuation pieces bare (the converter's rewrite of "##").
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace llamas::tok {

struct WordPieceOptions {
    bool lowercase = true;
    bool strip_accents = true;
    int32_t unk = k_no_token;
};

// Splits text into BERT basic-tokenizer words.
std::vector<std::string> wordpiece_words(std::string_view text, const WordPieceOptions& opt);

// Appends the tokens of a text fragment. Thread-safe.
void wordpiece_encode(const Vocab& vocab, std::string_view text, const WordPieceOptions& opt, std::vector<int32_t>& out);

}  // namespace llamas::tok
