// Optional timing of a forward pass for `llamas-bench --profile`: wall time per kind of op on the
// calling thread, and per pool thread the time spent inside jobs. Off unless a Profile is
// attached (Context::set_profile); then a timed section costs two clock reads.
//
// What it tells: time outside ThreadPool::run is work the caller does alone (the serial
// fraction); inside a run, the time a thread is not busy is waiting for the others (imbalance
// and wake-up latency).
#pragma once
#include <chrono>
#include <cstdint>
#include <vector>

namespace llamas {

enum class Op : int { embed, norm, matmul, attention, rope, activation, residual, kv_store, output, count };

inline const char* op_name(Op op) {
    static const char* const names[] = {"embed", "norm", "matmul", "attention", "rope",
                                        "activation", "residual", "kv_store", "output"};
    return names[static_cast<int>(op)];
}

inline int64_t profile_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

struct Profile {
    int64_t op_ns[static_cast<int>(Op::count)] = {};  // caller's wall time per op kind
    int64_t pool_ns = 0;        // caller's wall time inside ThreadPool::run
    int64_t pool_runs = 0;      // number of runs
    std::vector<int64_t> busy_ns;  // per thread (0 = the caller): time inside the job

    explicit Profile(int n_threads = 1) : busy_ns(static_cast<size_t>(n_threads), 0) {}
    int64_t total_ns() const {
        int64_t t = 0;
        for (int64_t v : op_ns) t += v;
        return t;
    }
    void clear() { *this = Profile(static_cast<int>(busy_ns.size())); }
};

// Charges the time since the previous lap (or construction) to an op kind: one line after each
// step of a forward pass. Does nothing without a Profile.
class Lap {
public:
    explicit Lap(Profile* p) : p_(p), last_(p ? profile_now_ns() : 0) {}
    void operator()(Op op) {
        if (!p_) return;
        const int64_t now = profile_now_ns();
        p_->op_ns[static_cast<int>(op)] += now - last_;
        last_ = now;
    }

private:
    Profile* p_;
    int64_t last_;
};

}  // namespace llamas
