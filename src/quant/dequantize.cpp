#include "quant/dequantize.h"

#include <cstring>

#include "quant/blocks.h"
#include "quant/fp16.h"
#include "util/error.h"

namespace llamas {
namespace {

void dq_q4_0(const block_q4_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
            y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
            y[j + QK4_0 / 2] = ((x[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void dq_q4_1(const block_q4_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK4_1) {
        const float d = fp16_to_f32(x[i].d);
        const float m = fp16_to_f32(x[i].m);
        for (int j = 0; j < QK4_1 / 2; ++j) {
            y[j] = (x[i].qs[j] & 0x0F) * d + m;
            y[j + QK4_1 / 2] = (x[i].qs[j] >> 4) * d + m;
        }
    }
}

void dq_q5_0(const block_q5_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK5_0) {
        const float d = fp16_to_f32(x[i].d);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const int hi0 = ((qh >> j) << 4) & 0x10;
            const int hi1 = (qh >> (j + 12)) & 0x10;
            y[j] = (((x[i].qs[j] & 0x0F) | hi0) - 16) * d;
            y[j + QK5_0 / 2] = (((x[i].qs[j] >> 4) | hi1) - 16) * d;
        }
    }
}

void dq_q5_1(const block_q5_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK5_1) {
        const float d = fp16_to_f32(x[i].d);
        const float m = fp16_to_f32(x[i].m);
        uint32_t qh;
        std::memcpy(&qh, x[i].qh, sizeof qh);
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const int hi0 = ((qh >> j) << 4) & 0x10;
            const int hi1 = (qh >> (j + 12)) & 0x10;
            y[j] = ((x[i].qs[j] & 0x0F) | hi0) * d + m;
            y[j + QK5_1 / 2] = ((x[i].qs[j] >> 4) | hi1) * d + m;
        }
    }
}

void dq_q8_0(const block_q8_0* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK8_0) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK8_0; ++j) y[j] = x[i].qs[j] * d;
    }
}

void dq_q8_1(const block_q8_1* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK8_1) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK8_1; ++j) y[j] = x[i].qs[j] * d;
    }
}

void dq_q2_K(const block_q2_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(x[i].d);
        const float dmin = fp16_to_f32(x[i].dmin);
        const uint8_t* q = x[i].qs;
        int is = 0;
        // Each 128-element half: 32 bytes of quants, read 4 times with shifts 0,2,4,6; each
        // pass covers two 16-element sub-blocks (bytes 0..15 and 16..31).
        for (int half = 0; half < QK_K / 128; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int part = 0; part < 2; ++part) {
                    const uint8_t sc = x[i].scales[is++];
                    const float dl = d * (sc & 0xF);
                    const float ml = dmin * (sc >> 4);
                    for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * part] >> shift) & 3) - ml;
                }
            }
        }
    }
}

// Unpacks Q3_K's 16 6-bit scales (biased by 32) from its 12 scale bytes.
void unpack_q3_K_scales(const uint8_t* s, int8_t* out) {
    for (int j = 0; j < 16; ++j) {
        const int low = j < 8 ? (s[j] & 0xF) : (s[j - 8] >> 4);
        const int high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = static_cast<int8_t>((low | (high << 4)) - 32);
    }
}

