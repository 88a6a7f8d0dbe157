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
    explicit SpmModel(const Vocab& vocab);
    // Appends the tokens of `text`, whose spaces must already be escaped as U+2581. Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

private:
    const Vocab& vocab_;
    int32_t byte_token_[256];  // <0xNN>, else the single-byte token, else k_no_token
};

}  // namespace llamas::tok
