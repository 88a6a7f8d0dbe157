// GGUF reader: parses and validates a whole GGUF v2/v3 file before anything trusts it.
// Metadata is parsed into small owned records; strings, numeric arrays and tensor data stay in
// the mapped file (nothing large is copied). Every failure throws Error(Status::bad_format) with
// a message naming the field and its byte offset.
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/mapped_file.h"
#include "quant/types.h"

namespace llamas::gguf {

// Metadata value types, as numbered in the GGUF spec.
enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, BOOL = 7,
    STRING = 8, ARRAY = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* value_type_name(ValueType t);
size_t value_type_size(ValueType t);  // bytes of a scalar; 0 for STRING/ARRAY

struct KeyValue {
    std::string key;
    ValueType type;
    uint64_t offset;  // byte offset of the key in the file (for messages)

    // Scalars (type != STRING/ARRAY): the value widened; exactly one is meaningful by type.
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    // STRING: points into the mapped file.
    std::string_view str;
    // ARRAY: element type and count. Numeric elements are raw little-endian bytes in the file
    // at arr_data; string elements are listed in arr_strings.
    ValueType arr_type = ValueType::U8;
    uint64_t arr_count = 0;
    const uint8_t* arr_data = nullptr;
    std::vector<std::string_view> arr_strings;

    bool is_integer() const;
    bool is_float() const { return type == ValueType::F32 || type == ValueType::F64; }
};

// A numeric array in the file, read element by element with conversion.
class ArrayView {
public:
    ArrayView(const KeyValue* kv) : kv_(kv) {}
    uint64_t size() const { return kv_->arr_count; }
    ValueType type() const { return kv_->arr_type; }
    double as_f64(uint64_t i) const;
    int64_t as_i64(uint64_t i) const;
    float as_f32(uint64_t i) const { return static_cast<float>(as_f64(i)); }
    std::string_view string(uint64_t i) const { return kv_->arr_strings[i]; }
    const KeyValue& kv() const { return *kv_; }

private:
    const KeyValue* kv_;
};

struct TensorInfo {
    std::string name;
    uint32_t n_dims = 0;
    int64_t ne[4] = {1, 1, 1, 1};  // ggml order: ne[0] is the row length
    GgmlType type = GgmlType::F32;
    uint64_t offset = 0;   // relative to the data section
    uint64_t n_elements = 0;
    uint64_t n_bytes = 0;
    const uint8_t* data = nullptr;  // inside the mapped file, aligned
    uint64_t info_offset = 0;       // byte offset of the tensor info in the file
};

class File {
public:
    // Opens, maps and validates. Throws Error (io / bad_format / out_of_memory).
    static std::unique_ptr<File> open(const std::string& path, bool use_mmap = true);
    static std::unique_ptr<File> from_memory(const void* data, size_t size);

    uint32_t version() const { return version_; }
    uint64_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }
    size_t file_size() const { return file_->size(); }
    const std::string& path() const { return file_->path(); }

    const std::vector<KeyValue>& metadata() const { return kvs_; }
    const KeyValue* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Typed accessors: throw Error(bad_format) naming the key when it is missing or has a type
    // that cannot represent the value (integers convert between widths when in range).
    uint32_t get_u32(std::string_view key) const;
    int64_t get_i64(std::string_view key) const;
    float get_f32(std::string_view key) const;
    bool get_bool(std::string_view key) const;
    std::string_view get_string(std::string_view key) const;
    ArrayView get_array(std::string_view key) const;
    // Same, with a default when the key is absent (a wrong type still throws).
    uint32_t get_u32(std::string_view key, uint32_t def) const;
    float get_f32(std::string_view key, float def) const;
    bool get_bool(std::string_view key, bool def) const;
    std::string_view get_string(std::string_view key, std::string_view def) const;

    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* find_tensor(std::string_view name) const;

private:
    explicit File(std::unique_ptr<MappedFile> file);
    void parse();

    std::unique_ptr<MappedFile> file_;
    uint32_t version_ = 0;
    uint64_t alignment_ = 32;
    uint64_t data_offset_ = 0;
    std::vector<KeyValue> kvs_;
    std::vector<TensorInfo> tensors_;
};

}  // namespace llamas::gguf
