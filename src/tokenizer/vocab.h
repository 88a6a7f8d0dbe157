// The token table every tokenizer algorithm reads: texts, scores, attributes and a text -> id map.
// Internal to src/tokenizer.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace llamas::tok {

// Token attributes as bit flags (the reference runtime's llama_token_attr values), so the
// auto-detection of control-looking tokens can add `control` to a normal token.
enum TokenAttr : uint32_t {
    attr_undefined = 0,
    attr_unknown = 1 << 0,
    attr_unused = 1 << 1,
    attr_normal = 1 << 2,
    attr_control = 1 << 3,
    attr_user_defined = 1 << 4,
    attr_byte = 1 << 5,
    attr_lstrip = 1 << 7,
    attr_rstrip = 1 << 8,
};

constexpr int32_t k_no_token = -1;

// A fast string hash for short keys (token texts): 8 bytes at a time, multiply-xorshift mixing.
inline uint64_t hash_bytes(std::string_view s) {
    uint64_t h = 0x9E3779B97F4A7C15ull ^ (s.size() * 0xC2B2AE3D27D4EB4Full);
    const char* p = s.data();
    size_t n = s.size();
    while (n >= 8) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    if (n) std::memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 29;
    return h;
}

// Text -> id lookup: open addressing over the owned token texts (the lookup is the inner loop
// of every tokenizer, so it avoids std::unordered_map's node chasing).
class TokenIndex {
public:
    // Returns the id already holding `s` if any (the new id is then not inserted).
    int32_t insert(const std::vector<std::string>& texts, int32_t id);
    int32_t find(const std::vector<std::string>& texts, std::string_view s) const {
        if (slots_.empty()) return k_no_token;
        const uint64_t h = hash_bytes(s);
        const uint32_t tag = static_cast<uint32_t>(h >> 32);
        for (size_t i = h & mask_;; i = (i + 1) & mask_) {
            const Slot& sl = slots_[i];
            if (sl.id == k_no_token) return k_no_token;
            if (sl.tag == tag && texts[static_cast<size_t>(sl.id)] == s) return sl.id;
        }
    }
    void reserve(size_t n);

private:
    struct Slot {
        uint32_t tag;
        int32_t id;
    };
    std::vector<Slot> slots_;
    size_t mask_ = 0;
};

inline void TokenIndex::reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap <<= 1;
    slots_.assign(cap, Slot{0, k_no_token});
    mask_ = cap - 1;
}

inline int32_t TokenIndex::insert(const std::vector<std::string>& texts, int32_t id) {
    const std::string& s = texts[static_cast<size_t>(id)];
    const uint64_t h = hash_bytes(s);
    const uint32_t tag = static_cast<uint32_t>(h >> 32);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
        Slot& sl = slots_[i];
        if (sl.id == k_no_token) {
            sl = Slot{tag, id};
            return k_no_token;
        }
        if (sl.tag == tag && texts[static_cast<size_t>(sl.id)] == s) return sl.id;
    }
}

struct Vocab {
    std::vector<std::string> text;  // owned copies: the Tokenizer does not need the GGUF file afterwards
    std::vector<float> score;
    std::vector<uint32_t> attr;
    TokenIndex ids;
    size_t max_token_len = 0;

    int32_t size() const { return static_cast<int32_t>(text.size()); }
    int32_t find(std::string_view s) const { return ids.find(text, s); }
    bool has_attr(int32_t id, uint32_t a) const { return (attr[static_cast<size_t>(id)] & a) != 0; }
};

}  // namespace llamas::tok
