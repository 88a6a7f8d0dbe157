// A model's tokenizer, built entirely from its tokenizer.ggml.* metadata, that tokenizes and
// detokenizes exactly as the reference runtime (llama.cpp) does.
//
// Kinds: SentencePiece BPE (`llama`), byte-level BPE (`gpt2`, with the pre-tokenizer named by
// tokenizer.ggml.pre) and WordPiece (`bert`). The Tokenizer copies everything it needs out of the
// GGUF file, so it may outlive it. All const methods are thread-safe (no mutable state).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gguf/gguf.h"

namespace llamas {

namespace tok {
struct Vocab;
class SpmModel;
class BpeModel;
}  // namespace tok

enum class TokenizerKind { spm, bpe, wordpiece };

// Token types as stored in tokenizer.ggml.token_type.
enum class TokenType : int32_t { undefined = 0, normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };

class Tokenizer {
public:
    static constexpr int32_t no_token = -1;

    // Throws Error(bad_format) for missing/ill-typed tokenizer metadata and Error(unsupported) for
    // an unknown tokenizer model or pre-tokenizer.
    explicit Tokenizer(const gguf::File& file);
    ~Tokenizer();
    Tokenizer(const Tokenizer&) = delete;
    Tokenizer& operator=(const Tokenizer&) = delete;

    // add_special: BOS/EOS (or CLS/SEP) as the model's flags say. parse_special: turn special-token
    // text such as "<|im_start|>" into that token (off for user text). Invalid UTF-8 never throws:
    // SentencePiece falls back to byte tokens, byte-level BPE and WordPiece see U+FFFD per bad byte.
    std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special = false) const;

    // The bytes a token stands for (byte tokens, U+2581 -> space, GPT-2 byte map inverted). Control
    // and unknown tokens render as their text unless skip_special. Throws Error(invalid_argument)
    // for an id out of range.
    std::string token_to_piece(int32_t id, bool skip_special = false) const;

    // Concatenated pieces, as the reference's detokenize: the leading space SentencePiece adds is
    // removed again; with skip_special a leading BOS / trailing EOS are dropped and other control
    // tokens render empty. clean_spaces applies the model's clean_up_tokenization_spaces rule.
    std::string decode(const std::vector<int32_t>& ids, bool skip_special = false, bool clean_spaces = false) const;

    TokenizerKind kind() const { return kind_; }
    const std::string& model_name() const { return model_; }  // tokenizer.ggml.model
    const std::string& pre_name() const { return pre_; }      // tokenizer.ggml.pre ("" when absent)
    int32_t n_vocab() const;

    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }
    int32_t eot() const { return eot_; }
    int32_t eom() const { return eom_; }
    int32_t unk() const { return unk_; }
    int32_t sep() const { return sep_; }
    int32_t pad() const { return pad_; }
    int32_t cls() const { return bos_; }  // BERT's [CLS] is its BOS
    int32_t mask() const { return mask_; }
    int32_t newline() const { return newline_; }  // the reference's linefeed_id
    int32_t fim_pre() const { return fim_pre_; }  // fill-in-the-middle prefix / suffix / middle
    int32_t fim_suf() const { return fim_suf_; }
    int32_t fim_mid() const { return fim_mid_; }
    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }
    bool add_sep() const { return add_sep_; }
    bool add_space_prefix() const { return add_space_prefix_; }
    bool clean_spaces_default() const { return clean_spaces_; }

    // End of generation: EOS, EOT, EOM and the end-of-turn tokens recognised by text.
    bool is_eog(int32_t id) const;
    const std::vector<int32_t>& eog_ids() const { return eog_; }

    TokenType token_type(int32_t id) const;
    bool is_control(int32_t id) const;
    bool is_byte(int32_t id) const;
    bool is_special(int32_t id) const;  // control, unknown or user-defined
    const std::string& token_text(int32_t id) const;
    float token_score(int32_t id) const;
    uint32_t token_attr(int32_t id) const;  // the reference's llama_token_attr bits
    // The id of a token with exactly this text, or no_token.
    int32_t find_token(std::string_view text) const;

private:
    void check_id(int32_t id) const;
    void load_special_ids(const gguf::File& file);
    void detect_special_by_text(std::string_view general_name);

    TokenizerKind kind_ = TokenizerKind::spm;
    std::string model_, pre_;
    std::unique_ptr<tok::Vocab> vocab_;
    std::unique_ptr<tok::SpmModel> spm_;
    std::unique_ptr<tok::BpeModel> bpe_;
    std::vector<int32_t> specials_;  // control/unknown/user-defined ids, longest text first
    std::vector<int32_t> eog_;
    std::vector<TokenType> types_;
    std::vector<std::string> pieces_;  // token_to_piece of every id with specials rendered

    int32_t bos_ = no_token, eos_ = no_token, eot_ = no_token, eom_ = no_token, unk_ = no_token, sep_ = no_token,
            pad_ = no_token, mask_ = no_token, newline_ = no_token, fim_pre_ = no_token, fim_suf_ = no_token,
            fim_mid_ = no_token;
    bool add_bos_ = false, add_eos_ = false, add_sep_ = false, add_space_prefix_ = false, clean_spaces_ = false;
    bool lowercase_ = true, strip_accents_ = true;
};

// Streaming detokenizer: feed ids one at a time and get back only complete UTF-8, so a character
// split across tokens is emitted once its last byte arrives. Pieces are emitted as they are (no
// leading-space removal: meant for generated text that continues a prompt). Bytes that can never
// complete a character are passed through rather than held. Holds a reference to the Tokenizer.
class Detokenizer {
public:
    explicit Detokenizer(const Tokenizer& tokenizer, bool skip_special = false);
    // Text that became complete with this token (possibly empty).
    std::string push(int32_t id);
    // Whatever is still buffered (an incomplete sequence at the end of the stream), as is.
    std::string flush();
    void reset();

private:
    const Tokenizer& tok_;
    bool skip_special_;
    std::string pending_;
};

}  // namespace llamas
