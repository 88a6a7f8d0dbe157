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

struct Activations;
class CancelToken;
class ThreadPool;

struct ContextParams {
    int64_t n_ctx = 0;       // KV rows per sequence; 0 = the model's training context, at most 4096
    int64_t n_seq = 1;       // sequences the cache holds (ids 0 .. n_seq-1)
    int64_t n_batch = 512;   // most tokens per forward pass (longer inputs are split); capped at n_ctx
    int n_threads = 1;
    GgmlType kv_type = GgmlType::F16;  // F16, F32 or Q8_0
    bool logits_all = false;  // reserve logits for every token of a pass (n_batch * n_vocab floats)
};

// A batch as a caller gives it: token i goes to sequence seq[i] (null: 0) at position pos[i]
// (null: after what that sequence holds, in batch order) and keeps its logits when want[i] != 0
// (null: the last token of each sequence in the batch keeps them).
struct Batch {
    const int32_t* tokens = nullptr;
    const int32_t* pos = nullptr;
    const int32_t* seq = nullptr;
    const int8_t* want = nullptr;
    int64_t n = 0;
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

    // Runs a batch of tokens of several sequences: their weight products in one pass per n_batch
    // tokens, attention per sequence over its own cache rows. Positions of one sequence must
    // increase in batch order; its first one may lie inside what the sequence holds (the rows
    // from there on are dropped first). Checks everything before changing anything: throws
    // Error(invalid_argument) for a bad token, sequence or position and Error(context_full) when
    // a sequence would pass n_ctx rows. With a cancel token, checks it between passes (a
    // cancelled batch leaves the passes already run in the cache).
    void decode_batch(const Batch& batch, const CancelToken* cancel = nullptr);
    // The logits of batch token i of the last decode (i < 0: from the end), or null when that
    // token kept none; last_output() is the row of the last token that kept logits.
    const float* output(int64_t i) const;
    const float* last_output() const { return last_out_; }
    // Makes the context hold one row of logits as if a decode had just produced it (state restore).
    void set_single_output(const float* logits);

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
    // One pass over tokens [b, b + n) of the batch in sequence order (tok_, pos_, seq_, slot_):
    // each sequence's tokens form one run that continues its cache rows; a token with a slot
    // writes its logits to that row of logits_.
    void forward(int64_t b, int64_t n);

    const Model& model_;
    ContextParams params_;
    KvCache kv_;
    std::unique_ptr<ThreadPool> pool_;
    Profile* profile_ = nullptr;

    std::unique_ptr<Activations> act_;  // the blocks' rows, [n_batch x width] each
    std::vector<float> rope_cs_;      // cos/sin per token for the global layers
    std::vector<float> rope_cs_swa_;  // and for the sliding-window layers
    std::vector<float> logits_;  // one row per kept token of the last batch (grows on demand)
    // The last batch in sequence order, and where each caller's token's logits went.
    std::vector<int32_t> tok_, pos_, seq_, slot_;
    std::vector<int32_t> slot_of_;     // by caller's index: row of logits_, or -1
    std::vector<int64_t> seq_count_;   // per sequence: tokens in the batch
    std::vector<int32_t> seq_next_;    // per sequence: scratch while checking positions
    std::vector<int32_t> pos_in_;      // the batch's positions, given or assigned
    std::vector<int32_t> pos_arg_;     // decode()'s positions
    std::vector<int8_t> want_in_;      // decode()'s logits flags
    const float* last_out_ = nullptr;
    std::vector<uint8_t> attn_scratch_;
};

}  // namespace llamas
