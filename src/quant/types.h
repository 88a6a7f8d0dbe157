// ggml tensor types: ids as stored in GGUF files, block geometry, names.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace llamas {

// Values are the ggml type ids written in GGUF tensor infos. Do not renumber.
enum class GgmlType : uint32_t {
    F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
    Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
    IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
    IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
    TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39,
};

struct TypeInfo {
    const char* name;      // ggml's name, e.g. "q4_K"
    uint32_t block_size;   // elements per block
    uint32_t type_size;    // bytes per block
    bool has_codec;        // llamas can dequantize (and quantize) it
};

// Geometry of a type id read from a file; nullptr when the id is unknown.
const TypeInfo* type_info(uint32_t type_id);
inline const TypeInfo& type_info(GgmlType t) { return *type_info(static_cast<uint32_t>(t)); }

// Parse a type name as used on command lines ("Q4_K", "q4_k", "F16"); returns false if unknown.
bool type_from_name(std::string_view name, GgmlType* out);

// Bytes for one row of n elements (n must be a multiple of the block size).
inline size_t row_size(GgmlType t, int64_t n) {
    const TypeInfo& ti = type_info(t);
    return static_cast<size_t>(n / ti.block_size) * ti.type_size;
}

}  // namespace llamas
