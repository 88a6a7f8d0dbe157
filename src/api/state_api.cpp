// Saving and restoring context state: to a caller's buffer or to a file (engine/kv_state.h has
// the format).
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "api/guard.h"
#include "api/handles.h"
#include "engine/kv_state.h"
#include "gguf/mapped_file.h"

using namespace llamas;
using llamas::api::guard;

namespace {

// The current logits are saved only with a whole context, and only while they describe it.
const float* logits_to_save(const llamas_context* c, int32_t seq) { return seq < 0 ? c->logits : nullptr; }

struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

extern "C" {

LLAMAS_API llamas_status llamas_state_size(const llamas_context* c, int32_t seq, size_t* out_size) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(out_size, "out_size is NULL");
        size_t n = 0;
        save_state(*c->ctx, seq, logits_to_save(c, seq), [&](const void*, size_t k) { n += k; });
        *out_size = n;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_state_save(const llamas_context* c, int32_t seq, void* buffer, size_t capacity,
                                           size_t* out_size) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(buffer || capacity == 0, "buffer is NULL");
        size_t need = 0;
        save_state(*c->ctx, seq, logits_to_save(c, seq), [&](const void*, size_t k) { need += k; });
        if (out_size) *out_size = need;
        if (need > capacity)
            return api::error(LLAMAS_ERR_BUFFER_TOO_SMALL,
                              "the state needs " + std::to_string(need) + " bytes; the buffer holds " +
                                  std::to_string(capacity));
        auto* out = static_cast<uint8_t*>(buffer);
        size_t at = 0;
        save_state(*c->ctx, seq, logits_to_save(c, seq), [&](const void* p, size_t k) {
            std::memcpy(out + at, p, k);
            at += k;
        });
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_state_load(llamas_context* c, int32_t seq, const void* data, size_t size) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(data || size == 0, "data is NULL");
        const float* logits = nullptr;
        load_state(*c->ctx, seq, static_cast<const uint8_t*>(data), size, &logits);
        c->logits = logits;
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_state_save_file(const llamas_context* c, int32_t seq, const char* path) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(path, "path is NULL");
        // Written beside the target and renamed over it: a failed save never leaves half a file.
        const std::string tmp = std::string(path) + ".tmp";
        std::unique_ptr<std::FILE, FileCloser> f(std::fopen(tmp.c_str(), "wb"));
        if (!f) fail(Status::io, "cannot create '%s': %s", tmp.c_str(), std::strerror(errno));
        bool ok = true;
        try {
            save_state(*c->ctx, seq, logits_to_save(c, seq), [&](const void* p, size_t k) {
                if (ok && std::fwrite(p, 1, k, f.get()) != k) ok = false;
            });
        } catch (...) {
            f.reset();
            std::remove(tmp.c_str());
            throw;
        }
        const bool closed = std::fclose(f.release()) == 0;
        if (!ok || !closed) {
            std::remove(tmp.c_str());
            fail(Status::io, "cannot write '%s': %s", tmp.c_str(), std::strerror(errno));
        }
        if (std::rename(tmp.c_str(), path) != 0) {
            std::remove(tmp.c_str());
            fail(Status::io, "cannot rename '%s' to '%s': %s", tmp.c_str(), path, std::strerror(errno));
        }
        return LLAMAS_OK;
    });
}

LLAMAS_API llamas_status llamas_state_load_file(llamas_context* c, int32_t seq, const char* path) {
    return guard([&] {
        LLAMAS_CHECK_ARG(c, "context is NULL");
        LLAMAS_CHECK_ARG(path, "path is NULL");
        const MappedFile file(path);
        const float* logits = nullptr;
        load_state(*c->ctx, seq, file.data(), file.size(), &logits);
        c->logits = logits;
        return LLAMAS_OK;
    });
}

}  // extern "C"
