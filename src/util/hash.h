// A fast 64-bit hash for checksums and fingerprints (not cryptographic): 8 bytes at a time with
// multiply-xorshift mixing, fed incrementally in pieces of any size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace llamas {

class Hash64 {
public:
    void update(const void* data, size_t n) {
        const auto* p = static_cast<const uint8_t*>(data);
        total_ += n;
        while (n > 0 && fill_ > 0) {  // finish a word begun by the last piece
            pending_[fill_++] = *p++;
            --n;
            if (fill_ == 8) {
                mix(word(pending_));
                fill_ = 0;
            }
        }
        for (; n >= 8; n -= 8, p += 8) mix(word(p));
        while (n-- > 0) pending_[fill_++] = *p++;
    }
    uint64_t digest() const {
        uint64_t h = h_;
        uint8_t last[8] = {};
        std::memcpy(last, pending_, fill_);
        h = (h ^ word(last)) * 0xC4CEB9FE1A85EC53ull;
        h ^= total_ * 0x9E3779B97F4A7C15ull;
        h = (h ^ (h >> 31)) * 0xFF51AFD7ED558CCDull;
        return h ^ (h >> 29);
    }

private:
    static uint64_t word(const uint8_t* p) {
        uint64_t w;
        std::memcpy(&w, p, 8);
        return w;
    }
    void mix(uint64_t w) {
        h_ = (h_ ^ w) * 0xFF51AFD7ED558CCDull;
        h_ ^= h_ >> 32;
    }
    uint64_t h_ = 0x243F6A8885A308D3ull;
    uint64_t total_ = 0;
    uint8_t pending_[8] = {};
    size_t fill_ = 0;
};

}  // namespace llamas
