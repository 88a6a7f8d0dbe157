#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cctype>
#include <iterator>

#include "tokenizer/bpe.h"
#include "tokenizer/special.h"
#include "tokenizer/spm.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"
#include "tokenizer/wordpiece.h"
#include "util/error.h"
#include "util/utf8.h"

namespace llamas {

using tok::Vocab;

namespace {

const gguf::KeyValue& require_array(const gguf::File& f, const char* key, gguf::ValueType elem, bool required_present) {
    const gguf::KeyValue* kv = f.find(key);
    if (!kv) {
        if (required_present) fail(Status::bad_format, "tokenizer metadata '%s' is missing", key);
        static const gguf::KeyValue none{};
        return none;
    }
    if (kv->type != gguf::ValueType::ARRAY || (elem != gguf::ValueType::ARRAY && kv->arr_type != elem))
        fail(Status::bad_format, "tokenizer metadata '%s' has the wrong type (%s of %s)", key, gguf::value_type_name(kv->type),
             gguf::value_type_name(kv->arr_type));
    return *kv;
}

uint32_t attr_from_type(int64_t t) {
    switch (t) {
        case 1: return tok::attr_normal;
        case 2: return tok::attr_unknown;
        case 3: return tok::attr_control;
        case 4: return tok::attr_user_defined;
        case 5: return tok::attr_unused;
        case 6: return tok::attr_byte;
        default: return tok::attr_undefined;
    }
}

void replace_all(std::string& s, std::string_view from, std::string_view to) {
    std::string out;
    out.reserve(s.size());
    size_t pos = 0;
    for (size_t m; (m = s.find(from, pos)) != std::string::npos; pos = m + from.size()) {
        out.append(s, pos, m - pos);
        out.append(to);
    }
    out.append(s, pos, std::string::npos);
    s.swap(out);
}

// The byte-level piece of a gpt2-style token: every codepoint maps back to one byte.
std::string decode_byte_level(const std::string& text) {
    std::string out;
    for (uint32_t cp : tok::decode_utf8(text)) {
        const int b = tok::unicode_to_byte(cp);
        if (b >= 0) {
            out.push_back(static_cast<char>(b));
        } else {  // not produced by byte-level encoding: the reference marks it like this
            std::string utf8;
            append_utf8(utf8, cp);
            out += "[UNK_BYTE_0x";
            for (unsigned char c : utf8) {
                static const char* hex = "0123456789abcdef";
                out.push_back(hex[c >> 4]);
                out.push_back(hex[c & 15]);
            }
            out += text + "]";
        }
    }
    return out;
}

// clean_up_tokenization_spaces, as the reference's detokenizer applies it.
void clean_up_spaces(std::string& t) {
    std::string o;
    for (size_t i = 0; i < t.size(); ++i) {  // " ?", " !", " .", " ,"
        const char x = t[i];
        if (i > 0 && t[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') && !o.empty()) o.pop_back();
        o.push_back(x);
    }
    t.swap(o);
    o.clear();
    for (size_t i = 0; i < t.size(); ++i) {  // " ' " -> "'"
        const char x = t[i];
        if (x == '\'' && i > 0 && i + 1 < t.size() && t[i - 1] == ' ' && t[i + 1] == ' ') {
            if (!o.empty()) o.pop_back();
            o.push_back(x);
            ++i;
            continue;
        }
        o.push_back(x);
    }
    t.swap(o);
    o.clear();
    for (size_t i = 0; i < t.size(); ++i) {  // " 's", " 'm", " 're", " 've"
        const char x = t[i];
        if (i > 0 && t[i - 1] == ' ' && x == '\'' && i + 1 < t.size()) {
            const char x1 = t[i + 1];
            const bool drop = x1 == 's' || x1 == 'm' ||
                              (i + 2 < t.size() && ((x1 == 'r' && t[i + 2] == 'e') || (x1 == 'v' && t[i + 2] == 'e')));
            if (drop && !o.empty()) o.pop_back();
        }
        o.push_back(x);
    }
    t.swap(o);
}

}  // namespace

Tokenizer::Tokenizer(const gguf::File& f) : vocab_(std::make_unique<Vocab>()) {
    model_ = std::string(f.get_string("tokenizer.ggml.model"));
    pre_ = std::string(f.get_string("tokenizer.ggml.pre", ""));

    tok::PreTokenizerConfig pre_config;
    if (model_ == "llama") {
        kind_ = TokenizerKind::spm;
        bos_ = 1, eos_ = 2, unk_ = 0;
        add_space_prefix_ = true, add_bos_ = true, clean_spaces_ = false;
    } else if (model_ == "gpt2") {
        kind_ = TokenizerKind::bpe;
        bos_ = 11, eos_ = 11;
        pre_config = tok::pre_tokenizer_config(pre_);
        add_bos_ = pre_config.add_bos, clean_spaces_ = pre_config.clean_spaces;
    } else if (model_ == "bert") {
        kind_ = TokenizerKind::wordpiece;
        bos_ = 101, unk_ = 100, sep_ = 102, pad_ = 0, mask_ = 103;
        add_bos_ = true, add_sep_ = true, clean_spaces_ = true;
    } else {
        fail(Status::unsupported, "tokenizer model '%s' is not supported (tokenizer.ggml.model)", model_.c_str());
    }
    add_space_prefix_ = f.get_bool("tokenizer.ggml.add_space_prefix", add_space_prefix_);

    // --- the token table ---
    const gguf::KeyValue& tokens = require_array(f, "tokenizer.ggml.tokens", gguf::ValueType::STRING, true);
    const size_t n = tokens.arr_strings.size();
    if (n == 0) fail(Status::bad_format, "tokenizer metadata 'tokenizer.ggml.tokens' is empty");
    if (n > static_cast<size_t>(INT32_MAX)) fail(Status::bad_format, "tokenizer has too many tokens (%zu)", n);
    Vocab& v = *vocab_;
    v.text.resize(n);
    v.score.assign(n, 0.0f);
    v.attr.assign(n, tok::attr_normal);
    for (size_t i = 0; i < n; ++i) {
        v.text[i].assign(tokens.arr_strings[i]);
        if (v.text[i].empty()) v.text[i] = "[EMPTY_" + std::to_string(i) + "]";
        v.max_token_len = std::max(v.max_token_len, v.text[i].size());
    }
    v.ids.reserve(n);
    for (size_t i = 0; i < n; ++i) {
        const int32_t before = v.ids.insert(v.text, static_cast<int32_t>(i));
        if (before != tok::k_no_token)
            fail(Status::bad_format, "duplicate token in vocabulary: '%s' has ids %d and %zu", v.text[i].c_str(), before, i);
    }
    if (const gguf::KeyValue* kv = f.find("tokenizer.ggml.scores")) {
        if (kv->type != gguf::ValueType::ARRAY || (kv->arr_type != gguf::ValueType::F32 && kv->arr_type != gguf::ValueType::I32))
            fail(Status::bad_format, "tokenizer metadata 'tokenizer.ggml.scores' must be an array of FLOAT32 or INT32");
        if (kv->arr_count < n) fail(Status::bad_format, "tokenizer.ggml.scores has %llu entries for %zu tokens",
                                    static_cast<unsigned long long>(kv->arr_count), n);
        gguf::ArrayView a(kv);
        for (size_t i = 0; i < n; ++i) v.score[i] = a.as_f32(i);
    }
    if (const gguf::KeyValue* kv = f.find("tokenizer.ggml.token_type")) {
        if (kv->type != gguf::ValueType::ARRAY || kv->arr_type != gguf::ValueType::I32)
            fail(Status::bad_format, "tokenizer metadata 'tokenizer.ggml.token_type' must be an array of INT32");
        if (kv->arr_count < n) fail(Status::bad_format, "tokenizer.ggml.token_type has %llu entries for %zu tokens",
                                    static_cast<unsigned long long>(kv->arr_count), n);
        gguf::ArrayView a(kv);
        for (size_t i = 0; i < n; ++i) v.attr[i] = attr_from_type(a.as_i64(i));
    }
    types_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const uint32_t a = v.attr[i];
        types_[i] = a & tok::attr_byte ? TokenType::byte
                  : a & tok::attr_control ? TokenType::control
                  : a & tok::attr_user_defined ? TokenType::user_defined
                  : a & tok::attr_unknown ? TokenType::unknown
                  : a & tok::attr_unused ? TokenType::unused
                  : a & tok::attr_normal ? TokenType::normal : TokenType::undefined;
    }

    // --- the algorithm ---
    load_special_ids(f);
    if (kind_ == TokenizerKind::spm) {
        spm_ = std::make_unique<tok::SpmModel>(v, unk_);
    } else if (kind_ == TokenizerKind::bpe) {
        const gguf::KeyValue& merges = require_array(f, "tokenizer.ggml.merges", gguf::ValueType::STRING, true);
        bpe_ = std::make_unique<tok::BpeModel>(v, merges.arr_strings, pre_config);
    }
    if (kind_ == TokenizerKind::wordpiece) {
        lowercase_ = f.get_bool("tokenizer.ggml.normalizer.lowercase", true);
        strip_accents_ = f.get_bool("tokenizer.ggml.normalizer.strip_accents", lowercase_);
    }
    detect_special_by_text(f.get_string("general.name", ""));

    // Special tokens for partitioning, longest text first.
    for (int32_t i = 0; i < static_cast<int32_t>(n); ++i)
        if (v.attr[i] & (tok::attr_control | tok::attr_user_defined | tok::attr_unknown)) specials_.push_back(i);
    std::stable_sort(specials_.begin(), specials_.end(),
                     [&](int32_t a, int32_t b) { return v.text[a].size() > v.text[b].size(); });

    // Phi-3 strips whitespace after its special tokens (the reference keys this on the model name).
    std::string name(f.get_string("general.name", ""));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    if (name.find("phi-3") != std::string::npos || name.find("phi3") != std::string::npos) {
        for (int32_t id : specials_) v.attr[id] |= tok::attr_rstrip;
        auto set = [&](const char* t, bool on) {
            const int32_t id = v.find(t);
            if (id == tok::k_no_token) return;
            if (on) v.attr[id] |= tok::attr_rstrip;
            else v.attr[id] &= ~static_cast<uint32_t>(tok::attr_rstrip);
        };
        set("</s>", true);
        for (const char* t : {"<unk>", "<s>", "<|endoftext|>"}) set(t, false);
    }

    // Pieces of every token (specials rendered), as the reference caches them.
    pieces_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        const uint32_t a = v.attr[i];
        const std::string& t = v.text[i];
        if (a & (tok::attr_unknown | tok::attr_control | tok::attr_user_defined)) {
            pieces_[i] = t;
        } else if (a & tok::attr_normal) {
            if (kind_ == TokenizerKind::bpe) {
                pieces_[i] = decode_byte_level(t);
            } else {
                pieces_[i] = t;
                replace_all(pieces_[i], "\xE2\x96\x81", " ");
            }
        } else if (a & tok::attr_byte) {
            if (t.size() >= 6 && std::isxdigit(static_cast<unsigned char>(t[3])) && std::isxdigit(static_cast<unsigned char>(t[4])))
                pieces_[i] = std::string(1, static_cast<char>(std::stoi(t.substr(3, 2), nullptr, 16)));
        }
    }

