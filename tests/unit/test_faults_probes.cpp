// Sanitizer probes: deliberate bugs, one per sanitizer, that scripts/test.sh runs in the
// sanitizer builds (with the same flags and options as the real test run) to prove that a report
// really fails the run — UBSan must not just print and continue (-fno-sanitize-recover), leaks
// must be checked at exit (detect_leaks=1), TSan must turn a race into a non-zero exit.
// The suite is not in the ctest list; each case does nothing unless LLAMAS_SANITIZER_PROBE
// names it, so a plain run of every suite is unaffected.
#include <doctest/doctest.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

bool probe(const char* name) {
    const char* p = std::getenv("LLAMAS_SANITIZER_PROBE");
    return p && std::strcmp(p, name) == 0;
}

char* volatile g_lost = nullptr;
int g_racy = 0;  // deliberately unsynchronised

__attribute__((noinline)) void leak_one() {
    g_lost = new char[4096];
    std::memset(g_lost, 1, 4096);
    g_lost = nullptr;  // the only pointer is gone: LeakSanitizer must report it at exit
}

__attribute__((noinline)) void race() {
    std::thread a([] {
        for (int i = 0; i < 100000; ++i) ++g_racy;
    });
    std::thread b([] {
        for (int i = 0; i < 100000; ++i) ++g_racy;
    });
    a.join();
    b.join();
}

}  // namespace

TEST_SUITE("sanitizer-probe") {

TEST_CASE("undefined behaviour: signed overflow") {
    if (!probe("ubsan")) return;
    volatile int x = INT_MAX;
    volatile int y = x + 1;
    CHECK(y != 0);
}

TEST_CASE("address: heap buffer overflow") {
    if (!probe("asan")) return;
    char* volatile p = new char[8];
    volatile char c = p[8];
    CHECK(c != 1);
    delete[] p;
}

TEST_CASE("leak") {
    if (!probe("leak")) return;
    leak_one();
    CHECK(g_lost == nullptr);
}

TEST_CASE("thread: data race") {
    if (!probe("tsan")) return;
    race();
    CHECK(g_racy > 0);
}

}  // TEST_SUITE
