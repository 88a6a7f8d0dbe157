#include "tokenizer/bpe.h"

#include <algorithm>
#include <unordered_map>

#include "tokenizer/unicode.h"
#include "util/utf8.h"

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
    size_t cap = 16;
    while (cap < 2 * merges.size()) cap <<= 1;
    merges_.assign(cap, MergeSlot{k_empty, Merge{0, 0}});
    merge_mask_ = cap - 1;
    std::string joined;
    for (size_t i = 0; i < merges.size(); ++i) {
        const std::string_view m = merges[i];
        const size_t space = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
        if (space == std::string_view::npos) continue;
        const std::string_view left = m.substr(0, space), right = m.substr(space + 1);
        joined.assign(left).append(right);
        const int32_t l = intern(left), r = intern(right), res = intern(joined);
        add_merge(l, r, Merge{static_cast<int32_t>(i), res});  // the first occurrence of a pair wins
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

namespace {
size_t mix(uint64_t k) {
    k ^= k >> 33;
    k *= 0xFF51AFD7ED558CCDull;
    k ^= k >> 29;
    return static_cast<size_t>(k);
}
}  // namespace

void BpeModel::add_merge(int32_t left, int32_t right, Merge m) {
    const uint64_t key = pair_key(left, right);
    for (size_t i = mix(key) & merge_mask_;; i = (i + 1) & merge_mask_) {
        MergeSlot& s = merges_[i];
        if (s.key == key) return;
        if (s.key == k_empty) {
            s = MergeSlot{key, m};
            ++n_merges_;
            return;
        }
    }
}

const BpeModel::Merge* BpeModel::find_merge(int32_t left, int32_t right) const {
    const uint64_t key = pair_key(left, right);
    for (size_t i = mix(key) & merge_mask_;; i = (i + 1) & merge_mask_) {
        const MergeSlot& s = merges_[i];
        if (s.key == key) return &s.merge;
        if (s.key == k_empty) return nullptr;
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

struct BpeModel::Scratch {
    std::vector<Symbol> syms;
    std::vector<Candidate> heap;
    std::string encoded;
};

void BpeModel::encode(std::string_view text, std::vector<int32_t>& out) const {
    const std::vector<uint32_t> cps = decode_utf8(text);
    std::vector<CpRange> words;
    pre_tokenize(config_.kind, cps, words);
    Scratch scratch;
    std::string bytes;
    // Natural text repeats its words: remember the tokens of short words for the rest of this
    // call (local, so encoding stays thread-safe; merging is deterministic, so results are equal).
    std::unordered_map<std::string, std::pair<uint32_t, uint32_t>> seen;  // word -> range in `memo`
    std::vector<int32_t> memo;
    const bool use_memo = words.size() > 256;
    for (const CpRange& w : words) {
        bytes.clear();
        for (uint32_t i = w.first; i < w.second; ++i) append_utf8(bytes, cps[i]);
        if (!use_memo || bytes.size() > 24) {
            encode_word(bytes, scratch, out);
            continue;
        }
        auto it = seen.find(bytes);
        if (it != seen.end()) {
            out.insert(out.end(), memo.begin() + it->second.first, memo.begin() + it->second.second);
            continue;
        }
        const size_t start = out.size();
        encode_word(bytes, scratch, out);
        if (seen.size() < 65536) {
            const uint32_t m0 = static_cast<uint32_t>(memo.size());
            memo.insert(memo.end(), out.begin() + static_cast<std::ptrdiff_t>(start), out.end());
            seen.emplace(bytes, std::make_pair(m0, static_cast<uint32_t>(memo.size())));
        }
    }
}

void BpeModel::encode_word(const std::string& bytes, Scratch& scratch, std::vector<int32_t>& out) const {
    if (bytes.empty()) return;
    if (config_.ignore_merges) {
        std::string& encoded = scratch.encoded;
        encoded.clear();
        for (char c : bytes) encoded += byte_to_unicode(static_cast<uint8_t>(c));
        const int32_t id = vocab_.find(encoded);
        if (id != k_no_token) {
            out.push_back(id);
            return;
        }
    }

    const int32_t n = static_cast<int32_t>(bytes.size());
    std::vector<Symbol>& syms = scratch.syms;
    std::vector<Candidate>& heap = scratch.heap;
    syms.resize(static_cast<size_t>(n));
    heap.clear();
    for (int32_t i = 0; i < n; ++i)
        syms[i] = Symbol{byte_sym_[static_cast<uint8_t>(bytes[i])], i - 1, i + 1 < n ? i + 1 : -1,
                         static_cast<uint32_t>(i), static_cast<uint32_t>(i + 1)};

    const CandidateOrder order;
    auto consider = [&](int32_t left, int32_t right) {
        if (left < 0 || right < 0) return;
        const Merge* m = find_merge(syms[left].sym, syms[right].sym);
        if (!m) return;
        heap.push_back(Candidate{m->rank, left, right, syms[left].sym, syms[right].sym, m->result});
        std::push_heap(heap.begin(), heap.end(), order);
    };
    for (int32_t i = 1; i < n; ++i) consider(i - 1, i);

    while (!heap.empty()) {
        std::pop_heap(heap.begin(), heap.end(), order);
        const Candidate c = heap.back();
        heap.pop_back();
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
