#include "tokenizer/spm.h"

#include <algorithm>
#include <cstdio>
#include <unordered_map>

#include "tokenizer/unicode.h"

namespace llamas::tok {

namespace {

constexpr std::string_view k_space_mark = "\xE2\x96\x81";

struct Symbol {
    uint32_t begin, len;  // bytes of the segment; len 0 once merged into its left neighbour
    int32_t prev, next;
};

struct Candidate {
    float score;
    int32_t left, right;
    uint32_t len;  // left.len + right.len when queued: any change to either makes it stale
};

// Heap order: highest score first; among equal scores the leftmost pair.
bool lower_priority(const Candidate& a, const Candidate& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
}

}  // namespace

struct SpmModel::Scratch {
    std::vector<Symbol> syms;
    std::vector<Candidate> heap;
};

SpmModel::SpmModel(const Vocab& vocab, int32_t unk) : vocab_(vocab), unk_(unk) {
    for (int b = 0; b < 256; ++b) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "<0x%02X>", b);
        int32_t id = vocab_.find(hex);
        if (id == k_no_token) {
            const char c = static_cast<char>(b);
            id = vocab_.find(std::string_view(&c, 1));
        }
        byte_token_[b] = id;
    }
    split_at_spaces_ = true;
    for (const std::string& t : vocab_.text) {
        for (size_t p = t.find(k_space_mark, 1); p != std::string::npos; p = t.find(k_space_mark, p + 1)) {
            if (p < 3 || t.compare(p - 3, 3, k_space_mark) != 0) {
                split_at_spaces_ = false;
                break;
            }
        }
        if (!split_at_spaces_) break;
    }
}

void SpmModel::encode(std::string_view text, std::vector<int32_t>& out) const {
    Scratch scratch;
    if (!split_at_spaces_) {
        encode_segment(text, scratch, out);
        return;
    }
    // Cut before every space mark that follows something other than a space mark, walking the
    // same character chunks the merge starts from.
    // Long texts repeat their words: remember the tokens of short segments for the rest of this
    // call (local, so encoding stays thread-safe; merging is deterministic, so results are equal).
    const bool use_memo = text.size() > 4096;
    std::unordered_map<std::string_view, std::pair<uint32_t, uint32_t>> seen;  // segment -> range in `memo`
    std::vector<int32_t> memo;
    auto run = [&](std::string_view seg) {
        if (!use_memo || seg.size() > 32) {
            encode_segment(seg, scratch, out);
            return;
        }
        auto it = seen.find(seg);
        if (it != seen.end()) {
            out.insert(out.end(), memo.begin() + it->second.first, memo.begin() + it->second.second);
            return;
        }
        const size_t start = out.size();
        encode_segment(seg, scratch, out);
        if (seen.size() < 65536) {
            const uint32_t m0 = static_cast<uint32_t>(memo.size());
            memo.insert(memo.end(), out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
            seen.emplace(seg, std::make_pair(m0, static_cast<uint32_t>(memo.size())));
        }
    };
    size_t seg = 0;
    bool prev_is_mark = false;
    for (size_t off = 0; off < text.size();) {
        const size_t len = std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off);
        const bool is_mark = text.substr(off, len) == k_space_mark;
        if (is_mark && !prev_is_mark && off > seg) {
            run(text.substr(seg, off - seg));
            seg = off;
        }
        prev_is_mark = is_mark;
        off += len;
    }
    run(text.substr(seg));
}

void SpmModel::encode_segment(std::string_view text, Scratch& scratch, std::vector<int32_t>& out) const {
    if (text.empty()) return;
    std::vector<Symbol>& syms = scratch.syms;
    std::vector<Candidate>& heap = scratch.heap;
    syms.clear();
    heap.clear();
    for (size_t off = 0; off < text.size();) {
        const uint32_t len = static_cast<uint32_t>(std::min(utf8_len(static_cast<uint8_t>(text[off])), text.size() - off));
        const int32_t idx = static_cast<int32_t>(syms.size());
        syms.push_back(Symbol{static_cast<uint32_t>(off), len, idx - 1, off + len < text.size() ? idx + 1 : -1});
        off += len;
    }

    auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const uint32_t len = syms[left].len + syms[right].len;
        const int32_t id = vocab_.find(text.substr(syms[left].begin, len));
        if (id == k_no_token) return;
        heap.push_back(Candidate{vocab_.score[static_cast<size_t>(id)], left, right, len});
        std::push_heap(heap.begin(), heap.end(), lower_priority);
    };
    for (int32_t i = 1; i < static_cast<int32_t>(syms.size()); ++i) consider(i - 1, i);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), lower_priority);
        const Candidate c = heap.back();
        heap.pop_back();
        Symbol& l = syms[c.left];
        Symbol& r = syms[c.right];
        if (l.len == 0 || r.len == 0 || l.len + r.len != c.len) continue;
        l.len += r.len;
        r.len = 0;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = c.left;
        consider(l.prev, c.left);
        consider(c.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        const Symbol& s = syms[i];
        const int32_t id = vocab_.find(text.substr(s.begin, s.len));
        if (id != k_no_token) {
            out.push_back(id);
            continue;
        }
        // Every merged symbol is a token, so only single characters get here: their bytes, or
        // the unknown token when the vocabulary lacks a byte token (the reference aborts there).
        bool all_bytes = true;
        for (uint32_t b = s.begin; b < s.begin + s.len; ++b) all_bytes &= byte_token_[static_cast<uint8_t>(text[b])] != k_no_token;
        if (!all_bytes) {
            if (unk_ != k_no_token) out.push_back(unk_);
            continue;
        }
        for (uint32_t b = s.begin; b < s.begin + s.len; ++b) out.push_back(byte_token_[static_cast<uint8_t>(text[b])]);
    }
}

}  // namespace llamas::tok
