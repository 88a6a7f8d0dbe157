#include "gguf/gguf.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "util/error.h"

namespace llamas::gguf {
namespace {

constexpr uint64_t kMaxKeyLength = 1 << 16;    // longer keys are surely corrupt
constexpr uint64_t kMaxTensorName = 1 << 12;
constexpr uint32_t kMaxDims = 4;

// A bounds-checked little-endian cursor over the file. Every read names what it reads so
// errors point at the field and its byte offset.
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }
    const uint8_t* here() const { return data_ + pos_; }

    void need(uint64_t n, const std::string& what) const {
        if (n > left())
            fail(Status::bad_format, "%s at byte offset %llu: needs %llu bytes but only %llu remain",
                 what.c_str(), ull(pos_), ull(n), ull(left()));
    }
    template <class T>
    T read(const std::string& what) {
        need(sizeof(T), what);
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));  // the format is little-endian, like our hosts
        pos_ += sizeof(T);
        return v;
    }
    void skip(uint64_t n, const std::string& what) {
        need(n, what);
        pos_ += n;
    }
    std::string_view read_string(const std::string& what, uint64_t max_len) {
        uint64_t start = pos_;
        uint64_t len = read<uint64_t>(what + " length");
        if (len > max_len)
            fail(Status::bad_format, "%s at byte offset %llu: length %llu exceeds the limit %llu", what.c_str(),
                 ull(start), ull(len), ull(max_len));
        need(len, what);
        std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
        pos_ += len;
        return s;
    }
    static unsigned long long ull(uint64_t v) { return static_cast<unsigned long long>(v); }

private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
};

using ull_t = unsigned long long;
inline ull_t ull(uint64_t v) { return static_cast<ull_t>(v); }

bool valid_value_type(uint32_t t) { return t <= static_cast<uint32_t>(ValueType::F64); }

// Reads one scalar of type t into kv's u/i/f fields.
void read_scalar(Cursor& c, ValueType t, KeyValue& kv, const std::string& what) {
    switch (t) {
        case ValueType::U8: kv.u = c.read<uint8_t>(what); kv.i = static_cast<int64_t>(kv.u); break;
        case ValueType::U16: kv.u = c.read<uint16_t>(what); kv.i = static_cast<int64_t>(kv.u); break;
        case ValueType::U32: kv.u = c.read<uint32_t>(what); kv.i = static_cast<int64_t>(kv.u); break;
        case ValueType::U64: kv.u = c.read<uint64_t>(what); kv.i = static_cast<int64_t>(kv.u); break;
        case ValueType::I8: kv.i = c.read<int8_t>(what); kv.u = static_cast<uint64_t>(kv.i); break;
        case ValueType::I16: kv.i = c.read<int16_t>(what); kv.u = static_cast<uint64_t>(kv.i); break;
        case ValueType::I32: kv.i = c.read<int32_t>(what); kv.u = static_cast<uint64_t>(kv.i); break;
        case ValueType::I64: kv.i = c.read<int64_t>(what); kv.u = static_cast<uint64_t>(kv.i); break;
        case ValueType::F32: kv.f = c.read<float>(what); break;
        case ValueType::F64: kv.f = c.read<double>(what); break;
        case ValueType::BOOL: {
            uint64_t at = c.pos();
            uint8_t b = c.read<uint8_t>(what);
            if (b > 1) fail(Status::bad_format, "%s at byte offset %llu: BOOL value %u is not 0 or 1", what.c_str(), ull(at), b);
            kv.u = b;
            kv.i = b;
            break;
        }
        default: fail(Status::internal, "read_scalar: not a scalar type");
    }
}

}  // namespace

const char* value_type_name(ValueType t) {
    switch (t) {
        case ValueType::U8: return "UINT8";
        case ValueType::I8: return "INT8";
        case ValueType::U16: return "UINT16";
        case ValueType::I16: return "INT16";
        case ValueType::U32: return "UINT32";
        case ValueType::I32: return "INT32";
        case ValueType::F32: return "FLOAT32";
        case ValueType::BOOL: return "BOOL";
        case ValueType::STRING: return "STRING";
        case ValueType::ARRAY: return "ARRAY";
        case ValueType::U64: return "UINT64";
        case ValueType::I64: return "INT64";
        case ValueType::F64: return "FLOAT64";
    }
    return "?";
}

