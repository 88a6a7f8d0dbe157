#include "engine/hparams.h"

#include <cmath>
#include <string>

#include "gguf/gguf.h"
#include "util/error.h"

namespace llamas {

const char* arch_name(Arch a) {
    switch (a) {
        case Arch::llama: return "llama";
        case Arch::qwen2: return "qwen2";
        case Arch::qwen3: return "qwen3";
        case Arch::gemma2: return "gemma2";
        case Arch::gemma3: return "gemma3";
        case Arch::phi3: return "phi3";
        case Arch::gemma_embedding: return "gemma-embedding";
        case Arch::bert: return "bert";
        case Arch::nomic_bert: return "nomic-bert";
    }
    return "?";
}

namespace {

bool parse_arch(std::string_view name, Arch* out) {
    for (Arch a : {Arch::llama, Arch::qwen2, Arch::qwen3, Arch::gemma2, Arch::gemma3, Arch::phi3, Arch::gemma_embedding,
                   Arch::bert, Arch::nomic_bert}) {
        if (name == arch_name(a)) {
            *out = a;
            return true;
        }
    }
    return false;
}

// Metadata keys are "ARCH.suffix"; this reads them with the architecture prefix filled in.
struct Keys {
    const gguf::File& f;
    std::string prefix;

    std::string k(const char* suffix) const { return prefix + "." + suffix; }
    int64_t req(const char* suffix) const {
        const std::string key = k(suffix);
        const int64_t v = f.get_i64(key);
        if (v <= 0 || v > (int64_t(1) << 31)) fail(Status::bad_format, "metadata %s = %lld is out of range", key.c_str(), (long long)v);
        return v;
    }
    int64_t opt(const char* suffix, int64_t def) const {
        const std::string key = k(suffix);
        if (!f.has(key)) return def;
        const int64_t v = f.get_i64(key);
        if (v < 0 || v > (int64_t(1) << 31)) fail(Status::bad_format, "metadata %s = %lld is out of range", key.c_str(), (long long)v);
        return v;
    }
    float optf(const char* suffix, float def) const { return f.get_f32(k(suffix), def); }
    bool has(const char* suffix) const { return f.has(k(suffix)); }
};

}  // namespace

HParams read_hparams(const gguf::File& file) {
    HParams hp;
    const std::string_view name = file.get_string("general.architecture");
    hp.arch_name = std::string(name);
    if (!parse_arch(name, &hp.arch)) {
        fail(Status::unsupported, "unsupported model architecture '%s' (llamas runs llama, qwen2, qwen3, gemma2, gemma3, phi3, "
             "gemma-embedding, bert, nomic-bert)",
             hp.arch_name.c_str());
    }
    const Keys keys{file, hp.arch_name};

    hp.n_embd = keys.req("embedding_length");
    hp.n_layer = keys.req("block_count");
    // Every layer has several tensors: this bounds what a hostile block_count can make us allocate.
    if (static_cast<uint64_t>(hp.n_layer) > file.tensors().size()) {
        fail(Status::bad_format, "%s.block_count = %lld, but the file has only %zu tensors", hp.arch_name.c_str(),
             (long long)hp.n_layer, file.tensors().size());
    }
    hp.n_ff = keys.req("feed_forward_length");
    hp.n_head = keys.req("attention.head_count");
    hp.n_head_kv = keys.opt("attention.head_count_kv", hp.n_head);
    hp.n_ctx_train = keys.opt("context_length", 0);
    if (hp.n_ctx_train == 0) hp.n_ctx_train = 2048;
    if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0) {
        fail(Status::bad_format, "%s.attention.head_count_kv = %lld does not divide head_count = %lld", hp.arch_name.c_str(),
             (long long)hp.n_head_kv, (long long)hp.n_head);
    }
    if (hp.n_embd % hp.n_head != 0 && !keys.has("attention.key_length")) {
        fail(Status::bad_format, "%s.embedding_length is not a multiple of head_count", hp.arch_name.c_str());
    }
    hp.head_dim_k = keys.opt("attention.key_length", hp.n_embd / hp.n_head);
    hp.head_dim_v = keys.opt("attention.value_length", hp.head_dim_k);
    if (hp.head_dim_k <= 0 || hp.head_dim_v != hp.head_dim_k) {
        fail(Status::unsupported, "%s: attention key_length %lld and value_length %lld must be equal and positive",
             hp.arch_name.c_str(), (long long)hp.head_dim_k, (long long)hp.head_dim_v);
    }
    hp.norm_eps = keys.optf("attention.layer_norm_rms_epsilon", 1e-5f);
    if (hp.arch == Arch::bert || hp.arch == Arch::nomic_bert) {
        hp.norm_eps = keys.optf("attention.layer_norm_epsilon", 1e-12f);  // LayerNorm
    }

    hp.n_rot = keys.opt("rope.dimension_count", hp.head_dim_k);
    if (hp.n_rot <= 0 || hp.n_rot > hp.head_dim_k || hp.n_rot % 2 != 0) {
        fail(Status::bad_format, "%s.rope.dimension_count = %lld is invalid for head size %lld", hp.arch_name.c_str(),
             (long long)hp.n_rot, (long long)hp.head_dim_k);
    }
    hp.rope_base = keys.optf("rope.freq_base", 10000.0f);
    hp.rope_base_swa = hp.rope_base;
    const std::string scaling = std::string(file.get_string(keys.k("rope.scaling.type"), "none"));
    if (scaling == "linear") {
        const float factor = keys.optf("rope.scaling.factor", 1.0f);
        if (!(factor > 0)) fail(Status::bad_format, "%s.rope.scaling.factor must be positive", hp.arch_name.c_str());
        hp.rope_freq_scale = 1.0f / factor;
    } else if (scaling != "none" && scaling != "llama3") {
        // llama3 scaling is carried by the rope_freqs tensor; yarn and others are not implemented.
        fail(Status::unsupported, "%s: RoPE scaling type '%s' is not supported", hp.arch_name.c_str(), scaling.c_str());
    }

    hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
    hp.swa_layer.assign(static_cast<size_t>(hp.n_layer), 0);

    // Sliding-window layers: layer il slides when il % pattern < pattern - 1 (so with pattern 2,
    // every second layer, starting from the second, is global), as the reference does.
    // Gemma 3 blocks (gemma3 and the EmbeddingGemma encoder): scaled embeddings, NeoX RoPE,
    // per-head Q/K norms, post norms, GELU-gated FFN, q scaled before the product.
    auto set_gemma3_block = [](HParams& h) {
        h.rope_layout = RopeLayout::neox;
        h.embd_scale = std::sqrt(static_cast<float>(h.n_embd));
        h.post_norms = true;
        h.qk_norm = true;
        h.ffn_act = FfnActivation::gelu;
        h.scale_q_first = true;
    };
    auto set_swa_pattern = [&](int64_t pattern) {
        for (int64_t il = 0; il < hp.n_layer; ++il) {
            hp.swa_layer[static_cast<size_t>(il)] = pattern == 0 || (il % pattern) < (pattern - 1);
        }
    };

    switch (hp.arch) {
        case Arch::llama:
            hp.rope_layout = RopeLayout::normal;
            break;
        case Arch::qwen2:
            hp.rope_layout = RopeLayout::neox;
            break;
        case Arch::qwen3:
            hp.rope_layout = RopeLayout::neox;
            hp.qk_norm = true;
            break;
        case Arch::phi3:
            hp.rope_layout = RopeLayout::neox;
            hp.fused_qkv = true;
            hp.fused_gate_up = true;
            hp.scale_q_first = true;
            hp.n_swa = keys.opt("attention.sliding_window", 0);
            if (hp.n_swa > 0) set_swa_pattern(1);
            break;
        case Arch::gemma2:
            hp.rope_layout = RopeLayout::neox;
            hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
            hp.post_norms = true;
            hp.ffn_act = FfnActivation::gelu;
            hp.scale_q_first = true;
            hp.n_swa = keys.opt("attention.sliding_window", 4096);
            set_swa_pattern(keys.opt("attention.sliding_window_pattern", 2));
            hp.rope_base_swa = keys.optf("rope.freq_base_swa", hp.rope_base);
            hp.attn_softcap = keys.optf("attn_logit_softcapping", 50.0f);
            hp.final_softcap = keys.optf("final_logit_softcapping", 30.0f);
            // Gemma 2 27B scales by n_embd / n_head instead of the head size; the reference
            // recognises it by its 46 layers.
            if (hp.n_layer == 46) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
            break;
        case Arch::gemma3:
            set_gemma3_block(hp);
            hp.n_swa = keys.opt("attention.sliding_window", 0);
            if (hp.n_swa > 0) {
                set_swa_pattern(keys.opt("attention.sliding_window_pattern", 6));
                hp.rope_base_swa = keys.optf("rope.freq_base_swa", 10000.0f);
            }
            hp.final_softcap = keys.optf("final_logit_softcapping", 0.0f);
            if (hp.n_layer == 62) hp.attn_scale = 1.0f / std::sqrt(static_cast<float>(hp.n_embd / hp.n_head));
            break;
        case Arch::gemma_embedding:
            // Gemma 3 blocks run bidirectionally; the sliding layers see a window centred on
            // each token. The reference's default pattern is 6 (five sliding layers, one global).
            set_gemma3_block(hp);
            hp.causal = false;
            hp.swa_symmetric = true;
            hp.n_swa = keys.opt("attention.sliding_window", 0);
            if (hp.n_swa > 0) set_swa_pattern(keys.opt("attention.sliding_window_pattern", 6));
            hp.rope_base_swa = keys.optf("rope.freq_base_swa", 10000.0f);
            hp.embedder = true;
            hp.pooling = static_cast<Pooling>(keys.opt("pooling_type", 1));
            break;
        case Arch::bert:
            // Post-LayerNorm encoder with absolute positions (no RoPE) and biases everywhere.
            hp.post_layer_norm = true;
            hp.rope = false;
            hp.causal = file.get_bool(keys.k("attention.causal"), false);
            hp.ffn_act = FfnActivation::gelu;
            hp.embedder = true;
            hp.pooling = static_cast<Pooling>(keys.opt("pooling_type", 1));
            break;
        case Arch::nomic_bert:
            // BERT's post-LayerNorm blocks with NeoX RoPE instead of absolute positions, fused
            // QKV, no biases and a SwiGLU FFN (nomic-embed-text).
            hp.rope_layout = RopeLayout::neox;
            hp.post_layer_norm = true;
            hp.causal = file.get_bool(keys.k("attention.causal"), false);
            hp.ffn_act = FfnActivation::silu;
            hp.embedder = true;
            hp.pooling = static_cast<Pooling>(keys.opt("pooling_type", 1));
            break;
    }
    if (hp.embedder && static_cast<int>(hp.pooling) > static_cast<int>(Pooling::last)) {
        fail(Status::unsupported, "%s: pooling type %d is not supported (none, mean, cls and last are)", hp.arch_name.c_str(),
             static_cast<int>(hp.pooling));
    }
    if (hp.attn_softcap < 0 || hp.final_softcap < 0) fail(Status::bad_format, "%s: negative soft-capping value", hp.arch_name.c_str());
    return hp;
}

}  // namespace llamas
