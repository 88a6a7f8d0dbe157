// SentencePiece BPE (tokenizer.ggml.model = llama): start from UTF-8 characters and repeatedly
// merge the adjacent pair whose concatenation is the vocabulary token with the highest score;
// characters that never form a token fall back to byte tokens <0xNN>.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace llamas::tok {

class SpmModel {
public:
    // `unk` stands for a character that has neither a token nor byte tokens for all its bytes.
    SpmModel(const Vocab& vocab, int32_t unk);
    // Appends the tokens of `text`, whose spaces must already be escaped as U+2581. Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

private:
    struct Scratch;
    void encode_segment(std::string_view seg, Scratch& scratch, std::vector<int32_t>& out) const;

    const Vocab& vocab_;
    // True when no token has a U+2581 right after another character: then no merge can cross the
    // start of a space run and each such segment can be merged on its own (same result, much
    // faster on long texts than one priority queue over everything).
    bool split_at_spaces_ = false;
    int32_t unk_;
    int32_t byte_token_[256];  // <0xNN>, else the single-byte token, else k_no_token
};

}  // namespace llamas::tok
