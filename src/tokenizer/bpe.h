// Byte-level BPE (tokenizer.ggml.model = gpt2): pre-tokenize, map bytes to printable codepoints,
// then merge adjacent symbols by the rank of their pair in tokenizer.ggml.merges.
#pragma once
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tokenizer/pretokenize.h"
#include "tokenizer/vocab.h"

namespace llamas::tok {

class BpeModel {
public:
    // `merges` are "left right" strings, best first.
    BpeModel(const Vocab& vocab, const std::vector<std::string_view>& merges, PreTokenizerConfig config);

    // Appends the tokens of a text fragment (no special tokens inside). Thread-safe.
    void encode(std::string_view text, std::vector<int32_t>& out) const;

    const PreTokenizerConfig& config() const { return config_; }
    size_t n_merges() const { return n_merges_; }

private:
    struct Merge {
        int32_t rank;
        int32_t result;  // interned symbol of left+right
    };
    // (left, right) symbol pair -> merge, open addressing (the lookup is the merge loop's hot spot).
    struct MergeSlot {
        uint64_t key;
        Merge merge;
    };
    static constexpr uint64_t k_empty = ~0ull;
    const Merge* find_merge(int32_t left, int32_t right) const;
    void add_merge(int32_t left, int32_t right, Merge m);

    struct Scratch;
    int32_t intern(std::string_view text);
    void encode_word(const std::string& bytes, Scratch& scratch, std::vector<int32_t>& out) const;

    const Vocab& vocab_;
    PreTokenizerConfig config_;
    // Every string that can be a BPE symbol (vocab tokens and both sides and results of merges),
    // interned so merging compares integers instead of strings.
    std::deque<std::string> sym_text_;
    std::unordered_map<std::string_view, int32_t> sym_id_;
    std::vector<int32_t> sym_token_;  // vocab id of each symbol, or k_no_token
    std::vector<MergeSlot> merges_;
    size_t merge_mask_ = 0, n_merges_ = 0;
    int32_t byte_sym_[256];
    // What the reference emits for a byte of a symbol that is not a token: the tokens of the single
    // bytes of its byte-level encoding (usually one ASCII token, or nothing).
    std::vector<int32_t> byte_fallback_[256];
};

}  // namespace llamas::tok
