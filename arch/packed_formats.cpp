// The packed weight formats (packed_formats.h): packing at load and activation preparation,
// ISA-free and compiled once, so that every table with a packed form reads the same bytes.
#include "packed_formats.h"

#include <cstring>
#include <type_traits>

#include "quant/blocks.h"
#include "quant/fp16.h"

namespace llamas {
namespace packed {

alignas(16) const uint8_t kIq4nlPlus128[16] = {
    static_cast<uint8_t>(kIq4nlValues[0] + 128),  static_cast<uint8_t>(kIq4nlValues[1] + 128),
    static_cast<uint8_t>(kIq4nlValues[2] + 128),  static_cast<uint8_t>(kIq4nlValues[3] + 128),
    static_cast<uint8_t>(kIq4nlValues[4] + 128),  static_cast<uint8_t>(kIq4nlValues[5] + 128),
    static_cast<uint8_t>(kIq4nlValues[6] + 128),  static_cast<uint8_t>(kIq4nlValues[7] + 128),
    static_cast<uint8_t>(kIq4nlValues[8] + 128),  static_cast<uint8_t>(kIq4nlValues[9] + 128),
    static_cast<uint8_t>(kIq4nlValues[10] + 128), static_cast<uint8_t>(kIq4nlValues[11] + 128),
    static_cast<uint8_t>(kIq4nlValues[12] + 128), static_cast<uint8_t>(kIq4nlValues[13] + 128),
    static_cast<uint8_t>(kIq4nlValues[14] + 128), static_cast<uint8_t>(kIq4nlValues[15] + 128)};

alignas(16) const int8_t kIq4nlSigned[16] = {
    kIq4nlValues[0], kIq4nlValues[1], kIq4nlValues[2],  kIq4nlValues[3],  kIq4nlValues[4],  kIq4nlValues[5],
    kIq4nlValues[6], kIq4nlValues[7], kIq4nlValues[8],  kIq4nlValues[9],  kIq4nlValues[10], kIq4nlValues[11],
    kIq4nlValues[12], kIq4nlValues[13], kIq4nlValues[14], kIq4nlValues[15]};

namespace {

size_t round64(size_t n) { return (n + 63) / 64 * 64; }

const uint8_t* row_of(const void* w, size_t row_bytes, int64_t r) {
    return static_cast<const uint8_t*>(w) + static_cast<size_t>(r) * row_bytes;
}

// Sets the mask bit of lane byte `lane` (0..63) in a 64-bit mask stored at masks.
void set_lane_bit(uint8_t* masks, int lane) { masks[lane / 8] |= static_cast<uint8_t>(1u << (lane % 8)); }

// ======================= 32-element block types =======================

// 32 nibbles of one row (ggml's order: element e < 16 is the low nibble of qs[e], e >= 16 the
// high nibble of qs[e-16]) into the 4 lines' lane bytes of row r.
void pack_nibbles(const uint8_t* qs, int r, uint8_t* out) {
    uint8_t nib[32];
    for (int e = 0; e < 16; ++e) {
        nib[e] = qs[e] & 15;
        nib[e + 16] = qs[e] >> 4;
    }
    for (int j = 0; j < 4; ++j) {
        for (int i = 0; i < 4; ++i) out[64 * j + 4 * r + i] = static_cast<uint8_t>(nib[8 * j + i] | (nib[8 * j + 4 + i] << 4));
    }
}

// The 5th bits of Q5_0/Q5_1 (qh bit e belongs to element e) into the masks after the lines.
void pack_high_bits(const uint8_t* qh4, int r, uint8_t* out) {
    uint32_t qh;
    std::memcpy(&qh, qh4, 4);
    for (int j = 0; j < 4; ++j) {
        for (int i = 0; i < 4; ++i) {
            for (int half = 0; half < 2; ++half) {
                if ((qh >> (8 * j + 4 * half + i)) & 1) set_lane_bit(out + 16 * j + 8 * half, 4 * r + i);
            }
        }
    }
}

template <class Block>
void pack_payload(const Block* const* rows, int64_t b, uint8_t* out) {
    if constexpr (std::is_same<Block, block_q8_0>::value) {
        for (int s = 0; s < 8; ++s) {
            for (int r = 0; r < G; ++r) {
                for (int i = 0; i < 4; ++i) out[64 * s + 4 * r + i] = static_cast<uint8_t>(rows[r][b].qs[4 * s + i] + 128);
            }
        }
    } else {
        constexpr bool k5 = std::is_same<Block, block_q5_0>::value || std::is_same<Block, block_q5_1>::value;
        if (k5) std::memset(out + 256, 0, 64);
        for (int r = 0; r < G; ++r) {
            pack_nibbles(rows[r][b].qs, r, out);
            if constexpr (k5) pack_high_bits(rows[r][b].qh, r, out + 256);
        }
    }
}

template <class Block>
size_t packed_bytes32(int64_t n_cols, int64_t n_rows) {
    if (n_rows % G != 0 || n_cols % 32 != 0 || n_cols <= 0) return 0;
    return static_cast<size_t>(n_rows / G) * static_cast<size_t>(n_cols / 32) * format32_of<Block>().block();
}

template <class Block>
void pack32(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    constexpr Format32 f = format32_of<Block>();
    const int64_t nb = n_cols / 32;
    auto* out = static_cast<uint8_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        const Block* rows[G];
        for (int r = 0; r < G; ++r) rows[r] = reinterpret_cast<const Block*>(row_of(w, row_bytes, g * G + r));
        for (int64_t b = 0; b < nb; ++b) {
            uint8_t* dst = out + static_cast<size_t>(g * nb + b) * f.block();
            for (int r = 0; r < G; ++r) std::memcpy(dst + 2 * r, &rows[r][b].d, 2);
            if constexpr (f.has_min) {
                for (int r = 0; r < G; ++r) std::memcpy(dst + 32 + 2 * r, &rows[r][b].m, 2);
            }
            pack_payload<Block>(rows, b, dst + f.header);
        }
    }
}

// ======================= K-quants =======================

inline int q4k_nibble(const uint8_t* qs, int e) {
    const int chunk = e / 64, l = e % 64;
    return l < 32 ? (qs[32 * chunk + l] & 15) : (qs[32 * chunk + l - 32] >> 4);
}

inline int q5k_high_bit(const block_q5_K& b, int e) {
    const int chunk = e / 64, l = e % 64;
    return l < 32 ? (b.qh[l] >> (2 * chunk)) & 1 : (b.qh[l - 32] >> (2 * chunk + 1)) & 1;
}

template <size_t kBytes>
size_t packed_bytes_k(int64_t n_cols, int64_t n_rows) {
    if (n_rows % G != 0 || n_cols % QK_K != 0 || n_cols <= 0) return 0;
    return static_cast<size_t>(n_rows / G) * static_cast<size_t>(n_cols / QK_K) * kBytes;
}

// 32 values (0..15) of one row into 4 lines (Q4_0's payload layout) at out, row r.
void pack_nibble_lines(const uint8_t* nj, int r, uint8_t* out) {
    for (int i = 0; i < 4; ++i) {
        uint8_t* o = out + 64 * i + 4 * r;
        for (int c = 0; c < 4; ++c) o[c] = static_cast<uint8_t>(nj[8 * i + c] | (nj[8 * i + 4 + c] << 4));
    }
}

// Q4_K and Q5_K (whose low 4 bits, scales and mins are laid out as Q4_K's).
template <class Block>
void pack_k4(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    constexpr bool kQ5 = std::is_same<Block, block_q5_K>::value;
    constexpr size_t kBytes = kQ5 ? kQ5KBytes : kQ4KBytes;
    const int64_t nsb = n_cols / QK_K;
    auto* out = static_cast<uint8_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        for (int64_t b = 0; b < nsb; ++b) {
            uint8_t* dst = out + static_cast<size_t>(g * nsb + b) * kBytes;
            if (kQ5) std::memset(dst + kQ4KBytes, 0, kQ5KBytes - kQ4KBytes);
            for (int r = 0; r < G; ++r) {
                const Block& x = reinterpret_cast<const Block*>(row_of(w, row_bytes, g * G + r))[b];
                std::memcpy(dst + 2 * r, &x.d, 2);
                std::memcpy(dst + 32 + 2 * r, &x.dmin, 2);
                uint8_t sc[8], mn[8];
                for (int j = 0; j < 8; ++j) get_scale_min_k4(j, x.scales, &sc[j], &mn[j]);
                uint8_t nib[QK_K];
                for (int e = 0; e < QK_K; ++e) nib[e] = static_cast<uint8_t>(q4k_nibble(x.qs, e));
                for (int j = 0; j < 8; ++j) {
                    dst[64 + 16 * j + r] = sc[j];
                    dst[192 + 16 * j + r] = mn[j];
                    pack_nibble_lines(nib + 32 * j, r, dst + kQ4KNibbles + 256 * j);
                }
                if constexpr (kQ5) {
                    for (int j = 0; j < 8; ++j) {
                        for (int i = 0; i < 4; ++i) {
                            uint8_t* masks = dst + kQ4KBytes + 64 * j + 16 * i;
                            for (int c = 0; c < 4; ++c) {
                                if (q5k_high_bit(x, 32 * j + 8 * i + c)) set_lane_bit(masks, 4 * r + c);
                                if (q5k_high_bit(x, 32 * j + 8 * i + 4 + c)) set_lane_bit(masks + 8, 4 * r + c);
                            }
                        }
                    }
                }
            }
        }
    }
}

inline int q6k_value(const block_q6_K& b, int e) {
    const int half = e / 128, l = e % 128;
    const uint8_t* ql = b.ql + 64 * half;
    const uint8_t* qh = b.qh + 32 * half;
    const int quarter = l / 32, i = l % 32;
    const int lo = quarter == 0 ? (ql[i] & 15) : quarter == 1 ? (ql[i + 32] & 15) : quarter == 2 ? (ql[i] >> 4) : (ql[i + 32] >> 4);
    const int hi = (qh[i] >> (2 * quarter)) & 3;
    return lo | (hi << 4);
}

inline int q3k_value(const block_q3_K& b, int e) {
    const int half = e / 128, j = (e % 128) / 32, l = e % 32;
    const int lo = (b.qs[32 * half + l] >> (2 * j)) & 3;
    const int hi = (b.hmask[l] >> (4 * half + j)) & 1;
    return lo | (hi << 2);
}

inline int q3k_scale(const block_q3_K& b, int sg) {
    const int lo = sg < 8 ? (b.scales[sg] & 0xF) : (b.scales[sg - 8] >> 4);
    const int hi = (b.scales[8 + (sg % 4)] >> (2 * (sg / 4))) & 3;
    return (lo | (hi << 4)) - 32;
}

// Q6_K and Q3_K: 16 scales per super-block, values in 4-column steps: step ks of 32 columns p
// goes to nibble line ks/2 (low half-byte for even ks), Q6_K's high 2 bits to field ks%4 of line
// ks/4 of the high lines.
template <class Block>
void pack_k6(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    constexpr bool kQ3 = std::is_same<Block, block_q3_K>::value;
    constexpr size_t kBytes = kQ3 ? kQ3KBytes : kQ6KBytes;
    const int64_t nsb = n_cols / QK_K;
    auto* out = static_cast<uint8_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        for (int64_t b = 0; b < nsb; ++b) {
            uint8_t* dst = out + static_cast<size_t>(g * nsb + b) * kBytes;
            std::memset(dst, 0, kBytes);
            for (int r = 0; r < G; ++r) {
                const Block& x = reinterpret_cast<const Block*>(row_of(w, row_bytes, g * G + r))[b];
                std::memcpy(dst + 2 * r, &x.d, 2);
                for (int sg = 0; sg < 16; ++sg) {
                    const int scale = kQ3 ? q3k_scale(reinterpret_cast<const block_q3_K&>(x), sg)
                                          : reinterpret_cast<const block_q6_K&>(x).scales[sg];
                    dst[32 + 16 * sg + r] = static_cast<uint8_t>(static_cast<int8_t>(scale));
                }
                for (int p = 0; p < 8; ++p) {
                    for (int ks = 0; ks < 8; ++ks) {
                        for (int c = 0; c < 4; ++c) {
                            const int e = 32 * p + 4 * ks + c;
                            const int u = kQ3 ? q3k_value(reinterpret_cast<const block_q3_K&>(x), e)
                                              : q6k_value(reinterpret_cast<const block_q6_K&>(x), e);
                            uint8_t& nb = dst[kQ6KNibbles + 256 * p + 64 * (ks / 2) + 4 * r + c];
                            nb = static_cast<uint8_t>(nb | ((u & 15) << (4 * (ks % 2))));
                            if constexpr (!kQ3) {
                                uint8_t& hb = dst[kQ6KHigh + 128 * p + 64 * (ks / 4) + 4 * r + c];
                                hb = static_cast<uint8_t>(hb | ((u >> 4) << (2 * (ks % 4))));
                            }
                        }
                    }
                }
            }
        }
    }
}

