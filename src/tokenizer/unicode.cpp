#include "tokenizer/unicode.h"

#include <utf8proc.h>

#include <array>

#include "util/utf8.h"

namespace llamas::tok {

namespace {

bool is_white_space(uint32_t cp) {
    // The Unicode White_Space property (what \s matches in the reference's tables).
    switch (cp) {
        case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0x85: case 0xA0:
        case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000:
            return true;
        default:
            return cp >= 0x2000 && cp <= 0x200A;
    }
}

uint16_t flags_from_category(int cat) {
    switch (cat) {
        case UTF8PROC_CATEGORY_LU: case UTF8PROC_CATEGORY_LL: case UTF8PROC_CATEGORY_LT:
        case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_LO:
            return cp_letter;
        case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_MC: case UTF8PROC_CATEGORY_ME:
            return cp_mark;
        case UTF8PROC_CATEGORY_ND: case UTF8PROC_CATEGORY_NL: case UTF8PROC_CATEGORY_NO:
            return cp_number;
        case UTF8PROC_CATEGORY_PC: case UTF8PROC_CATEGORY_PD: case UTF8PROC_CATEGORY_PS:
        case UTF8PROC_CATEGORY_PE: case UTF8PROC_CATEGORY_PI: case UTF8PROC_CATEGORY_PF:
        case UTF8PROC_CATEGORY_PO:
            return cp_punct;
        case UTF8PROC_CATEGORY_SM: case UTF8PROC_CATEGORY_SC: case UTF8PROC_CATEGORY_SK:
        case UTF8PROC_CATEGORY_SO:
            return cp_symbol;
        case UTF8PROC_CATEGORY_ZS: case UTF8PROC_CATEGORY_ZL: case UTF8PROC_CATEGORY_ZP:
            return cp_separator;
        case UTF8PROC_CATEGORY_CC: case UTF8PROC_CATEGORY_CF: case UTF8PROC_CATEGORY_CS:
        case UTF8PROC_CATEGORY_CO:
            return cp_control;
        default:
            return cp_undefined;
    }
}

uint16_t compute_flags(uint32_t cp) {
    if (cp > 0x10FFFF) return cp_undefined;
    uint16_t f = flags_from_category(utf8proc_category(static_cast<utf8proc_int32_t>(cp)));
    if (is_white_space(cp)) f |= cp_whitespace;
    return f;
}

struct AsciiFlags {
    std::array<uint16_t, 128> f{};
    AsciiFlags() {
        for (uint32_t c = 0; c < 128; ++c) f[c] = compute_flags(c);
    }
};

struct ByteMap {
    std::array<std::string, 256> to_utf8;
    std::array<int16_t, 324> from_cp{};  // every mapped codepoint is below 256 + 68
    ByteMap() {
        from_cp.fill(-1);
        auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF); };
        int next = 0;
        for (int b = 0; b < 256; ++b) {
            const uint32_t cp = printable(b) ? static_cast<uint32_t>(b) : static_cast<uint32_t>(256 + next++);
            append_utf8(to_utf8[b], cp);
            from_cp[cp] = static_cast<int16_t>(b);
        }
    }
};

const ByteMap& byte_map() {
    static const ByteMap m;
    return m;
}

}  // namespace

uint16_t cp_flags(uint32_t cp) {
    static const AsciiFlags ascii;
    return cp < 128 ? ascii.f[cp] : compute_flags(cp);
}

std::vector<uint32_t> decode_utf8(std::string_view s) {
    std::vector<uint32_t> out;
    out.reserve(s.size());
    const size_t n = s.size();
    auto cont = [&](size_t i) { return i < n && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80; };
    size_t i = 0;
    while (i < n) {
        const uint8_t c = static_cast<uint8_t>(s[i]);
        if (c < 0x80) {
            out.push_back(c);
            i += 1;
        } else if ((c & 0xE0) == 0xC0 && cont(i + 1)) {
            out.push_back(((c & 0x1Fu) << 6) | (static_cast<uint8_t>(s[i + 1]) & 0x3Fu));
            i += 2;
        } else if ((c & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
            out.push_back(((c & 0x0Fu) << 12) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 6) |
                          (static_cast<uint8_t>(s[i + 2]) & 0x3Fu));
            i += 3;
        } else if ((c & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            out.push_back(((c & 0x07u) << 18) | ((static_cast<uint8_t>(s[i + 1]) & 0x3Fu) << 12) |
                          ((static_cast<uint8_t>(s[i + 2]) & 0x3Fu) << 6) | (static_cast<uint8_t>(s[i + 3]) & 0x3Fu));
            i += 4;
        } else {
            out.push_back(0xFFFD);
            i += 1;
        }
    }
    return out;
}

bool is_valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        utf8proc_int32_t cp;
        const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data() + i);
        const utf8proc_ssize_t len = utf8proc_iterate(p, static_cast<utf8proc_ssize_t>(s.size() - i), &cp);
        if (len <= 0) return false;
        i += static_cast<size_t>(len);
    }
    return true;
}

uint32_t to_lower(uint32_t cp) {
    if (cp > 0x10FFFF) return cp;
    return static_cast<uint32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

uint32_t nfd_first(uint32_t cp) {
    if (cp < 0xC0 || cp > 0x10FFFF) return cp;
    utf8proc_int32_t buf[8];
    int boundclass = 0;
    const utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(cp), buf, 8,
                                                       UTF8PROC_DECOMPOSE, &boundclass);
    return n >= 1 ? static_cast<uint32_t>(buf[0]) : cp;
}

const std::string& byte_to_unicode(uint8_t byte) { return byte_map().to_utf8[byte]; }

int unicode_to_byte(uint32_t cp) {
    const ByteMap& m = byte_map();
    return cp < m.from_cp.size() ? m.from_cp[cp] : -1;
}

}  // namespace llamas::tok
