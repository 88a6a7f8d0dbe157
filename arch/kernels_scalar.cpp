// The scalar kernel table: plain C++ versions of every kernel, the quantized products written
// blockwise in integer arithmetic the way ggml's generic reference kernels are (ggml-cpu/quants.c,
// vec.cpp). This is the oracle the SIMD tables are tested against, and the entry they keep for
// anything they have no faster version of.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels.h"
#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace {

// ---- activation quantizers (byte-compatible with ggml's quantize_row_q8_*_ref) ----

void quantize_q8_0(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_0*>(vy);
    for (int64_t i = 0; i < n / QK8_0; ++i, x += QK8_0) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
    }
}

void quantize_q8_1(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_1*>(vy);
    for (int64_t i = 0; i < n / QK8_1; ++i, x += QK8_1) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_1; ++j) amax = std::fmax(amax, std::fabs(x[j]));
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = f32_to_fp16(d);
        int sum = 0;
        for (int j = 0; j < QK8_1; ++j) {
            y[i].qs[j] = static_cast<int8_t>(std::round(x[j] * id));
            sum += y[i].qs[j];
        }
        y[i].s = f32_to_fp16(static_cast<float>(sum) * d);
    }
}

// Round to nearest, ties to even, as ggml's nearest_int() (valid for |v| < 2^22).
inline int nearest_int(float v) {
    const float t = v + 12582912.0f;
    int32_t i;
    std::memcpy(&i, &t, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

void quantize_q8_k(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<block_q8_K*>(vy);
    for (int64_t i = 0; i < n / QK_K; ++i, x += QK_K) {
        // The scale comes from the signed value of largest magnitude (first one on ties).
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; ++j) {
            const float ax = std::fabs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        if (amax == 0.0f) {
            std::memset(&y[i], 0, sizeof y[i]);
            continue;
        }
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; ++j) {
            const int v = nearest_int(iscale * x[j]);
            y[i].qs[j] = static_cast<int8_t>(v < 127 ? v : 127);
        }
        for (int j = 0; j < QK_K / 16; ++j) {
            int sum = 0;
            for (int l = 0; l < 16; ++l) sum += y[i].qs[j * 16 + l];
            y[i].bsums[j] = static_cast<int16_t>(sum);
        }
        y[i].d = 1.0f / iscale;
    }
}

void convert_f32(const float* x, void* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float)); }

void convert_f16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_fp16(x[i]);
}

void convert_bf16(const float* x, void* vy, int64_t n) {
    auto* y = static_cast<uint16_t*>(vy);
    for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
}

// ---- float dot products (double accumulation, as ggml's generic path) ----

void dot_f32_f32(int64_t n, float* s, const void* vw, const void* va) {
    const auto* w = static_cast<const float*>(vw);
    const auto* a = static_cast<const float*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(w[i] * a[i]);
    *s = static_cast<float>(sum);
}

void dot_f16_f16(int64_t n, float* s, const void* vw, const void* va) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* a = static_cast<const uint16_t*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(fp16_to_f32(w[i]) * fp16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

void dot_bf16_bf16(int64_t n, float* s, const void* vw, const void* va) {
    const auto* w = static_cast<const uint16_t*>(vw);
    const auto* a = static_cast<const uint16_t*>(va);
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(bf16_to_f32(w[i]) * bf16_to_f32(a[i]));
    *s = static_cast<float>(sum);
}

// ---- 32-element block types against Q8_0 / Q8_1 ----

void dot_q4_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q4_0*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK4_0; ++ib) {
        int sumi = 0;
        for (int j = 0; j < QK4_0 / 2; ++j) {
            const int v0 = (x[ib].qs[j] & 0x0F) - 8;
            const int v1 = (x[ib].qs[j] >> 4) - 8;
            sumi += v0 * y[ib].qs[j] + v1 * y[ib].qs[j + QK4_0 / 2];
        }
        sumf += static_cast<float>(sumi) * (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d));
    }
    *s = sumf;
}

