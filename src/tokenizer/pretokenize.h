// Byte-level BPE pre-tokenizers: split text into words before merging, as selected by the
// `tokenizer.ggml.pre` metadata. Each regex of the reference runtime is implemented by a
// hand-written linear-time matcher over Unicode category flags (no std::regex).
#pragma once
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace llamas::tok {

enum class PreTokenizer {
    default_,        // no/unknown-era pre metadata: punctuation runs, GPT-2 regex, numbers, digit triples
    gpt2,            // gpt-2, mpt, ...: the GPT-2 regex
    llama3,          // llama3 / llama-bpe: contractions, letters, digits in groups of up to 3, ...
    qwen2,           // qwen2: as llama3 but single digits
    deepseek_llm,
    deepseek_coder,
    falcon,
    starcoder,       // starcoder, refact, command-r, smollm: single digits, then the GPT-2 regex
};

struct PreTokenizerConfig {
    PreTokenizer kind = PreTokenizer::default_;
    bool ignore_merges = false;  // a word that is already a token is emitted whole (llama3)
    bool add_bos = false;        // default for tokenizer.ggml.add_bos_token when it is absent
    bool clean_spaces = true;    // clean_up_tokenization_spaces when detokenizing
};

// Maps a `tokenizer.ggml.pre` value (empty = absent) to its configuration; throws
// Error(unsupported) naming any value it does not know.
PreTokenizerConfig pre_tokenizer_config(std::string_view name);

// A word as a half-open range of codepoint indices.
using CpRange = std::pair<uint32_t, uint32_t>;

// Splits the codepoints into words; every codepoint ends up in exactly one word, in order.
void pre_tokenize(PreTokenizer kind, const std::vector<uint32_t>& cps, std::vector<CpRange>& words);

}  // namespace llamas::tok
