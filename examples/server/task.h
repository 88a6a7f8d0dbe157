// A request as the engine sees it, shared between the HTTP thread that made it and the engine
// thread that runs it: the prompt, the sampling parameters, and a queue of events back.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace server {

struct SamplingParams {
    float temperature = 0.8f;
    float top_p = 0.95f;
    int32_t top_k = 40;
    float min_p = 0.05f;
    float presence_penalty = 0;
    float frequency_penalty = 0;
    uint64_t seed = 0;
    int32_t max_tokens = 0;  // already clamped by the handler to what the context holds
    std::vector<std::string> stop;
    // logprobs: each generated token's log-probability and this many alternatives (-1: none).
    int32_t top_logprobs = -1;
    // Structured output: a GBNF grammar (response_format, tools); lazy ones wait for a trigger.
    std::string grammar, grammar_root;
    bool grammar_lazy = false;
    std::vector<std::string> grammar_triggers;
};

// One generated token's log-probability and its most likely alternatives (logprobs requests).
struct TokenLogprob {
    std::string token;  // the token's bytes
    float logprob = 0;
    std::vector<std::pair<std::string, float>> top;
};

struct Event {
    enum Kind { delta, done, error } kind = delta;
    std::string text;           // delta: new text; error: message
    std::vector<TokenLogprob> logprobs;  // delta: the tokens behind it, when asked
    std::string finish_reason;  // done: "stop" or "length"
    int32_t prompt_tokens = 0, completion_tokens = 0, cached_tokens = 0;
    int http_status = 500;      // error
};

class Task {
public:
    std::vector<int32_t> prompt;
    SamplingParams params;
    std::chrono::steady_clock::time_point submitted = std::chrono::steady_clock::now();

    // Engine side.
    void push(Event e) {
        {
            std::lock_guard<std::mutex> lock(m_);
            events_.push_back(std::move(e));
        }
        cv_.notify_all();
    }
    // HTTP side: waits up to `wait` for the next event; false on timeout.
    bool pop(Event& out, std::chrono::milliseconds wait) {
        std::unique_lock<std::mutex> lock(m_);
        if (!cv_.wait_for(lock, wait, [&] { return !events_.empty(); })) return false;
        out = std::move(events_.front());
        events_.pop_front();
        return true;
    }
    // The client went away: the engine frees the slot at its next step.
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

private:
    std::mutex m_;
    std::condition_variable cv_;
    std::deque<Event> events_;
    std::atomic<bool> cancelled_{false};
};

}  // namespace server
