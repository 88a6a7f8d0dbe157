#include "ops/pooling.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "util/error.h"

namespace llamas {

const char* pooling_name(Pooling p) {
    switch (p) {
        case Pooling::none: return "none";
        case Pooling::mean: return "mean";
        case Pooling::cls: return "cls";
        case Pooling::last: return "last";
    }
    return "?";
}

void pool_rows(Pooling pooling, const float* h, int64_t width, const TextSpan* texts, int64_t n_texts, float* out) {
    for (int64_t s = 0; s < n_texts; ++s) {
        const TextSpan& t = texts[s];
        float* o = out + s * width;
        if (t.n <= 0) fail(Status::invalid_argument, "cannot pool an empty text");
        switch (pooling) {
            case Pooling::mean: {
                // Each row weighted by 1/n and summed in float, in row order, as the reference's
                // product with its averaging matrix does.
                const float w = 1.0f / static_cast<float>(t.n);
                std::memset(o, 0, static_cast<size_t>(width) * sizeof(float));
                for (int64_t r = 0; r < t.n; ++r) {
                    const float* row = h + (t.start + r) * width;
                    for (int64_t i = 0; i < width; ++i) o[i] += row[i] * w;
                }
                break;
            }
            case Pooling::cls:
                std::memcpy(o, h + t.start * width, static_cast<size_t>(width) * sizeof(float));
                break;
            case Pooling::last:
                std::memcpy(o, h + (t.start + t.n - 1) * width, static_cast<size_t>(width) * sizeof(float));
                break;
            case Pooling::none:
                fail(Status::invalid_argument, "pooling 'none' gives one vector per token, not per text");
        }
    }
}

void l2_normalize(float* v, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(v[i]) * v[i];
    if (sum <= 0) return;
    const float inv = static_cast<float>(1.0 / std::sqrt(sum));
    for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}

int64_t finish_embedding(float* v, int64_t n, int64_t dims, bool normalize) {
    const int64_t keep = dims > 0 && dims < n ? dims : n;
    if (normalize) l2_normalize(v, keep);
    return keep;
}

}  // namespace llamas
