// Kernel path selection.
#include "api/guard.h"
#include "kernels.h"

using llamas::api::guard;

extern "C" {

LLAMAS_API const char* llamas_cpu_path(void) {
    try {
        return llamas::kernels().name;
    } catch (...) {
        return "scalar";  // LLAMAS_CPU names a path this CPU cannot run; contexts will report it
    }
}

LLAMAS_API llamas_status llamas_set_cpu_path(const char* name) {
    return guard([&] {
        LLAMAS_CHECK_ARG(name, "name is NULL");
        llamas::use_kernels(name);
        return LLAMAS_OK;
    });
}

}  // extern "C"
