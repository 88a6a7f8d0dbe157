#include "tokenizer/special.h"

#include <cctype>

namespace llamas::tok {

void partition_special(const Vocab& vocab, const std::vector<int32_t>& specials, std::string_view text,
                       bool parse_special, std::vector<Fragment>& out) {
    out.clear();
    if (text.empty()) return;
    out.push_back(Fragment{k_no_token, 0, static_cast<uint32_t>(text.size())});
    std::vector<Fragment> next;
    // Which byte pairs occur in the text: most special tokens (hundreds of <unused..> in some
    // vocabularies) can then be skipped without scanning the text for them.
    std::vector<bool> pair_seen(65536, false), byte_seen(256, false);
    for (size_t i = 0; i < text.size(); ++i) {
        const unsigned char c = static_cast<unsigned char>(text[i]);
        byte_seen[c] = true;
        if (i + 1 < text.size()) pair_seen[c << 8 | static_cast<unsigned char>(text[i + 1])] = true;
    }
    auto may_occur = [&](std::string_view t) {
        if (t.size() == 1) return static_cast<bool>(byte_seen[static_cast<unsigned char>(t[0])]);
        for (size_t i = 0; i + 1 < t.size(); ++i)
            if (!pair_seen[static_cast<unsigned char>(t[i]) << 8 | static_cast<unsigned char>(t[i + 1])]) return false;
        return true;
    };
    auto space = [&](uint32_t i) { return std::isspace(static_cast<unsigned char>(text[i])) != 0; };

    // Longest tokens first: each one splits every raw piece left by the previous ones.
    for (int32_t id : specials) {
        const uint32_t a = vocab.attr[static_cast<size_t>(id)];
        if (!parse_special && (a & (attr_control | attr_unknown))) continue;
        const std::string_view tok = vocab.text[static_cast<size_t>(id)];
        if (tok.empty() || !may_occur(tok) || text.find(tok) == std::string_view::npos) continue;

        next.clear();
        for (const Fragment& f : out) {
            if (f.token != k_no_token) {
                next.push_back(f);
                continue;
            }
            uint32_t pos = f.offset;
            const uint32_t end = f.offset + f.length;
            while (pos < end) {
                const size_t m = text.substr(0, end).find(tok, pos);
                if (m == std::string_view::npos) break;
                uint32_t left_end = static_cast<uint32_t>(m);
                if (a & attr_lstrip)
                    while (left_end > pos && space(left_end - 1)) --left_end;
                if (left_end > pos) next.push_back(Fragment{k_no_token, pos, left_end - pos});
                next.push_back(Fragment{id, 0, 0});
                pos = static_cast<uint32_t>(m + tok.size());
                if (a & attr_rstrip)
                    while (pos < end && space(pos)) ++pos;
            }
            if (pos < end) next.push_back(Fragment{k_no_token, pos, end - pos});
        }
        out.swap(next);
    }
}

}  // namespace llamas::tok
