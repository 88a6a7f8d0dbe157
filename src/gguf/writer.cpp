#include "gguf/writer.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

#include "util/error.h"

namespace llamas::gguf {
namespace {

constexpr uint32_t kVersion = 3;
constexpr uint32_t kDefaultAlignment = 32;

template <typename T>
void put(std::vector<uint8_t>& out, T v) {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));  // GGUF is little-endian, as is every host llamas targets
    out.insert(out.end(), b, b + sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
    put<uint64_t>(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}

// Encodes a scalar from the widened fields of a KeyValue read by the reader.
void put_scalar(std::vector<uint8_t>& out, const KeyValue& kv) {
    switch (kv.type) {
        case ValueType::U8: put<uint8_t>(out, static_cast<uint8_t>(kv.u)); break;
        case ValueType::I8: put<int8_t>(out, static_cast<int8_t>(kv.i)); break;
        case ValueType::U16: put<uint16_t>(out, static_cast<uint16_t>(kv.u)); break;
        case ValueType::I16: put<int16_t>(out, static_cast<int16_t>(kv.i)); break;
        case ValueType::U32: put<uint32_t>(out, static_cast<uint32_t>(kv.u)); break;
        case ValueType::I32: put<int32_t>(out, static_cast<int32_t>(kv.i)); break;
        case ValueType::F32: put<float>(out, static_cast<float>(kv.f)); break;
        case ValueType::BOOL: put<uint8_t>(out, kv.u ? 1 : 0); break;
        case ValueType::U64: put<uint64_t>(out, kv.u); break;
        case ValueType::I64: put<int64_t>(out, kv.i); break;
        case ValueType::F64: put<double>(out, kv.f); break;
        default: fail(Status::internal, "metadata '%s': not a scalar", kv.key.c_str());
    }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

void Writer::put_kv(std::string_view key, ValueType type, std::vector<uint8_t> payload) {
    remove(key);
    kvs_.push_back(Kv{std::string(key), type, std::move(payload)});
}

void Writer::remove(std::string_view key) {
    for (auto it = kvs_.begin(); it != kvs_.end(); ++it)
        if (it->key == key) {
            kvs_.erase(it);
            return;
        }
}

bool Writer::has(std::string_view key) const {
    for (const Kv& kv : kvs_)
        if (kv.key == key) return true;
    return false;
}

void Writer::copy_kv(const KeyValue& kv) {
    std::vector<uint8_t> p;
    if (kv.type == ValueType::STRING) {
        put_string(p, kv.str);
    } else if (kv.type == ValueType::ARRAY) {
        put<uint32_t>(p, static_cast<uint32_t>(kv.arr_type));
        put<uint64_t>(p, kv.arr_count);
        if (kv.arr_type == ValueType::STRING) {
            for (std::string_view s : kv.arr_strings) put_string(p, s);
        } else {
            const size_t es = value_type_size(kv.arr_type);
            if (es == 0) fail(Status::unsupported, "metadata '%s': arrays of %s cannot be written", kv.key.c_str(), value_type_name(kv.arr_type));
            p.insert(p.end(), kv.arr_data, kv.arr_data + kv.arr_count * es);
        }
    } else {
        put_scalar(p, kv);
    }
    put_kv(kv.key, kv.type, std::move(p));
}

void Writer::copy_metadata(const File& src) {
    for (const KeyValue& kv : src.metadata()) copy_kv(kv);
}

void Writer::set_u32(std::string_view key, uint32_t v) {
    std::vector<uint8_t> p;
    put<uint32_t>(p, v);
    put_kv(key, ValueType::U32, std::move(p));
}

void Writer::set_i32(std::string_view key, int32_t v) {
    std::vector<uint8_t> p;
    put<int32_t>(p, v);
    put_kv(key, ValueType::I32, std::move(p));
}

void Writer::set_f32(std::string_view key, float v) {
    std::vector<uint8_t> p;
    put<float>(p, v);
    put_kv(key, ValueType::F32, std::move(p));
}

void Writer::set_bool(std::string_view key, bool v) {
    std::vector<uint8_t> p;
    put<uint8_t>(p, v ? 1 : 0);
    put_kv(key, ValueType::BOOL, std::move(p));
}

void Writer::set_string(std::string_view key, std::string_view v) {
    std::vector<uint8_t> p;
    put_string(p, v);
    put_kv(key, ValueType::STRING, std::move(p));
}

uint32_t Writer::alignment() const {
    for (const Kv& kv : kvs_)
        if (kv.key == "general.alignment") {
            uint32_t a = 0;
            if (kv.type == ValueType::U32) std::memcpy(&a, kv.payload.data(), sizeof a);
            if (a == 0 || (a & (a - 1)) != 0)
                fail(Status::invalid_argument, "general.alignment must be a UINT32 power of two");
            return a;
        }
    return kDefaultAlignment;
}

Writer::Tensor& Writer::new_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, size_t n_bytes) {
    const TypeInfo* ti = type_info(static_cast<uint32_t>(type));
    if (!ti) fail(Status::invalid_argument, "tensor '%s': unknown type %u", name.c_str(), static_cast<unsigned>(type));
    if (n_dims < 1 || n_dims > 4) fail(Status::invalid_argument, "tensor '%s': %u dimensions", name.c_str(), n_dims);
    for (const Tensor& t : tensors_)
        if (t.name == name) fail(Status::invalid_argument, "tensor '%s' added twice", name.c_str());
    Tensor t{std::move(name), type, n_dims, {1, 1, 1, 1}, {}, nullptr, n_bytes};
    uint64_t n = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
        if (ne[d] <= 0) fail(Status::invalid_argument, "tensor '%s': dimension %u is %lld", t.name.c_str(), d, static_cast<long long>(ne[d]));
        t.ne[d] = ne[d];
        n *= static_cast<uint64_t>(ne[d]);
    }
    if (t.ne[0] % ti->block_size != 0)
        fail(Status::invalid_argument, "tensor '%s': row length %lld is not a multiple of the %s block size %u", t.name.c_str(),
             static_cast<long long>(t.ne[0]), ti->name, ti->block_size);
    const uint64_t want = n / t.ne[0] * row_size(type, t.ne[0]);
    if (want != n_bytes)
        fail(Status::invalid_argument, "tensor '%s': %zu bytes given, its shape in %s needs %llu", t.name.c_str(), n_bytes, ti->name,
             static_cast<unsigned long long>(want));
    tensors_.push_back(std::move(t));
    return tensors_.back();
}

void Writer::add_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, const void* data, size_t n_bytes) {
    Tensor& t = new_tensor(std::move(name), type, n_dims, ne, n_bytes);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    t.owned.assign(p, p + n_bytes);
    t.data = t.owned.data();
}

