// llamas-quantize: converts a GGUF model to one of llama.cpp's quantization presets, with the
// same per-tensor type choices and the same bytes as llama.cpp's llama-quantize (no
// importance matrix).
//   llamas-quantize [--threads N] [--allow-requantize] IN.gguf OUT.gguf TYPE
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "quant/quant_policy.h"
#include "quantizer/quantize_model.h"
#include "util/error.h"

using namespace llamas;

namespace {

void usage(FILE* to) {
    std::fprintf(to,
                 "usage: llamas-quantize [--threads N] [--allow-requantize] IN.gguf OUT.gguf TYPE\n"
                 "  TYPE: %s\n"
                 "  --threads N          worker threads (default: all hardware threads)\n"
                 "  --allow-requantize   accept inputs that are already quantized\n",
                 file_type_names().c_str());
}

int error_exit(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    QuantizeModelOptions opt;
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "-h" || a == "--help") {
            usage(stdout);
            return 0;
        } else if (a == "--threads" || a == "-t") {
            if (i + 1 >= argc) return error_exit("--threads needs a number");
            char* end = nullptr;
            const long n = std::strtol(argv[++i], &end, 10);
            if (!end || *end || n < 1 || n > 1024) return error_exit(std::string("bad thread count '") + argv[i] + "'");
            opt.n_threads = static_cast<int>(n);
        } else if (a == "--allow-requantize") {
            opt.allow_requantize = true;
        } else if (a.size() > 1 && a[0] == '-') {
            usage(stderr);
            return error_exit("unknown option '" + a + "'");
        } else {
            args.push_back(a);
        }
    }
    if (args.size() != 3) {
        usage(stderr);
        return error_exit("expected IN.gguf OUT.gguf TYPE");
    }
    FileType ft;
    if (!file_type_from_name(args[2], &ft)) return error_exit("unknown type '" + args[2] + "' (expected one of " + file_type_names() + ")");

    opt.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
    const auto t0 = std::chrono::steady_clock::now();
    try {
        const QuantizeModelResult r = quantize_model(args[0], args[1], ft, opt);
        const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "%s: %d tensors (%d converted%s), %.2f MiB -> %.2f MiB in %.2f s\n", file_type_name(ft), r.n_tensors,
                     r.n_quantized, r.n_fallback ? (", " + std::to_string(r.n_fallback) + " with a fallback type").c_str() : "",
                     r.bytes_in / 1048576.0, r.bytes_out / 1048576.0, secs);
    } catch (const std::exception& e) {
        return error_exit(e.what());
    }
    return 0;
}
