// One transformer block over a batch of rows: the layer body every model runs, the decoder
// (forward.cpp) and the embedder (embedder.cpp) alike. What an architecture changes is a switch
// in HParams or a weight that is present or not (see LayerWeights): pre-RMSNorm blocks
// (llama, qwen, gemma, phi3) or post-LayerNorm ones (bert, nomic-bert), fused or separate q/k/v
// and gate/up, biases, per-head Q/K norms, RoPE or none, q scaled before the product, post norms,
// a gated or plain FFN. Where keys and values go is the caller's: an AttentionStep.
#pragma once
#include <cstdint>
#include <memory>

#include "engine/model.h"
#include "util/profile.h"

namespace llamas {

class ThreadPool;

// The scratch of a pass of up to `rows` rows, [rows x width] each: allocated once (by the
// Context or the Embedder) and left uninitialised, so that pages are touched on first use.
struct Activations {
    Activations(const Model& model, int64_t rows);

    int64_t rows = 0;
    std::unique_ptr<float[]> x;     // residual stream
    std::unique_ptr<float[]> cur;   // normalised input of a sublayer
    std::unique_ptr<float[]> qkv;   // fused q|k|v products (phi3, nomic-bert)
    std::unique_ptr<float[]> q, k, v;
    std::unique_ptr<float[]> attn;  // attention output (n_head * head_dim)
    std::unique_ptr<float[]> proj;  // output of the attention / FFN down projection
    std::unique_ptr<float[]> gate;  // FFN gate (fused gate|up: 2 * n_ff)
    std::unique_ptr<float[]> up;
    std::unique_ptr<float[]> ones;     // n_embd ones: LayerNorm's mean as a dot product
    std::unique_ptr<uint8_t[]> matmul_scratch;  // the largest matmul_scratch_bytes of the model's matrices
};

// The cos/sin rows of RoPE for each row of the pass: row t uses cs + index(t) * n_rot, where
// index(t) is pos[t] when pos is given (a table by position) and t otherwise (one row per row).
struct RopeRows {
    const float* cs = nullptr;      // global layers
    const float* cs_swa = nullptr;  // sliding-window layers
    const int32_t* pos = nullptr;
};

// Attends the pass's queries over the keys and values of layer `layer`: q rows q_stride apart,
// k and v rows kv_stride apart, out rows n_head * head_dim apart.
class AttentionStep {
public:
    virtual void attend(int64_t layer, const float* q, int64_t q_stride, const float* k, const float* v,
                        int64_t kv_stride, int64_t n, float* out) = 0;

protected:
    ~AttentionStep() = default;
};

// Runs layer il over rows [0, n) of a.x, in place.
void run_block(const Model& model, int64_t il, Activations& a, int64_t n, const RopeRows& rope, AttentionStep& attention,
               ThreadPool& pool, Lap& lap);

}  // namespace llamas
