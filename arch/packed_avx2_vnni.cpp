// packed_avx2.cpp for the avx2-vnni table: VPDPBUSD on 256-bit registers (AVX-VNNI).
#define LLAMAS_AVX_VNNI 1
#include "packed_avx2.cpp"
