// Model::bind_embedder: the tensors of embedding models. gemma-embedding is a Gemma 3 decoder
// stack (bound by bind_decoder) plus optional dense projections; bert and nomic-bert share theirs.
#include <string>
#include <vector>

#include "engine/embed_weights.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "quant/dequantize.h"
#include "util/error.h"

namespace llamas {

void Model::bind_embedder() {
    embed_ = std::make_unique<EmbedWeights>();
    EmbedWeights& ew = *embed_;
    const int64_t E = hp_.n_embd;
    ew.n_embd_out = E;

    if (hp_.arch == Arch::gemma_embedding) {
        bind_decoder();
        // sentence-transformers Dense modules: dense_2 widens, dense_3 narrows back. Their
        // shapes come from the tensors; each must chain onto the previous output.
        if (const gguf::TensorInfo* t = file_->find_tensor("dense_2.weight")) {
            ew.dense_2 = matrix("dense_2.weight", E, t->ne[1], true);
            ew.dense_2_b = vector("dense_2.bias", ew.dense_2.n_rows, false);
            ew.n_embd_out = ew.dense_2.n_rows;
        }
        if (const gguf::TensorInfo* t = file_->find_tensor("dense_3.weight")) {
            ew.dense_3 = matrix("dense_3.weight", ew.n_embd_out, t->ne[1], true);
            ew.n_embd_out = ew.dense_3.n_rows;
        }
        return;
    }

    if (hp_.arch != Arch::bert && hp_.arch != Arch::nomic_bert) {
        fail(Status::internal, "bind_embedder: %s is not an embedding architecture", hp_.arch_name.c_str());
    }
    // bert: absolute positions, separate q/k/v, biases everywhere, GELU FFN. nomic-bert: RoPE
    // instead of positions, fused q/k/v (separate ones accepted too), no biases (accepted when
    // present, as the reference does), SwiGLU FFN. Both: token types, LayerNorms after the
    // attention and FFN residuals.
    const bool bert = hp_.arch == Arch::bert;
    const char* arch = hp_.arch_name.c_str();
    auto rows_table = [&](const char* name, bool required) -> WeightView {
        const gguf::TensorInfo* t = file_->find_tensor(name);
        if (!t) {
            if (required) fail(Status::bad_format, "%s model: tensor '%s' is missing", arch, name);
            return WeightView{};
        }
        if (t->ne[0] != E || t->ne[1] <= 0 || t->ne[2] != 1 || t->ne[3] != 1) {
            fail(Status::bad_format, "tensor '%s' has shape [%lld, %lld], expected rows of %lld", name, (long long)t->ne[0],
                 (long long)t->ne[1], (long long)E);
        }
        if (!can_dequantize(t->type) || E % type_info(t->type).block_size != 0) {
            fail(Status::unsupported, "tensor '%s' has type %s, which llamas cannot decode", name, type_info(t->type).name);
        }
        return WeightView{t->type, E, t->ne[1], row_size(t->type, E), t->data};
    };
    if (bert) {
        ew.position_embd = rows_table("position_embd.weight", true);
        // Positions beyond the table cannot be embedded: the context is bounded by it.
        if (hp_.n_ctx_train > ew.position_embd.n_rows) hp_.n_ctx_train = ew.position_embd.n_rows;
    }
    ew.token_types = rows_table("token_types.weight", false);
    ew.tok_norm = vector("token_embd_norm.weight", E, true);
    ew.tok_norm_b = vector("token_embd_norm.bias", E, true);

    const int64_t n_q = hp_.n_embd_q(), F = hp_.n_ff;
    const bool fused = !bert && file_->find_tensor("blk.0.attn_qkv.weight") != nullptr;
    layers_.resize(static_cast<size_t>(hp_.n_layer));
    for (int64_t il = 0; il < hp_.n_layer; ++il) {
        LayerWeights& L = layers_[static_cast<size_t>(il)];
        const std::string p = "blk." + std::to_string(il) + ".";
        bind_qkv(L, p, fused, bert);
        L.wo = matrix(p + "attn_output.weight", n_q, E, true);
        L.bo = vector(p + "attn_output.bias", E, bert);
        L.attn_out_norm = vector(p + "attn_output_norm.weight", E, true);
        L.attn_out_norm_b = vector(p + "attn_output_norm.bias", E, true);
        if (!bert) L.ffn_gate = matrix(p + "ffn_gate.weight", E, F, true);
        L.ffn_up = matrix(p + "ffn_up.weight", E, F, true);
        L.ffn_up_b = vector(p + "ffn_up.bias", F, bert);
        L.ffn_down = matrix(p + "ffn_down.weight", F, E, true);
        L.ffn_down_b = vector(p + "ffn_down.bias", E, bert);
        L.out_norm = vector(p + "layer_output_norm.weight", E, true);
        L.out_norm_b = vector(p + "layer_output_norm.bias", E, true);
    }
}

}  // namespace llamas
