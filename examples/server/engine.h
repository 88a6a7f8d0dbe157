// Continuous batching on the public C API: one llamas context with a sequence per slot; each
// step decodes one batch holding the next token of every generating slot and prompt tokens of
// the slots that are starting, so up to --parallel requests share every read of the weights.
// New requests take a free slot between steps; a prompt reuses the longest prefix already in
// the cache (its slot's own previous request, or copied from another slot's sequence); a
// cancelled request frees its slot at the next step.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "llamas.h"
#include "task.h"
#include "text_stream.h"

namespace server {

struct EngineOptions {
    int32_t parallel = 4;
    int32_t n_ctx = 2048;  // per slot
    int32_t n_batch = 512;
    int32_t n_threads = 0;
};

class Engine {
public:
    Engine(llamas_model* model, const EngineOptions& options);  // throws std::runtime_error
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    int32_t n_ctx() const { return options_.n_ctx; }
    // Queues a task; its events arrive on the task.
    void submit(std::shared_ptr<Task> task);
    // Requests waiting for a slot, and slots busy (for /health).
    void counts(size_t* queued, size_t* busy);

private:
    struct Slot {
        int32_t id = 0;
        std::shared_ptr<Task> task;
        std::vector<int32_t> cached;  // the tokens this slot's sequence holds, in order
        size_t n_fed = 0;             // prompt tokens in the cache so far
        int32_t last = -1;            // the token to decode next while generating
        int32_t n_generated = 0;
        int32_t n_reused = 0;
        int32_t batch_index = -1;     // row of logits in the current batch, or -1
        bool generating = false;
        llamas_sampler* sampler = nullptr;
        std::unique_ptr<TextStream> text;
        std::string pending;          // bytes of a character not yet complete
    };

    void loop();
    void start(Slot& s, std::shared_ptr<Task> t);
    void finish(Slot& s, const std::string& reason);
    void fail(Slot& s, const std::string& message, int status);
    void release(Slot& s);
    void after_decode(Slot& s);
    size_t reuse_prefix(Slot& s);
    std::string token_piece(int32_t tok) const;
    TokenLogprob logprob_of(const Slot& s, int32_t tok, const std::string& piece);

    llamas_model* model_;
    EngineOptions options_;
    llamas_context* ctx_ = nullptr;
    std::vector<Slot> slots_;
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<std::shared_ptr<Task>> queue_;
    size_t busy_ = 0;
    bool stop_ = false;
    std::thread thread_;
    // The batch being built (sized once).
    std::vector<int32_t> tok_, pos_, seq_;
    std::vector<int8_t> want_;
    std::vector<llamas_token_logprob> top_;  // logprobs' alternatives
};

}  // namespace server