    // The newline token.
    if (kind_ == TokenizerKind::spm) {
        newline_ = v.find("<0x0A>");
        if (newline_ == tok::k_no_token) newline_ = v.find("\n");
        if (newline_ == tok::k_no_token) newline_ = pad_;
    } else if (kind_ == TokenizerKind::wordpiece) {
        newline_ = pad_;
    } else {
        const std::vector<int32_t> nl = encode("\n", false, false);
        newline_ = nl.empty() ? pad_ : nl[0];
    }
}

Tokenizer::~Tokenizer() = default;

void Tokenizer::load_special_ids(const gguf::File& f) {
    const int32_t n = n_vocab();
    struct Key {
        const char* key;
        int32_t* id;
    };
    const Key keys[] = {
        {"tokenizer.ggml.bos_token_id", &bos_},       {"tokenizer.ggml.eos_token_id", &eos_},
        {"tokenizer.ggml.eot_token_id", &eot_},       {"tokenizer.ggml.eom_token_id", &eom_},
        {"tokenizer.ggml.unknown_token_id", &unk_},   {"tokenizer.ggml.seperator_token_id", &sep_},
        {"tokenizer.ggml.padding_token_id", &pad_},   {"tokenizer.ggml.mask_token_id", &mask_},
        {"tokenizer.ggml.fim_pre_token_id", &fim_pre_}, {"tokenizer.ggml.fim_suf_token_id", &fim_suf_},
        {"tokenizer.ggml.fim_mid_token_id", &fim_mid_},
        // the deprecated names of the FIM keys, read after the new ones as the reference does
        {"tokenizer.ggml.prefix_token_id", &fim_pre_}, {"tokenizer.ggml.suffix_token_id", &fim_suf_},
        {"tokenizer.ggml.middle_token_id", &fim_mid_},
    };
    for (const Key& k : keys) {
        if (*k.id >= n) *k.id = no_token;  // a default outside this vocabulary
        const gguf::KeyValue* kv = f.find(k.key);
        if (!kv) continue;
        if (!kv->is_integer()) fail(Status::bad_format, "tokenizer metadata '%s' must be an integer", k.key);
        // Out-of-range ids keep the default, as the reference does.
        if (kv->i >= 0 && kv->i < n && kv->u == static_cast<uint64_t>(kv->i)) *k.id = static_cast<int32_t>(kv->i);
    }
    add_bos_ = f.get_bool("tokenizer.ggml.add_bos_token", add_bos_);
    add_eos_ = f.get_bool("tokenizer.ggml.add_eos_token", add_eos_);
    add_sep_ = f.get_bool("tokenizer.ggml.add_sep_token", add_sep_);
    if (add_bos_ && bos_ == no_token) fail(Status::bad_format, "tokenizer.ggml.add_bos_token is true, but there is no BOS token");
    if (add_eos_ && eos_ == no_token) fail(Status::bad_format, "tokenizer.ggml.add_eos_token is true, but there is no EOS token");
    if (add_sep_ && sep_ == no_token) fail(Status::bad_format, "tokenizer.ggml.add_sep_token is true, but there is no SEP token");
}

void Tokenizer::detect_special_by_text(std::string_view) {
    Vocab& v = *vocab_;
    const int32_t n = n_vocab();
    // DeepSeek's end of sentence, <｜end▁of▁sentence｜> (split so "\x9C" does not swallow the "e").
    static const char* const k_deepseek_end = "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
    // End-of-turn tokens that converters did not declare (the reference's list).
    static const char* const k_eot[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]",
                                        k_deepseek_end,
                                        "<end_of_utterance>"};
    static const char* const k_eog[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>",
                                        "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
                                        "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
                                        "<turn|>", "<|tool_response>",
                                        k_deepseek_end, "[e~["};
    // The reference replaces the attributes of a detected token that is not yet control.
    auto make_control = [&](int32_t id) {
        if (!(v.attr[id] & tok::attr_control)) v.attr[id] = tok::attr_control;
    };
    auto detect = [&](int32_t& slot, const std::vector<const char*>& texts) {
        if (slot != no_token) return;
        for (const char* t : texts) {
            const int32_t id = v.find(t);
            if (id != tok::k_no_token) {
                slot = id;
                make_control(id);
                return;
            }
        }
    };
    detect(eot_, std::vector<const char*>(std::begin(k_eot), std::end(k_eot)));
    // Fill-in-the-middle markers (Qwen, Granite, DeepSeek "<｜fim▁begin｜>"..., CodeLlama, GLM-4.5).
    detect(fim_pre_, {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>", "<PRE>", "\xE2\x96\x81<PRE>",
                      "<|code_prefix|>"});
    detect(fim_suf_, {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "hole\xEF\xBD\x9C>", "<SUF>", "\xE2\x96\x81<SUF>",
                      "<|code_suffix|>"});
    detect(fim_mid_, {"<|fim_middle|>", "<fim-middle>", "<fim_middle>",
                      "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "end\xEF\xBD\x9C>", "<MID>", "\xE2\x96\x81<MID>",
                      "<|code_middle|>"});
    if (eom_ == no_token) {
        const int32_t id = v.find("<|eom_id|>");
        if (id != tok::k_no_token) eom_ = id, make_control(id);
    }
    // Control tokens whose text says "unused" are unused.
    for (int32_t i = 0; i < n; ++i)
        if ((v.attr[i] & tok::attr_control) && v.text[i].find("unused") != std::string::npos) v.attr[i] |= tok::attr_unused;