void pack_iq4xs(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    const int64_t nsb = n_cols / QK_K;
    auto* out = static_cast<uint8_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        for (int64_t b = 0; b < nsb; ++b) {
            uint8_t* dst = out + static_cast<size_t>(g * nsb + b) * kIQ4XSBytes;
            for (int r = 0; r < G; ++r) {
                const block_iq4_xs& x = reinterpret_cast<const block_iq4_xs*>(row_of(w, row_bytes, g * G + r))[b];
                std::memcpy(dst + 2 * r, &x.d, 2);
                for (int j = 0; j < 8; ++j) {
                    const int ls = ((x.scales_l[j / 2] >> (4 * (j % 2))) & 0xF) | (((x.scales_h >> (2 * j)) & 3) << 4);
                    dst[32 + 16 * j + r] = static_cast<uint8_t>(static_cast<int8_t>(ls - 32));
                    // Sub-block j: element l < 16 is the low nibble of qs[16j + l], l >= 16 the
                    // high nibble of qs[16j + l - 16].
                    uint8_t nib[32];
                    for (int l = 0; l < 16; ++l) {
                        nib[l] = x.qs[16 * j + l] & 15;
                        nib[l + 16] = x.qs[16 * j + l] >> 4;
                    }
                    pack_nibble_lines(nib, r, dst + kIQ4XSNibbles + 256 * j);
                }
            }
        }
    }
}

