// Replaces the global operator new/delete of the test binary to count allocations while a
// watch is on (used to prove "no allocation in the decode loop" and bounded parser memory).
#include "alloc_watch.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<bool> g_on{false};
std::atomic<size_t> g_count{0};
std::atomic<size_t> g_largest{0};

void* allocate(size_t n) {
    if (g_on.load(std::memory_order_relaxed)) {
        g_count.fetch_add(1, std::memory_order_relaxed);
        size_t prev = g_largest.load(std::memory_order_relaxed);
        while (n > prev && !g_largest.compare_exchange_weak(prev, n)) {}
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
}  // namespace

namespace llamas::test {
void alloc_watch_start() {
    g_count = 0;
    g_largest = 0;
    g_on = true;
}
void alloc_watch_stop() { g_on = false; }
size_t alloc_watch_count() { return g_count.load(); }
size_t alloc_watch_largest() { return g_largest.load(); }
}  // namespace llamas::test

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t n) { return allocate(n); }
void* operator new[](size_t n) { return allocate(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
    try { return allocate(n); } catch (...) { return nullptr; }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
    try { return allocate(n); } catch (...) { return nullptr; }
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
