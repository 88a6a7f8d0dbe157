// The core's error type. Everything inside src/ reports failure by throwing llamas::Error;
// the C API (src/api/) is the only place that catches it and turns it into a status code.
#pragma once
#include <stdexcept>
#include <string>

namespace llamas {

// Mirrors the llamas_status codes of include/llamas.h.
enum class Status : int {
    ok = 0,
    invalid_argument = 1,
    io = 2,           // a file could not be opened, read or mapped
    bad_format = 3,   // a file is malformed
    unsupported = 4,  // valid, but llamas cannot handle it (architecture, type, ...)
    out_of_memory = 5,
    context_full = 6,
    cancelled = 7,
    internal = 8,
    buffer_too_small = 9,
    not_found = 10,   // a metadata key, sequence or entry that does not exist
};

class Error : public std::runtime_error {
public:
    Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
    Status status() const { return status_; }

private:
    Status status_;
};

[[noreturn]] void fail(Status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

}  // namespace llamas