// ======================= F16 / BF16 =======================

size_t packed_bytes16(int64_t n_cols, int64_t n_rows) {
    if (n_rows % G != 0 || n_cols <= 0) return 0;
    return static_cast<size_t>(n_rows) * static_cast<size_t>(n_cols) * 2;
}

void pack16(const void* w, size_t row_bytes, int64_t n_cols, int64_t n_rows, void* vout) {
    auto* out = static_cast<uint16_t*>(vout);
    for (int64_t g = 0; g < n_rows / G; ++g) {
        for (int r = 0; r < G; ++r) {
            const auto* row = reinterpret_cast<const uint16_t*>(row_of(w, row_bytes, g * G + r));
            uint16_t* dst = out + g * n_cols * G + r;
            for (int64_t k = 0; k < n_cols; ++k) dst[k * G] = row[k];
        }
    }
}

}  // namespace

size_t act_row_bytes32(int64_t n_cols) { return round64(static_cast<size_t>(n_cols / 32) * 40); }

void prepare32(Encoder q8, int offset, bool has_min, const float* x, void* vout, int64_t n_cols) {
    const int64_t nb = n_cols / 32;
    auto* q = static_cast<int8_t*>(vout);
    auto* d = reinterpret_cast<float*>(q + nb * 32);
    auto* off = reinterpret_cast<int32_t*>(d + nb);
    if (has_min) {
        // Q8_1 blocks, as the reference pairs with Q4_1/Q5_1: the same values and scale as Q8_0
        // plus s = d x Σq in fp16, the factor of the weights' min.
        block_q8_1 tmp[8];
        for (int64_t b0 = 0; b0 < nb; b0 += 8) {
            const int nc = static_cast<int>(nb - b0 < 8 ? nb - b0 : 8);
            q8(x + b0 * 32, tmp, nc * 32);
            for (int c = 0; c < nc; ++c) {
                const int64_t b = b0 + c;
                std::memcpy(q + b * 32, tmp[c].qs, 32);
                d[b] = fp16_to_f32(tmp[c].d);
                const float ds = fp16_to_f32(tmp[c].s);
                std::memcpy(&off[b], &ds, sizeof ds);
            }
        }
        return;
    }
    block_q8_0 tmp[8];
    for (int64_t b0 = 0; b0 < nb; b0 += 8) {
        const int nc = static_cast<int>(nb - b0 < 8 ? nb - b0 : 8);
        q8(x + b0 * 32, tmp, nc * 32);
        for (int c = 0; c < nc; ++c) {
            const int64_t b = b0 + c;
            std::memcpy(q + b * 32, tmp[c].qs, 32);
            d[b] = fp16_to_f32(tmp[c].d);
            int32_t s = 0;
            for (int i = 0; i < 32; ++i) s += tmp[c].qs[i];
            off[b] = -offset * s;
        }
    }
}