void dot_q4_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q4_1*>(vw);
    const auto* y = static_cast<const block_q8_1*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK4_1; ++ib) {
        int sumi = 0;
        for (int j = 0; j < QK4_1 / 2; ++j) {
            sumi += (x[ib].qs[j] & 0x0F) * y[ib].qs[j] + (x[ib].qs[j] >> 4) * y[ib].qs[j + QK4_1 / 2];
        }
        sumf += (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d)) * static_cast<float>(sumi) +
                fp16_to_f32(x[ib].m) * fp16_to_f32(y[ib].s);
    }
    *s = sumf;
}

void dot_q5_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q5_0*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK5_0; ++ib) {
        uint32_t qh;
        std::memcpy(&qh, x[ib].qh, sizeof qh);
        int sumi = 0;
        for (int j = 0; j < QK5_0 / 2; ++j) {
            const int x0 = ((x[ib].qs[j] & 0x0F) | (((qh >> j) & 1) << 4)) - 16;
            const int x1 = ((x[ib].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16;
            sumi += x0 * y[ib].qs[j] + x1 * y[ib].qs[j + QK5_0 / 2];
        }
        sumf += (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d)) * static_cast<float>(sumi);
    }
    *s = sumf;
}

void dot_q5_1_q8_1(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q5_1*>(vw);
    const auto* y = static_cast<const block_q8_1*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK5_1; ++ib) {
        uint32_t qh;
        std::memcpy(&qh, x[ib].qh, sizeof qh);
        int sumi = 0;
        for (int j = 0; j < QK5_1 / 2; ++j) {
            const int x0 = (x[ib].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
            const int x1 = (x[ib].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
            sumi += x0 * y[ib].qs[j] + x1 * y[ib].qs[j + QK5_1 / 2];
        }
        sumf += (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d)) * static_cast<float>(sumi) +
                fp16_to_f32(x[ib].m) * fp16_to_f32(y[ib].s);
    }
    *s = sumf;
}

void dot_q8_0_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q8_0*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK8_0; ++ib) {
        int sumi = 0;
        for (int j = 0; j < QK8_0; ++j) sumi += x[ib].qs[j] * y[ib].qs[j];
        sumf += static_cast<float>(sumi) * (fp16_to_f32(x[ib].d) * fp16_to_f32(y[ib].d));
    }
    *s = sumf;
}

void dot_iq4_nl_q8_0(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_iq4_nl*>(vw);
    const auto* y = static_cast<const block_q8_0*>(va);
    float sumf = 0.0f;
    for (int64_t ib = 0; ib < n / QK4_NL; ++ib) {
        int sumi = 0;
        for (int j = 0; j < QK4_NL / 2; ++j) {
            sumi += y[ib].qs[j] * kIq4nlValues[x[ib].qs[j] & 0xF] +
                    y[ib].qs[j + QK4_NL / 2] * kIq4nlValues[x[ib].qs[j] >> 4];
        }
        sumf += (fp16_to_f32(y[ib].d) * fp16_to_f32(x[ib].d)) * static_cast<float>(sumi);
    }
    *s = sumf;
}

// ---- K-quants (256-element super-blocks) against Q8_K ----

void dot_q2_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q2_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* q2 = x[i].qs;
        const int8_t* q8 = y[i].qs;
        const uint8_t* sc = x[i].scales;
        int summs = 0;
        for (int j = 0; j < 16; ++j) summs += y[i].bsums[j] * (sc[j] >> 4);
        const float dall = y[i].d * fp16_to_f32(x[i].d);
        const float dmin = y[i].d * fp16_to_f32(x[i].dmin);
        int isum = 0;
        int is = 0;
        // Two halves of 128 elements; each 32-byte run of qs holds four 2-bit planes.
        for (int k = 0; k < QK_K / 128; ++k) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    const int d = sc[is++] & 0xF;
                    int isuml = 0;
                    for (int l = half * 16; l < half * 16 + 16; ++l) isuml += q8[l] * ((q2[l] >> shift) & 3);
                    isum += d * isuml;
                }
                q8 += 32;
            }
            q2 += 32;
        }
        sumf += dall * static_cast<float>(isum) - dmin * static_cast<float>(summs);
    }
    *s = sumf;
}

