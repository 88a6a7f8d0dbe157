// llamas-embed: embeddings of text lines, one JSON array per input line.
//
//   llamas-embed -m MODEL.gguf [--normalize] [--dims N] [--pooling mean|cls|last] [-t N] [-c N] [FILE]
//
// Reads FILE (or stdin when FILE is absent or "-"); every line, empty ones included, is one text.
// Lines go through the model in batches (many texts per forward pass).
//   --normalize   L2-normalise each embedding (default: the raw pooled vector)
//   --dims N      keep the first N dimensions (Matryoshka), before normalising
//   --pooling P   override the model's pooling
//   -t N          threads (default: all cores);  -c N  longest text in tokens (default: the model's)
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "engine/embedder.h"
#include "engine/model.h"
#include "ops/pooling.h"
#include "util/error.h"
#include "util/thread_pool.h"

namespace {

const char* kUsage =
    "usage: llamas-embed -m MODEL.gguf [--normalize] [--dims N] [--pooling mean|cls|last] [-t N] [-c N] [FILE]\n"
    "  Prints one JSON array of floats per line of FILE (default: stdin).\n";

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "llamas-embed: %s\n%s", msg.c_str(), kUsage);
    std::exit(2);
}

long parse_int(const std::string& flag, const char* v, long lo, long hi) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (!*v || *end || n < lo || n > hi) usage_error(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return n;
}

// Texts per embed() call: enough to fill passes, small enough to keep the output buffer modest.
constexpr size_t kLinesPerCall = 256;

}  // namespace

int main(int argc, char** argv) {
    std::string model_path, file;
    bool normalize = false, pooling_set = false;
    long dims = 0, ctx = 0;
    int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    llamas::Pooling pooling = llamas::Pooling::mean;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> const char* {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "-m" || a == "--model") model_path = value();
        else if (a == "--normalize") normalize = true;
        else if (a == "--dims") dims = parse_int(a, value(), 1, 1 << 20);
        else if (a == "-t" || a == "--threads") threads = static_cast<int>(parse_int(a, value(), 1, 1024));
        else if (a == "-c" || a == "--ctx") ctx = parse_int(a, value(), 1, 1 << 20);
        else if (a == "--pooling") {
            const std::string p = value();
            pooling_set = true;
            if (p == "mean") pooling = llamas::Pooling::mean;
            else if (p == "cls") pooling = llamas::Pooling::cls;
            else if (p == "last") pooling = llamas::Pooling::last;
            else usage_error("--pooling takes mean, cls or last");
        } else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        } else if (a.size() > 1 && a[0] == '-') usage_error("unknown argument '" + a + "'");
        else if (file.empty()) file = a;
        else usage_error("more than one input file");
    }
    if (model_path.empty()) usage_error("-m MODEL is required");

    try {
        std::ifstream fin;
        std::istream* in = &std::cin;
        if (!file.empty() && file != "-") {
            fin.open(file, std::ios::binary);
            if (!fin) {
                std::fprintf(stderr, "llamas-embed: cannot open '%s'\n", file.c_str());
                return 1;
            }
            in = &fin;
        }
        auto model = llamas::Model::load(model_path);
        if (!pooling_set) pooling = model->hparams().pooling;
        llamas::ThreadPool pool(threads);
        llamas::Embedder emb(*model, pool, ctx);
        const int64_t width = emb.n_embd_out();
        if (dims > width) usage_error("--dims " + std::to_string(dims) + " is more than the model's " + std::to_string(width));

        std::vector<std::vector<int32_t>> batch;
        std::vector<float> out;
        std::string text;
        auto flush = [&] {
            if (batch.empty()) return;
            out.resize(batch.size() * static_cast<size_t>(width));
            emb.embed(batch, pooling, out.data());
            std::string line;
            for (size_t k = 0; k < batch.size(); ++k) {
                float* v = out.data() + k * static_cast<size_t>(width);
                const int64_t n = llamas::finish_embedding(v, width, dims, normalize);
                line = "[";
                char buf[32];
                for (int64_t i = 0; i < n; ++i) {
                    std::snprintf(buf, sizeof buf, "%s%.9g", i ? "," : "", static_cast<double>(v[i]));
                    line += buf;
                }
                line += "]\n";
                std::fputs(line.c_str(), stdout);
            }
            batch.clear();
        };
        while (std::getline(*in, text)) {
            if (!text.empty() && text.back() == '\r') text.pop_back();
            batch.push_back(model->tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/false));
            if (batch.back().empty()) {
                std::fprintf(stderr, "llamas-embed: line %zu gives no tokens\n", batch.size());
                return 1;
            }
            if (batch.size() == kLinesPerCall) flush();
        }
        flush();
        if (std::fflush(stdout) != 0) {
            std::fprintf(stderr, "llamas-embed: error writing the output\n");
            return 1;
        }
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "llamas-embed: %s\n", e.what());
        return 1;
    }
}