size_t act_row_bytes32_i16(int64_t n_cols) {
    const int64_t nb = n_cols / 32;
    return round64(act_i16_starts_at(nb) + static_cast<size_t>(nb) * 4);
}

size_t act_hot_bytes32_i16(int64_t n_cols) {
    const int64_t nb = n_cols / 32;
    return act_i16_int8_at(nb) + static_cast<size_t>(nb) * (sizeof(float) + sizeof(int32_t));  // values, scales, starts
}

void prepare32_i16(Encoder q8_0, const float* x, void* vout, int64_t n_cols) {
    const int64_t nb = n_cols / 32;
    auto* row = static_cast<uint8_t*>(vout);
    auto* q16 = reinterpret_cast<int16_t*>(row);
    auto* q8 = reinterpret_cast<int8_t*>(row + act_i16_int8_at(nb));
    prepare32(q8_0, kQ8_0.offset, false, x, q8, n_cols);
    // Each 4 columns as 0 2 1 3: TileWide16 multiplies a row's columns 0 and 2, then 1 and 3.
    static constexpr int kOrder[4] = {0, 2, 1, 3};
    for (int64_t i = 0; i < nb * 32; ++i) q16[i] = q8[(i & ~3) + kOrder[i & 3]];
}

size_t act_row_bytes_k(int64_t n_cols) { return round64(static_cast<size_t>(n_cols / QK_K) * (256 + 4 + 32 + 64 + 128)); }

