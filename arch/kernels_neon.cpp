// The NEON kernel tables, written against the ACLE NEON API: <arm_neon.h> on aarch64, simde's
// emulation elsewhere (so the x86 CI runs them against the scalar oracle). "neon-nodot" runs on
// every Armv8 core; "neon" needs the dot-product extension (SDOT); "neon-i8mm" is "neon" with
// SMMLA many-token tiles. Every weight type has its activation encoder here; the row products are
// the packed tiles' except for F32 and Q2_K (no packed form), whose row products are here too.
// The pieces live in the neon_*.cpp files (see neon_helpers.h for the ones compiled twice).
#include "neon_helpers.h"

namespace llamas {

namespace {

// The entries that need no dot-product extension.
void fill_neon_common(Kernels& k) {
    fill_scalar_kernels(k);
    fill_neon_quantizers(k);
    fill_neon_float_dots(k);
    fill_neon_float_ops(k);
}

}  // namespace

void fill_neon_nodot_kernels(Kernels& k) {
    fill_neon_common(k);
    k.name = "neon-nodot";
    fill_neon_q2_k_dots_nodot(k);
    fill_neon_packed_nodot(k);
}

void fill_neon_kernels(Kernels& k) {
    fill_neon_common(k);
    k.name = "neon";
    fill_neon_q2_k_dots(k);
    fill_neon_packed(k);
}

void fill_neon_i8mm_kernels(Kernels& k) {
    fill_neon_kernels(k);
    k.name = "neon-i8mm";
    fill_neon_i8mm_packed(k);
}

}  // namespace llamas
