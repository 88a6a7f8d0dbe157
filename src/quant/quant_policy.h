// Which type each tensor gets when a model is quantized to a preset ("Q4_K_M", ...): the
// same choices as llama.cpp's quantizer (llama_tensor_get_type in src/llama-quant.cpp, no
// importance matrix, no overrides), so llamas-quantize writes the same files.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "quant/types.h"

namespace llamas {

// llama.cpp's llama_ftype numbers, stored in general.file_type. Only the presets llamas can
// produce are listed.
enum class FileType : uint32_t {
    ALL_F32 = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7,
    MOSTLY_Q5_0 = 8, MOSTLY_Q5_1 = 9, MOSTLY_Q2_K = 10, MOSTLY_Q3_K_S = 11, MOSTLY_Q3_K_M = 12,
    MOSTLY_Q3_K_L = 13, MOSTLY_Q4_K_S = 14, MOSTLY_Q4_K_M = 15, MOSTLY_Q5_K_S = 16,
    MOSTLY_Q5_K_M = 17, MOSTLY_Q6_K = 18, MOSTLY_IQ4_NL = 25, MOSTLY_IQ4_XS = 30, MOSTLY_BF16 = 32,
};

// Preset names as on llama-quantize's command line ("Q4_K_M", "f16", ...; case-insensitive).
bool file_type_from_name(std::string_view name, FileType* out);
const char* file_type_name(FileType ft);
// The names accepted, for usage messages ("F16, BF16, Q8_0, ...").
std::string file_type_names();
// The type most tensors get.
GgmlType file_type_default(FileType ft);

// What the policy needs to know about the model (from its metadata).
struct ModelShape {
    std::string arch;        // general.architecture
    int n_layer = 0;         // {arch}.block_count
    int n_head = 0;          // {arch}.attention.head_count (layer 0)
    int n_head_kv = 0;       // {arch}.attention.head_count_kv (layer 0; = n_head when absent)
    int n_expert = 0;        // {arch}.expert_count
};

struct TensorDesc {
    std::string name;
    GgmlType type = GgmlType::F32;  // current type
    int64_t ne[4] = {1, 1, 1, 1};
};

// Chooses the types for a whole model. Decisions depend on counters over the tensors in
// llama.cpp's order (layer number, then name), so they are made for all tensors at once.
class QuantPolicy {
public:
    QuantPolicy(FileType ft, ModelShape shape);

    // Target type of every tensor, index-aligned with tensors (any order given; the policy
    // walks them in llama.cpp's order). Tensors that are not quantized keep their type.
    // Throws Error(unsupported) when a tensor's row length fits neither the type nor a fallback.
    std::vector<GgmlType> choose(const std::vector<TensorDesc>& tensors);

    // Number of tensors that got a fallback type because their rows did not fit (after choose).
    int n_fallback() const { return n_fallback_; }

    // Whether a tensor is a candidate for quantization at all (2-D+ weights, not norms, ...).
    static bool allows_quantization(const TensorDesc& t);

private:
    enum class Category { token_embd, attn_q, attn_v, attn_k, attn_qkv, attn_kv_b, attn_output,
                          ffn_up, ffn_gate, ffn_down, output, other };
    static Category category_of(const std::string& name);
    static bool is_attn_v_like(Category c) { return c == Category::attn_v || c == Category::attn_qkv || c == Category::attn_kv_b; }

    GgmlType preset_type(GgmlType new_type, const TensorDesc& t, Category cat);
    GgmlType fallback(const TensorDesc& t, GgmlType target);
    int layer_of(const TensorDesc& t, int counter) const;

    FileType ft_;
    ModelShape shape_;
    bool tied_embeddings_ = true;
    bool is_70b_ = false;
    int n_attention_wv_ = 0, i_attention_wv_ = 0;
    int n_ffn_down_ = 0, i_ffn_down_ = 0, i_ffn_gate_ = 0, i_ffn_up_ = 0;
    int n_fallback_ = 0;
};

// Sort key of llama.cpp's tensor order: tensors outside "blk.N." first, then by layer
// number, then by name.
bool llama_tensor_order_less(const std::string& a, const std::string& b);

}  // namespace llamas
