#include "quant/types.h"

#include <cctype>
#include <string>

namespace llamas {
namespace {

struct Entry {
    uint32_t id;
    TypeInfo info;
};

// Block geometry from ggml's type traits (ggml-common.h block structs).
constexpr Entry kTypes[] = {
    {0, {"f32", 1, 4, true}},        {1, {"f16", 1, 2, true}},
    {2, {"q4_0", 32, 18, true}},     {3, {"q4_1", 32, 20, true}},
    {6, {"q5_0", 32, 22, true}},     {7, {"q5_1", 32, 24, true}},
    {8, {"q8_0", 32, 34, true}},     {9, {"q8_1", 32, 36, true}},
    {10, {"q2_K", 256, 84, true}},   {11, {"q3_K", 256, 110, true}},
    {12, {"q4_K", 256, 144, true}},  {13, {"q5_K", 256, 176, true}},
    {14, {"q6_K", 256, 210, true}},  {15, {"q8_K", 256, 292, true}},
    {16, {"iq2_xxs", 256, 66, false}}, {17, {"iq2_xs", 256, 74, false}},
    {18, {"iq3_xxs", 256, 98, false}}, {19, {"iq1_s", 256, 50, false}},
    {20, {"iq4_nl", 32, 18, true}},  {21, {"iq3_s", 256, 110, false}},
    {22, {"iq2_s", 256, 82, false}}, {23, {"iq4_xs", 256, 136, true}},
    {24, {"i8", 1, 1, false}},       {25, {"i16", 1, 2, false}},
    {26, {"i32", 1, 4, false}},      {27, {"i64", 1, 8, false}},
    {28, {"f64", 1, 8, false}},      {29, {"iq1_m", 256, 56, false}},
    {30, {"bf16", 1, 2, true}},      {34, {"tq1_0", 256, 54, false}},
    {35, {"tq2_0", 256, 66, false}}, {39, {"mxfp4", 32, 17, false}},
};

}  // namespace

const TypeInfo* type_info(uint32_t type_id) {
    for (const Entry& e : kTypes)
        if (e.id == type_id) return &e.info;
    return nullptr;
}

bool type_from_name(std::string_view name, GgmlType* out) {
    std::string lower;
    for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (const Entry& e : kTypes) {
        std::string n;
        for (const char* p = e.info.name; *p; ++p) n += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
        if (n == lower) {
            *out = static_cast<GgmlType>(e.id);
            return true;
        }
    }
    return false;
}

}  // namespace llamas