// The 16 6-bit scales of a Q3_K block, unpacked (still biased by 32).
void unpack_q3_k_scales(const uint8_t* packed, int8_t* out) {
    for (int j = 0; j < 16; ++j) {
        const int lo = j < 8 ? (packed[j] & 0xF) : (packed[j - 8] >> 4);
        const int hi = (packed[8 + (j % 4)] >> (2 * (j / 4))) & 3;
        out[j] = static_cast<int8_t>(lo | (hi << 4));
    }
}

void dot_q3_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q3_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        int8_t scales[16];
        unpack_q3_k_scales(x[i].scales, scales);
        const uint8_t* q3 = x[i].qs;
        const uint8_t* hm = x[i].hmask;
        const int8_t* q8 = y[i].qs;
        int isum = 0;
        int is = 0;
        uint8_t m = 1;
        for (int k = 0; k < QK_K / 128; ++k) {
            for (int shift = 0; shift < 8; shift += 2) {
                for (int half = 0; half < 2; ++half) {
                    int isuml = 0;
                    for (int l = half * 16; l < half * 16 + 16; ++l) {
                        const int q = ((q3[l] >> shift) & 3) - ((hm[l] & m) ? 0 : 4);
                        isuml += q8[l] * q;
                    }
                    isum += (scales[is++] - 32) * isuml;
                }
                q8 += 32;
                m <<= 1;
            }
            q3 += 32;
        }
        sumf += fp16_to_f32(x[i].d) * y[i].d * static_cast<float>(isum);
    }
    *s = sumf;
}

// The 8 6-bit scales and mins of a Q4_K/Q5_K block.
void unpack_k4_scales(const uint8_t* packed, uint8_t* sc, uint8_t* mn) {
    for (int j = 0; j < 8; ++j) {
        if (j < 4) {
            sc[j] = packed[j] & 63;
            mn[j] = packed[j + 4] & 63;
        } else {
            sc[j] = static_cast<uint8_t>((packed[j + 4] & 0xF) | ((packed[j - 4] >> 6) << 4));
            mn[j] = static_cast<uint8_t>((packed[j + 4] >> 4) | ((packed[j] >> 6) << 4));
        }
    }
}

void dot_q4_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q4_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        unpack_k4_scales(x[i].scales, sc, mn);
        int summs = 0;
        for (int j = 0; j < QK_K / 16; ++j) summs += y[i].bsums[j] * mn[j / 2];
        const uint8_t* q4 = x[i].qs;
        const int8_t* q8 = y[i].qs;
        int isum = 0;
        // Each 32-byte run of qs holds two sub-blocks: low nibbles, then high nibbles.
        for (int j = 0; j < QK_K / 64; ++j) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += q8[l] * (q4[l] & 0xF);
                hi += q8[l + 32] * (q4[l] >> 4);
            }
            isum += sc[2 * j] * lo + sc[2 * j + 1] * hi;
            q4 += 32;
            q8 += 64;
        }
        sumf += fp16_to_f32(x[i].d) * y[i].d * static_cast<float>(isum) -
                fp16_to_f32(x[i].dmin) * y[i].d * static_cast<float>(summs);
    }
    *s = sumf;
}

