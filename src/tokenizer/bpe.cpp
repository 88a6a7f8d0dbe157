#include "tokenizer/bpe.h"

#include <queue>

#include "tokenizer/unicode.h"

namespace llamas::tok {

namespace {

uint64_t pair_key(int32_t a, int32_t b) { return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b); }

struct Symbol {
    int32_t sym;        // interned text
    int32_t prev, next;  // neighbours in the word, -1 at the ends
    uint32_t begin, end;  // raw byte range in the word
};

struct Candidate {
    int32_t rank;
    int32_t left, right;        // symbol positions
    int32_t left_sym, right_sym;  // their texts when queued: a changed symbol makes the candidate stale
    int32_t result;
};

// Lowest rank first; among equal ranks the leftmost pair (as the reference does).
struct CandidateOrder {
    bool operator()(const Candidate& a, const Candidate& b) const {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    }
};

}  // namespace

BpeModel::BpeModel(const Vocab& vocab, const std::vector<std::string_view>& merges, PreTokenizerConfig config)
    : vocab_(vocab), config_(config) {
    for (int b = 0; b < 256; ++b) byte_sym_[b] = intern(byte_to_unicode(static_cast<uint8_t>(b)));
    merges_.reserve(merges.size());
    std::string joined;
    for (size_t i = 0; i < merges.size(); ++i) {
        const std::string_view m = merges[i];
        const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
        if (space == std::string_view::npos) continue;
        const std::string_view left = m.substr(0, space), right = m.substr(space + 1);
        joined.assign(left).append(right);
        const int32_t l = intern(left), r = intern(right), res = intern(joined);
        merges_.emplace(pair_key(l, r), Merge{static_cast<int32_t>(i), res});  // first occurrence wins
    }
    sym_token_.resize(sym_text_.size());
    for (size_t s = 0; s < sym_text_.size(); ++s) sym_token_[s] = vocab_.find(sym_text_[s]);

    for (int b = 0; b < 256; ++b) {
        for (char x : byte_to_unicode(static_cast<uint8_t>(b))) {
            const int32_t id = vocab_.find(std::string_view(&x, 1));
            if (id != k_no_token) byte_fallback_[b].push_back(id);
        }
    }
}

int32_t BpeModel::intern(std::string_view text) {
    auto it = sym_id_.find(text);
    if (it != sym_id_.end()) return it->second;
    sym_text_.emplace_back(text);
    const int32_t id = static_cast<int32_t>(sym_text_.size() - 1);
    sym_id_.emplace(sym_text_.back(), id);
    return id;
}

void BpeModel::encode(std::string_view text, std::vector<int32_t>& out) const {
    const std::vector<uint32_t> cps = decode_utf8(text);
    std::vector<CpRange> words;
    pre_tokenize(config_.kind, cps, words);
    std::string bytes;
    for (const CpRange& w : words) {
        bytes.clear();
        for (uint32_t i = w.first; i < w.second; ++i) append_utf8(bytes, cps[i]);
        encode_word(bytes, out);
    }
}

void BpeModel::encode_word(const std::string& bytes, std::vector<int32_t>& out) const {
    if (bytes.empty()) return;
    if (config_.ignore_merges) {
        std::string encoded;
        for (char c : bytes) encoded += byte_to_unicode(static_cast<uint8_t>(c));
        const int32_t id = vocab_.find(encoded);
        if (id != k_no_token) {
            out.push_back(id);
            return;
        }
    }

    const int32_t n = static_cast<int32_t>(bytes.size());
    std::vector<Symbol> syms(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i)
        syms[i] = Symbol{byte_sym_[static_cast<uint8_t>(bytes[i])], i - 1, i + 1 < n ? i + 1 : -1,
                         static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)};

    std::priority_queue<Candidate, std::vector<Candidate>, CandidateOrder> queue;
    auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        auto it = merges_.find(pair_key(syms[left].sym, syms[right].sym));
        if (it == merges_.end()) return;
        queue.push(Candidate{it->second.rank, left, right, syms[left].sym, syms[right].sym, it->second.result});
    };
    for (int32_t i = 1; i < n; ++i) consider(i - 1, i);

    while (!queue.empty()) {
        const Candidate c = queue.top();
        queue.pop();
        Symbol& l = syms[c.left];
        Symbol& r = syms[c.right];
        if (l.sym < 0 || r.sym < 0 || l.sym != c.left_sym || r.sym != c.right_sym || l.next != c.right) continue;
        l.sym = c.result;
        l.end = r.end;
        l.next = r.next;
        if (r.next >= 0) syms[r.next].prev = c.left;
        r.sym = -1;  // merged away
        consider(l.prev, c.left);
        consider(c.left, l.next);
    }

    for (int32_t i = 0; i >= 0; i = syms[i].next) {
        const Symbol& s = syms[i];
        const int32_t id = sym_token_[s.sym];
        if (id != k_no_token) {
            out.push_back(id);
            continue;
        }
        for (uint32_t b = s.begin; b < s.end; ++b) {
            const auto& fb = byte_fallback_[static_cast<uint8_t>(bytes[b])];
            out.insert(out.end(), fb.begin(), fb.end());
        }
    }
}

}  // namespace llamas::tok
