// The AVX2 (+ FMA, F16C) float loops and attention tile: float_ops.inc and attention.inc on the
// 8-lane traits of vec_avx2.inc; attn_rows runs each row in turn on these loops.
#include <cmath>
#include <cstring>

#include "kernels.h"

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx2.h>
#include <simde/x86/f16c.h>
#include <simde/x86/fma.h>

namespace llamas {
namespace {

#include "vec_avx2.inc"
#include "float_ops.inc"
#include "attention.inc"

}  // namespace

void fill_avx2_float_ops(Kernels& k) {
    fill_float_ops<V8>(k);
    k.attn_tile = attn_tile<V8>;
}

}  // namespace llamas
