// Vocabulary: special token ids, token texts, scores, attributes and pieces (since 0.2).
#include <cstring>
#include <string>

#include "api/guard.h"
#include "api/handles.h"

using namespace llamas;
using llamas::api::guard;

namespace {

bool in_range(const llamas_model* m, int32_t token) {
    return m && token >= 0 && token < m->model->tokenizer().n_vocab();
}

}  // namespace

extern "C" {

LLAMAS_API int32_t llamas_model_special_token(const llamas_model* m, int32_t which) {
    if (!m) return -1;
    const Tokenizer& t = m->model->tokenizer();
    switch (which) {
        case LLAMAS_SPECIAL_BOS: return t.bos();
        case LLAMAS_SPECIAL_EOS: return t.eos();
        case LLAMAS_SPECIAL_EOT: return t.eot();
        case LLAMAS_SPECIAL_SEP: return t.sep();
        case LLAMAS_SPECIAL_PAD: return t.pad();
        case LLAMAS_SPECIAL_UNK: return t.unk();
        case LLAMAS_SPECIAL_MASK: return t.mask();
        case LLAMAS_SPECIAL_FIM_PRE: return t.fim_pre();
        case LLAMAS_SPECIAL_FIM_SUF: return t.fim_suf();
        case LLAMAS_SPECIAL_FIM_MID: return t.fim_mid();
        case LLAMAS_SPECIAL_NL: return t.newline();
        default: return -1;
    }
}

LLAMAS_API const char* llamas_token_text(const llamas_model* m, int32_t token) {
    return in_range(m, token) ? m->model->tokenizer().token_text(token).c_str() : nullptr;
}

LLAMAS_API float llamas_token_score(const llamas_model* m, int32_t token) {
    return in_range(m, token) ? m->model->tokenizer().token_score(token) : 0.0f;
}

LLAMAS_API uint32_t llamas_token_attr(const llamas_model* m, int32_t token) {
    return in_range(m, token) ? m->model->tokenizer().token_attr(token) : 0u;
}

// As the reference's llama_token_to_piece(vocab, token, buf, n, lstrip, special): without
// LLAMAS_PIECE_SPECIAL, control and unknown tokens give nothing (user-defined ones keep their
// text); LSTRIP drops one leading space.
LLAMAS_API llamas_status llamas_token_to_piece(const llamas_model* m, int32_t token, int flags, char* buffer,
                                               size_t capacity, size_t* out_length) {
    return guard([&] {
        LLAMAS_CHECK_ARG(m, "model is NULL");
        LLAMAS_CHECK_ARG(buffer || capacity == 0, "buffer is NULL");
        LLAMAS_CHECK_ARG(in_range(m, token), "token id is out of range");
        std::string piece = m->model->tokenizer().token_to_piece(token, (flags & LLAMAS_PIECE_SPECIAL) == 0);
        if ((flags & LLAMAS_PIECE_LSTRIP) && !piece.empty() && piece[0] == ' ') piece.erase(0, 1);
        // Buffer rules as llamas_detokenize: the bytes, NUL-terminated only when there is room.
        if (out_length) *out_length = piece.size();
        if (piece.size() > capacity)
            return api::error(LLAMAS_ERR_BUFFER_TOO_SMALL,
                              "piece buffer too small: " + std::to_string(piece.size()) + " bytes needed");
        if (!piece.empty()) std::memcpy(buffer, piece.data(), piece.size());
        if (piece.size() < capacity) buffer[piece.size()] = '\0';
        return LLAMAS_OK;
    });
}

}  // extern "C"
