// Unicode helpers for the tokenizers: UTF-8 decoding with the reference runtime's error handling,
// codepoint category flags (from utf8proc's tables), simple lowercasing, the first codepoint of a
// canonical decomposition, and GPT-2's byte <-> printable-codepoint map.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace llamas::tok {

// Category flags of one codepoint, grouped the way the pre-tokenizer regexes need them
// (\p{L}, \p{N}, \p{P}, \p{S}, \p{M}, \s ...). A codepoint outside the text has flags 0, while an
// unassigned one has `undefined` set: the splitters rely on that difference.
enum CpFlag : uint16_t {
    cp_undefined = 0x0001,
    cp_number = 0x0002,
    cp_letter = 0x0004,
    cp_separator = 0x0008,
    cp_mark = 0x0010,
    cp_punct = 0x0020,
    cp_symbol = 0x0040,
    cp_control = 0x0080,
    cp_whitespace = 0x0100,
};

uint16_t cp_flags(uint32_t cp);

// Byte length of the UTF-8 sequence a lead byte announces (1 for stray continuation bytes).
inline size_t utf8_len(uint8_t lead) {
    static constexpr uint8_t k_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return k_len[lead >> 4];
}

// Decodes UTF-8 into codepoints. A malformed sequence yields U+FFFD and skips one byte, as the
// reference runtime does (it also accepts overlong forms and values up to 0x1FFFFF).
std::vector<uint32_t> decode_utf8(std::string_view text);

// Whether `text` is well-formed UTF-8 (no overlongs, surrogates or values above 0x10FFFF).
bool is_valid_utf8(std::string_view text);

uint32_t to_lower(uint32_t cp);
// First codepoint of the canonical (NFD) decomposition: what BERT's accent stripping keeps.
uint32_t nfd_first(uint32_t cp);

// GPT-2 byte-level encoding: every byte maps to one printable codepoint.
const std::string& byte_to_unicode(uint8_t byte);  // the codepoint's UTF-8 form
// Inverse: the byte for a codepoint, or -1 when the codepoint is not in the map.
int unicode_to_byte(uint32_t cp);

}  // namespace llamas::tok
