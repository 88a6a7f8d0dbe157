// Packed weights for NEON (see PackedKernels in kernels.h and packed_formats.h): the tiles of
// packed_tiles.inc over the traits of packed_neon_traits.h, with SDOT products (or, compiled with
// LLAMAS_NEON_NODOT for neon-nodot, their widening-multiply stand-in; neon_helpers.h). Native on
// aarch64, emulated through simde elsewhere so x86 CI tests it.
#include "packed_neon_traits.h"

namespace llamas {
namespace {

#include "packed_tiles.inc"

}  // namespace

void LLAMAS_NEON_DOT_FILL(fill_neon_packed)(Kernels& k) { fill_packed_tiles(k); }

}  // namespace llamas
