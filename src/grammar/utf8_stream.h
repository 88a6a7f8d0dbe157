// UTF-8 decoding that carries an unfinished character from one token's bytes to the next.
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

namespace llamas::grammar {

// The bits of a character whose first bytes have arrived. n_remain: continuation bytes still
// expected (0: none pending; -1: the bytes were not UTF-8, nothing can follow).
struct PartialUtf8 {
    uint32_t value = 0;
    int32_t n_remain = 0;
    bool operator==(const PartialUtf8& o) const { return value == o.value && n_remain == o.n_remain; }
};

// Appends the code points completed by `bytes` after `state` to out; returns the new state.
// A NUL byte, a stray continuation byte or a bad lead byte gives n_remain = -1.
inline PartialUtf8 decode_utf8(std::string_view bytes, PartialUtf8 state, std::vector<uint32_t>& out) {
    uint32_t value = state.value;
    int32_t remain = state.n_remain;
    if (remain < 0) return state;
    for (const char ch : bytes) {
        const auto b = static_cast<unsigned char>(ch);
        if (remain > 0) {
            if ((b & 0xC0) != 0x80) return {0, -1};
            value = (value << 6) | (b & 0x3F);
            if (--remain == 0) out.push_back(value);
            continue;
        }
        if (b == 0) return {0, -1};
        if (b < 0x80) {
            out.push_back(b);
        } else if ((b & 0xE0) == 0xC0) {
            value = b & 0x1F;
            remain = 1;
        } else if ((b & 0xF0) == 0xE0) {
            value = b & 0x0F;
            remain = 2;
        } else if ((b & 0xF8) == 0xF0) {
            value = b & 0x07;
            remain = 3;
        } else {
            return {0, -1};
        }
    }
    return {remain > 0 ? value : 0, remain};
}

}  // namespace llamas::grammar
