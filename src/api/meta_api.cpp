// Models: typed metadata, enumeration, sizes and the one-line description (since 0.2).
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>

#include "api/guard.h"
#include "api/handles.h"
#include "gguf/gguf.h"

using namespace llamas;
using llamas::api::guard;

namespace {

using gguf::ValueType;

const gguf::KeyValue& find_key(const llamas_model* m, const char* key) {
    const gguf::KeyValue* kv = m->model->file().find(key);
    if (!kv) fail(Status::not_found, "no metadata key '%s'", key);
    return *kv;
}

bool is_int_type(ValueType t) {
    switch (t) {
        case ValueType::U8: case ValueType::I8: case ValueType::U16: case ValueType::I16: case ValueType::U32:
        case ValueType::I32: case ValueType::U64: case ValueType::I64: case ValueType::BOOL: return true;
        default: return false;
    }
}
bool is_signed(ValueType t) {
    return t == ValueType::I8 || t == ValueType::I16 || t == ValueType::I32 || t == ValueType::I64;
}

// The element's type, checking the index (scalars have one element, index 0).
ValueType element(const gguf::KeyValue& kv, uint64_t index) {
    const bool array = kv.type == ValueType::ARRAY;
    const uint64_t count = array ? kv.arr_count : 1;
    if (index >= count)
        fail(Status::invalid_argument, "index %" PRIu64 " is past the end of '%s' (%" PRIu64 " elements)", index,
             kv.key.c_str(), count);
    return array ? kv.arr_type : kv.type;
}

// A numeric array element's raw bits, widened as its type says.
void array_number(const gguf::KeyValue& kv, uint64_t i, uint64_t& u, int64_t& s, double& f) {
    const size_t size = gguf::value_type_size(kv.arr_type);
    const uint8_t* p = kv.arr_data + i * size;
    uint64_t raw = 0;
    std::memcpy(&raw, p, size);  // GGUF is little-endian, as every host llamas supports
    u = raw;
    switch (kv.arr_type) {
        case ValueType::I8: s = static_cast<int8_t>(raw); break;
        case ValueType::I16: s = static_cast<int16_t>(raw); break;
        case ValueType::I32: s = static_cast<int32_t>(raw); break;
        default: s = static_cast<int64_t>(raw); break;
    }
    if (kv.arr_type == ValueType::F32) {
        float x;
        std::memcpy(&x, p, 4);
        f = x;
    } else if (kv.arr_type == ValueType::F64) {
        std::memcpy(&f, p, 8);
    } else {
        f = is_signed(kv.arr_type) ? static_cast<double>(s) : static_cast<double>(u);
    }
}

void number(const gguf::KeyValue& kv, uint64_t index, uint64_t& u, int64_t& s, double& f) {
    const ValueType t = element(kv, index);
    if (t == ValueType::STRING || t == ValueType::ARRAY)
        fail(Status::invalid_argument, "metadata '%s' is not a number (%s)", kv.key.c_str(), gguf::value_type_name(t));
    if (kv.type == ValueType::ARRAY) return array_number(kv, index, u, s, f);
    u = kv.u, s = kv.i, f = kv.f;
    if (!kv.is_float()) f = is_signed(t) ? static_cast<double>(s) : static_cast<double>(u);
}

// llama.cpp's names of its llama_ftype values (general.file_type).
const char* ftype_name(uint32_t ftype) {
    switch (ftype) {
        case 0: return "all F32";
        case 1: return "F16";
        case 2: return "Q4_0";
        case 3: return "Q4_1";
        case 7: return "Q8_0";
        case 8: return "Q5_0";
        case 9: return "Q5_1";
        case 10: return "Q2_K - Medium";
        case 11: return "Q3_K - Small";
        case 12: return "Q3_K - Medium";
        case 13: return "Q3_K - Large";
        case 14: return "Q4_K - Small";
        case 15: return "Q4_K - Medium";
        case 16: return "Q5_K - Small";
        case 17: return "Q5_K - Medium";
        case 18: return "Q6_K";
        case 19: return "IQ2_XXS - 2.0625 bpw";
        case 20: return "IQ2_XS - 2.3125 bpw";
        case 21: return "Q2_K - Small";
        case 22: return "IQ3_XS - 3.3 bpw";
        case 23: return "IQ3_XXS - 3.0625 bpw";
        case 24: return "IQ1_S - 1.5625 bpw";
        case 25: return "IQ4_NL - 4.5 bpw";
        case 26: return "IQ3_S - 3.4375 bpw";
        case 27: return "IQ3_S mix - 3.66 bpw";
        case 28: return "IQ2_S - 2.5 bpw";
        case 29: return "IQ2_M - 2.7 bpw";
        case 30: return "IQ4_XS - 4.25 bpw";
        case 31: return "IQ1_M - 1.75 bpw";
        case 32: return "BF16";
        case 36: return "TQ1_0 - 1.69 bpw ternary";
        case 37: return "TQ2_0 - 2.06 bpw ternary";
        case 38: return "MXFP4 MoE";
        default: return "unknown, may not work";
    }
}

// Without general.file_type the reference guesses the ftype from the most common tensor type
// (the first to reach the highest count wins) and marks it "(guessed)".
uint32_t guess_ftype(const gguf::File& f) {
    std::map<GgmlType, uint32_t> n_type;
    uint32_t n_max = 0;
    GgmlType type_max = GgmlType::F32;
    for (const gguf::TensorInfo& t : f.tensors())
        if (++n_type[t.type] > n_max) n_max = n_type[t.type], type_max = t.type;
    switch (type_max) {
        case GgmlType::F16: return 1;
        case GgmlType::BF16: return 32;
        case GgmlType::Q4_0: return 2;
        case GgmlType::Q4_1: return 3;
        case GgmlType::Q5_0: return 8;
        case GgmlType::Q5_1: return 9;
        case GgmlType::Q8_0: return 7;
        case GgmlType::Q2_K: return 10;
        case GgmlType::Q3_K: return 12;
        case GgmlType::Q4_K: return 15;
        case GgmlType::Q5_K: return 17;
        case GgmlType::Q6_K: return 18;
        case GgmlType::TQ1_0: return 36;
        case GgmlType::TQ2_0: return 37;
        case GgmlType::IQ2_XXS: return 19;
        case GgmlType::IQ2_XS: return 20;
        case GgmlType::IQ2_S: return 28;
        case GgmlType::IQ3_XXS: return 23;
        case GgmlType::IQ1_S: return 24;
        case GgmlType::IQ1_M: return 31;
        case GgmlType::IQ4_NL: return 25;
        case GgmlType::IQ4_XS: return 30;
        case GgmlType::IQ3_S: return 26;
        default: return 0;
    }
}

// A parameter count as a short size: "3.7M", "1.2B", "135M" (one decimal below 10, none above).
std::string size_label(uint64_t n) {
    static const struct { double scale; const char* unit; } units[] = {{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "K"}};
    for (const auto& u : units) {
        const double x = static_cast<double>(n) / u.scale;
        if (x < 1.0) continue;
        char buf[32];
        if (x < 9.95) {
            std::snprintf(buf, sizeof buf, "%.1f", x);
            const size_t len = std::strlen(buf);
            if (len >= 2 && buf[len - 2] == '.' && buf[len - 1] == '0') buf[len - 2] = '\0';  // "7.0" -> "7"
        } else {
            std::snprintf(buf, sizeof buf, "%.0f", x);
        }
        return std::string(buf) + u.unit;
    }
    return std::to_string(n);
}

std::string description(const llamas_model* m) {
    const gguf::File& f = m->model->file();
    std::string ftype;
    const gguf::KeyValue* kv = f.find("general.file_type");
    if (kv && kv->is_integer() && kv->type != ValueType::BOOL) ftype = ftype_name(static_cast<uint32_t>(kv->u));
    else ftype = std::string(ftype_name(guess_ftype(f))) + " (guessed)";
    return m->arch + " " + size_label(llamas_model_n_params(m)) + " " + ftype;
}

}  // namespace

