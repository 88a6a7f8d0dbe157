#include "gguf/mapped_file.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/error.h"

namespace llamas {

MappedFile::MappedFile(const std::string& path, bool use_mmap) : path_(path) {
    // O_NONBLOCK: opening a FIFO (or a device) named like a model must not wait forever for a
    // writer; it is refused below as not a regular file. Regular files ignore the flag.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) fail(Status::io, "cannot open '%s': %s", path.c_str(), std::strerror(errno));
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        fail(Status::io, "'%s' is not a regular file", path.c_str());
    }
    size_ = static_cast<size_t>(st.st_size);
    if (size_ == 0) {
        ::close(fd);
        data_ = buffer_.data();
        return;
    }
    if (use_mmap) {
        void* p = ::mmap(nullptr, size_, PROT_READ, MAP_SHARED, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            ::close(fd);
            fail(e == ENOMEM ? Status::out_of_memory : Status::io, "cannot map '%s': %s", path.c_str(),
                 std::strerror(e));
        }
        ::close(fd);  // the mapping keeps the file alive
        map_ = p;
        data_ = static_cast<const uint8_t*>(p);
        return;
    }
    try {
        buffer_.resize(size_);
    } catch (const std::bad_alloc&) {
        ::close(fd);
        fail(Status::out_of_memory, "cannot allocate %zu bytes to read '%s'", size_, path.c_str());
    }
    size_t done = 0;
    while (done < size_) {
        ssize_t n = ::read(fd, buffer_.data() + done, size_ - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            fail(Status::io, "cannot read '%s'", path.c_str());
        }
        done += static_cast<size_t>(n);
    }
    ::close(fd);
    data_ = buffer_.data();
}

MappedFile::MappedFile(const void* data, size_t size) : path_("<memory>"), size_(size) {
    buffer_.assign(static_cast<const uint8_t*>(data), static_cast<const uint8_t*>(data) + size);
    data_ = buffer_.data();
}

MappedFile::~MappedFile() {
    if (map_) ::munmap(map_, size_);
}

}  // namespace llamas
