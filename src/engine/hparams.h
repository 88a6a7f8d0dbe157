// Hyperparameters of a model, read from a GGUF file's `ARCH.*` metadata. The forward
// pass has one code path; everything an architecture changes about it is a field here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "ops/activations.h"
#include "ops/pooling.h"
#include "ops/rope.h"

namespace llamas {

namespace gguf {
class File;
}

enum class Arch { llama, qwen2, qwen3, gemma2, gemma3, phi3, gemma_embedding, bert, nomic_bert };

struct HParams {
    Arch arch = Arch::llama;
    std::string arch_name;  // as written in general.architecture

    int64_t n_vocab = 0;
    int64_t n_ctx_train = 0;
    int64_t n_embd = 0;
    int64_t n_layer = 0;
    int64_t n_ff = 0;
    int64_t n_head = 0;
    int64_t n_head_kv = 0;
    int64_t head_dim_k = 0;  // attention.key_length (default n_embd / n_head)
    int64_t head_dim_v = 0;  // attention.value_length
    float norm_eps = 1e-5f;  // RMSNorm epsilon

    // RoPE: n_rot leading dimensions of each head are rotated.
    int64_t n_rot = 0;
    RopeLayout rope_layout = RopeLayout::normal;
    float rope_base = 10000.0f;
    float rope_base_swa = 10000.0f;  // base on sliding-window layers
    float rope_freq_scale = 1.0f;    // positions are multiplied by this (linear scaling)

    // Attention.
    float attn_scale = 0;       // multiplies q·k; set to 1/sqrt(head_dim_k) unless the arch says
    bool scale_q_first = false; // true: q is multiplied by attn_scale before the product (gemma)
    float attn_softcap = 0;     // 0 = off; else scores become cap * tanh(score / cap)
    float final_softcap = 0;    // same for the output logits
    bool causal = true;
    int64_t n_swa = 0;               // sliding window (in tokens); 0 = none
    std::vector<uint8_t> swa_layer;  // per layer: 1 when the layer uses the sliding window

    // Block structure.
    float embd_scale = 1.0f;  // token embeddings are multiplied by this (gemma: sqrt(n_embd))
    bool qk_norm = false;     // RMSNorm of each q and k head (qwen3, gemma3)
    bool post_norms = false;  // RMSNorm of the attention and FFN outputs (gemma2/3)
    bool fused_qkv = false;   // attn_qkv holds q, k, v rows in that order (phi3)
    bool fused_gate_up = false;  // ffn_up holds gate rows then up rows (phi3)
    bool post_layer_norm = false;  // LayerNorm after each residual sum, not RMSNorm before each sublayer (bert, nomic-bert)
    bool rope = true;              // rotary positions (bert: absolute position embeddings instead)
    FfnActivation ffn_act = FfnActivation::silu;

    // Embedding models (gemma-embedding, bert, nomic-bert): an encoder pass over whole texts, no KV cache
    // and no logits; see engine/embedder.h.
    bool embedder = false;
    Pooling pooling = Pooling::none;  // the model's own pooling (ARCH.pooling_type)
    bool swa_symmetric = false;       // window: key j visible from query i when |i - j| <= n_swa / 2

    int64_t n_embd_k_gqa() const { return head_dim_k * n_head_kv; }
    int64_t n_embd_v_gqa() const { return head_dim_v * n_head_kv; }
    int64_t n_embd_q() const { return head_dim_k * n_head; }
    bool is_swa(int64_t layer) const { return n_swa > 0 && swa_layer[static_cast<size_t>(layer)]; }
};

const char* arch_name(Arch a);

// Reads and checks the hyperparameters. Throws Error(unsupported) naming the architecture when
// it is not a decoder llamas knows, Error(bad_format) naming the key when one is missing or
// inconsistent. n_vocab comes from the token embedding, filled in by the model loader.
HParams read_hparams(const gguf::File& file);

}  // namespace llamas