void dot_q5_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q5_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        uint8_t sc[8], mn[8];
        unpack_k4_scales(x[i].scales, sc, mn);
        int summs = 0;
        for (int j = 0; j < QK_K / 16; ++j) summs += y[i].bsums[j] * mn[j / 2];
        const uint8_t* q4 = x[i].qs;
        const uint8_t* hm = x[i].qh;
        const int8_t* q8 = y[i].qs;
        int isum = 0;
        uint8_t m = 1;
        for (int j = 0; j < QK_K / 64; ++j) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; ++l) {
                lo += q8[l] * ((q4[l] & 0xF) + ((hm[l] & m) ? 16 : 0));
                hi += q8[l + 32] * ((q4[l] >> 4) + ((hm[l] & (m << 1)) ? 16 : 0));
            }
            isum += sc[2 * j] * lo + sc[2 * j + 1] * hi;
            q4 += 32;
            q8 += 64;
            m <<= 2;
        }
        sumf += fp16_to_f32(x[i].d) * y[i].d * static_cast<float>(isum) -
                fp16_to_f32(x[i].dmin) * y[i].d * static_cast<float>(summs);
    }
    *s = sumf;
}

void dot_q6_k_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_q6_K*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const uint8_t* ql = x[i].ql;
        const uint8_t* qh = x[i].qh;
        const int8_t* q8 = y[i].qs;
        const int8_t* sc = x[i].scales;
        int isum = 0;
        // Two halves of 128 elements: 64 bytes of ql and 32 of qh make 4 runs of 32 values.
        for (int half = 0; half < 2; ++half) {
            int sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};  // per 16-element sub-block of this half
            for (int l = 0; l < 32; ++l) {
                const int q0 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q1 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q2 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q3 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                const int sub = l / 16;
                sums[0 + sub] += q8[l] * q0;
                sums[2 + sub] += q8[l + 32] * q1;
                sums[4 + sub] += q8[l + 64] * q2;
                sums[6 + sub] += q8[l + 96] * q3;
            }
            for (int j = 0; j < 8; ++j) isum += sc[j] * sums[j];
            ql += 64;
            qh += 32;
            q8 += 128;
            sc += 8;
        }
        sumf += fp16_to_f32(x[i].d) * y[i].d * static_cast<float>(isum);
    }
    *s = sumf;
}

void dot_iq4_xs_q8_k(int64_t n, float* s, const void* vw, const void* va) {
    const auto* x = static_cast<const block_iq4_xs*>(vw);
    const auto* y = static_cast<const block_q8_K*>(va);
    float sumf = 0.0f;
    for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d4d8 = fp16_to_f32(x[i].d) * y[i].d;
        const uint8_t* qs = x[i].qs;
        const int8_t* q8 = y[i].qs;
        for (int ib = 0; ib < QK_K / 32; ++ib) {
            const int ls = ((x[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) |
                           (((x[i].scales_h >> (2 * ib)) & 3) << 4);
            int sumi = 0;
            for (int j = 0; j < 16; ++j) {
                sumi += q8[j] * kIq4nlValues[qs[j] & 0xF] + q8[j + 16] * kIq4nlValues[qs[j] >> 4];
            }
            sumf += d4d8 * static_cast<float>(ls - 32) * static_cast<float>(sumi);
            qs += 16;
            q8 += 32;
        }
    }
    *s = sumf;
}

// ---- float loops ----

float dot_f32(int64_t n, const float* a, const float* b) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * b[i];
    return static_cast<float>(sum);
}

void axpy_f32(int64_t n, float a, const float* x, float* y) {
    for (int64_t i = 0; i < n; ++i) y[i] += a * x[i];
}

void silu_mul(const float* gate, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) out[i] = gate[i] / (1.0f + exp_approx(-gate[i])) * up[i];
}

double softmax_exp(float* x, int64_t n) {
    float max = -INFINITY;
    for (int64_t i = 0; i < n; ++i) max = std::max(max, x[i]);
    if (max == -INFINITY) {
        for (int64_t i = 0; i < n; ++i) x[i] = 0.0f;
        return 0.0;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        x[i] = exp_approx(x[i] - max);
        sum += x[i];
    }
    return sum;
}

