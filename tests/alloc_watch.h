// Observes heap allocations made through operator new while an AllocWatch is alive
// (tests/unit/alloc_watch.cpp replaces the global operator new for the test binary).
#pragma once
#include <cstddef>

namespace llamas::test {

void alloc_watch_start();
void alloc_watch_stop();
size_t alloc_watch_count();    // allocations since start
size_t alloc_watch_largest();  // largest single allocation since start

class AllocWatch {
public:
    AllocWatch() { alloc_watch_start(); }
    ~AllocWatch() { alloc_watch_stop(); }
    size_t count() const { return alloc_watch_count(); }
    size_t largest() const { return alloc_watch_largest(); }
};

}  // namespace llamas::test
