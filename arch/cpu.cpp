// Choosing the kernel table: which ISA paths this CPU runs, and the LLAMAS_CPU override.
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernels.h"
#include "util/error.h"

#if defined(__x86_64__) || defined(__i386__)
#define LLAMAS_X86 1
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif

namespace llamas {
namespace {

enum class Path { scalar, avx2, avx2_vnni, avx512, neon_nodot, neon, neon_i8mm };

struct PathInfo {
    Path path;
    const char* name;
    void (*fill)(Kernels&);
};

// Order: scalar first, best last.
const PathInfo kPaths[] = {
    {Path::scalar, "scalar", fill_scalar_kernels},
    {Path::neon_nodot, "neon-nodot", fill_neon_nodot_kernels},
    {Path::neon, "neon", fill_neon_kernels},
    {Path::neon_i8mm, "neon-i8mm", fill_neon_i8mm_kernels},
#if defined(LLAMAS_X86)  // the x86 tables are only compiled for x86 (CMakeLists.txt)
    {Path::avx2, "avx2", fill_avx2_kernels},
    {Path::avx2_vnni, "avx2-vnni", fill_avx2_vnni_kernels},
    {Path::avx512, "avx512", fill_avx512_kernels},
#endif
};

#if defined(__x86_64__) || defined(__i386__)
// x86 features read straight from CPUID (clang's __builtin_cpu_supports lacks some names),
// each gated on the OS saving the register state it needs (XCR0).
struct X86Features {
    bool avx2 = false;    // + FMA + F16C, YMM state enabled
    bool avx_vnni = false;  // AVX2 and AVX-VNNI (the VEX-encoded VPDPBUSD on ymm)
    bool avx512 = false;  // F, BW, VL, DQ, VNNI, BF16, ZMM state enabled
};

X86Features detect_x86() {
    X86Features f;
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool fma = (c >> 12) & 1u, osxsave = (c >> 27) & 1u, avx = (c >> 28) & 1u, f16c = (c >> 29) & 1u;
    if (!(osxsave && avx)) return f;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    const bool ymm_state = (lo & 0x6u) == 0x6u;
    const bool zmm_state = (lo & 0xE6u) == 0xE6u;
    unsigned a7 = 0, b7 = 0, c7 = 0, d7 = 0;
    if (!__get_cpuid_count(7, 0, &a7, &b7, &c7, &d7)) return f;
    const bool avx2 = (b7 >> 5) & 1u;
    f.avx2 = ymm_state && avx2 && fma && f16c;
    const bool avx512f = (b7 >> 16) & 1u, avx512dq = (b7 >> 17) & 1u, avx512bw = (b7 >> 30) & 1u,
               avx512vl = (b7 >> 31) & 1u, vnni = (c7 >> 11) & 1u;
    bool bf16 = false, avxvnni = false;
    if (a7 >= 1) {
        unsigned a71 = 0, b71 = 0, c71 = 0, d71 = 0;
        __get_cpuid_count(7, 1, &a71, &b71, &c71, &d71);
        avxvnni = (a71 >> 4) & 1u;
        bf16 = (a71 >> 5) & 1u;
    }
    f.avx512 = f.avx2 && zmm_state && avx512f && avx512dq && avx512bw && avx512vl && vnni && bf16;
    // The avx2-vnni table is built with -mavxvnni (VEX-encoded VPDPBUSD), which AVX-512 cores
    // without AVX-VNNI (Ice Lake, Zen 4) do not decode: the flag itself is required.
    f.avx_vnni = f.avx2 && avxvnni;
    return f;
}

const X86Features& x86() {
    static const X86Features f = detect_x86();
    return f;
}
#endif

bool cpu_runs(Path p) {
    switch (p) {
        case Path::scalar:
            return true;
#if defined(__x86_64__) || defined(__i386__)
        case Path::avx2:
            return x86().avx2;
        case Path::avx2_vnni:
#if defined(LLAMAS_EMULATE_X86)
            return x86().avx2;  // a test build: simde emulates VPDPBUSD
#else
            return x86().avx_vnni;
#endif
        case Path::avx512:
#if defined(LLAMAS_EMULATE_X86)
            return x86().avx2;  // a test build: simde runs the 512-bit intrinsics with AVX2 ones
#else
            return x86().avx512;
#endif
        case Path::neon_nodot:
        case Path::neon:
        case Path::neon_i8mm:
            // The NEON tables are built from simde's portable emulation on x86: they run
            // anywhere, but are only test vehicles here, never chosen automatically.
            return true;
#elif defined(__aarch64__)
        case Path::neon_nodot:
            return true;  // Advanced SIMD is part of every AArch64 core (Cortex-A53/A72 included)
        case Path::neon:
            // Compiled natively with the dot-product extension (SDOT), which Armv8.2 and later
            // cores have (Cortex-A55/A75+, Neoverse, Apple); older ones (Cortex-A53/A72) run
            // neon-nodot.
#if defined(__linux__)
            return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
            return true;  // Apple Silicon and other aarch64 systems without getauxval all have it
#endif
        case Path::neon_i8mm:
            // SDOT plus the int8 matrix multiply (SMMLA): Armv8.6 cores (Neoverse V1/V2/N2,
            // Graviton 3/4, Cortex-A510/A710/X2 and later).
#if defined(__linux__) && defined(HWCAP2_I8MM)
            return cpu_runs(Path::neon) && (getauxval(AT_HWCAP2) & HWCAP2_I8MM) != 0;
#else
            return false;  // not detectable here: the dotprod table is the best choice
#endif
        default:
            return false;
#else
        default:
            return false;
#endif
    }
    return false;
}

// Tables are built on first use and live for the whole process.
struct Tables {
    Kernels tables[sizeof(kPaths) / sizeof(kPaths[0])];
    Tables() {
        for (size_t i = 0; i < sizeof(kPaths) / sizeof(kPaths[0]); ++i) {
            if (cpu_runs(kPaths[i].path)) kPaths[i].fill(tables[i]);
        }
    }
};

const Tables& tables() {
    static const Tables t;
    return t;
}

std::string runnable_list() {
    std::string s;
    for (const char* name : runnable_kernel_paths()) {
        if (!s.empty()) s += ", ";
        s += name;
    }
    return s;
}

const Kernels& choose_default() {
    const char* forced = std::getenv("LLAMAS_CPU");
    if (forced && *forced) return select_kernels(forced);
#if defined(__x86_64__) || defined(__i386__)
    // (Never the emulated tables of the LLAMAS_EMULATE_X86 test build.)
    if (x86().avx512) return select_kernels("avx512");
    if (x86().avx_vnni) return select_kernels("avx2-vnni");
    if (cpu_runs(Path::avx2)) return select_kernels("avx2");
#elif defined(__aarch64__)
    if (cpu_runs(Path::neon_i8mm)) return select_kernels("neon-i8mm");
    if (cpu_runs(Path::neon)) return select_kernels("neon");
    return select_kernels("neon-nodot");
#endif
    return scalar_kernels();
}

}  // namespace

std::vector<const char*> runnable_kernel_paths() {
    std::vector<const char*> out;
    for (const PathInfo& p : kPaths) {
        if (cpu_runs(p.path)) out.push_back(p.name);
    }
    return out;
}

const Kernels& select_kernels(const char* name) {
    for (size_t i = 0; i < sizeof(kPaths) / sizeof(kPaths[0]); ++i) {
        if (std::strcmp(kPaths[i].name, name) != 0) continue;
        if (!cpu_runs(kPaths[i].path)) {
            fail(Status::unsupported, "kernel path '%s' cannot run on this CPU (it runs: %s)", name,
                 runnable_list().c_str());
        }
        return tables().tables[i];
    }
    fail(Status::unsupported, "unknown kernel path '%s' (this CPU runs: %s)", name, runnable_list().c_str());
}

bool kernel_path_emulated(const char* name) {
#if defined(__x86_64__) || defined(__i386__)
    const std::string n = name;
    if (n.rfind("neon", 0) == 0) return true;
    if (n == "avx512") return !x86().avx512;
    if (n == "avx2-vnni") return !x86().avx_vnni;
#else
    (void)name;
#endif
    return false;
}

const Kernels& scalar_kernels() { return tables().tables[0]; }

namespace {
std::atomic<const Kernels*> g_override{nullptr};  // set by use_kernels() (llamas_set_cpu_path)
}  // namespace

const Kernels& kernels() {
    if (const Kernels* k = g_override.load(std::memory_order_acquire)) return *k;
    // A throwing initializer leaves the static uninitialized, so a bad LLAMAS_CPU keeps failing.
    static const Kernels& chosen = choose_default();
    return chosen;
}

void use_kernels(const char* name) { g_override.store(&select_kernels(name), std::memory_order_release); }

}  // namespace llamas
