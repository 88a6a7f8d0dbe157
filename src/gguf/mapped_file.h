// A read-only view of a whole file: mmap'd when possible, otherwise read into memory.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace llamas {

class MappedFile {
public:
    // Throws Error(Status::io) naming the path when the file cannot be opened or mapped.
    explicit MappedFile(const std::string& path, bool use_mmap = true);
    // Wraps a copy of a memory buffer (fuzzing, tests).
    MappedFile(const void* data, size_t size);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    void* map_ = nullptr;          // non-null when mmap'd
    std::vector<uint8_t> buffer_;  // used when not mmap'd
};

}  // namespace llamas