    for (const char* t : k_eog) {
        const int32_t id = v.find(t);
        if (id != tok::k_no_token) {
            eog_.push_back(id);
            make_control(id);
        }
    }
    // Harmony-style vocabularies end turns with <|return|>/<|call|> (or <|flush|>/<|calls|>): their
    // <|end|> is not an end of generation; with <|tool_response>, </s> is an ordinary token.
    auto has = [&](const char* t) {
        const int32_t id = v.find(t);
        return id != tok::k_no_token && std::find(eog_.begin(), eog_.end(), id) != eog_.end();
    };
    auto drop = [&](const char* t, uint32_t new_attr) {
        const int32_t id = v.find(t);
        if (id == tok::k_no_token) return;
        eog_.erase(std::remove(eog_.begin(), eog_.end(), id), eog_.end());
        v.attr[id] = new_attr;
    };
    if ((has("<|return|>") && has("<|call|>") && has("<|end|>")) || (has("<|calls|>") && has("<|flush|>") && has("<|end|>")))
        drop("<|end|>", tok::attr_user_defined);
    if (has("<|tool_response>") && has("</s>")) drop("</s>", tok::attr_normal);
    for (int32_t id : {eos_, eot_, eom_})
        if (id != no_token) eog_.push_back(id);
    std::sort(eog_.begin(), eog_.end());
    eog_.erase(std::unique(eog_.begin(), eog_.end()), eog_.end());
}

