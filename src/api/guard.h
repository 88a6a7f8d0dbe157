// The exception barrier of the C API. Every llamas_* entry point runs its body through
// guard(), which turns any C++ exception into a status code and records the message for
// llamas_last_error() on this thread. Nothing thrown inside the core crosses the C boundary.
#pragma once
#include <new>
#include <string>

#include "llamas.h"
#include "util/error.h"

namespace llamas::api {

void set_last_error(const std::string& message);
void clear_last_error();
void log(int level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

inline llamas_status to_status(Status s) { return static_cast<llamas_status>(static_cast<int>(s)); }

// Records `message` and returns `status` (for argument checks at the top of an entry point).
inline llamas_status error(llamas_status status, const std::string& message) {
    set_last_error(message);
    return status;
}

template <class F>
llamas_status guard(F&& body) noexcept {
    try {
        llamas_status s = body();
        if (s == LLAMAS_OK) clear_last_error();
        return s;
    } catch (const Error& e) {
        set_last_error(e.what());
        return to_status(e.status());
    } catch (const std::bad_alloc&) {
        set_last_error("out of memory");
        return LLAMAS_ERR_OUT_OF_MEMORY;
    } catch (const std::exception& e) {
        set_last_error(std::string("internal error: ") + e.what());
        return LLAMAS_ERR_INTERNAL;
    } catch (...) {
        set_last_error("internal error: unknown exception");
        return LLAMAS_ERR_INTERNAL;
    }
}

// Copies text into a caller's buffer with the API's buffer rules: writes at most capacity
// bytes including a terminating NUL, reports the full length, and returns
// LLAMAS_ERR_BUFFER_TOO_SMALL when it did not fit.
llamas_status copy_out(const std::string& text, char* buffer, size_t capacity, size_t* out_length);

}  // namespace llamas::api

#define LLAMAS_CHECK_ARG(cond, msg) \
    do {                            \
        if (!(cond)) return ::llamas::api::error(LLAMAS_ERR_INVALID_ARGUMENT, msg); \
    } while (0)
