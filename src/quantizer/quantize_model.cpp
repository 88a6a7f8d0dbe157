#include "quantizer/quantize_model.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <numeric>
#include <thread>
#include <vector>

#include "gguf/gguf.h"
#include "gguf/writer.h"
#include "quant/dequantize.h"
#include "quant/quantize.h"
#include "util/error.h"

namespace llamas {
namespace {

constexpr uint32_t kQuantizationVersion = 2;  // ggml's GGML_QNT_VERSION

// A per-layer count may be stored as one number or as an array with one entry per layer.
int first_count(const gguf::File& f, const std::string& key, int def) {
    const gguf::KeyValue* kv = f.find(key);
    if (!kv) return def;
    if (kv->type == gguf::ValueType::ARRAY) {
        gguf::ArrayView a(kv);
        return a.size() ? static_cast<int>(a.as_i64(0)) : def;
    }
    return static_cast<int>(f.get_u32(key));
}

std::string shape_text(const gguf::TensorInfo& t) {
    std::string s;
    for (uint32_t d = 0; d < std::max<uint32_t>(t.n_dims, 1); ++d) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%s%5" PRId64, d ? ", " : "", t.ne[d]);
        s += buf;
    }
    return s;
}

// Encodes (converting from the source type row by row) all rows of t into out, splitting
// the rows into contiguous ranges across threads; rows are independent, so the bytes do not
// depend on the split.
void encode_tensor(const gguf::TensorInfo& t, GgmlType target, std::vector<uint8_t>& out, int n_threads) {
    const int64_t n_per_row = t.ne[0];
    const int64_t n_rows = static_cast<int64_t>(t.n_elements / static_cast<uint64_t>(n_per_row));
    const size_t src_rb = row_size(t.type, n_per_row);
    const size_t dst_rb = row_size(target, n_per_row);
    out.resize(static_cast<size_t>(n_rows) * dst_rb);

    auto work = [&](int64_t r0, int64_t r1) {
        std::vector<float> buf(t.type == GgmlType::F32 ? 0 : static_cast<size_t>(n_per_row));
        for (int64_t r = r0; r < r1; ++r) {
            const uint8_t* src = t.data + static_cast<size_t>(r) * src_rb;
            const float* x = reinterpret_cast<const float*>(src);
            if (t.type != GgmlType::F32) {
                dequantize_row(t.type, src, buf.data(), n_per_row);
                x = buf.data();
            }
            quantize_row(target, x, out.data() + static_cast<size_t>(r) * dst_rb, n_per_row);
        }
    };

    // Below ~16K elements per thread a thread costs more than it saves.
    const int64_t max_useful = std::max<int64_t>(1, static_cast<int64_t>(t.n_elements) / 16384);
    const int64_t n = std::min<int64_t>({static_cast<int64_t>(n_threads), n_rows, max_useful});
    if (n <= 1) {
        work(0, n_rows);
        return;
    }
    std::vector<std::thread> threads;
    const int64_t per = (n_rows + n - 1) / n;
    for (int64_t i = 1; i < n; ++i) {
        const int64_t r0 = i * per, r1 = std::min(n_rows, r0 + per);
        if (r0 < r1) threads.emplace_back(work, r0, r1);
    }
    work(0, std::min(n_rows, per));
    for (std::thread& th : threads) th.join();
}

}  // namespace

ModelShape model_shape_of(const gguf::File& f) {
    ModelShape s;
    s.arch = std::string(f.get_string("general.architecture", ""));
    const std::string a = s.arch + ".";
    s.n_layer = static_cast<int>(f.get_u32(a + "block_count", 0));
    s.n_head = first_count(f, a + "attention.head_count", 0);
    s.n_head_kv = first_count(f, a + "attention.head_count_kv", s.n_head);
    s.n_expert = static_cast<int>(f.get_u32(a + "expert_count", 0));
    return s;
}

QuantizeModelResult quantize_model(const std::string& in_path, const std::string& out_path, FileType ft,
                                   const QuantizeModelOptions& options) {
    auto in = gguf::File::open(in_path);
    int n_threads = options.n_threads > 0 ? options.n_threads : static_cast<int>(std::thread::hardware_concurrency());
    n_threads = std::max(1, n_threads);

    const std::vector<gguf::TensorInfo>& tensors = in->tensors();
    std::vector<TensorDesc> descs(tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        descs[i].name = tensors[i].name;
        descs[i].type = tensors[i].type;
        for (int d = 0; d < 4; ++d) descs[i].ne[d] = tensors[i].ne[d];
    }
    QuantPolicy policy(ft, model_shape_of(*in));
    const std::vector<GgmlType> targets = policy.choose(descs);

    // Check every conversion before doing any work.
    for (size_t i = 0; i < tensors.size(); ++i) {
        const gguf::TensorInfo& t = tensors[i];
        if (targets[i] == t.type) continue;
        if (!can_dequantize(t.type))
            fail(Status::unsupported, "tensor '%s': cannot convert from type %s", t.name.c_str(), type_info(t.type).name);
        const bool is_float = t.type == GgmlType::F32 || t.type == GgmlType::F16 || t.type == GgmlType::BF16;
        if (!is_float && !options.allow_requantize)
            fail(Status::unsupported, "tensor '%s' is already quantized (%s); requantizing loses quality (allow it explicitly)",
                 t.name.c_str(), type_info(t.type).name);
        if (!can_quantize(targets[i]))
            fail(Status::unsupported, "tensor '%s': cannot encode type %s", t.name.c_str(), type_info(targets[i]).name);
    }

    gguf::Writer w;
    w.copy_metadata(*in);
    w.set_u32("general.quantization_version", kQuantizationVersion);
    w.set_u32("general.file_type", static_cast<uint32_t>(ft));
    for (const char* k : {"split.no", "split.count", "split.tensors.count"}) w.remove(k);

    // Written in llama.cpp's order (layer, then name), like the reference quantizer.
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return llama_tensor_order_less(tensors[a].name, tensors[b].name); });

    QuantizeModelResult res;
    res.n_tensors = static_cast<int>(tensors.size());
    res.n_fallback = policy.n_fallback();
    int idx = 0;
    for (size_t i : order) {
        const gguf::TensorInfo& t = tensors[i];
        const GgmlType target = targets[i];
        char line[512];
        const int n = std::snprintf(line, sizeof line, "[%4d/%4d] %-36s - [%s], type = %6s, ", ++idx, res.n_tensors, t.name.c_str(),
                                    shape_text(t).c_str(), type_info(t.type).name);
        std::string msg(line, static_cast<size_t>(std::min<int>(n, sizeof line - 1)));
        res.bytes_in += t.n_bytes;
        if (target == t.type) {
            w.add_tensor_ref(t.name, t.type, t.n_dims, t.ne, t.data, t.n_bytes);
            res.bytes_out += t.n_bytes;
            std::snprintf(line, sizeof line, "size = %8.3f MiB", t.n_bytes / 1048576.0);
        } else {
            std::vector<uint8_t> data;
            encode_tensor(t, target, data, n_threads);
            std::snprintf(line, sizeof line, "converting to %s .. size = %8.2f MiB -> %8.2f MiB", type_info(target).name,
                          t.n_bytes / 1048576.0, data.size() / 1048576.0);
            res.bytes_out += data.size();
            ++res.n_quantized;
            w.add_tensor(t.name, target, t.n_dims, t.ne, std::move(data));
        }
        if (options.log) options.log(msg + line);
    }
    w.write(out_path);
    return res;
}

}  // namespace llamas
