// llamas-membw: how fast N threads can read memory, the limit of token generation (every decoded
// token reads all the weights once). A STREAM-like read-only test: a buffer, touched first, is
// split into one contiguous slice per thread; each thread sums its slice's 64-bit words with
// vector loads. The
// best of -r runs is reported, as STREAM does.
//
//   llamas-membw [-t 2] [-s 2048] [-r 5]     (-s: buffer MiB, comma list allowed)
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(1);
}

long parse_long(const std::string& flag, const std::string& v, long lo, long hi) {
    char* end = nullptr;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < lo || n > hi) die(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
    return n;
}

// Four independent 32-byte vector sums (GCC/Clang vector extension: the compiler's widest loads
// for the target), and a software prefetch 1 KiB ahead, as the kernels' weight streams do.
using U64x4 = uint64_t __attribute__((vector_size(32)));

uint64_t sum_words(const uint64_t* p, size_t n) {
    U64x4 a{}, b{}, c{}, d{};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __builtin_prefetch(p + i + 128);
        U64x4 x[4];
        std::memcpy(x, p + i, sizeof x);
        a += x[0];
        b += x[1];
        c += x[2];
        d += x[3];
    }
    const U64x4 s = a + b + c + d;
    uint64_t sum = s[0] + s[1] + s[2] + s[3];
    for (; i < n; ++i) sum += p[i];
    return sum;
}

}  // namespace

int main(int argc, char** argv) {
    int n_threads = 2, reps = 5;
    std::vector<long> sizes_mib{2048};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "-t") n_threads = static_cast<int>(parse_long(a, value(), 1, 1024));
        else if (a == "-r") reps = static_cast<int>(parse_long(a, value(), 1, 1000));
        else if (a == "-s") {
            sizes_mib.clear();
            std::stringstream ss(value());
            std::string item;
            while (std::getline(ss, item, ',')) sizes_mib.push_back(parse_long(a, item, 1, 1 << 20));
        } else if (a == "-h" || a == "--help") {
            std::puts("usage: llamas-membw [-t THREADS (2)] [-s MIB[,MIB...] (2048)] [-r REPS (5)]");
            return 0;
        } else die("unknown argument '" + a + "'");
    }

    std::printf("| buffer | threads | best GB/s | mean GB/s |\n| ---: | ---: | ---: | ---: |\n");
    for (long mib : sizes_mib) {
        const size_t n_words = static_cast<size_t>(mib) * (1u << 20) / sizeof(uint64_t);
        // 2 MiB pages where the OS gives them (asked for before the first write), as the engine's
        // packed weights get: with 4 KiB pages TLB misses cost a noticeable share of the bandwidth.
        const size_t bytes = (n_words * sizeof(uint64_t) + kHugePage - 1) / kHugePage * kHugePage;
        std::unique_ptr<uint64_t, void (*)(void*)> mem(static_cast<uint64_t*>(std::aligned_alloc(kHugePage, bytes)), std::free);
        if (!mem) die("cannot allocate " + std::to_string(mib) + " MiB");
#if defined(MADV_HUGEPAGE)
        ::madvise(mem.get(), bytes, MADV_HUGEPAGE);
#endif
        uint64_t* buf = mem.get();
        for (size_t i = 0; i < n_words; ++i) buf[i] = i;  // touch every page

        std::vector<uint64_t> sums(static_cast<size_t>(n_threads));
        double best = 0, total = 0;
        for (int r = 0; r < reps + 1; ++r) {  // the first run warms up and is not counted
            const auto t0 = std::chrono::steady_clock::now();
            std::vector<std::thread> workers;
            for (int t = 0; t < n_threads; ++t) {
                workers.emplace_back([&, t] {
                    const size_t lo = n_words * static_cast<size_t>(t) / static_cast<size_t>(n_threads);
                    const size_t hi = n_words * static_cast<size_t>(t + 1) / static_cast<size_t>(n_threads);
                    sums[static_cast<size_t>(t)] = sum_words(buf + lo, hi - lo);
                });
            }
            for (auto& w : workers) w.join();
            const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            const double gbs = static_cast<double>(n_words * sizeof(uint64_t)) / s / 1e9;
            if (r > 0) {
                best = std::max(best, gbs);
                total += gbs;
            }
        }
        uint64_t check = 0;
        for (uint64_t s : sums) check += s;
        if (check != static_cast<uint64_t>(n_words) * (n_words - 1) / 2) die("checksum mismatch");
        std::printf("| %ld MiB | %d | %.1f | %.1f |\n", mib, n_threads, best, total / reps);
    }
    return 0;
}
