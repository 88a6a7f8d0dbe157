// Embeddings: runs texts through an embedding model's encoder (gemma-embedding, bert,
// nomic-bert) and pools each text's outputs into one vector. The blocks are the decoder's
// (engine/block.h); what the embedder adds is the packing: many texts go through one pass side
// by side (a packed batch whose attention is block-diagonal: each text sees only itself), so the
// weight products are GEMMs over all their tokens; then pooling and the dense projections. No
// KV cache and no output matrix are involved. Every buffer is sized once, in the constructor,
// for `capacity` tokens per pass.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/hparams.h"
#include "ops/text_span.h"
#include "util/cancel.h"

namespace llamas {

struct Activations;
class Model;
class ThreadPool;

class Embedder {
public:
    // capacity: most tokens per forward pass, which is also the longest text it can embed (a
    // text's tokens must all be in one pass). 0 = the model's training context, at most 2048.
    // Throws Error(unsupported) when the model is not an embedding model.
    Embedder(const Model& model, ThreadPool& pool, int64_t capacity = 0);
    ~Embedder();
    Embedder(const Embedder&) = delete;
    Embedder& operator=(const Embedder&) = delete;

    const Model& model() const { return model_; }
    int64_t capacity() const { return capacity_; }
    int64_t n_embd_out() const { return n_embd_out_; }

    // Embeds n_texts token sequences (tokens[i] holds lengths[i] ids, special tokens included),
    // packing them in order into as few passes as fit `capacity`. Writes n_texts rows of
    // n_embd_out() floats to out: pooled (Pooling::none is invalid here) and after the model's
    // dense projections, not normalised. Throws Error(context_full) for a text longer than
    // capacity, Error(invalid_argument) for an empty text or a bad token id.
    void embed(const int32_t* const* tokens, const int64_t* lengths, int64_t n_texts, Pooling pooling, float* out);
    void embed(const std::vector<std::vector<int32_t>>& texts, Pooling pooling, float* out);

    // When set, embed() checks the token before each pass and throws Error(cancelled) once the
    // call in flight is cancelled.
    void set_cancel(const CancelToken* token) { cancel_ = token; }

    // The per-token outputs of the last pass (before pooling): rows of n_embd floats, one per
    // token of the packed batch. For tests and --pooling none.
    const float* last_hidden() const;

private:
    void run_pass(const int32_t* const* tokens, const int64_t* lengths, int64_t first, int64_t n_texts, Pooling pooling,
                  float* out);
    void input_embeddings(int64_t n);

    const Model& model_;
    ThreadPool& pool_;
    int64_t capacity_ = 0;
    int64_t n_embd_out_ = 0;
    const CancelToken* cancel_ = nullptr;

    std::vector<TextSpan> spans_;  // texts of the current pass
    std::unique_ptr<Activations> act_;  // the blocks' rows, sized for capacity tokens
    std::unique_ptr<int32_t[]> tok_, pos_;
    std::unique_ptr<float[]> pooled_, dense_a_, dense_b_;
    std::unique_ptr<float[]> type0_;  // bert, nomic-bert: token type 0 row, decoded once
    std::vector<float> rope_cs_, rope_cs_swa_;  // cos/sin of every position < capacity
    std::unique_ptr<uint8_t[]> attn_scratch_;
    size_t attn_scratch_bytes_ = 0;
    std::unique_ptr<uint16_t[]> k16_, v16_;  // the pass's keys and values as F16 rows
};

}  // namespace llamas
