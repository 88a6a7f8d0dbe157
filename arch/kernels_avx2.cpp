// The AVX2 kernel table (AVX2 + FMA + F16C): the scalar table with the entries of
// x86_kernels.inc in place of the scalar ones.
#include <cstring>

#include "kernels.h"
#include "quant/blocks.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

namespace llamas {
namespace {

#include "x86_kernels.inc"

}  // namespace

void fill_avx2_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "avx2";
    fill_x86_256(k);
    fill_avx2_float_ops(k);
    fill_avx2_packed(k);
}

}  // namespace llamas