void Writer::add_tensor(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, std::vector<uint8_t>&& data) {
    Tensor& t = new_tensor(std::move(name), type, n_dims, ne, data.size());
    t.owned = std::move(data);
    t.data = t.owned.data();
}

void Writer::add_tensor_ref(std::string name, GgmlType type, uint32_t n_dims, const int64_t* ne, const void* data, size_t n_bytes) {
    Tensor& t = new_tensor(std::move(name), type, n_dims, ne, n_bytes);
    t.data = static_cast<const uint8_t*>(data);
}

// Header, metadata and tensor infos, padded to the alignment (the data section follows).
std::vector<uint8_t> Writer::header_bytes() const {
    const uint64_t align = alignment();
    std::vector<uint8_t> h;
    h.insert(h.end(), {'G', 'G', 'U', 'F'});
    put<uint32_t>(h, kVersion);
    put<uint64_t>(h, tensors_.size());
    put<uint64_t>(h, kvs_.size());
    for (const Kv& kv : kvs_) {
        put_string(h, kv.key);
        put<uint32_t>(h, static_cast<uint32_t>(kv.type));
        h.insert(h.end(), kv.payload.begin(), kv.payload.end());
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        put_string(h, t.name);
        put<uint32_t>(h, t.n_dims);
        for (uint32_t d = 0; d < t.n_dims; ++d) put<uint64_t>(h, static_cast<uint64_t>(t.ne[d]));
        put<uint32_t>(h, static_cast<uint32_t>(t.type));
        put<uint64_t>(h, offset);
        offset = align_up(offset + t.n_bytes, align);
    }
    h.resize(align_up(h.size(), align), 0);
    return h;
}

std::vector<uint8_t> Writer::to_bytes() const {
    const uint64_t align = alignment();
    std::vector<uint8_t> out = header_bytes();
    for (const Tensor& t : tensors_) {
        out.insert(out.end(), t.data, t.data + t.n_bytes);
        out.resize(align_up(out.size(), align), 0);
    }
    return out;
}

void Writer::write(const std::string& path) const {
    const uint64_t align = alignment();
    const std::vector<uint8_t> header = header_bytes();
    // Write beside the target and rename, so a failure never leaves a truncated model behind.
    const std::string tmp = path + ".tmp";
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(Status::io, "cannot create '%s': %s", tmp.c_str(), std::strerror(errno));
    bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size();
    static const uint8_t zeros[256] = {};
    for (const Tensor& t : tensors_) {
        if (!ok) break;
        if (t.n_bytes) ok = std::fwrite(t.data, 1, t.n_bytes, f) == t.n_bytes;
        const size_t pad = static_cast<size_t>(align_up(t.n_bytes, align) - t.n_bytes);
        for (size_t left = pad; ok && left > 0;) {
            const size_t chunk = left < sizeof zeros ? left : sizeof zeros;
            ok = std::fwrite(zeros, 1, chunk, f) == chunk;
            left -= chunk;
        }
    }
    const int saved_errno = errno;
    if (std::fclose(f) != 0) ok = false;
    if (!ok) {
        ::unlink(tmp.c_str());
        fail(Status::io, "cannot write '%s': %s", path.c_str(), std::strerror(saved_errno ? saved_errno : EIO));
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        fail(Status::io, "cannot rename '%s' to '%s': %s", tmp.c_str(), path.c_str(), std::strerror(e));
    }
}

}  // namespace llamas::gguf
