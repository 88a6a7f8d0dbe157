// GGUF v3 writer: metadata key-values (copied from a File and/or set one by one) and tensors
// with their type, shape and data, laid out with the file's alignment.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"
#include "quant/types.h"

namespace llamas::gguf {

class Writer {
public:
    // Appends every key-value of src, in its order (later set_* calls replace by key).
    void copy_metadata(const File& src);
    // Appends one key-value as read from a file (replacing any earlier one with that key).
    void copy_kv(const KeyValue& kv);

    // Setting a key removes any earlier value and appends the new one at the end (the order
    // ggml's gguf_set_val_* gives).
    void set_u32(std::string_view key, uint32_t v);
    void set_i32(std::string_view key, int32_t v);
    void set_f32(std::string_view key, float v);
    void set_bool(std::string_view key, bool v);
    void set_string(std::string_view key, std::string_view v);
    void remove(std::string_view key);
    bool has(std::string_view key) const;

    // Adds a tensor. ne is in ggml order (ne[0] = row length), n_dims 1..4; data must hold
    // exactly the bytes of that shape in that type. The data is copied.
    void add_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, const void* data, size_t n_bytes);
    // Same, taking ownership of the bytes without a copy.
    void add_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, std::vector<uint8_t>&& data);
    // Same, but the writer keeps only the pointer: data must stay valid until write() returns.
    void add_tensor_ref(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, const void* data, size_t n_bytes);
    size_t tensor_count() const { return tensors_.size(); }

    // Alignment of the data section and of each tensor: general.alignment when set, else 32.
    uint32_t alignment() const;

    // Writes the file (throws Error(io) on failure, leaving no partial file behind).
    void write(const std::string& path) const;
    // The whole file as bytes (for tests and in-memory use).
    std::vector<uint8_t> to_bytes() const;

private:
    struct Kv {
        std::string key;
        ValueType type;
        std::vector<uint8_t> payload;  // the value's encoding after the type field
    };
    struct Tensor {
        std::string name;
        GgmlType type;
        uint32_t n_dims;
        int64_t ne[4];
        std::vector<uint8_t> owned;
        const uint8_t* data;
        size_t n_bytes;
    };

    void put_kv(std::string_view key, ValueType type, std::vector<uint8_t> payload);
    Tensor& new_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, size_t n_bytes);
    std::vector<uint8_t> header_bytes() const;

    std::vector<Kv> kvs_;
    std::vector<Tensor> tensors_;
};

}  // namespace llamas::gguf
