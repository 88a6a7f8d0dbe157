// The weights only embedding models have, bound by Model::bind_embedder() (embed_weights.cpp).
// The blocks' weights live in Model::layers() like a decoder's (BERT's LayerNorms and biases
// included); BERT's input (absolute positions, token types, LayerNorm) and the sentence-
// transformers dense projections after pooling (EmbeddingGemma) are here.
#pragma once
#include <cstdint>

#include "ops/matmul.h"

namespace llamas {

struct EmbedWeights {
    // BERT input: token + token type 0 + absolute position, then a LayerNorm (nomic-bert: no
    // positions, they are rotary).
    WeightView position_embd{};  // n_ctx_train rows of n_embd (read row by row); bert only
    WeightView token_types{};    // n_token_types rows; the reference always adds row 0
    const float* tok_norm = nullptr;
    const float* tok_norm_b = nullptr;

    // Dense projections applied to the pooled vector, in order (absent: data == nullptr).
    WeightView dense_2{};
    const float* dense_2_b = nullptr;
    WeightView dense_3{};

    int64_t n_embd_out = 0;  // length of the final embedding
};

}  // namespace llamas
