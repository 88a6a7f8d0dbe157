// A model (decoder or embedder): the GGUF file (mapped, weights left in place in their stored types), its
// hyperparameters, its tokenizer, and views of every weight the forward pass reads. Loading validates names,
// shapes and types but copies no weight data (only tiny non-F32 norm vectors, if any).
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/hparams.h"
#include "ops/matmul.h"
#include "tokenizer/tokenizer.h"

namespace llamas {

namespace gguf {
class File;
}

struct EmbedWeights;  // engine/embed_weights.h

// Load progress: receives a fraction in (0, 1) as the weights are prepared, always on the
// thread that constructs the Model; returning false cancels the load (Error(cancelled)).
using LoadProgress = std::function<bool(float)>;

// One block's weights (engine/block.h runs them); what an architecture lacks stays null.
struct LayerWeights {
    const float* attn_norm = nullptr;  // pre-norm blocks
    WeightView wq{}, wk{}, wv{};  // separate projections (wq.data == nullptr when fused)
    WeightView wqkv{};            // fused q, k, v rows (phi3)
    const float* bq = nullptr;    // optional biases
    const float* bk = nullptr;
    const float* bv = nullptr;
    const float* bqkv = nullptr;
    const float* q_norm = nullptr;  // per-head RMSNorm weights (head_dim values)
    const float* k_norm = nullptr;
    WeightView wo{};
    const float* bo = nullptr;
    const float* attn_post_norm = nullptr;
    const float* attn_out_norm = nullptr;  // post-norm blocks: LayerNorm of x + attention (weight, bias)
    const float* attn_out_norm_b = nullptr;

    const float* ffn_norm = nullptr;  // pre-norm blocks
    WeightView ffn_gate{};  // absent when fused into ffn_up, or without a gate (bert)
    WeightView ffn_up{};    // fused: 2*n_ff rows, gate rows first
    const float* ffn_up_b = nullptr;
    WeightView ffn_down{};
    const float* ffn_down_b = nullptr;
    const float* ffn_post_norm = nullptr;
    const float* out_norm = nullptr;  // post-norm blocks: LayerNorm of x + FFN (weight, bias)
    const float* out_norm_b = nullptr;

    // Every matrix slot of the block, present or not (data == nullptr): the one list that
    // packing and scratch sizing walk.
    std::array<WeightView*, 8> matrices() { return {&wq, &wk, &wv, &wqkv, &wo, &ffn_gate, &ffn_up, &ffn_down}; }
    std::array<const WeightView*, 8> matrices() const {
        return {&wq, &wk, &wv, &wqkv, &wo, &ffn_gate, &ffn_up, &ffn_down};
    }
};

class Model {
public:
    // Opens and maps the file, reads the hyperparameters and binds every tensor. Throws
    // Error(unsupported) for an unknown architecture or a weight type without kernels,
    // Error(bad_format) naming a missing or mis-shaped tensor.
    static std::unique_ptr<Model> load(const std::string& path);
    // n_threads: threads that repack the weights for the kernels (0: one per core). progress
    // (optional) is told how far the repacking is; the caller reports the start (0) and end (1).
    explicit Model(std::unique_ptr<gguf::File> file, int n_threads = 0, const LoadProgress& progress = {});
    ~Model();

    const HParams& hparams() const { return hp_; }
    const gguf::File& file() const { return *file_; }
    const Tokenizer& tokenizer() const { return *tokenizer_; }

    const WeightView& token_embd() const { return token_embd_; }
    const WeightView& output() const { return output_; }  // == token_embd when tied
    bool tied_output() const { return tied_; }
    const float* output_norm() const { return output_norm_; }
    const float* rope_freqs() const { return rope_freqs_; }  // n_rot/2 factors or null
    // RoPE of the global (swa false) or the sliding-window layers.
    const RopeParams& rope_params(bool swa) const { return swa ? rope_swa_ : rope_; }
    const std::vector<LayerWeights>& layers() const { return layers_; }
    // The weights only embedding models have (dense projections, BERT's positions and
    // LayerNorms); null for decoders.
    const EmbedWeights* embed_weights() const { return embed_.get(); }

    // Every matrix a pass multiplies: the output, the blocks' and the embedders' dense
    // projections (for sizing scratch).
    std::vector<const WeightView*> matrices() const;

private:
    void bind_decoder();   // output norm/matrix and the decoder blocks (model.cpp)
    void bind_embedder();  // embedding models (embed_weights.cpp)
    // matrices(), as pointers to const (self: const Model) or not (for packing).
    template <class Self>
    static auto matrices_of(Self& self);
    // Layer L's attention input products under prefix p ("blk.N."): fused attn_qkv, or attn_q/k/v
    // with their biases (required when biases_required).
    void bind_qkv(LayerWeights& L, const std::string& p, bool fused, bool biases_required);
    WeightView matrix(const std::string& name, int64_t n_cols, int64_t n_rows, bool required);
    const float* vector(const std::string& name, int64_t n, bool required);

    std::unique_ptr<gguf::File> file_;
    HParams hp_;
    std::unique_ptr<Tokenizer> tokenizer_;
    WeightView token_embd_{};
    WeightView output_{};
    bool tied_ = false;
    const float* output_norm_ = nullptr;
    const float* rope_freqs_ = nullptr;
    RopeParams rope_, rope_swa_;
    std::vector<LayerWeights> layers_;
    std::unique_ptr<EmbedWeights> embed_;
    std::vector<std::unique_ptr<float[]>> converted_;  // non-F32 vectors widened once
    std::vector<std::shared_ptr<const void>> packed_;   // the kernels' packed matrices (matmul.h)
};

}  // namespace llamas
