// Whole-model quantization: reads a GGUF model, picks each tensor's type with QuantPolicy,
// encodes (on several threads) and writes a new GGUF with the metadata copied and
// general.file_type set — what llama.cpp's llama-quantize does without an importance matrix.
#pragma once
#include <cstddef>
#include <functional>
#include <string>

#include "quant/quant_policy.h"

namespace llamas {

struct QuantizeModelOptions {
    int n_threads = 0;              // 0: one per hardware thread
    bool allow_requantize = false;  // accept already-quantized inputs (they lose quality)
    // Receives one line per tensor (no trailing newline); may be empty.
    std::function<void(const std::string&)> log;
};

struct QuantizeModelResult {
    size_t bytes_in = 0;    // tensor data read
    size_t bytes_out = 0;   // tensor data written
    int n_tensors = 0;
    int n_quantized = 0;    // tensors whose type changed
    int n_fallback = 0;     // tensors that got a fallback type (rows not a multiple of the block)
};

// Throws Error (io, bad_format, unsupported, invalid_argument) and leaves no output file on
// failure.
QuantizeModelResult quantize_model(const std::string& in_path, const std::string& out_path, FileType ft,
                                   const QuantizeModelOptions& options = {});

namespace gguf { class File; }
// The policy's view of a model's metadata (architecture, layers, heads, experts).
ModelShape model_shape_of(const gguf::File& f);

}  // namespace llamas
