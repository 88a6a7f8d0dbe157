// A decoder model: the GGUF file (mapped, weights left in place in their stored types), its
// hyperparameters, its tokenizer, and views of every weight the forward pass reads. Loading validates names,
// shapes and types but copies no weight data (only tiny non-F32 norm vectors, if any).
#pragma once
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

struct LayerWeights {
    const float* attn_norm = nullptr;
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

    const float* ffn_norm = nullptr;
    WeightView ffn_gate{};  // absent when fused into ffn_up
    WeightView ffn_up{};    // fused: 2*n_ff rows, gate rows first
    WeightView ffn_down{};
    const float* ffn_post_norm = nullptr;
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
    const std::vector<LayerWeights>& layers() const { return layers_; }
    // The weights only embedding models have (dense projections, BERT's positions and
    // LayerNorms); null for decoders.
    const EmbedWeights* embed_weights() const { return embed_.get(); }

    // Every matrix the forward pass multiplies (for sizing scratch).
    std::vector<const WeightView*> matrices() const;

private:
    void bind_decoder();   // output norm/matrix and the decoder blocks (model.cpp)
    void bind_embedder();  // embedding models (embed_weights.cpp)
    void bind_embedder_tensors();
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
    std::vector<LayerWeights> layers_;
    std::unique_ptr<EmbedWeights> embed_;
    std::vector<std::unique_ptr<float[]>> converted_;  // non-F32 vectors widened once
    std::vector<std::shared_ptr<const void>> packed_;   // the kernels' packed matrices (matmul.h)
};

}  // namespace llamas