void prepare_k(Encoder q8k, const float* x, void* vout, int64_t n_cols) {
    const int64_t nsb = n_cols / QK_K;
    auto* q = static_cast<int8_t*>(vout);
    auto* d = reinterpret_cast<float*>(q + nsb * 256);
    auto* bsd = d + nsb;
    auto* o16 = reinterpret_cast<int32_t*>(bsd + nsb * 8);
    auto* s8 = reinterpret_cast<uint32_t*>(o16 + nsb * 16);
    block_q8_K tmp;
    for (int64_t b = 0; b < nsb; ++b) {
        q8k(x + b * QK_K, &tmp, QK_K);
        std::memcpy(q + b * 256, tmp.qs, 256);
        d[b] = tmp.d;
        for (int j = 0; j < 8; ++j) bsd[b * 8 + j] = static_cast<float>(tmp.bsums[2 * j] + tmp.bsums[2 * j + 1]) * tmp.d;
        for (int g = 0; g < 16; ++g) o16[b * 16 + g] = -32 * tmp.bsums[g];
        for (int k = 0; k < 32; ++k) {
            const int8_t* v = tmp.qs + 8 * k;
            const int lo = v[0] + v[1] + v[4] + v[5], hi = v[2] + v[3] + v[6] + v[7];
            s8[b * 32 + k] = static_cast<uint16_t>(lo) | static_cast<uint32_t>(static_cast<uint16_t>(hi)) << 16;
        }
    }
}

