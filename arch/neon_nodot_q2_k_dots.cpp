// neon_q2_k_dots.cpp for the neon-nodot table: SDOT replaced by widening multiplies (neon_helpers.h).
#define LLAMAS_NEON_NODOT 1
#include "neon_q2_k_dots.cpp"
