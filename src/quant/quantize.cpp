#include "quant/quantize.h"

#include <cstring>

#include "quant/fp16.h"
#include "quant/quantize_internal.h"
#include "util/error.h"

namespace llamas {

bool can_quantize(GgmlType type) {
    const TypeInfo* ti = type_info(static_cast<uint32_t>(type));  // the type table says which have codecs
    return ti && ti->has_codec;
}

size_t quantize_row(GgmlType type, const float* src, void* dst, int64_t n) {
    using namespace quant_detail;
    const TypeInfo* ti = type_info(static_cast<uint32_t>(type));
    if (!ti || !can_quantize(type))
        fail(Status::unsupported, "cannot quantize to tensor type %s", ti ? ti->name : "unknown");
    if (n < 0 || n % ti->block_size != 0)
        fail(Status::invalid_argument, "quantize_row: %lld elements is not a whole number of %s blocks",
             static_cast<long long>(n), ti->name);
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); break;
        case GgmlType::F16: f32_to_fp16_row(src, static_cast<uint16_t*>(dst), n); break;
        case GgmlType::BF16: f32_to_bf16_row(src, static_cast<uint16_t*>(dst), n); break;
        case GgmlType::Q4_0: quantize_q4_0(src, static_cast<block_q4_0*>(dst), n); break;
        case GgmlType::Q4_1: quantize_q4_1(src, static_cast<block_q4_1*>(dst), n); break;
        case GgmlType::Q5_0: quantize_q5_0(src, static_cast<block_q5_0*>(dst), n); break;
        case GgmlType::Q5_1: quantize_q5_1(src, static_cast<block_q5_1*>(dst), n); break;
        case GgmlType::Q8_0: quantize_row_q8_0(src, static_cast<block_q8_0*>(dst), n); break;
        case GgmlType::Q8_1: quantize_row_q8_1(src, static_cast<block_q8_1*>(dst), n); break;
        case GgmlType::Q2_K: quantize_q2_K(src, static_cast<block_q2_K*>(dst), n); break;
        case GgmlType::Q3_K: quantize_q3_K(src, static_cast<block_q3_K*>(dst), n); break;
        case GgmlType::Q4_K: quantize_q4_K(src, static_cast<block_q4_K*>(dst), n); break;
        case GgmlType::Q5_K: quantize_q5_K(src, static_cast<block_q5_K*>(dst), n); break;
        case GgmlType::Q6_K: quantize_q6_K(src, static_cast<block_q6_K*>(dst), n); break;
        case GgmlType::Q8_K: quantize_row_q8_K(src, static_cast<block_q8_K*>(dst), n); break;
        case GgmlType::IQ4_NL: quantize_iq4_nl(src, static_cast<block_iq4_nl*>(dst), n); break;
        case GgmlType::IQ4_XS: quantize_iq4_xs(src, static_cast<block_iq4_xs*>(dst), n); break;
        default: break;
    }
    return row_size(type, n);
}

}  // namespace llamas
