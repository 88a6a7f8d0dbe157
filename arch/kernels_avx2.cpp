// The avx2 kernel table: the scalar table with the entries this ISA has faster versions of.
#include "kernels.h"

namespace llamas {

void fill_avx2_kernels(Kernels& k) {
    fill_scalar_kernels(k);
    k.name = "avx2";
}

}  // namespace llamas
