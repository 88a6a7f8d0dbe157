// Packed weights for NEON (see PackedKernels in kernels.h and packed_formats.h): the tiles of
// packed_tiles.inc over the traits of packed_neon_traits.h, with SDOT products. Native on
// aarch64 (compiled with the dot-product extension), emulated through simde elsewhere so x86
// CI tests it.
#include "packed_neon_traits.h"

namespace llamas {
namespace {

#include "packed_tiles.inc"

}  // namespace

void fill_neon_packed(Kernels& k) { fill_packed_tiles(k); }

}  // namespace llamas
