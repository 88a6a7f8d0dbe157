// Rotary position embeddings, in the two layouts llama.cpp's models use.
#pragma once
#include <cstdint>

namespace llamas {

// How RoPE pairs the dimensions of a head: adjacent pairs (x[2i], x[2i+1]) in the original
// Llama layout, or the two halves (x[i], x[i + n_rot/2]) in the GPT-NeoX layout.
enum class RopeLayout { normal, neox };

struct RopeParams {
    int64_t n_rot = 0;       // leading dimensions of each head that rotate (even)
    RopeLayout layout = RopeLayout::normal;
    float base = 10000.0f;   // frequency base
    float freq_scale = 1.0f; // linear position scaling
    const float* freq_factors = nullptr;  // n_rot/2 divisors of the frequencies (Llama 3), or null
};

// Fills cs[0..n_rot) with interleaved (cos, sin) pairs for one position, computing the
// frequencies the way the reference does (theta multiplied by base^(-2/n_rot) per pair, in float).
void rope_cos_sin(const RopeParams& p, int64_t pos, float* cs);

// Rotates n_heads heads of head_dim values (heads contiguous) using cs from rope_cos_sin.
// Runs the kernel table's rope entry.
void rope_apply(const RopeParams& p, const float* cs, float* x, int64_t n_heads, int64_t head_dim);

}  // namespace llamas
