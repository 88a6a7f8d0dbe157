// llamas-batched-bench: aggregate prompt and generation speed of several sequences decoding
// together in one context, through the public C API (llamas_decode_batch), in the table layout of
// the reference runtime's llama-batched-bench so the two compare line by line.
//
//   llamas-batched-bench -m MODEL [-npp 128] [-ntg 128] [-npl 1,4,16] [-t N] [-b 512] [-r 1]
//
// For each number of sequences B: B prompts of PP tokens decoded together (split into -b token
// passes), then TG steps of one token per sequence in one batch. N_KV = B * (PP + TG); S_PP =
// B * PP / T_PP, S_TG = B * TG / T_TG, S = N_KV / T. With -r N the best of N runs is shown.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "llamas.h"

namespace {

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "llamas-batched-bench: %s\n", msg.c_str());
    std::exit(1);
}

void check(llamas_status s, const char* what) {
    if (s != LLAMAS_OK) die(std::string(what) + ": " + llamas_last_error());
}

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> out;
    size_t at = 0;
    while (at <= s.size()) {
        const size_t comma = s.find(',', at);
        const std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
        char* end = nullptr;
        const long v = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end || v < 1 || v > 4096) die("bad number '" + item + "' in list '" + s + "'");
        out.push_back(static_cast<int>(v));
        if (comma == std::string::npos) break;
        at = comma + 1;
    }
    return out;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

struct Run {
    double t_pp = 0, t_tg = 0;
};

// One measurement: B sequences, PP prompt tokens each, TG generated tokens each.
Run run_once(llamas_model* m, int B, int pp, int tg, int threads, int n_batch) {
    llamas_context_options o;
    llamas_context_options_init(&o);
    o.n_ctx = pp + tg;
    o.n_batch = n_batch;
    o.n_threads = threads;
    o.n_seq_max = B;
    llamas_context* c = nullptr;
    check(llamas_context_create(m, &o, &c), "context");
    const int32_t n_vocab = llamas_model_n_vocab(m);
    // Prompts of pseudo-random tokens, different per sequence (as the reference's are).
    std::vector<int32_t> tok, seq;
    uint32_t x = 12345;
    for (int s = 0; s < B; ++s)
        for (int i = 0; i < pp; ++i) {
            x = x * 1664525u + 1013904223u;
            tok.push_back(static_cast<int32_t>((x >> 8) % static_cast<uint32_t>(n_vocab)));
            seq.push_back(s);
        }
    Run r;
    auto t0 = std::chrono::steady_clock::now();
    // One call: the library splits it into n_batch-token passes.
    check(llamas_decode_batch(c, tok.data(), nullptr, seq.data(), nullptr, tok.size()), "prompt");
    r.t_pp = seconds_since(t0);
    std::vector<int32_t> step(static_cast<size_t>(B)), ids(static_cast<size_t>(B)), row(static_cast<size_t>(B));
    for (int s = 0; s < B; ++s) {
        ids[static_cast<size_t>(s)] = s;
        row[static_cast<size_t>(s)] = (s + 1) * pp - 1;  // each prompt's last token kept its logits
    }
    t0 = std::chrono::steady_clock::now();
    for (int k = 0; k < tg; ++k) {
        for (int s = 0; s < B; ++s) {  // greedy, so the work is what a real loop does
            const float* l = llamas_logits_ith(c, row[static_cast<size_t>(s)]);
            if (!l) die("no logits for sequence " + std::to_string(s));
            step[static_cast<size_t>(s)] = static_cast<int32_t>(std::max_element(l, l + n_vocab) - l);
            row[static_cast<size_t>(s)] = s;  // from now on: one token per sequence per batch
        }
        check(llamas_decode_batch(c, step.data(), nullptr, ids.data(), nullptr, step.size()), "generation step");
    }
    r.t_tg = seconds_since(t0);
    llamas_context_free(c);
    return r;
}

}  // namespace

int main(int argc, char** argv) {
    std::string model;
    int pp = 128, tg = 128, threads = 0, n_batch = 512, reps = 1;
    std::vector<int> npl = {1, 4, 16};
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "-m" || a == "--model") model = value();
        else if (a == "-npp") pp = parse_list(value()).at(0);
        else if (a == "-ntg") tg = parse_list(value()).at(0);
        else if (a == "-npl") npl = parse_list(value());
        else if (a == "-t" || a == "--threads") threads = parse_list(value()).at(0);
        else if (a == "-b" || a == "--batch-size") n_batch = parse_list(value()).at(0);
        else if (a == "-r" || a == "--repetitions") reps = parse_list(value()).at(0);
        else if (a == "-h" || a == "--help") {
            std::puts("usage: llamas-batched-bench -m MODEL [-npp 128] [-ntg 128] [-npl 1,4,16] [-t N] [-b 512] [-r 1]");
            return 0;
        } else die("unknown argument '" + a + "' (see --help)");
    }
    if (model.empty()) die("-m MODEL is required");
    llamas_model* m = nullptr;
    check(llamas_model_load(model.c_str(), nullptr, &m), "load");
    std::printf("model %s, cpu path %s, threads %d, n_batch %d\n\n", model.c_str(), llamas_cpu_path(),
                threads, n_batch);
    std::printf("|    PP |     TG |    B |   N_KV |   T_PP s | S_PP t/s |   T_TG s | S_TG t/s |      T s |    S t/s |\n");
    std::printf("|-------|--------|------|--------|----------|----------|----------|----------|----------|----------|\n");
    for (int B : npl) {
        Run best;
        for (int r = 0; r < reps; ++r) {
            const Run x = run_once(m, B, pp, tg, threads, n_batch);
            if (r == 0 || x.t_pp + x.t_tg < best.t_pp + best.t_tg) best = x;
        }
        const double n_kv = double(B) * (pp + tg), t = best.t_pp + best.t_tg;
        std::printf("| %5d | %6d | %4d | %6.0f | %8.3f | %8.2f | %8.3f | %8.2f | %8.3f | %8.2f |\n", pp, tg, B, n_kv,
                    best.t_pp, B * pp / best.t_pp, best.t_tg, B * tg / best.t_tg, t, n_kv / t);
        std::fflush(stdout);
    }
    llamas_model_free(m);
    return 0;
}