size_t act_row_bytes16(int64_t n_cols) { return round64(static_cast<size_t>(n_cols) * sizeof(float)); }

void prepare16(Encoder convert, bool bf16, const float* x, void* vout, int64_t n_cols) {
    auto* out = static_cast<float*>(vout);
    uint16_t tmp[256];
    for (int64_t k0 = 0; k0 < n_cols; k0 += 256) {
        const int64_t m = n_cols - k0 < 256 ? n_cols - k0 : 256;
        convert(x + k0, tmp, m);
        for (int64_t k = 0; k < m; ++k) out[k0 + k] = bf16 ? bf16_to_f32(tmp[k]) : fp16_to_f32(tmp[k]);
    }
}

void set_format(GgmlType t, PackedKernels& p) {
    switch (t) {
        case GgmlType::Q4_0: p.packed_bytes = packed_bytes32<block_q4_0>; p.pack = pack32<block_q4_0>; break;
        case GgmlType::Q4_1: p.packed_bytes = packed_bytes32<block_q4_1>; p.pack = pack32<block_q4_1>; break;
        case GgmlType::Q5_0: p.packed_bytes = packed_bytes32<block_q5_0>; p.pack = pack32<block_q5_0>; break;
        case GgmlType::Q5_1: p.packed_bytes = packed_bytes32<block_q5_1>; p.pack = pack32<block_q5_1>; break;
        case GgmlType::IQ4_NL: p.packed_bytes = packed_bytes32<block_iq4_nl>; p.pack = pack32<block_iq4_nl>; break;
        case GgmlType::Q8_0: p.packed_bytes = packed_bytes32<block_q8_0>; p.pack = pack32<block_q8_0>; break;
        case GgmlType::Q3_K: p.packed_bytes = packed_bytes_k<kQ3KBytes>; p.pack = pack_k6<block_q3_K>; break;
        case GgmlType::Q4_K: p.packed_bytes = packed_bytes_k<kQ4KBytes>; p.pack = pack_k4<block_q4_K>; break;
        case GgmlType::Q5_K: p.packed_bytes = packed_bytes_k<kQ5KBytes>; p.pack = pack_k4<block_q5_K>; break;
        case GgmlType::Q6_K: p.packed_bytes = packed_bytes_k<kQ6KBytes>; p.pack = pack_k6<block_q6_K>; break;
        case GgmlType::IQ4_XS: p.packed_bytes = packed_bytes_k<kIQ4XSBytes>; p.pack = pack_iq4xs; break;
        case GgmlType::F16:
        case GgmlType::BF16: p.packed_bytes = packed_bytes16; p.pack = pack16; break;
        default: return;
    }
    switch (t) {
        case GgmlType::Q3_K:
        case GgmlType::Q4_K:
        case GgmlType::Q5_K:
        case GgmlType::Q6_K:
        case GgmlType::IQ4_XS: p.act_row_bytes = act_row_bytes_k; break;
        case GgmlType::F16:
        case GgmlType::BF16: p.act_row_bytes = act_row_bytes16; break;
        default: p.act_row_bytes = act_row_bytes32; break;
    }
}

}  // namespace packed
}  // namespace llamas
