// The kernel table: every hot loop the engine runs, behind function pointers chosen once per
// process from the CPU's features (see cpu.h). The scalar table is the oracle the SIMD tables are
// tested against.
#pragma once
#include <cstddef>
#include <cstdint>

#include "quant/types.h"

namespace llamas {

// Per weight type: how activations are prepared and how one weight row meets one activation row.
struct TypeKernels {
    // The block type the activations are converted to before a product with this weight type
    // (Q8_0, Q8_1 or Q8_K for quantized weights; F16, BF16 or F32 for float weights), as the
    // reference does.
    GgmlType vec_dot_type = GgmlType::F32;
    // Converts n floats (n a multiple of the vec_dot_type block size) to vec_dot_type blocks.
    void (*quantize_activations)(const float* x, void* y, int64_t n) = nullptr;
    // Dot product of n elements: one weight row (this type) with one activation row
    // (vec_dot_type). Writes the result to *s.
    void (*vec_dot)(int64_t n, float* s, const void* w, const void* a) = nullptr;
};

struct Kernels {
    const char* name = "scalar";
    TypeKernels types[40];  // indexed by ggml type id

    // Float helpers (filled by every table).
    float (*dot_f32)(int64_t n, const float* a, const float* b) = nullptr;
    void (*axpy_f32)(int64_t n, float a, const float* x, float* y) = nullptr;  // y += a*x

    const TypeKernels& of(GgmlType t) const { return types[static_cast<uint32_t>(t)]; }
};

// The table for the best ISA level this CPU runs (or the one LLAMAS_CPU forces).
const Kernels& kernels();
// The scalar oracle.
const Kernels& scalar_kernels();

}  // namespace llamas
