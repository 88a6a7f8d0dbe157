// The int a C caller stored in an enum-typed parameter or field. C lets any int through; C++
// makes reading an enum outside its range undefined (clang's UBSan reports it), so the value is
// read from the object's bytes and compared as an int.
#pragma once

#include <cstring>
#include <type_traits>

namespace llamas::api {

template <class Enum>
int c_enum_value(const Enum& e) {
    static_assert(std::is_enum_v<Enum> && sizeof(Enum) == sizeof(int), "a C enum");
    int v;
    std::memcpy(&v, &e, sizeof v);
    return v;
}

}  // namespace llamas::api