void dq_q3_K(const block_q3_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d_all = fp16_to_f32(x[i].d);
        int8_t scales[16];
        unpack_q3_K_scales(x[i].scales, scales);
        const uint8_t* q = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        uint8_t m = 1;
        int is = 0;
        for (int half = 0; half < QK_K / 128; ++half, q += 32) {
            for (int shift = 0; shift < 8; shift += 2, m <<= 1) {
                for (int part = 0; part < 2; ++part) {
                    const float dl = d_all * scales[is++];
                    for (int l = 0; l < 16; ++l) {
                        const int k = l + 16 * part;
                        *y++ = dl * (((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
                    }
                }
            }
        }
    }
}

void dq_q4_K(const block_q4_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* q = x[i].qs;
        const float d = fp16_to_f32(x[i].d);
        const float dmin = fp16_to_f32(x[i].dmin);
        for (int is = 0; is < QK_K / 32; is += 2, q += 32) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

void dq_q5_K(const block_q5_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* ql = x[i].qs;
        const uint8_t* qh = x[i].qh;
        const float d = fp16_to_f32(x[i].d);
        const float dmin = fp16_to_f32(x[i].dmin);
        uint8_t u1 = 1, u2 = 2;
        for (int is = 0; is < QK_K / 32; is += 2, ql += 32, u1 <<= 2, u2 <<= 2) {
            uint8_t sc, m;
            get_scale_min_k4(is, x[i].scales, &sc, &m);
            const float d1 = d * sc, m1 = dmin * m;
            get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
            const float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
            for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
        }
    }
}

void dq_q6_K(const block_q6_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const float d = fp16_to_f32(x[i].d);
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* sc = x[i].scales;
        for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; ++l) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

void dq_q8_K(const block_q8_K* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i)
        for (int j = 0; j < QK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

void dq_iq4_nl(const block_iq4_nl* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += QK4_NL) {
        const float d = fp16_to_f32(x[i].d);
        for (int j = 0; j < QK4_NL / 2; ++j) {
            y[j] = d * kIq4nlValues[x[i].qs[j] & 0xF];
            y[j + QK4_NL / 2] = d * kIq4nlValues[x[i].qs[j] >> 4];
        }
    }
}

void dq_iq4_xs(const block_iq4_xs* x, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i) {
        const uint8_t* qs = x[i].qs;
        const float d = fp16_to_f32(x[i].d);
        for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
            const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
            const float dl = d * (ls - 32);
            for (int j = 0; j < 16; ++j) {
                y[j] = dl * kIq4nlValues[qs[j] & 0xF];
                y[j + 16] = dl * kIq4nlValues[qs[j] >> 4];
            }
        }
    }
}

template <typename Block>
const Block* as(const void* p) {
    return static_cast<const Block*>(p);
}

}  // namespace

bool can_dequantize(GgmlType type) {
    const TypeInfo* ti = type_info(static_cast<uint32_t>(type));  // the type table says which have codecs
    return ti && ti->has_codec;
}

void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n) {
    const TypeInfo* ti = type_info(static_cast<uint32_t>(type));
    if (!ti || !can_dequantize(type))
        fail(Status::unsupported, "cannot dequantize tensor type %s", ti ? ti->name : "unknown");
    if (n < 0 || n % ti->block_size != 0)
        fail(Status::invalid_argument, "dequantize_row: %lld elements is not a whole number of %s blocks",
             static_cast<long long>(n), ti->name);
    const int64_t nb = n / ti->block_size;
    switch (type) {
        case GgmlType::F32: std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float)); break;
        case GgmlType::F16: fp16_to_f32_row(as<uint16_t>(src), dst, n); break;
        case GgmlType::BF16: bf16_to_f32_row(as<uint16_t>(src), dst, n); break;
        case GgmlType::Q4_0: dq_q4_0(as<block_q4_0>(src), dst, nb); break;
        case GgmlType::Q4_1: dq_q4_1(as<block_q4_1>(src), dst, nb); break;
        case GgmlType::Q5_0: dq_q5_0(as<block_q5_0>(src), dst, nb); break;
        case GgmlType::Q5_1: dq_q5_1(as<block_q5_1>(src), dst, nb); break;
        case GgmlType::Q8_0: dq_q8_0(as<block_q8_0>(src), dst, nb); break;
        case GgmlType::Q8_1: dq_q8_1(as<block_q8_1>(src), dst, nb); break;
        case GgmlType::Q2_K: dq_q2_K(as<block_q2_K>(src), dst, nb); break;
        case GgmlType::Q3_K: dq_q3_K(as<block_q3_K>(src), dst, nb); break;
        case GgmlType::Q4_K: dq_q4_K(as<block_q4_K>(src), dst, nb); break;
        case GgmlType::Q5_K: dq_q5_K(as<block_q5_K>(src), dst, nb); break;
        case GgmlType::Q6_K: dq_q6_K(as<block_q6_K>(src), dst, nb); break;
        case GgmlType::Q8_K: dq_q8_K(as<block_q8_K>(src), dst, nb); break;
        case GgmlType::IQ4_NL: dq_iq4_nl(as<block_iq4_nl>(src), dst, nb); break;
        case GgmlType::IQ4_XS: dq_iq4_xs(as<block_iq4_xs>(src), dst, nb); break;
        default: break;
    }
}

}  // namespace llamas
