// libFuzzer target: model loading plus one short evaluation on mutated models. The bases are
// small models of ../shared/models, one per decoder architecture (llama with SentencePiece,
// qwen2 with biases and byte-level BPE, qwen3 with Q/K norms, gemma2 with soft-capping, gemma3
// with sliding windows, phi3 with fused projections). The input is a window spliced into the
// header region of one of them (header, metadata and tensor infos), so tensor data stays intact:
//   input = [u32 offset][u8 base: index in bits 0-6, bit 7 = use the best kernel path][payload]
//   file  = orig[0, off) + payload + orig[off + 64, end),  off = offset % header size
// A payload of exactly the 64 original bytes leaves the file unchanged; longer or shorter
// payloads shift everything after them. (A plain mutated prefix would keep libFuzzer's mutations
// in the first few dozen bytes: every prefix of the original is the same file, so the shortest
// one wins.) Kernel path: the best one packs every weight matrix at load, which under ASan and
// coverage instrumentation makes a successful load 4x slower, so most inputs use the next best
// path (avx2 on AVX-512 machines) and those with bit 7 of the base byte set use the best.
// A model that loads must then survive a context with a tiny KV cache and the
// evaluation of three tokens. Any outcome but success or a llamas::Error is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "fuzz_paths.h"
#include "gguf/gguf.h"
#include "kernels.h"
#include "util/error.h"

namespace {

constexpr size_t kWindow = 64;

// Keep in step with seeds/fuzz-model.sh, which writes seeds for each base by index.
const char* const kBaseNames[] = {"kjv-tiny-Q8_0", "qwen2-Q4_K_M", "qwen3-Q4_K_M",
                                  "gemma2-Q4_K_M", "gemma3-Q4_K_M", "phi3-Q4_K_M"};
constexpr size_t kBases = sizeof kBaseNames / sizeof kBaseNames[0];
const char* kBestPath = "scalar";
const char* kFastPath = "scalar";

struct Base {
    std::vector<uint8_t> bytes;
    size_t header = 0;  // where the tensor data starts
};

const std::vector<Base>& bases() {
    static const std::vector<Base> all = [] {
        std::vector<Base> out;
        for (const char* name : kBaseNames) {
            const std::string path = llamas::fuzz::data_dir() + "/models/" + name + ".gguf";
            Base b;
            b.bytes = llamas::fuzz::read_file(path);
            if (b.bytes.empty()) llamas::fuzz::missing_data(path);
            b.header = llamas::gguf::File::from_memory(b.bytes.data(), b.bytes.size())->data_offset();
            out.push_back(std::move(b));
        }
        return out;
    }();
    return all;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)bases();
    std::vector<const char*> paths;  // scalar first, best last; not the emulated test vehicles
    for (const char* p : llamas::runnable_kernel_paths()) {
        if (!llamas::kernel_path_emulated(p)) paths.push_back(p);
    }
    kBestPath = paths.back();
    kFastPath = paths.size() >= 2 && std::strcmp(paths.back(), "avx512") == 0 ? paths[paths.size() - 2] : paths.back();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const bool verbose = std::getenv("LLAMAS_FUZZ_VERBOSE") != nullptr;  // to read a reproducer's outcome
    if (size < 5) return 0;
    const Base& b = bases()[(data[4] & 0x7f) % kBases];
    llamas::use_kernels((data[4] & 0x80) ? kBestPath : kFastPath);
    uint32_t offset = 0;
    std::memcpy(&offset, data, 4);
    const size_t off = offset % b.header;
    const size_t resume = std::min(off + kWindow, b.bytes.size());
    std::vector<uint8_t> file;
    file.reserve(b.bytes.size() + size);
    file.insert(file.end(), b.bytes.begin(), b.bytes.begin() + static_cast<std::ptrdiff_t>(off));
    file.insert(file.end(), data + 5, data + size);
    file.insert(file.end(), b.bytes.begin() + static_cast<std::ptrdiff_t>(resume), b.bytes.end());
    try {
        llamas::Model model(llamas::gguf::File::from_memory(file.data(), file.size()));
        file = {};  // the model holds its own copy; nothing may point into this one
        llamas::ContextParams p;
        p.n_ctx = 8;
        p.n_batch = 2;
        p.n_threads = 1;
        llamas::Context ctx(model, p);
        const int64_t n_vocab = ctx.n_vocab();
        const int32_t tokens[3] = {1 % static_cast<int32_t>(n_vocab), static_cast<int32_t>(n_vocab - 1), 0};
        (void)ctx.decode(tokens, 2, 0);                  // one full batch
        const float* logits = ctx.decode(tokens + 2, 1, 2);  // and one more token after it
        volatile float sink = logits[0] + logits[n_vocab - 1];
        (void)sink;
    } catch (const llamas::Error& e) {
        if (verbose) std::fprintf(stderr, "fuzz-model: %s\n", e.what());
        return 0;
    }
    if (verbose) std::fprintf(stderr, "fuzz-model: loaded and evaluated\n");
    return 0;
}
