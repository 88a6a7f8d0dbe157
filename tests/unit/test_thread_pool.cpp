// Thread pool: every thread index runs exactly once per run, runs don't overlap, results are
// visible to the caller, and start/stop under load is clean (run under TSan in CI).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "util/error.h"
#include "util/thread_pool.h"

using llamas::ThreadPool;

TEST_SUITE("kernels") {

TEST_CASE("thread pool: each index runs once per run, with the caller as thread 0") {
    for (int n : {1, 2, 3, 5, 8}) {
        ThreadPool pool(n);
        CHECK(pool.size() == n);
        std::vector<int> hits(static_cast<size_t>(n), 0);  // plain ints: each slot has one writer
        std::vector<std::thread::id> ids(static_cast<size_t>(n));
        pool.run([&](int i, int nt) {
            CHECK_EQ(nt, n);  // doctest assertions are thread-safe
            hits[static_cast<size_t>(i)]++;
            ids[static_cast<size_t>(i)] = std::this_thread::get_id();
        });
        for (int i = 0; i < n; ++i) CHECK(hits[static_cast<size_t>(i)] == 1);
        const bool caller_is_thread_0 = ids[0] == std::this_thread::get_id();
        CHECK(caller_is_thread_0);
    }
}

TEST_CASE("thread pool stress: many short runs, results visible after each run") {
    ThreadPool pool(4);
    std::vector<int64_t> slots(4, 0);
    int64_t expected = 0;
    for (int run = 0; run < 20000; ++run) {
        pool.run([&](int i, int) { slots[static_cast<size_t>(i)] += run; });
        expected += run;
        // Reading the plain slots here is only race-free if run() waited for every worker.
        if (run % 1000 == 0) {
            for (int64_t s : slots) REQUIRE(s == expected);
        }
    }
    for (int64_t s : slots) CHECK(s == expected);
}

TEST_CASE("thread pool: runs after idle periods (workers asleep) still complete") {
    ThreadPool pool(3);
    std::atomic<int> count{0};
    for (int k = 0; k < 5; ++k) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        pool.run([&](int, int) { count.fetch_add(1); });
    }
    CHECK(count.load() == 15);
}

TEST_CASE("thread pool: uneven work, and a pool created and destroyed repeatedly") {
    for (int k = 0; k < 50; ++k) {
        ThreadPool pool(1 + k % 4);
        std::atomic<int64_t> sum{0};
        pool.run([&](int i, int) {
            int64_t local = 0;
            for (int j = 0; j < (i + 1) * 1000; ++j) local += j % 7;
            sum.fetch_add(local);
        });
        int64_t want = 0;
        for (int i = 0; i < pool.size(); ++i) {
            for (int j = 0; j < (i + 1) * 1000; ++j) want += j % 7;
        }
        CHECK(sum.load() == want);
    }
}

TEST_CASE("thread pool: an exception on thread 0 is rethrown after the workers finish") {
    ThreadPool pool(3);
    std::atomic<int> done{0};
    CHECK_THROWS_AS(pool.run([&](int i, int) {
        if (i == 0) throw std::runtime_error("boom");
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        done.fetch_add(1);
    }),
                    std::runtime_error);
    CHECK(done.load() == 2);
    pool.run([&](int, int) { done.fetch_add(1); });
    CHECK(done.load() == 5);
    CHECK_THROWS_AS(ThreadPool(0), llamas::Error);
}

}  // TEST_SUITE