void dot_f16_rows(int64_t d, const float* q, const uint8_t* k, size_t stride, int64_t n, float* out) {
    for (int64_t j = 0; j < n; ++j) {
        const auto* row = reinterpret_cast<const uint16_t*>(k + static_cast<size_t>(j) * stride);
        float sum = 0.0f;
        for (int64_t i = 0; i < d; ++i) sum += q[i] * fp16_to_f32(row[i]);
        out[j] = sum;
    }
}

void axpy_f16_rows(int64_t d, const float* w, const uint8_t* v, size_t stride, int64_t n, float* out) {
    for (int64_t j = 0; j < n; ++j) {
        const auto* row = reinterpret_cast<const uint16_t*>(v + static_cast<size_t>(j) * stride);
        for (int64_t i = 0; i < d; ++i) out[i] += w[j] * fp16_to_f32(row[i]);
    }
}

void rms_norm(const float* x, const float* w, float* y, int64_t n, float eps) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * static_cast<double>(x[i]);
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * scale) * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * scale;
    }
}

void rope(const float* cs, float* x, int64_t n_heads, int64_t head_dim, int64_t n_rot, bool neox) {
    const int64_t half = n_rot / 2;
    for (int64_t h = 0; h < n_heads; ++h) {
        float* v = x + h * head_dim;
        for (int64_t i = 0; i < n_rot; i += 2) {
            const float c = cs[i], s = cs[i + 1];
            // normal: adjacent pairs; neox: element i/2 pairs with i/2 + n_rot/2
            const int64_t a = neox ? i / 2 : i;
            const int64_t b = neox ? i / 2 + half : i + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void gelu_mul(const float* table, const float* x, const float* up, float* out, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        const float g = v <= -10.0f ? 0.0f : v >= 10.0f ? v : table[f32_to_fp16(v)];
        out[i] = up ? g * up[i] : g;
    }
}

void softcap(float* x, int64_t n, float cap) {
    const float inv = 1.0f / cap;
    for (int64_t i = 0; i < n; ++i) x[i] = std::tanh(x[i] * inv) * cap;
}

// The attention tile, loops over rows innermost (so the compiler can vectorise them).
void attn_tile(const AttnTile& t) {
    const int64_t R = t.rows;
    const float inv_cap = t.softcap > 0 ? 1.0f / t.softcap : 0.0f;
    for (int64_t j = 0; j < t.nk; ++j) {
        float* s = t.s + j * R;
        const float* k = t.k + j * t.k_stride;
        for (int64_t r = 0; r < R; ++r) s[r] = 0.0f;
        for (int64_t i = 0; i < t.d; ++i) {
            const float* q = t.qt + i * R;
            const float kv = k[i];
            for (int64_t r = 0; r < R; ++r) s[r] += q[r] * kv;
        }
        const int64_t pos = t.j0 + j;
        for (int64_t r = 0; r < R; ++r) {
            float x = s[r];
            if (t.softcap > 0) x = std::tanh(x * inv_cap) * t.softcap;
            x *= t.score_scale;
            if (t.masked && (pos < t.lo[r] || pos >= t.hi[r])) x = -INFINITY;
            s[r] = x;
        }
    }
    for (int64_t r = 0; r < R; ++r) {
        float mx = t.m[r];
        for (int64_t j = 0; j < t.nk; ++j) mx = std::max(mx, t.s[j * R + r]);
        const float safe = mx == -INFINITY ? 0.0f : mx;  // no key seen yet: e^(-inf - 0) = 0
        const float alpha = exp_approx(t.m[r] - safe);
        float sum = 0.0f;
        for (int64_t j = 0; j < t.nk; ++j) {
            const float e = exp_approx(t.s[j * R + r] - safe);
            t.s[j * R + r] = e;
            sum += e;
        }
        t.m[r] = mx;
        t.alpha[r] = alpha;
        t.l[r] = t.l[r] * alpha + sum;
    }
    for (int64_t i = 0; i < t.d; ++i) {
        float* o = t.ot + i * R;
        for (int64_t r = 0; r < R; ++r) o[r] *= t.alpha[r];
        for (int64_t j = 0; j < t.nk; ++j) {
            const float* w = t.s + j * R;
            const float v = t.v[j * t.v_stride + i];
            for (int64_t r = 0; r < R; ++r) o[r] += w[r] * v;
        }
    }
}

void attn_rows(const AttnTile& t) { attn_rows_by_row(t, RowLoops{dot_f16_rows, axpy_f16_rows, softmax_exp, softcap}); }

template <void (*Dot)(int64_t, float*, const void*, const void*)>
void set(Kernels& k, GgmlType w, GgmlType act, void (*quantize)(const float*, void*, int64_t)) {
    TypeKernels& t = k.types[static_cast<uint32_t>(w)];
    t.vec_dot_type = act;
    t.quantize_activations = quantize;
    t.vec_dot = Dot;
    t.gemm = gemm_by_dot<Dot>;
}

}  // namespace

void fill_scalar_kernels(Kernels& k) {
    k = Kernels{};
    k.name = "scalar";
    set<dot_f32_f32>(k, GgmlType::F32, GgmlType::F32, convert_f32);
    set<dot_f16_f16>(k, GgmlType::F16, GgmlType::F16, convert_f16);
    set<dot_bf16_bf16>(k, GgmlType::BF16, GgmlType::BF16, convert_bf16);
    set<dot_q4_0_q8_0>(k, GgmlType::Q4_0, GgmlType::Q8_0, quantize_q8_0);
    set<dot_q4_1_q8_1>(k, GgmlType::Q4_1, GgmlType::Q8_1, quantize_q8_1);
    set<dot_q5_0_q8_0>(k, GgmlType::Q5_0, GgmlType::Q8_0, quantize_q8_0);
    set<dot_q5_1_q8_1>(k, GgmlType::Q5_1, GgmlType::Q8_1, quantize_q8_1);
    set<dot_q8_0_q8_0>(k, GgmlType::Q8_0, GgmlType::Q8_0, quantize_q8_0);
    set<dot_iq4_nl_q8_0>(k, GgmlType::IQ4_NL, GgmlType::Q8_0, quantize_q8_0);
    set<dot_q2_k_q8_k>(k, GgmlType::Q2_K, GgmlType::Q8_K, quantize_q8_k);
    set<dot_q3_k_q8_k>(k, GgmlType::Q3_K, GgmlType::Q8_K, quantize_q8_k);
    set<dot_q4_k_q8_k>(k, GgmlType::Q4_K, GgmlType::Q8_K, quantize_q8_k);
    set<dot_q5_k_q8_k>(k, GgmlType::Q5_K, GgmlType::Q8_K, quantize_q8_k);
    set<dot_q6_k_q8_k>(k, GgmlType::Q6_K, GgmlType::Q8_K, quantize_q8_k);
    set<dot_iq4_xs_q8_k>(k, GgmlType::IQ4_XS, GgmlType::Q8_K, quantize_q8_k);
    k.dot_f32 = dot_f32;
    k.axpy_f32 = axpy_f32;
    k.silu_mul = silu_mul;
    k.softmax_exp = softmax_exp;
    k.dot_f16_rows = dot_f16_rows;
    k.axpy_f16_rows = axpy_f16_rows;
    k.rms_norm = rms_norm;
    k.rope = rope;
    k.gelu_mul = gelu_mul;
    k.softcap = softcap;
    k.attn_tile = attn_tile;
    k.attn_rows = attn_rows;
}

float exp_approx(float x) {
    // e^x = 2^n * e^b with n = round(x / ln 2) and b = x - n ln 2 (ln 2 split in two parts).
    const float r = 0x1.8p23f;
    const float z = std::fma(x, 0x1.715476p+0f, r);
    const float n = z - r;
    const float b = std::fma(-n, 0x1.7f7d1cp-20f, std::fma(-n, 0x1.62e4p-1f, x));
    const uint32_t e = f32_bits(z) << 23;
    const float k = f32_from_bits(e + f32_bits(1.0f));
    const float u = b * b;
    const float j = std::fma(std::fma(std::fma(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, std::fma(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)),
                             u, 0x1.ffffecp-1f * b);
    if (!(std::fabs(n) > 126.0f)) return std::fma(j, k, k);
    // Near overflow / underflow: scale in two steps.
    const uint32_t g = n <= 0.0f ? 0x82000000u : 0u;
    const float s1 = f32_from_bits(g + 0x7f000000u);
    const float s2 = f32_from_bits(e - g);
    if (std::fabs(n) > 192.0f) return s1 * s1;
    return std::fma(s2, j, s2) * s1;
}

// Per row, as the kernels.h comment of attn_rows says; the arithmetic between the loops is the
// per-row F16 way's of ops/attention.cpp, so a table's attn_rows and that way agree bit for bit.
void attn_rows_by_row(const AttnTile& t, const RowLoops& loops) {
    const int64_t D = t.d, nk = t.nk;
    const bool f16 = t.k16 != nullptr;
    const bool by_loops = f16 && D % 16 == 0 && D <= 256;  // the F16 loops' contract
    auto key = [&](int64_t j, int64_t i) { return f16 ? fp16_to_f32(t.k16[j * t.k_stride + i]) : t.k[j * t.k_stride + i]; };
    auto value = [&](int64_t j, int64_t i) { return f16 ? fp16_to_f32(t.v16[j * t.v_stride + i]) : t.v[j * t.v_stride + i]; };
    for (int64_t r = 0; r < t.rows; ++r) {
        const float* q = t.qt + r * D;
        float* w = t.s + r * nk;
        float* o = t.ot + r * D;
        if (by_loops) {
            loops.dot_f16_rows(D, q, reinterpret_cast<const uint8_t*>(t.k16), static_cast<size_t>(t.k_stride) * 2, nk, w);
        } else {
            for (int64_t j = 0; j < nk; ++j) {
                float s = 0.0f;
                for (int64_t i = 0; i < D; ++i) s += q[i] * key(j, i);
                w[j] = s;
            }
        }
        if (t.softcap > 0) loops.softcap(w, nk, t.softcap);
        for (int64_t j = 0; j < nk; ++j) w[j] *= t.score_scale;
        if (t.masked) {
            for (int64_t j = 0; j < nk; ++j) {
                if (t.j0 + j < t.lo[r] || t.j0 + j >= t.hi[r]) w[j] = -INFINITY;
            }
        }
        float bmax = -INFINITY;
        for (int64_t j = 0; j < nk; ++j) bmax = std::max(bmax, w[j]);
        t.alpha[r] = 1.0f;
        if (bmax == -INFINITY) continue;  // the row sees none of these keys
        // The block's weights relative to its own max; whichever of the old accumulator and the
        // new weights has the smaller max is scaled by e^(difference).
        const float sum = static_cast<float>(loops.softmax_exp(w, nk));
        if (bmax > t.m[r]) {
            const float c = std::exp(t.m[r] - bmax);  // 0 for the first keys the row sees
            for (int64_t i = 0; i < D; ++i) o[i] *= c;
            t.alpha[r] = c;
            t.l[r] = t.l[r] * c + sum;
            t.m[r] = bmax;
        } else {
            const float c = std::exp(bmax - t.m[r]);
            for (int64_t j = 0; j < nk; ++j) w[j] *= c;
            t.l[r] += sum * c;
        }
        if (by_loops) {
            loops.axpy_f16_rows(D, w, reinterpret_cast<const uint8_t*>(t.v16), static_cast<size_t>(t.v_stride) * 2, nk, o);
        } else {
            for (int64_t j = 0; j < nk; ++j) {
                for (int64_t i = 0; i < D; ++i) o[i] += w[j] * value(j, i);
            }
        }
    }
}

}  // namespace llamas
