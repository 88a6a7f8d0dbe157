// libFuzzer target: the GGUF reader on arbitrary bytes. Any outcome but a llamas::Error or a
// parsed file (a crash, a sanitizer report, another exception) is a bug.
#include <cstddef>
#include <cstdint>

#include "gguf/gguf.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto f = llamas::gguf::File::from_memory(data, size);
        // Touch what a loader would: every key, every tensor's first and last byte.
        volatile uint64_t sink = 0;
        for (const auto& kv : f->metadata()) sink += kv.key.size() + kv.arr_count;
        for (const auto& t : f->tensors())
            if (t.n_bytes) sink += t.data[0] + t.data[t.n_bytes - 1];
        (void)sink;
    } catch (const llamas::Error&) {
    }
    return 0;
}