int32_t Tokenizer::n_vocab() const { return vocab_->size(); }

void Tokenizer::check_id(int32_t id) const {
    if (id < 0 || id >= n_vocab()) fail(Status::invalid_argument, "token id %d is out of range (vocabulary of %d)", id, n_vocab());
}

bool Tokenizer::is_eog(int32_t id) const { return id != no_token && std::binary_search(eog_.begin(), eog_.end(), id); }

TokenType Tokenizer::token_type(int32_t id) const {
    check_id(id);
    return types_[static_cast<size_t>(id)];
}
bool Tokenizer::is_control(int32_t id) const {
    check_id(id);
    return vocab_->has_attr(id, tok::attr_control);
}
bool Tokenizer::is_byte(int32_t id) const {
    check_id(id);
    return vocab_->has_attr(id, tok::attr_byte);
}
bool Tokenizer::is_special(int32_t id) const {
    check_id(id);
    return vocab_->has_attr(id, tok::attr_control | tok::attr_unknown | tok::attr_user_defined);
}
const std::string& Tokenizer::token_text(int32_t id) const {
    check_id(id);
    return vocab_->text[static_cast<size_t>(id)];
}
uint32_t Tokenizer::token_attr(int32_t id) const {
    check_id(id);
    return vocab_->attr[static_cast<size_t>(id)];
}
float Tokenizer::token_score(int32_t id) const {
    check_id(id);
    return vocab_->score[static_cast<size_t>(id)];
}
int32_t Tokenizer::find_token(std::string_view text) const { return vocab_->find(text); }

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    if (text.size() > UINT32_MAX) fail(Status::invalid_argument, "text of %zu bytes is too long to tokenize", text.size());
    std::vector<tok::Fragment> frags;
    tok::partition_special(*vocab_, specials_, text, parse_special, frags);

    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    switch (kind_) {
        case TokenizerKind::spm: {
            if (add_special && add_bos_) out.push_back(bos_);
            bool prev_special = true;  // the first text piece gets the space prefix too
            std::string piece;
            for (const tok::Fragment& fr : frags) {
                if (fr.token != tok::k_no_token) {
                    out.push_back(fr.token);
                    prev_special = true;
                    continue;
                }
                piece.clear();
                if (add_space_prefix_ && prev_special) piece.push_back(' ');
                piece.append(text.substr(fr.offset, fr.length));
                replace_all(piece, " ", "\xE2\x96\x81");
                spm_->encode(piece, out);
                prev_special = false;
            }
            if (add_special && add_eos_) out.push_back(eos_);
            break;
        }
        case TokenizerKind::bpe: {
            if (add_special && add_bos_) out.push_back(bos_);
            for (const tok::Fragment& fr : frags) {
                if (fr.token != tok::k_no_token) out.push_back(fr.token);
                else bpe_->encode(text.substr(fr.offset, fr.length), out);
            }
            if (add_special && add_eos_) out.push_back(eos_);
            break;
        }
        case TokenizerKind::wordpiece: {
            if (add_special && bos_ != no_token) out.push_back(bos_);
            const tok::WordPieceOptions opt{lowercase_, strip_accents_, unk_};
            for (const tok::Fragment& fr : frags) {
                if (fr.token != tok::k_no_token) out.push_back(fr.token);
                else tok::wordpiece_encode(*vocab_, text.substr(fr.offset, fr.length), opt, out);
            }
            if (add_special && sep_ != no_token) out.push_back(sep_);
            break;
        }
    }
    return out;
}

std::string Tokenizer::token_to_piece(int32_t id, bool skip_special) const {
    check_id(id);
    if (skip_special && vocab_->has_attr(id, tok::attr_control | tok::attr_unknown)) return {};
    return pieces_[static_cast<size_t>(id)];
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special, bool clean_spaces) const {
    for (int32_t id : ids) check_id(id);
    size_t first = 0, last = ids.size();
    bool remove_space = add_space_prefix_;
    if (skip_special && add_bos_ && last > first && ids[first] == bos_) {
        ++first;
        remove_space = false;
    }
    if (skip_special && add_eos_ && last > first && ids[last - 1] == eos_) --last;

    std::string out;
    for (size_t i = first; i < last; ++i) {
        const std::string& piece = pieces_[static_cast<size_t>(ids[i])];
        const bool hidden = skip_special && vocab_->has_attr(ids[i], tok::attr_control | tok::attr_unknown);
        if (!hidden) out.append(piece, remove_space && !piece.empty() && piece[0] == ' ' ? 1 : 0, std::string::npos);
        remove_space = false;
    }
    if (clean_spaces) clean_up_spaces(out);
    return out;
}

}  // namespace llamas
