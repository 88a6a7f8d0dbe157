// An inference context over a Model: the KV cache, every scratch buffer a forward pass needs
// (sized once, here, for n_ctx positions and n_batch tokens per pass), and the thread pool.
// decode() runs a batch of tokens through the model without allocating.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "engine/kv_cache.h"
#include "engine/model.h"
#include "quant/types.h"
#include "util/profile.h"

namespace llamas {

class ThreadPool;

struct ContextParams {
    int64_t n_ctx = 0;       // KV cache positions; 0 = the model's training context, at most 4096
    int64_t n_batch = 512;   // most tokens per forward pass (longer inputs are split); capped at n_ctx
    int n_threads = 1;
    GgmlType kv_type = GgmlType::F16;  // F16, F32 or Q8_0
    bool logits_all = false;  // keep the logits of every token of a pass (n_batch * n_vocab floats)
};

class Context {
public:
    Context(const Model& model, const ContextParams& params);
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    // Runs tokens[0..n) at positions pos0 .. pos0+n-1 and returns the logits: n_vocab floats for
    // the last token, or, with all_logits (needs params.logits_all and n <= n_batch), n rows of
    // n_vocab floats, one per token. pos0 may be at most kv_cache().n_past(); anything cached at
    // positions >= pos0 is dropped first. The pointer stays valid until the next decode.
    // Throws Error(invalid_argument) for a bad token id or position, Error(context_full) when
    // pos0 + n exceeds n_ctx.
    const float* decode(const int32_t* tokens, int64_t n, int64_t pos0, bool all_logits = false);

    const Model& model() const { return model_; }
    const ContextParams& params() const { return params_; }
    int64_t n_ctx() const { return params_.n_ctx; }
    int64_t n_vocab() const { return model_.hparams().n_vocab; }
    KvCache& kv_cache() { return kv_; }
    const KvCache& kv_cache() const { return kv_; }
    ThreadPool& pool() { return *pool_; }
    // Times the following forward passes into p (llamas-bench --profile; busy_ns sized for
    // params().n_threads), or stops timing (null).
    void set_profile(Profile* p);

private:
    // One pass of n <= n_batch tokens; writes logits for the last token or for all tokens
    // (none when want_logits is false: an inner chunk of a long input).
    void forward(const int32_t* tokens, int64_t n, int64_t pos0, bool all_logits, bool want_logits);

    const Model& model_;
    ContextParams params_;
    KvCache kv_;
    std::unique_ptr<ThreadPool> pool_;
    Profile* profile_ = nullptr;

    // Scratch, [n_batch x width] each, allocated in the constructor.
    std::vector<float> x_;      // residual stream
    std::vector<float> cur_;    // normalised input of a block
    std::vector<float> qkv_;    // fused q|k|v products (phi3)
    std::vector<float> q_, k_, v_;
    std::vector<float> attn_;   // attention output (n_head * head_dim)
    std::vector<float> proj_;   // output of the attention / FFN down projection
    std::vector<float> gate_;   // FFN gate (fused: gate|up)
    std::vector<float> up_;
    std::vector<float> rope_cs_;      // cos/sin per token for the global layers
    std::vector<float> rope_cs_swa_;  // and for the sliding-window layers
    std::vector<float> logits_;
    std::vector<uint8_t> matmul_scratch_;
    std::vector<uint8_t> attn_scratch_;
};

}  // namespace llamas
