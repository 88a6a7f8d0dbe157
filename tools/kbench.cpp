// llamas-kbench: micro-benchmark of the matrix-product kernels.
//   llamas-kbench [--path scalar|avx2|avx512] [--threads N] [--rows R] [--cols C]
//                 [--tokens T1,T2,...] [--types q4_0,q8_0,...] [--no-pack]
//   llamas-kbench --model FILE [--pp N] [--tg N]: one thread's CPU time per prompt / token
// For each weight type and token count it times matmul on random weights and prints the weight
// bandwidth (GB/s, what bounds generation) and the arithmetic rate (GFLOP/s, what bounds
// prompt processing), from the fastest call (thread CPU time when single-threaded, so that
// other processes on a shared machine don't count). LLAMAS_CPU chooses the path matmul uses; --path sets it for this run.
// --no-pack times the original rows: the table's row products, which on the SIMD paths are the
// scalar ones for every type that has a packed form (a loaded model never runs them).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <time.h>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "kernels.h"
#include "ops/matmul.h"
#include "quant/quantize.h"
#include "util/error.h"
#include "util/thread_pool.h"

using namespace llamas;

namespace {

std::vector<std::string> split(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= s.size()) {
        const size_t end = s.find(',', start);
        const std::string part = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
        if (!part.empty()) out.push_back(part);
        if (end == std::string::npos) break;
        start = end + 1;
    }
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU time of the calling thread: with one thread, time lost to other processes doesn't count.
double thread_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

// --model: one thread's CPU time for a whole prompt pass and for generated tokens, the cost a
// quiet machine would see (other processes' time doesn't count; they can still steal memory
// bandwidth and cache).
int model_bench(const std::string& path, int64_t n_prompt, int64_t n_gen) {
    std::unique_ptr<Model> model = Model::load(path);
    {
        std::FILE* f = std::fopen("/proc/self/status", "r");
        char line[256];
        while (f && std::fgets(line, sizeof line, f)) {
            if (std::strncmp(line, "VmRSS:", 6) == 0) std::printf("RSS after load: %s", line + 6);
        }
        if (f) std::fclose(f);
    }
    ContextParams cp;
    cp.n_ctx = n_prompt + n_gen + 16;
    cp.n_batch = 512;
    cp.n_threads = 1;
    Context ctx(*model, cp);
    std::mt19937 rng(1);
    std::vector<int32_t> tokens(static_cast<size_t>(std::max<int64_t>(n_prompt, 16)));
    for (int32_t& t : tokens) t = static_cast<int32_t>(rng() % static_cast<uint32_t>(ctx.n_vocab()));
    ctx.decode(tokens.data(), 16, 0);  // warm-up: page in, first-touch the scratch
    std::printf("%s, path %s, 1 thread, CPU time\n", path.c_str(), kernels().name);
    if (n_prompt > 0) {
        double best = 1e30;
        for (int rep = 0; rep < 2; ++rep) {
            const double c0 = thread_cpu_seconds();
            ctx.decode(tokens.data(), n_prompt, 0);
            best = std::min(best, thread_cpu_seconds() - c0);
        }
        std::printf("pp%lld: %.1f ms, %.2f t/s per thread\n", static_cast<long long>(n_prompt), best * 1e3,
                    static_cast<double>(n_prompt) / best);
    }
    if (n_gen > 0) {
        int64_t pos = n_prompt;
        const double c0 = thread_cpu_seconds();
        for (int64_t i = 0; i < n_gen; ++i, ++pos) ctx.decode(&tokens[static_cast<size_t>(i % 16)], 1, pos);
        const double took = thread_cpu_seconds() - c0;
        std::printf("tg%lld: %.2f ms/token, %.2f t/s per thread\n", static_cast<long long>(n_gen),
                    took * 1e3 / static_cast<double>(n_gen), static_cast<double>(n_gen) / took);
    }
    return 0;
}

int main(int argc, char** argv) {
    int threads = 1;
    int64_t rows = 4096, cols = 4096;
    std::string types = "f32,f16,bf16,q8_0,q4_0,q4_1,q5_0,q5_1,iq4_nl,q2_K,q3_K,q4_K,q5_K,q6_K,iq4_xs";
    std::string tokens = "1,64";
    bool pack = true;
    std::string model_path;
    int64_t n_prompt = 512, n_gen = 32;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (a == "--threads" && v) threads = std::atoi(argv[++i]);
        else if (a == "--rows" && v) rows = std::atoll(argv[++i]);
        else if (a == "--cols" && v) cols = std::atoll(argv[++i]);
        else if (a == "--types" && v) types = argv[++i];
        else if (a == "--tokens" && v) tokens = argv[++i];
        else if (a == "--path" && v) setenv("LLAMAS_CPU", argv[++i], 1);
        else if (a == "--no-pack") pack = false;
        else if (a == "--model" && v) model_path = argv[++i];
        else if (a == "--pp" && v) n_prompt = std::atoll(argv[++i]);
        else if (a == "--tg" && v) n_gen = std::atoll(argv[++i]);
        else {
            std::fprintf(stderr, "usage: %s [--path P] [--threads N] [--rows R] [--cols C] [--tokens T,...] [--types t,...] [--no-pack]\n       %s --model FILE [--pp N] [--tg N] [--path P]\n", argv[0],
                         argv[0]);
            return 2;
        }
    }
    try {
        if (!model_path.empty()) return model_bench(model_path, n_prompt, n_gen);
        const Kernels& k = kernels();
        std::printf("path %s, %d thread(s), %lld x %lld weights\n", k.name, threads, static_cast<long long>(rows),
                    static_cast<long long>(cols));
        std::printf("%-8s %7s %10s %10s %10s\n", "type", "tokens", "ms/call", "GB/s(w)", "GFLOP/s");
        ThreadPool pool(threads);
        std::mt19937 rng(42);
        std::normal_distribution<float> dist(0.0f, 0.05f);
        std::vector<float> row(static_cast<size_t>(cols));
        for (const std::string& tname : split(types)) {
            GgmlType t;
            if (!type_from_name(tname, &t)) {
                std::fprintf(stderr, "unknown type %s\n", tname.c_str());
                return 2;
            }
            const size_t rb = row_size(t, cols);
            std::vector<uint8_t> w(rb * static_cast<size_t>(rows));
            for (int64_t r = 0; r < rows; ++r) {
                for (float& x : row) x = dist(rng);
                quantize_row(t, row.data(), w.data() + r * rb, cols);
            }
            WeightView wv{t, cols, rows, rb, w.data()};
            // The packed copy the model loader would make (unless --no-pack).
            std::shared_ptr<const void> packed;
            if (pack) packed = pack_weight(wv);
            if (wv.packed) std::printf("%-8s (packed)\n", tname.c_str());
            for (const std::string& ts : split(tokens)) {
                const int64_t nt = std::atoll(ts.c_str());
                std::vector<float> x(static_cast<size_t>(cols * nt));
                for (float& v : x) v = dist(rng) * 20.0f;
                std::vector<float> y(static_cast<size_t>(rows * nt));
                std::vector<uint8_t> scratch(matmul_scratch_bytes(wv, nt) + 64);
                matmul(wv, x.data(), nt, y.data(), scratch.data(), pool);  // warm-up
                // The fastest call of a ~0.5 s series: on a shared machine the mean mostly measures
                // the other processes.
                int iters = 0;
                const auto t0 = std::chrono::steady_clock::now();
                double per_call = 1e30;
                do {
                    const auto t1 = std::chrono::steady_clock::now();
                    const double c1 = thread_cpu_seconds();
                    matmul(wv, x.data(), nt, y.data(), scratch.data(), pool);
                    const double took = threads == 1 ? thread_cpu_seconds() - c1 : seconds_since(t1);
                    per_call = std::min(per_call, took);
                    ++iters;
                } while (seconds_since(t0) < 0.5 && iters < 1000);
                const double gbs = static_cast<double>(w.size()) / per_call / 1e9;
                const double gflops = 2.0 * static_cast<double>(rows) * cols * nt / per_call / 1e9;
                std::printf("%-8s %7lld %10.3f %10.2f %10.2f\n", tname.c_str(), static_cast<long long>(nt),
                            per_call * 1e3, gbs, gflops);
                std::fflush(stdout);
            }
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
