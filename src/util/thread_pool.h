// A fixed pool of worker threads for data-parallel loops. run(f) calls f(thread_index, n_threads)
// on every thread, the caller being thread 0, and returns when all calls are done. Workers are
// created once; a run neither allocates nor creates threads: it publishes a pointer to the
// callable and a trampoline, then wakes the workers (which spin briefly before sleeping).
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

#include "util/profile.h"

namespace llamas {

class ThreadPool {
public:
    // n_threads >= 1 counts the caller: n_threads - 1 workers are started.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Times every run into p (its busy_ns sized for size() threads), or stops timing (null).
    // Call between runs only.
    void set_profile(Profile* p) { profile_ = p; }

    // Calls f(thread_index, n_threads) on every thread. One caller at a time; f must not throw
    // on worker threads (an exception from thread 0's call is rethrown after all threads finish).
    template <class F>
    void run(F&& f) {
        using Fn = std::remove_reference_t<F>;
        dispatch(&trampoline<Fn>, const_cast<void*>(static_cast<const void*>(&f)));
    }

private:
    using Trampoline = void (*)(void* ctx, int thread_index, int n_threads);

    template <class Fn>
    static void trampoline(void* ctx, int thread_index, int n_threads) {
        (*static_cast<Fn*>(ctx))(thread_index, n_threads);
    }

    void dispatch(Trampoline fn, void* ctx);
    void worker_main(int thread_index);
    void shutdown();  // stops and joins the started workers
    void wait_for_workers();

    int n_threads_;
    std::vector<std::thread> workers_;

    // The current job, published by the release increment of generation_.
    Trampoline job_fn_ = nullptr;
    void* job_ctx_ = nullptr;
    Profile* profile_ = nullptr;  // read by workers after the generation_ acquire, like the job

    std::atomic<uint64_t> generation_{0};  // bumped once per run (and once to stop)
    std::atomic<int> pending_{0};          // workers still running the current job
    std::atomic<int> sleepers_{0};         // workers blocked (or about to block) on wake_
    std::atomic<bool> caller_sleeping_{false};
    std::atomic<bool> stop_{false};
    std::mutex mutex_;
    std::condition_variable wake_;  // workers wait here for a new generation
    std::condition_variable done_;  // the caller waits here for pending_ == 0
};

// Runs f(row_begin, row_end) over rows [0, n) split into one range per thread of the pool (on
// the calling thread alone for a pool of one or fewer than two rows).
template <class F>
void parallel_rows(ThreadPool& pool, int64_t n, F&& f) {
    if (pool.size() == 1 || n < 2) {
        f(int64_t(0), n);
        return;
    }
    pool.run([&](int ith, int nth) {
        const int64_t per = (n + nth - 1) / nth;
        const int64_t r0 = std::min(n, per * ith), r1 = std::min(n, r0 + per);
        if (r0 < r1) f(r0, r1);
    });
}

}  // namespace llamas
