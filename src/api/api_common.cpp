// Version, status strings, the per-thread last error and the log callback.
#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "api/c_enum.h"
#include "api/guard.h"

namespace llamas::api {
// Internal to this file (not exported: the library is built with hidden visibility).
thread_local std::string t_last_error;
std::mutex g_log_mutex;
llamas_log_callback g_log_callback = nullptr;
void* g_log_user = nullptr;

void set_last_error(const std::string& message) { t_last_error = message; }
void clear_last_error() { t_last_error.clear(); }

void log(int level, const char* fmt, ...) {
    std::lock_guard<std::mutex> lock(g_log_mutex);
    if (!g_log_callback) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    g_log_callback(level, buf, g_log_user);
}

llamas_status copy_out(const std::string& text, char* buffer, size_t capacity, size_t* out_length) {
    if (out_length) *out_length = text.size();
    if (!buffer || capacity == 0) {
        if (text.empty() && !buffer) return LLAMAS_OK;
        return error(LLAMAS_ERR_BUFFER_TOO_SMALL, "buffer too small: " + std::to_string(text.size() + 1) + " bytes needed");
    }
    const size_t n = text.size() < capacity ? text.size() : capacity - 1;
    std::memcpy(buffer, text.data(), n);
    buffer[n] = '\0';
    if (text.size() >= capacity)
        return error(LLAMAS_ERR_BUFFER_TOO_SMALL, "buffer too small: " + std::to_string(text.size() + 1) + " bytes needed");
    return LLAMAS_OK;
}

}  // namespace llamas::api

extern "C" {

#define LLAMAS_STR2(x) #x
#define LLAMAS_STR(x) LLAMAS_STR2(x)

LLAMAS_API const char* llamas_version(void) {
    return LLAMAS_STR(LLAMAS_VERSION_MAJOR) "." LLAMAS_STR(LLAMAS_VERSION_MINOR) "." LLAMAS_STR(LLAMAS_VERSION_PATCH);
}

LLAMAS_API int llamas_version_number(void) { return LLAMAS_VERSION_NUMBER; }

LLAMAS_API const char* llamas_status_string(llamas_status status) {
    switch (llamas::api::c_enum_value(status)) {
        case LLAMAS_OK: return "ok";
        case LLAMAS_ERR_INVALID_ARGUMENT: return "invalid argument";
        case LLAMAS_ERR_IO: return "input/output error";
        case LLAMAS_ERR_BAD_FORMAT: return "malformed input";
        case LLAMAS_ERR_UNSUPPORTED: return "unsupported";
        case LLAMAS_ERR_OUT_OF_MEMORY: return "out of memory";
        case LLAMAS_ERR_CONTEXT_FULL: return "context full";
        case LLAMAS_ERR_CANCELLED: return "cancelled";
        case LLAMAS_ERR_INTERNAL: return "internal error";
        case LLAMAS_ERR_BUFFER_TOO_SMALL: return "buffer too small";
        case LLAMAS_ERR_NOT_FOUND: return "not found";
    }
    return "unknown status";
}

LLAMAS_API const char* llamas_last_error(void) { return llamas::api::t_last_error.c_str(); }

LLAMAS_API void llamas_set_log_callback(llamas_log_callback callback, void* user_data) {
    std::lock_guard<std::mutex> lock(llamas::api::g_log_mutex);
    llamas::api::g_log_callback = callback;
    llamas::api::g_log_user = user_data;
}

}  // extern "C"
