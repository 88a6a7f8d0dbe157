/* A minimal assertion harness for the C API tests (plain C99). */
#ifndef LLAMAS_TEST_CHECK_H
#define LLAMAS_TEST_CHECK_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond)                                                               \
    do {                                                                          \
        ++g_checks;                                                               \
        if (!(cond)) {                                                            \
            ++g_failures;                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                         \
    } while (0)

/* A call must fail with `status` and leave a non-empty message. */
#define CHECK_FAILS(call, status)                                                             \
    do {                                                                                      \
        llamas_status s_ = (call);                                                            \
        ++g_checks;                                                                           \
        if (s_ != (status) || llamas_last_error()[0] == '\0') {                              \
            ++g_failures;                                                                     \
            fprintf(stderr, "%s:%d: %s returned %d (%s) with message '%s', expected %d\n", __FILE__, \
                    __LINE__, #call, (int)s_, llamas_status_string(s_), llamas_last_error(), (int)(status)); \
        }                                                                                     \
    } while (0)

#define CHECK_OK(call)                                                                        \
    do {                                                                                      \
        llamas_status s_ = (call);                                                            \
        ++g_checks;                                                                           \
        if (s_ != LLAMAS_OK) {                                                                \
            ++g_failures;                                                                     \
            fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, llamas_last_error()); \
        }                                                                                     \
    } while (0)

static int finish(const char* name) {
    printf("%s: %d checks, %d failures\n", name, g_checks, g_failures);
    return g_failures ? 1 : 0;
}

/* Reference data folder: LLAMAS_TEST_DATA, else the compiled-in default (../shared). */
static inline void data_path(char* out, size_t cap, const char* rel) {
    const char* dir = getenv("LLAMAS_TEST_DATA");
    snprintf(out, cap, "%s/%s", dir && *dir ? dir : LLAMAS_DEFAULT_TEST_DATA, rel);
}

#endif
