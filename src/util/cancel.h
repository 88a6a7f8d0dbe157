// A cancel request that reaches only the call in flight. Each cancellable call brackets itself
// with a Scope; cancel() marks the call running at that moment, and a cancel while no call runs
// marks nothing, so no request is left over for the next call. Lock-free: cancel() is safe from
// any thread and from a signal handler.
#pragma once
#include <atomic>
#include <cstdint>

namespace llamas {

class CancelToken {
public:
    // The epoch is odd while a call runs; each call gets its own odd value.
    class Scope {
    public:
        explicit Scope(CancelToken& t) : t_(t) { t_.epoch_.fetch_add(1, std::memory_order_acq_rel); }
        ~Scope() { t_.epoch_.fetch_add(1, std::memory_order_acq_rel); }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;

    private:
        CancelToken& t_;
    };

    void cancel() {
        const uint32_t e = epoch_.load(std::memory_order_acquire);
        // A stale store (the call ended in between) names an epoch no later call will have.
        if (e & 1u) target_.store(e, std::memory_order_release);
    }
    bool cancelled() const {
        const uint32_t e = epoch_.load(std::memory_order_acquire);
        return (e & 1u) && target_.load(std::memory_order_acquire) == e;
    }

private:
    std::atomic<uint32_t> epoch_{0};
    std::atomic<uint32_t> target_{0};  // even: no cancel
};

}  // namespace llamas
