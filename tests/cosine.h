// Cosine similarity of two float vectors, summed in double: how the embedding tests compare
// vectors with the reference's tolerances.
#pragma once
#include <cmath>
#include <cstddef>

namespace llamas::test {

inline double cosine(const float* a, const float* b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    for (size_t i = 0; i < n; ++i) {
        ab += static_cast<double>(a[i]) * b[i];
        aa += static_cast<double>(a[i]) * a[i];
        bb += static_cast<double>(b[i]) * b[i];
    }
    return ab / std::sqrt(aa * bb);
}

}  // namespace llamas::test
