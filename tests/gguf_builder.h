// Writes GGUF bytes field by field, including deliberately wrong values, for reader tests.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace llamas::test {

class GgufBuilder {
public:
    std::vector<uint8_t> bytes;

    GgufBuilder& raw(const void* p, size_t n) {
        bytes.insert(bytes.end(), static_cast<const uint8_t*>(p), static_cast<const uint8_t*>(p) + n);
        return *this;
    }
    template <class T>
    GgufBuilder& put(T v) { return raw(&v, sizeof v); }
    GgufBuilder& u32(uint32_t v) { return put(v); }
    GgufBuilder& u64(uint64_t v) { return put(v); }
    GgufBuilder& str(const std::string& s) { u64(s.size()); return raw(s.data(), s.size()); }
    GgufBuilder& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        raw("GGUF", 4);
        return u32(version).u64(n_tensors).u64(n_kv);
    }
    // A key with its type tag (8 = STRING, 4 = UINT32, 9 = ARRAY, ...); the value follows.
    GgufBuilder& key(const std::string& k, uint32_t type) { return str(k).u32(type); }
    GgufBuilder& kv_u32(const std::string& k, uint32_t v) { return key(k, 4).u32(v); }
    GgufBuilder& kv_str(const std::string& k, const std::string& v) { return key(k, 8).str(v); }
    GgufBuilder& tensor(const std::string& name, std::vector<uint64_t> ne, uint32_t type, uint64_t offset) {
        str(name).u32(static_cast<uint32_t>(ne.size()));
        for (uint64_t n : ne) u64(n);
        return u32(type).u64(offset);
    }
    GgufBuilder& pad_to(size_t alignment) {
        while (bytes.size() % alignment) bytes.push_back(0);
        return *this;
    }
    GgufBuilder& zeros(size_t n) {
        bytes.insert(bytes.end(), n, 0);
        return *this;
    }
};

}  // namespace llamas::test
