// The NEON kernel tables, written against the ACLE NEON API: <arm_neon.h> on aarch64, simde's
// emulation elsewhere (so the x86 CI runs them against the scalar oracle). "neon" needs the
// dot-product extension (SDOT); "neon-i8mm" is the same table with SMMLA many-token tiles. Every weight type has its activation
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
    fill_neon_packed(k);
}

void fill_neon_i8mm_kernels(Kernels& k) {
    fill_neon_kernels(k);
    k.name = "neon-i8mm";
    fill_neon_i8mm_packed(k);
}

}  // namespace llamas
