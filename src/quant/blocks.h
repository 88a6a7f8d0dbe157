// ggml's quantized block layouts, bit-compatible with ggml-common.h. Every struct is
// byte-aligned data read straight out of a mapped GGUF file; sizes are checked against
// type_info() (static_asserts here, the table test in tests/unit/test_quant_blocks.cpp).
#pragma once
#include <cstdint>

namespace llamas {

constexpr int QK4_0 = 32;
constexpr int QK4_1 = 32;
constexpr int QK5_0 = 32;
constexpr int QK5_1 = 32;
constexpr int QK8_0 = 32;
constexpr int QK8_1 = 32;
constexpr int QK4_NL = 32;
constexpr int QK_K = 256;        // super-block size of the K-quants and IQ4_XS
constexpr int K_SCALE_SIZE = 12; // packed 6-bit scales/mins of Q4_K/Q5_K

using ggml_half = uint16_t;  // IEEE fp16 bits

struct block_q4_0 {
    ggml_half d;            // scale
    uint8_t qs[QK4_0 / 2];  // element j in the low nibble of qs[j], j+16 in the high nibble
};

struct block_q4_1 {
    ggml_half d;  // scale
    ggml_half m;  // min
    uint8_t qs[QK4_1 / 2];
};

struct block_q5_0 {
    ggml_half d;
    uint8_t qh[4];  // 5th bit of each quant (bit j = element j)
    uint8_t qs[QK5_0 / 2];
};

struct block_q5_1 {
    ggml_half d;
    ggml_half m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
};

struct block_q8_0 {
    ggml_half d;
    int8_t qs[QK8_0];
};

struct block_q8_1 {
    ggml_half d;  // scale
    ggml_half s;  // d * sum(qs)
    int8_t qs[QK8_1];
};

// x = d * (scale & 15) * q - dmin * (scale >> 4), 16 sub-blocks of 16
struct block_q2_K {
    uint8_t scales[QK_K / 16];  // low nibble scale, high nibble min
    uint8_t qs[QK_K / 4];       // 2-bit quants
    ggml_half d;                // super-block scale of the scales
    ggml_half dmin;             // super-block scale of the mins
};

// x = d * (scale - 32) * (q - 4), 16 sub-blocks of 16
struct block_q3_K {
    uint8_t hmask[QK_K / 8];  // high bit of each quant
    uint8_t qs[QK_K / 4];     // low 2 bits
    uint8_t scales[12];       // 16 6-bit scales
    ggml_half d;
};

// x = d * sc * q - dmin * m, 8 sub-blocks of 32 (6-bit sc/m packed in scales)
struct block_q4_K {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
};

struct block_q5_K {
    ggml_half d;
    ggml_half dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];  // 5th bit
    uint8_t qs[QK_K / 2];  // low 4 bits
};

// x = d * scale * (q - 32), 16 sub-blocks of 16
struct block_q6_K {
    uint8_t ql[QK_K / 2];      // low 4 bits
    uint8_t qh[QK_K / 4];      // high 2 bits
    int8_t scales[QK_K / 16];  // 8-bit scales
    ggml_half d;
};

// Activation type of the K-quant dot products: a float scale and per-16 sums.
struct block_q8_K {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];  // sum of qs in groups of 16
};

struct block_iq4_nl {
    ggml_half d;
    uint8_t qs[QK4_NL / 2];  // indices into kIq4nlValues
};

struct block_iq4_xs {
    ggml_half d;
    uint16_t scales_h;           // high 2 bits of the 8 6-bit sub-block scales
    uint8_t scales_l[QK_K / 64]; // low 4 bits
    uint8_t qs[QK_K / 2];
};

// The 16 non-linear levels of IQ4_NL / IQ4_XS.
constexpr int8_t kIq4nlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10,
                                     1,    13,   25,  38,  53,  69,  89,  113};

static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");
static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");
static_assert(sizeof(block_q5_1) == 24, "block_q5_1 size");
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");
static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");
static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");
static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");
static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");
static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");
static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");
static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

// Unpacks the 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K block.
inline void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
    if (j < 4) {
        *d = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
        *m = (q[j + 4] >> 4) | ((q[j - 0] >> 6) << 4);
    }
}

}  // namespace llamas
