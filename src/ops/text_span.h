// One text (document) inside a packed batch of rows: rows [start, start + n).
#pragma once
#include <cstdint>

namespace llamas {

struct TextSpan {
    int64_t start = 0;
    int64_t n = 0;
};

}  // namespace llamas