extern "C" {

LLAMAS_API int32_t llamas_model_meta_count(const llamas_model* m) {
    return m ? static_cast<int32_t>(m->model->file().metadata().size()) : 0;
}

LLAMAS_API const char* llamas_model_meta_key(const llamas_model* m, int32_t index) {
    if (!m || index < 0 || static_cast<size_t>(index) >= m->model->file().metadata().size()) return nullptr;
    return m->model->file().metadata()[static_cast<size_t>(index)].key.c_str();
}

LLAMAS_API llamas_status llamas_model_meta_info(const llamas_model* m, const char* key, int32_t* out_type,
                                                int32_t* out_elem_type, uint64_t* out_count) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(key, "key is NULL");
        const gguf::KeyValue& kv = find_key(m, key);
        const bool array = kv.type == ValueType::ARRAY;
        if (out_type) *out_type = static_cast<int32_t>(kv.type);
        if (out_elem_type) *out_elem_type = static_cast<int32_t>(array ? kv.arr_type : kv.type);
        if (out_count) *out_count = array ? kv.arr_count : 1;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_model_meta_int(const llamas_model* m, const char* key, uint64_t index,
                                               int64_t* out_value) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(key, "key is NULL");
        LLAMAS_CHECK_ARG(out_value, "out_value is NULL");
        const gguf::KeyValue& kv = find_key(m, key);
        const ValueType t = element(kv, index);
        if (!is_int_type(t))
            fail(Status::invalid_argument, "metadata '%s' is not an integer (%s)", key, gguf::value_type_name(t));
        uint64_t u;
        int64_t s;
        double f;
        number(kv, index, u, s, f);
        if (is_signed(t)) {
            *out_value = s;
        } else {
            if (u > static_cast<uint64_t>(INT64_MAX))
                fail(Status::invalid_argument, "metadata '%s' = %" PRIu64 " does not fit an int64", key, u);
            *out_value = static_cast<int64_t>(u);
        }
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_model_meta_float(const llamas_model* m, const char* key, uint64_t index,
                                                 double* out_value) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(key, "key is NULL");
        LLAMAS_CHECK_ARG(out_value, "out_value is NULL");
        uint64_t u;
        int64_t s;
        double f;
        number(find_key(m, key), index, u, s, f);
        *out_value = f;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_model_meta_string(const llamas_model* m, const char* key, uint64_t index,
                                                  char* buffer, size_t capacity, size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(key, "key is NULL");
        const gguf::KeyValue& kv = find_key(m, key);
        const ValueType t = element(kv, index);
        if (t != ValueType::STRING)
            fail(Status::invalid_argument, "metadata '%s' is not a string (%s)", key, gguf::value_type_name(t));
        const std::string_view s = kv.type == ValueType::ARRAY ? kv.arr_strings[index] : kv.str;
        return api::copy_out(std::string(s), buffer, capacity, out_length);
    });
}

LLAMAS_API uint64_t llamas_model_n_params(const llamas_model* m) {
    if (!m) return 0;
    uint64_t n = 0;
    for (const gguf::TensorInfo& t : m->model->file().tensors()) n += t.n_elements;
    return n;
}

LLAMAS_API uint64_t llamas_model_tensor_bytes(const llamas_model* m) {
    if (!m) return 0;
    uint64_t n = 0;
    for (const gguf::TensorInfo& t : m->model->file().tensors()) n += t.n_bytes;
    return n;
}

LLAMAS_API uint64_t llamas_model_file_size(const llamas_model* m) { return m ? m->model->file().file_size() : 0; }

LLAMAS_API llamas_status llamas_model_description(const llamas_model* m, char* buffer, size_t capacity,
                                                  size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        return api::copy_out(description(m), buffer, capacity, out_length);
    });
}

}  // extern "C"
