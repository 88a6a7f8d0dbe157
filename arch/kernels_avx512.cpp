// The avx512 kernel table: the scalar table with the entries this ISA has faster versions of.
#include "kernels.h"

namespace llamas {

void fill_avx512_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "avx512";
}

}  // namespace llamas
