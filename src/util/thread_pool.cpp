#include "util/thread_pool.h"

#include <exception>
#include <system_error>

#include "util/error.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace llamas {
namespace {

// Polls before blocking: long enough to bridge the gap between the back-to-back runs of one
// forward pass, short enough not to burn a core that other processes need.
constexpr int kSpinIterations = 2000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();
#elif defined(__aarch64__)
    asm volatile("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads) {
    if (n_threads < 1) fail(Status::invalid_argument, "thread pool needs at least 1 thread, got %d", n_threads);
    workers_.reserve(static_cast<size_t>(n_threads - 1));
    try {
        for (int i = 1; i < n_threads; ++i) workers_.emplace_back([this, i] { worker_main(i); });
    } catch (const std::system_error& e) {
        // Out of threads or stack space: stop the workers already started (destroying a
        // joinable std::thread would call std::terminate) and report it as a status.
        const size_t started = workers_.size();
        shutdown();
        fail(Status::out_of_memory, "cannot start worker thread %zu of %d: %s", started + 1, n_threads - 1, e.what());
    } catch (...) {
        shutdown();
        throw;
    }
}

ThreadPool::~ThreadPool() { shutdown(); }

void ThreadPool::shutdown() {
    stop_.store(true, std::memory_order_seq_cst);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        wake_.notify_all();
    }
    for (std::thread& t : workers_) t.join();
}

void ThreadPool::dispatch(Trampoline fn, void* ctx) {
    Profile* const prof = profile_;
    const int64_t t0 = prof ? profile_now_ns() : 0;
    if (n_threads_ == 1) {
        fn(ctx, 0, 1);
        if (prof) {
            const int64_t ns = profile_now_ns() - t0;
            prof->pool_ns += ns;
            prof->busy_ns[0] += ns;
            ++prof->pool_runs;
        }
        return;
    }
    job_fn_ = fn;
    job_ctx_ = ctx;
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    // seq_cst pairs with the workers' sleepers_ increment: either we see a sleeper and notify it
    // under the mutex, or the sleeper sees the new generation before it blocks.
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
        std::lock_guard<std::mutex> lock(mutex_);
        wake_.notify_all();
    }
    try {
        fn(ctx, 0, n_threads_);
    } catch (...) {
        wait_for_workers();
        throw;
    }
    if (prof) prof->busy_ns[0] += profile_now_ns() - t0;
    wait_for_workers();
    if (prof) {
        prof->pool_ns += profile_now_ns() - t0;
        ++prof->pool_runs;
    }
}

void ThreadPool::wait_for_workers() {
    for (int i = 0; i < kSpinIterations; ++i) {
        if (pending_.load(std::memory_order_acquire) == 0) return;
        cpu_relax();
    }
    std::unique_lock<std::mutex> lock(mutex_);
    // An exchange, not a store: with the worker's fetch_sub, a store-then-load pair that each
    // side must see in order (either the worker sees this flag or we see pending_ at 0). A
    // seq_cst store is enough in C++ and on Arm hardware (STLR then LDAR), but qemu-user on an
    // x86 host let the LDAR pass the STLR (no fence between them): the caller slept on done_
    // with pending_ already 0 and the worker asleep on wake_, which hung an emulated test run.
    // An atomic read-modify-write is a full barrier there.
    caller_sleeping_.exchange(true, std::memory_order_seq_cst);
    while (pending_.load(std::memory_order_seq_cst) != 0) done_.wait(lock);
    caller_sleeping_.store(false, std::memory_order_relaxed);
}

void ThreadPool::worker_main(int thread_index) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        for (int i = 0; g == seen && i < kSpinIterations; ++i) {
            cpu_relax();
            g = generation_.load(std::memory_order_acquire);
        }
        if (g == seen) {
            std::unique_lock<std::mutex> lock(mutex_);
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            while ((g = generation_.load(std::memory_order_seq_cst)) == seen) wake_.wait(lock);
            sleepers_.fetch_sub(1, std::memory_order_relaxed);
        }
        seen = g;
        if (stop_.load(std::memory_order_acquire)) return;
        if (Profile* prof = profile_) {
            const int64_t t0 = profile_now_ns();
            job_fn_(job_ctx_, thread_index, n_threads_);
            prof->busy_ns[static_cast<size_t>(thread_index)] += profile_now_ns() - t0;
        } else {
            job_fn_(job_ctx_, thread_index, n_threads_);
        }
        // seq_cst pairs with the caller's caller_sleeping_ store (see wait_for_workers).
        if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
            caller_sleeping_.load(std::memory_order_seq_cst)) {
            std::lock_guard<std::mutex> lock(mutex_);
            done_.notify_one();
        }
    }
}

}  // namespace llamas
