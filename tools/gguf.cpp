// llamas-gguf: inspect a GGUF file.
//   llamas-gguf info FILE    header, metadata (long arrays abbreviated), tensor table
//   llamas-gguf stats FILE   JSON: per tensor type, ne, n, sum, sumsq of the dequantized values
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "quant/dequantize.h"
#include "util/error.h"

using namespace llamas;

namespace {

std::string shown(std::string_view s, size_t max = 120) {
    std::string out;
    for (char c : s.substr(0, max)) {
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (static_cast<unsigned char>(c) < 0x20) out += '?';
        else out += c;
    }
    if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
    return out;
}

std::string scalar_text(const gguf::KeyValue& kv) {
    char buf[64];
    switch (kv.type) {
        case gguf::ValueType::F32: case gguf::ValueType::F64: std::snprintf(buf, sizeof buf, "%g", kv.f); return buf;
        case gguf::ValueType::BOOL: return kv.u ? "true" : "false";
        case gguf::ValueType::STRING: return "\"" + shown(kv.str) + "\"";
        case gguf::ValueType::I8: case gguf::ValueType::I16: case gguf::ValueType::I32: case gguf::ValueType::I64:
            std::snprintf(buf, sizeof buf, "%" PRId64, kv.i); return buf;
        default: std::snprintf(buf, sizeof buf, "%" PRIu64, kv.u); return buf;
    }
}

std::string array_text(const gguf::KeyValue& kv) {
    constexpr uint64_t kShow = 8;  // long arrays (vocabularies, merges) are abbreviated
    std::string out = "[";
    gguf::ArrayView a(&kv);
    for (uint64_t i = 0; i < kv.arr_count && i < kShow; ++i) {
        if (i) out += ", ";
        if (kv.arr_type == gguf::ValueType::STRING) out += "\"" + shown(a.string(i), 40) + "\"";
        else if (kv.arr_type == gguf::ValueType::F32 || kv.arr_type == gguf::ValueType::F64) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%g", a.as_f64(i));
            out += buf;
        } else out += std::to_string(a.as_i64(i));
    }
    if (kv.arr_count > kShow) out += ", ... (" + std::to_string(kv.arr_count) + " items)";
    return out + "]";
}

int info(const gguf::File& f) {
    std::printf("file: %s\nversion: %u\nalignment: %" PRIu64 "\nmetadata: %zu keys\ntensors: %zu\ndata offset: %" PRIu64 "\n\n",
                f.path().c_str(), f.version(), f.alignment(), f.metadata().size(), f.tensors().size(), f.data_offset());
    for (const gguf::KeyValue& kv : f.metadata()) {
        std::string type = gguf::value_type_name(kv.type);
        if (kv.type == gguf::ValueType::ARRAY) type += std::string("<") + gguf::value_type_name(kv.arr_type) + ">";
        std::printf("%-44s %-16s %s\n", kv.key.c_str(), type.c_str(),
                    kv.type == gguf::ValueType::ARRAY ? array_text(kv).c_str() : scalar_text(kv).c_str());
    }
    std::printf("\n%-5s %-36s %-8s %-26s %12s %12s\n", "#", "name", "type", "shape", "offset", "bytes");
    size_t i = 0;
    for (const gguf::TensorInfo& t : f.tensors()) {
        std::string shape;
        for (uint32_t d = 0; d < t.n_dims; ++d) shape += (d ? " x " : "") + std::to_string(t.ne[d]);
        std::printf("%-5zu %-36s %-8s %-26s %12" PRIu64 " %12" PRIu64 "\n", i++, t.name.c_str(), type_info(t.type).name,
                    shape.c_str(), t.offset, t.n_bytes);
    }
    return 0;
}

std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') { out += '\\'; out += c; }
        else if (static_cast<unsigned char>(c) < 0x20) { char b[8]; std::snprintf(b, sizeof b, "\\u%04x", c); out += b; }
        else out += c;
    }
    return out + "\"";
}

int stats(const gguf::File& f) {
    std::printf("{");
    bool first = true;
    std::vector<float> row;
    for (const gguf::TensorInfo& t : f.tensors()) {
        if (!type_info(t.type).has_codec)
            fail(Status::unsupported, "tensor '%s': type %s cannot be dequantized", t.name.c_str(), type_info(t.type).name);
        const int64_t n_rows = static_cast<int64_t>(t.n_elements / t.ne[0]);
        const size_t rb = row_size(t.type, t.ne[0]);
        row.resize(t.ne[0]);
        double sum = 0, sumsq = 0;
        for (int64_t r = 0; r < n_rows; ++r) {
            dequantize_row(t.type, t.data + r * rb, row.data(), t.ne[0]);
            for (float v : row) { sum += v; sumsq += static_cast<double>(v) * v; }
        }
        std::string ne;
        for (uint32_t d = 0; d < t.n_dims; ++d) ne += (d ? ", " : "") + std::to_string(t.ne[d]);
        std::string type = type_info(t.type).name;  // the reference files write "Q4_K", "BF16"
        for (char& c : type) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        std::printf("%s\n  %s: {\"type\": \"%s\", \"ne\": [%s], \"n\": %" PRIu64 ", \"sum\": %.17g, \"sumsq\": %.17g}",
                    first ? "" : ",", json_string(t.name).c_str(), type.c_str(), ne.c_str(), t.n_elements, sum, sumsq);
        first = false;
    }
    std::printf("\n}\n");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || (std::strcmp(argv[1], "info") != 0 && std::strcmp(argv[1], "stats") != 0)) {
        std::fprintf(stderr, "usage: llamas-gguf info|stats FILE.gguf\n");
        return 2;
    }
    try {
        auto f = gguf::File::open(argv[2]);
        return std::strcmp(argv[1], "info") == 0 ? info(*f) : stats(*f);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