size_t value_type_size(ValueType t) {
    switch (t) {
        case ValueType::U8: case ValueType::I8: case ValueType::BOOL: return 1;
        case ValueType::U16: case ValueType::I16: return 2;
        case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
        case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
        default: return 0;
    }
}

bool KeyValue::is_integer() const {
    switch (type) {
        case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16:
        case ValueType::U32: case ValueType::I32: case ValueType::U64: case ValueType::I64: return true;
        default: return false;
    }
}

static bool is_signed(ValueType t) {
    return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

double ArrayView::as_f64(uint64_t i) const {
    if (i >= kv_->arr_count) fail(Status::invalid_argument, "array '%s': index %llu out of range", kv_->key.c_str(), ull(i));
    const size_t es = value_type_size(kv_->arr_type);
    const uint8_t* p = kv_->arr_data + i * es;
    switch (kv_->arr_type) {
        case ValueType::F32: { float v; std::memcpy(&v, p, 4); return v; }
        case ValueType::F64: { double v; std::memcpy(&v, p, 8); return v; }
        case ValueType::U64: { uint64_t v; std::memcpy(&v, p, 8); return static_cast<double>(v); }
        default: return static_cast<double>(as_i64(i));
    }
}

int64_t ArrayView::as_i64(uint64_t i) const {
    if (i >= kv_->arr_count) fail(Status::invalid_argument, "array '%s': index %llu out of range", kv_->key.c_str(), ull(i));
    const size_t es = value_type_size(kv_->arr_type);
    if (es == 0) fail(Status::bad_format, "array '%s' holds %s, not numbers", kv_->key.c_str(), value_type_name(kv_->arr_type));
    const uint8_t* p = kv_->arr_data + i * es;
    switch (kv_->arr_type) {
        case ValueType::U8: case ValueType::BOOL: return *p;
        case ValueType::I8: return static_cast<int8_t>(*p);
        case ValueType::U16: { uint16_t v; std::memcpy(&v, p, 2); return v; }
        case ValueType::I16: { int16_t v; std::memcpy(&v, p, 2); return v; }
        case ValueType::U32: { uint32_t v; std::memcpy(&v, p, 4); return v; }
        case ValueType::I32: { int32_t v; std::memcpy(&v, p, 4); return v; }
        case ValueType::U64: { uint64_t v; std::memcpy(&v, p, 8); return static_cast<int64_t>(v); }
        case ValueType::I64: { int64_t v; std::memcpy(&v, p, 8); return v; }
        case ValueType::F32: { float v; std::memcpy(&v, p, 4); return static_cast<int64_t>(v); }
        case ValueType::F64: { double v; std::memcpy(&v, p, 8); return static_cast<int64_t>(v); }
        default: break;
    }
    fail(Status::bad_format, "array '%s': not numeric", kv_->key.c_str());
}

File::File(std::unique_ptr<MappedFile> file) : file_(std::move(file)) {}

std::unique_ptr<File> File::open(const std::string& path, bool use_mmap) {
    std::unique_ptr<File> f(new File(std::make_unique<MappedFile>(path, use_mmap)));
    try {
        f->parse();
    } catch (const Error& e) {
        throw Error(e.status(), path + ": " + e.what());
    }
    return f;
}

std::unique_ptr<File> File::from_memory(const void* data, size_t size) {
    std::unique_ptr<File> f(new File(std::make_unique<MappedFile>(data, size)));
    f->parse();
    return f;
}

void File::parse() {
    Cursor c(file_->data(), file_->size());

    // --- header ---
    c.need(4, "magic");
    if (std::memcmp(c.here(), "GGUF", 4) != 0) fail(Status::bad_format, "not a GGUF file (bad magic at byte offset 0)");
    c.skip(4, "magic");
    version_ = c.read<uint32_t>("version");
    if (version_ != 2 && version_ != 3)
        fail(Status::bad_format, "version at byte offset 4: GGUF version %u is not supported (only 2 and 3)", version_);
    const uint64_t n_tensors = c.read<uint64_t>("tensor count");
    const uint64_t n_kv = c.read<uint64_t>("metadata key count");
    // Every key-value needs at least 8 (key length) + 4 (type) + 1 bytes, every tensor info
    // 8 + 4 + 8 + 4 + 8 bytes: counts above what the file can hold are rejected before any
    // allocation sized by them.
    if (n_kv > c.left() / 13)
        fail(Status::bad_format, "metadata key count at byte offset 16: %llu keys cannot fit in %llu remaining bytes",
             ull(n_kv), ull(c.left()));
    if (n_tensors > c.left() / 32)
        fail(Status::bad_format, "tensor count at byte offset 8: %llu tensors cannot fit in %llu remaining bytes",
             ull(n_tensors), ull(c.left()));

    // --- metadata ---
    kvs_.reserve(n_kv);
    std::unordered_set<std::string_view> seen_keys;
    for (uint64_t k = 0; k < n_kv; ++k) {
        KeyValue kv;
        kv.offset = c.pos();
        const std::string label = "metadata key #" + std::to_string(k);
        std::string_view key = c.read_string(label, kMaxKeyLength);
        kv.key.assign(key);
        const std::string what = "metadata '" + kv.key + "'";
        if (key.empty()) fail(Status::bad_format, "%s at byte offset %llu: empty key", label.c_str(), ull(kv.offset));
        if (!seen_keys.insert(key).second)
            fail(Status::bad_format, "%s at byte offset %llu: duplicate key", what.c_str(), ull(kv.offset));
        const uint64_t type_at = c.pos();
        const uint32_t type = c.read<uint32_t>(what + " type");
        if (!valid_value_type(type))
            fail(Status::bad_format, "%s at byte offset %llu: unknown value type %u", what.c_str(), ull(type_at), type);
        kv.type = static_cast<ValueType>(type);
        if (kv.type == ValueType::STRING) {
            kv.str = c.read_string(what, c.left());
        } else if (kv.type == ValueType::ARRAY) {
            const uint64_t at = c.pos();
            const uint32_t et = c.read<uint32_t>(what + " element type");
            if (!valid_value_type(et))
                fail(Status::bad_format, "%s at byte offset %llu: unknown array element type %u", what.c_str(), ull(at), et);
            kv.arr_type = static_cast<ValueType>(et);
            if (kv.arr_type == ValueType::ARRAY)
                fail(Status::bad_format, "%s at byte offset %llu: nested arrays are not supported", what.c_str(), ull(at));
            const uint64_t count_at = c.pos();
            kv.arr_count = c.read<uint64_t>(what + " element count");
            if (kv.arr_type == ValueType::STRING) {
                if (kv.arr_count > c.left() / 8)
                    fail(Status::bad_format, "%s at byte offset %llu: %llu strings cannot fit in %llu remaining bytes",
                         what.c_str(), ull(count_at), ull(kv.arr_count), ull(c.left()));
                kv.arr_strings.reserve(kv.arr_count);
                for (uint64_t i = 0; i < kv.arr_count; ++i)
                    kv.arr_strings.push_back(c.read_string(what + "[" + std::to_string(i) + "]", c.left()));
            } else {
                const uint64_t es = value_type_size(kv.arr_type);
                if (kv.arr_count > c.left() / es)
                    fail(Status::bad_format, "%s at byte offset %llu: %llu elements of %llu bytes exceed the %llu remaining bytes",
                         what.c_str(), ull(count_at), ull(kv.arr_count), ull(es), ull(c.left()));
                kv.arr_data = c.here();
                if (kv.arr_type == ValueType::BOOL)
                    for (uint64_t i = 0; i < kv.arr_count; ++i)
                        if (kv.arr_data[i] > 1)
                            fail(Status::bad_format, "%s[%llu] at byte offset %llu: BOOL value %u is not 0 or 1", what.c_str(),
                                 ull(i), ull(c.pos() + i), kv.arr_data[i]);
                c.skip(kv.arr_count * es, what);
            }
        } else {
            read_scalar(c, kv.type, kv, what);
        }
        kvs_.push_back(std::move(kv));
    }

    // general.alignment: a UINT32 power of two, at least 8 (default 32).
    if (const KeyValue* a = find("general.alignment")) {
        if (a->type != ValueType::U32)
            fail(Status::bad_format, "metadata 'general.alignment' at byte offset %llu: type %s, expected UINT32",
                 ull(a->offset), value_type_name(a->type));
        if (a->u == 0 || (a->u & (a->u - 1)) != 0)
            fail(Status::bad_format, "metadata 'general.alignment' at byte offset %llu: %llu is not a power of two",
                 ull(a->offset), ull(a->u));
        // The spec requires a multiple of 8; the kernels rely on it (a tensor at an odd offset
        // would put its blocks' fp16 scales at misaligned addresses).
        if (a->u < 8)
            fail(Status::bad_format, "metadata 'general.alignment' at byte offset %llu: %llu is less than 8",
                 ull(a->offset), ull(a->u));
        alignment_ = a->u;
    }

    // --- tensor infos ---
    tensors_.reserve(n_tensors);
    std::unordered_set<std::string_view> seen_names;
    for (uint64_t t = 0; t < n_tensors; ++t) {
        TensorInfo ti;
        ti.info_offset = c.pos();
        const std::string label = "tensor info #" + std::to_string(t);
        std::string_view name = c.read_string(label + " name", kMaxTensorName);
        ti.name.assign(name);
        const std::string what = "tensor '" + ti.name + "'";
        if (!seen_names.insert(name).second)
            fail(Status::bad_format, "%s at byte offset %llu: duplicate tensor name", what.c_str(), ull(ti.info_offset));
        const uint64_t dims_at = c.pos();
        ti.n_dims = c.read<uint32_t>(what + " n_dims");
        if (ti.n_dims == 0 || ti.n_dims > kMaxDims)
            fail(Status::bad_format, "%s at byte offset %llu: n_dims %u is not in 1..4", what.c_str(), ull(dims_at), ti.n_dims);
        uint64_t n_elements = 1;
        for (uint32_t d = 0; d < ti.n_dims; ++d) {
            const uint64_t at = c.pos();
            const uint64_t ne = c.read<uint64_t>(what + " ne[" + std::to_string(d) + "]");
            if (ne == 0 || ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
                fail(Status::bad_format, "%s at byte offset %llu: dimension %u is %llu", what.c_str(), ull(at), d, ull(ne));
            if (n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / ne)
                fail(Status::bad_format, "%s at byte offset %llu: element count overflows", what.c_str(), ull(at));
            n_elements *= ne;
            ti.ne[d] = static_cast<int64_t>(ne);
        }
        ti.n_elements = n_elements;
        const uint64_t type_at = c.pos();
        const uint32_t type = c.read<uint32_t>(what + " type");
        const TypeInfo* info = type_info(type);
        if (!info) fail(Status::bad_format, "%s at byte offset %llu: unknown tensor type %u", what.c_str(), ull(type_at), type);
        ti.type = static_cast<GgmlType>(type);
        if (ti.ne[0] % info->block_size != 0)
            fail(Status::bad_format, "%s at byte offset %llu: row length %lld is not a multiple of the %s block size %u",
                 what.c_str(), ull(dims_at), static_cast<long long>(ti.ne[0]), info->name, info->block_size);
        const uint64_t n_blocks = n_elements / info->block_size;
        if (n_blocks > std::numeric_limits<uint64_t>::max() / info->type_size)
            fail(Status::bad_format, "%s: byte size overflows", what.c_str());
        ti.n_bytes = n_blocks * info->type_size;
        const uint64_t off_at = c.pos();
        ti.offset = c.read<uint64_t>(what + " offset");
        if (ti.offset % alignment_ != 0)
            fail(Status::bad_format, "%s at byte offset %llu: data offset %llu is not a multiple of the alignment %llu",
                 what.c_str(), ull(off_at), ull(ti.offset), ull(alignment_));
        tensors_.push_back(std::move(ti));
    }

    // --- data section: starts at the next multiple of the alignment ---
    const uint64_t end_of_infos = c.pos();
    data_offset_ = (end_of_infos + alignment_ - 1) / alignment_ * alignment_;
    if (data_offset_ < end_of_infos) fail(Status::bad_format, "data section offset overflows");
    const uint64_t size = file_->size();
    if (!tensors_.empty() && data_offset_ > size)
        fail(Status::bad_format, "data section at byte offset %llu starts past the end of the %llu-byte file",
             ull(data_offset_), ull(size));
    const uint64_t data_size = tensors_.empty() ? 0 : size - data_offset_;
    for (TensorInfo& ti : tensors_) {
        if (ti.offset > data_size || ti.n_bytes > data_size - ti.offset)
            fail(Status::bad_format,
                 "tensor '%s' (info at byte offset %llu): data [%llu, +%llu) lies outside the %llu-byte data section",
                 ti.name.c_str(), ull(ti.info_offset), ull(ti.offset), ull(ti.n_bytes), ull(data_size));
        ti.data = file_->data() + data_offset_ + ti.offset;
    }
    // Tensors must not overlap: a crafted file could alias one tensor's data with another's.
    std::vector<const TensorInfo*> by_offset;
    by_offset.reserve(tensors_.size());
    for (const TensorInfo& ti : tensors_) by_offset.push_back(&ti);
    std::sort(by_offset.begin(), by_offset.end(), [](auto a, auto b) { return a->offset < b->offset; });
    for (size_t i = 1; i < by_offset.size(); ++i)
        if (by_offset[i - 1]->offset + by_offset[i - 1]->n_bytes > by_offset[i]->offset)
            fail(Status::bad_format, "tensor '%s' overlaps tensor '%s' in the data section", by_offset[i]->name.c_str(),
                 by_offset[i - 1]->name.c_str());
}

const KeyValue* File::find(std::string_view key) const {
    for (const KeyValue& kv : kvs_)
        if (kv.key == key) return &kv;
    return nullptr;
}

const TensorInfo* File::find_tensor(std::string_view name) const {
    for (const TensorInfo& t : tensors_)
        if (t.name == name) return &t;
    return nullptr;
}

namespace {
const KeyValue& require(const File& f, std::string_view key) {
    const KeyValue* kv = f.find(key);
    if (!kv) fail(Status::bad_format, "missing metadata key '%.*s'", static_cast<int>(key.size()), key.data());
    return *kv;
}
[[noreturn]] void wrong_type(const KeyValue& kv, const char* expected) {
    fail(Status::bad_format, "metadata '%s' has type %s, expected %s", kv.key.c_str(), value_type_name(kv.type), expected);
}
uint32_t to_u32(const KeyValue& kv) {
    if (!kv.is_integer()) wrong_type(kv, "an unsigned integer");
    if ((is_signed(kv.type) && kv.i < 0) || kv.u > std::numeric_limits<uint32_t>::max())
        fail(Status::bad_format, "metadata '%s': value %lld does not fit UINT32", kv.key.c_str(), static_cast<long long>(kv.i));
    return static_cast<uint32_t>(kv.u);
}
float to_f32(const KeyValue& kv) {
    if (kv.is_float()) return static_cast<float>(kv.f);
    if (kv.is_integer()) return is_signed(kv.type) ? static_cast<float>(kv.i) : static_cast<float>(kv.u);
    wrong_type(kv, "a number");
}
bool to_bool(const KeyValue& kv) {
    if (kv.type != ValueType::BOOL) wrong_type(kv, "BOOL");
    return kv.u != 0;
}
std::string_view to_string(const KeyValue& kv) {
    if (kv.type != ValueType::STRING) wrong_type(kv, "STRING");
    return kv.str;
}
}  // namespace

uint32_t File::get_u32(std::string_view key) const { return to_u32(require(*this, key)); }
int64_t File::get_i64(std::string_view key) const {
    const KeyValue& kv = require(*this, key);
    if (!kv.is_integer()) wrong_type(kv, "an integer");
    if (!is_signed(kv.type) && kv.u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail(Status::bad_format, "metadata '%s': value does not fit INT64", kv.key.c_str());
    return kv.i;
}
float File::get_f32(std::string_view key) const { return to_f32(require(*this, key)); }
bool File::get_bool(std::string_view key) const { return to_bool(require(*this, key)); }
std::string_view File::get_string(std::string_view key) const { return to_string(require(*this, key)); }
ArrayView File::get_array(std::string_view key) const {
    const KeyValue& kv = require(*this, key);
    if (kv.type != ValueType::ARRAY) wrong_type(kv, "ARRAY");
    return ArrayView(&kv);
}
uint32_t File::get_u32(std::string_view key, uint32_t def) const {
    const KeyValue* kv = find(key);
    return kv ? to_u32(*kv) : def;
}
float File::get_f32(std::string_view key, float def) const {
    const KeyValue* kv = find(key);
    return kv ? to_f32(*kv) : def;
}
bool File::get_bool(std::string_view key, bool def) const {
    const KeyValue* kv = find(key);
    return kv ? to_bool(*kv) : def;
}
std::string_view File::get_string(std::string_view key, std::string_view def) const {
    const KeyValue* kv = find(key);
    return kv ? to_string(*kv) : def;
}

}  // namespace llamas::gguf
