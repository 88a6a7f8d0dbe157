// The NEON kernel table, written against simde's NEON API: native on ARM, emulated elsewhere
// (so the x86 CI runs it against the scalar oracle). Every weight type has its activation
// encoder and row product here; the pieces live in the neon_*.cpp files (see neon_helpers.h).
// Compiled without ISA flags, so the shared inline fp16 helpers are safe to use in them.
#include "neon_helpers.h"

namespace llamas {

void fill_neon_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "neon";
    fill_neon_quantizers(k);
    fill_neon_float_dots(k);
    fill_neon_quant_dots(k);
    fill_neon_kquant_dots(k);
    fill_neon_float_ops(k);
    fill_neon_row_ops(k);
    fill_neon_packed(k);
}

}  // namespace llamas
