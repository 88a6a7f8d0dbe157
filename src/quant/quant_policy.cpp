#include "quant/quant_policy.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <numeric>

#include "util/error.h"

namespace llamas {
namespace {

struct Preset {
    const char* name;
    FileType ft;
    GgmlType def;
};

constexpr Preset kPresets[] = {
    {"F32", FileType::ALL_F32, GgmlType::F32},          {"F16", FileType::MOSTLY_F16, GgmlType::F16},
    {"BF16", FileType::MOSTLY_BF16, GgmlType::BF16},    {"Q8_0", FileType::MOSTLY_Q8_0, GgmlType::Q8_0},
    {"Q4_0", FileType::MOSTLY_Q4_0, GgmlType::Q4_0},    {"Q4_1", FileType::MOSTLY_Q4_1, GgmlType::Q4_1},
    {"Q5_0", FileType::MOSTLY_Q5_0, GgmlType::Q5_0},    {"Q5_1", FileType::MOSTLY_Q5_1, GgmlType::Q5_1},
    {"Q2_K", FileType::MOSTLY_Q2_K, GgmlType::Q2_K},    {"Q3_K_S", FileType::MOSTLY_Q3_K_S, GgmlType::Q3_K},
    {"Q3_K_M", FileType::MOSTLY_Q3_K_M, GgmlType::Q3_K}, {"Q3_K_L", FileType::MOSTLY_Q3_K_L, GgmlType::Q3_K},
    {"Q4_K_S", FileType::MOSTLY_Q4_K_S, GgmlType::Q4_K}, {"Q4_K_M", FileType::MOSTLY_Q4_K_M, GgmlType::Q4_K},
    {"Q5_K_S", FileType::MOSTLY_Q5_K_S, GgmlType::Q5_K}, {"Q5_K_M", FileType::MOSTLY_Q5_K_M, GgmlType::Q5_K},
    {"Q6_K", FileType::MOSTLY_Q6_K, GgmlType::Q6_K},    {"IQ4_NL", FileType::MOSTLY_IQ4_NL, GgmlType::IQ4_NL},
    {"IQ4_XS", FileType::MOSTLY_IQ4_XS, GgmlType::IQ4_XS},
};

const Preset& preset_of(FileType ft) {
    for (const Preset& p : kPresets)
        if (p.ft == ft) return p;
    fail(Status::invalid_argument, "unknown file type %u", static_cast<unsigned>(ft));
}

bool is_block_quantized(GgmlType t) { return t != GgmlType::F32 && t != GgmlType::F16 && t != GgmlType::BF16; }

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

bool ends_with(const std::string& s, const char* suffix) {
    const size_t n = std::char_traits<char>::length(suffix);
    return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// "blk.N." -> N; -1 for tensors outside the blocks.
int block_index(const std::string& name) {
    int layer = -1;
    std::sscanf(name.c_str(), "blk.%d.", &layer);
    return layer;
}

// Layers that get more bits in the _M presets: the first and last eighth, and every third
// one in between.
bool use_more_bits(int i_layer, int n_layers) {
    return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

// Dimensions as ggml counts them: trailing 1s do not count.
int n_dims_of(const TensorDesc& t) {
    int n = 4;
    while (n > 1 && t.ne[n - 1] == 1) --n;
    return n;
}

}  // namespace

bool file_type_from_name(std::string_view name, FileType* out) {
    std::string upper;
    for (char c : name) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (const Preset& p : kPresets)
        if (upper == p.name) {
            *out = p.ft;
            return true;
        }
    return false;
}

const char* file_type_name(FileType ft) { return preset_of(ft).name; }

std::string file_type_names() {
    std::string s;
    for (const Preset& p : kPresets) s += (s.empty() ? "" : ", ") + std::string(p.name);
    return s;
}

GgmlType file_type_default(FileType ft) { return preset_of(ft).def; }

bool llama_tensor_order_less(const std::string& a, const std::string& b) {
    const int la = block_index(a), lb = block_index(b);
    if (la != lb) return la < lb;
    return a < b;
}

bool QuantPolicy::allows_quantization(const TensorDesc& t) {
    if (n_dims_of(t) < 2) return false;  // only matrices (and stacks of experts)
    const std::string& name = t.name;
    if (!ends_with(name, "weight")) return false;
    // Tensors llama.cpp always leaves alone: norms, expert routers, tiny or positional tables,
    // and a few architecture-specific small weights.
    static const char* const kKeep[] = {
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
        "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
        "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
        "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight",
        "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos",
        ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    };
    for (const char* k : kKeep)
        if (contains(name, k)) return false;
    if (name == "position_embd.weight" || name == "token_types.weight") return false;  // BERT
    return true;
}

QuantPolicy::Category QuantPolicy::category_of(const std::string& name) {
    if (name == "output.weight") return Category::output;
    if (name == "token_embd.weight" || name == "per_layer_token_embd.weight") return Category::token_embd;
    if (contains(name, "attn_qkv.weight")) return Category::attn_qkv;
    if (contains(name, "attn_kv_b.weight")) return Category::attn_kv_b;
    if (contains(name, "attn_v.weight")) return Category::attn_v;
    if (contains(name, "attn_k.weight")) return Category::attn_k;
    if (contains(name, "attn_q.weight")) return Category::attn_q;
    if (contains(name, "attn_output.weight")) return Category::attn_output;
    if (contains(name, "ffn_up")) return Category::ffn_up;
    if (contains(name, "ffn_gate")) return Category::ffn_gate;
    if (contains(name, "ffn_down")) return Category::ffn_down;
    return Category::other;
}

QuantPolicy::QuantPolicy(FileType ft, ModelShape shape) : ft_(ft), shape_(std::move(shape)) {
    preset_of(ft_);  // validates
    // llama.cpp treats a Llama with 80 layers and grouped KV heads as the 70B model.
    is_70b_ = shape_.arch == "llama" && shape_.n_layer == 80 && shape_.n_head != shape_.n_head_kv;
}

// With experts the ffn tensors are not one per layer in order, so the layer comes from the name.
int QuantPolicy::layer_of(const TensorDesc& t, int counter) const {
    if (std::max(1, shape_.n_expert) <= 1) return counter;
    const int layer = block_index(t.name);
    if (layer < 0 || layer >= shape_.n_layer)
        fail(Status::bad_format, "tensor '%s': cannot tell its layer (model has %d)", t.name.c_str(), shape_.n_layer);
    return layer;
}

GgmlType QuantPolicy::preset_type(GgmlType new_type, const TensorDesc& t, Category cat) {
    const bool falcon = shape_.arch == "falcon";
    const int n_gqa = shape_.n_head_kv > 0 ? shape_.n_head / shape_.n_head_kv : 0;
    const FileType ft = ft_;
    using FT = FileType;
    using GT = GgmlType;

    if (cat == Category::output || (tied_embeddings_ && cat == Category::token_embd)) {
        // The output matrix (or the embedding table standing in for it) gets 6 bits.
        const int64_t qk = type_info(new_type).block_size;
        if (falcon || t.ne[0] % qk != 0)
            new_type = GT::Q8_0;
        else if (new_type != GT::Q8_0)
            new_type = GT::Q6_K;
    } else if (cat == Category::token_embd) {
        // untied embeddings keep the default type in every preset llamas offers
    } else if (is_attn_v_like(cat)) {
        // (llama.cpp's separate rule for attn_qkv is shadowed by this one: fused QKV lands here.)
        if (ft == FT::MOSTLY_Q2_K)
            new_type = n_gqa >= 4 ? GT::Q4_K : GT::Q3_K;
        else if (ft == FT::MOSTLY_Q3_K_M)
            new_type = i_attention_wv_ < 2 ? GT::Q5_K : GT::Q4_K;
        else if (ft == FT::MOSTLY_Q3_K_L)
            new_type = GT::Q5_K;
        else if ((ft == FT::MOSTLY_IQ4_NL || ft == FT::MOSTLY_IQ4_XS) && n_gqa >= 4)
            new_type = GT::Q5_K;
        else if ((ft == FT::MOSTLY_Q4_K_M || ft == FT::MOSTLY_Q5_K_M) && use_more_bits(i_attention_wv_, n_attention_wv_))
            new_type = GT::Q6_K;
        else if (ft == FT::MOSTLY_Q4_K_S && i_attention_wv_ < 4)
            new_type = GT::Q5_K;
        if (is_70b_ && (new_type == GT::Q3_K || new_type == GT::Q4_K)) new_type = GT::Q5_K;
        if (shape_.n_expert == 8) new_type = GT::Q8_0;
        ++i_attention_wv_;
    } else if (cat == Category::attn_k) {
        if (shape_.n_expert == 8) new_type = GT::Q8_0;
    } else if (cat == Category::attn_q) {
        // only the IQ3 presets change attn_q
    } else if (cat == Category::ffn_down) {
        const int i_layer = layer_of(t, i_ffn_down_), n_layer = n_ffn_down_;
        if (ft == FT::MOSTLY_Q2_K) {
            new_type = GT::Q3_K;
        } else if (ft == FT::MOSTLY_Q3_K_M) {
            new_type = i_layer < n_layer / 16 ? GT::Q5_K
                       : !falcon || use_more_bits(i_layer, n_layer) ? GT::Q4_K
                                                                    : GT::Q3_K;
        } else if (ft == FT::MOSTLY_Q3_K_L) {
            new_type = falcon ? GT::Q4_K : GT::Q5_K;
        } else if (ft == FT::MOSTLY_Q4_K_M) {
            if (falcon)
                new_type = i_layer < n_layer / 16 ? GT::Q6_K : use_more_bits(i_layer, n_layer) ? GT::Q5_K : GT::Q4_K;
            else if (use_more_bits(i_layer, n_layer))
                new_type = GT::Q6_K;
        } else if (i_layer < n_layer / 8 && (ft == FT::MOSTLY_IQ4_NL || ft == FT::MOSTLY_IQ4_XS)) {
            new_type = GT::Q5_K;  // (llama.cpp: only without an importance matrix, as here)
        } else if (ft == FT::MOSTLY_Q5_K_M && use_more_bits(i_layer, n_layer)) {
            new_type = GT::Q6_K;
        } else if (ft == FT::MOSTLY_Q4_K_S && !falcon && i_layer < n_layer / 8) {
            new_type = GT::Q5_K;
        }
        ++i_ffn_down_;
    } else if (cat == Category::attn_output) {
        if (!falcon) {
            if (shape_.n_expert == 8) {
                if (ft == FT::MOSTLY_Q2_K || ft == FT::MOSTLY_Q3_K_S || ft == FT::MOSTLY_Q3_K_M || ft == FT::MOSTLY_IQ4_NL ||
                    ft == FT::MOSTLY_Q4_K_S || ft == FT::MOSTLY_Q4_K_M || ft == FT::MOSTLY_IQ4_XS)
                    new_type = GT::Q5_K;
            } else {
                if (ft == FT::MOSTLY_Q2_K) new_type = GT::Q3_K;
                else if (ft == FT::MOSTLY_Q3_K_M) new_type = GT::Q4_K;
                else if (ft == FT::MOSTLY_Q3_K_L) new_type = GT::Q5_K;
            }
        } else if (ft == FT::MOSTLY_Q3_K_L) {
            new_type = GT::Q4_K;
        }
    } else if (cat == Category::ffn_gate) {
        layer_of(t, i_ffn_gate_);
        ++i_ffn_gate_;
    } else if (cat == Category::ffn_up) {
        layer_of(t, i_ffn_up_);
        ++i_ffn_up_;
    }
    return new_type;
}

// Rows that are not a whole number of blocks: fall back to a type with smaller blocks.
GgmlType QuantPolicy::fallback(const TensorDesc& t, GgmlType target) {
    const int64_t ncols = t.ne[0];
    if (ncols % type_info(target).block_size == 0) return target;
    ++n_fallback_;
    GgmlType out;
    switch (target) {
        case GgmlType::IQ4_XS: out = GgmlType::IQ4_NL; break;
        case GgmlType::Q2_K:
        case GgmlType::Q3_K: out = GgmlType::Q4_0; break;
        case GgmlType::Q4_K: out = GgmlType::Q5_0; break;
        case GgmlType::Q5_K: out = GgmlType::Q5_1; break;
        case GgmlType::Q6_K: out = GgmlType::Q8_0; break;
        default:
            fail(Status::unsupported, "tensor '%s': row length %lld is not a multiple of the %s block size and %s has no fallback type",
                 t.name.c_str(), static_cast<long long>(ncols), type_info(target).name, type_info(target).name);
    }
    if (ncols % type_info(out).block_size != 0) out = GgmlType::F16;  // not even a multiple of 32
    return out;
}

std::vector<GgmlType> QuantPolicy::choose(const std::vector<TensorDesc>& tensors) {
    std::vector<size_t> order(tensors.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return llama_tensor_order_less(tensors[a].name, tensors[b].name); });

    n_attention_wv_ = i_attention_wv_ = i_ffn_down_ = i_ffn_gate_ = i_ffn_up_ = n_fallback_ = 0;
    n_ffn_down_ = shape_.n_layer;
    tied_embeddings_ = true;
    for (const TensorDesc& t : tensors) {
        const Category c = category_of(t.name);
        if (is_attn_v_like(c)) ++n_attention_wv_;
        if (c == Category::output) tied_embeddings_ = false;
    }

    const GgmlType def = file_type_default(ft_);
    std::vector<GgmlType> out(tensors.size());
    for (size_t idx : order) {
        const TensorDesc& t = tensors[idx];
        if (!allows_quantization(t)) {
            out[idx] = t.type;
            continue;
        }
        GgmlType type = def;
        if (is_block_quantized(def)) {
            type = preset_type(type, t, category_of(t.name));
            type = fallback(t, type);
        }
        out[idx] = type;
    }
    return out;
}

}  // namespace llamas
