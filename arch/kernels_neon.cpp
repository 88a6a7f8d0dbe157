// The neon kernel table: the scalar table with the entries this ISA has faster versions of.
#include "kernels.h"

namespace llamas {

void fill_neon_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "neon";
}

}  // namespace llamas
