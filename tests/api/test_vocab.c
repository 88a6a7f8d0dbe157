/* The vocabulary calls (since 0.2) on the three tokenizer kinds: SentencePiece (llama, kjv),
 * byte-level BPE (qwen2) and WordPiece (bert). Pieces must reproduce the detokenized text, byte
 * tokens give their byte, special ids match the GGUF keys. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

static const char* const k_texts[] = {
    "Hello world",
    " leading space and  two spaces",
    "And God said, Let there be light: and there was light.\nNew line\n\n\ttab",
    "caf\xC3\xA9 na\xC3\xAFve \xE2\x82\xAC 100 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E \xF0\x9F\x98\x80!",
    "numbers 12345 and punctuation?! (yes)",
};

/* SentencePiece's U+2581 as spaces. */
static void unescape_spaces(const char* text, char* out, size_t cap) {
    size_t n = 0;
    while (*text && n + 1 < cap) {
        if (strncmp(text, "\xE2\x96\x81", 3) == 0) {
            out[n++] = ' ';
            text += 3;
        } else {
            out[n++] = *text++;
        }
    }
    out[n] = '\0';
}

static void piece(const llamas_model* m, int32_t t, int flags, char* buf, size_t cap, size_t* len) {
    CHECK_OK(llamas_token_to_piece(m, t, flags, buf, cap, len));
}

/* The special token ids agree with the tokenizer.ggml.*_token_id keys where the file has them. */
static void check_special_keys(const llamas_model* m, int min_keys) {
    static const struct {
        int which;
        const char* key;
    } keys[] = {{LLAMAS_SPECIAL_BOS, "tokenizer.ggml.bos_token_id"},
                {LLAMAS_SPECIAL_EOS, "tokenizer.ggml.eos_token_id"},
                {LLAMAS_SPECIAL_EOT, "tokenizer.ggml.eot_token_id"},
                {LLAMAS_SPECIAL_SEP, "tokenizer.ggml.seperator_token_id"},
                {LLAMAS_SPECIAL_PAD, "tokenizer.ggml.padding_token_id"},
                {LLAMAS_SPECIAL_UNK, "tokenizer.ggml.unknown_token_id"},
                {LLAMAS_SPECIAL_MASK, "tokenizer.ggml.mask_token_id"},
                {LLAMAS_SPECIAL_FIM_PRE, "tokenizer.ggml.fim_pre_token_id"},
                {LLAMAS_SPECIAL_FIM_SUF, "tokenizer.ggml.fim_suf_token_id"},
                {LLAMAS_SPECIAL_FIM_MID, "tokenizer.ggml.fim_mid_token_id"}};
    size_t i;
    int n_found = 0;
    for (i = 0; i < sizeof keys / sizeof keys[0]; ++i) {
        int64_t id = -1;
        if (llamas_model_meta_int(m, keys[i].key, 0, &id) != LLAMAS_OK) continue;
        ++n_found;
        if (id >= 0 && id < llamas_model_n_vocab(m)) CHECK(llamas_model_special_token(m, keys[i].which) == (int32_t)id);
    }
    CHECK(n_found >= min_keys);
    CHECK(llamas_model_special_token(m, LLAMAS_SPECIAL_BOS) == llamas_model_bos(m));
    CHECK(llamas_model_special_token(m, LLAMAS_SPECIAL_EOS) == llamas_model_eos(m));
    CHECK(llamas_model_special_token(m, 11) == -1 && llamas_model_special_token(m, -1) == -1);
    CHECK(llamas_model_special_token(NULL, LLAMAS_SPECIAL_BOS) == -1);
}

/* Concatenated pieces = llamas_detokenize of the same tokens (first piece with LSTRIP where the
 * detokenizer drops the space SentencePiece added; specials rendered, as llamas_detokenize does
 * without LLAMAS_DETOKENIZE_SKIP_SPECIAL). */
static void check_round_trip(const llamas_model* m, int lstrip_first) {
    size_t k;
    for (k = 0; k < sizeof k_texts / sizeof k_texts[0]; ++k) {
        int32_t tokens[512];
        size_t n = 0, len = 0, i, at = 0;
        static char joined[4096], expect[4096];
        CHECK_OK(llamas_tokenize(m, k_texts[k], strlen(k_texts[k]), 0, tokens, 512, &n));
        for (i = 0; i < n; ++i) {
            const int flags = LLAMAS_PIECE_SPECIAL | (i == 0 && lstrip_first ? LLAMAS_PIECE_LSTRIP : 0);
            piece(m, tokens[i], flags, joined + at, sizeof joined - at, &len);
            at += len;
        }
        joined[at] = '\0';
        CHECK_OK(llamas_detokenize(m, tokens, n, 0, expect, sizeof expect, &len));
        CHECK(len == at && memcmp(joined, expect, at) == 0);
        if (len != at || memcmp(joined, expect, at) != 0) fprintf(stderr, "  pieces '%s'\n  detok  '%s'\n", joined, expect);
    }
}

/* Control tokens: "" without LLAMAS_PIECE_SPECIAL, their text with it. */
static void check_control(const llamas_model* m, int32_t t) {
    char buf[64];
    size_t len = 99;
    if (t < 0) return;
    CHECK(llamas_token_attr(m, t) & LLAMAS_TOKEN_ATTR_CONTROL);
    piece(m, t, 0, buf, sizeof buf, &len);
    CHECK(len == 0 && buf[0] == '\0');
    piece(m, t, LLAMAS_PIECE_SPECIAL, buf, sizeof buf, &len);
    CHECK(len == strlen(llamas_token_text(m, t)) && strcmp(buf, llamas_token_text(m, t)) == 0);
}

static void check_errors(const llamas_model* m) {
    const int32_t n_vocab = llamas_model_n_vocab(m);
    char buf[64];
    size_t len = 0;
    CHECK(llamas_token_text(m, n_vocab) == NULL && llamas_token_text(m, -1) == NULL && llamas_token_text(NULL, 0) == NULL);
    CHECK(llamas_token_text(m, n_vocab - 1) != NULL);
    CHECK(llamas_token_attr(m, n_vocab) == 0 && llamas_token_attr(m, -1) == 0);
    CHECK(llamas_token_score(m, n_vocab) == 0.0f);
    CHECK_FAILS(llamas_token_to_piece(m, n_vocab, 0, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_token_to_piece(m, -1, 0, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_token_to_piece(NULL, 0, 0, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
}

static llamas_model* load(const char* rel) {
    char path[4096];
    llamas_model* m = NULL;
    data_path(path, sizeof path, rel);
    CHECK_OK(llamas_model_load(path, NULL, &m));
    return m;
}

static void test_spm(const char* rel) {
    llamas_model* m = load(rel);
    int32_t t, n_bytes = 0, n_space = 0;
    char buf[64];
    size_t len = 0;
    int32_t nl[8];
    size_t n_nl = 0;
    if (!m) return;
    check_special_keys(m, 3);
    check_round_trip(m, 1);
    check_control(m, llamas_model_bos(m));
    check_control(m, llamas_model_eos(m));
    check_errors(m);
    for (t = 0; t < llamas_model_n_vocab(m); ++t) {
        const char* text = llamas_token_text(m, t);
        const uint32_t attr = llamas_token_attr(m, t);
        if (attr & LLAMAS_TOKEN_ATTR_BYTE) { /* <0xNN> -> that one byte */
            unsigned value = 0;
            ++n_bytes;
            CHECK(sscanf(text, "<0x%02X>", &value) == 1);
            piece(m, t, 0, buf, sizeof buf, &len);
            CHECK(len == 1 && (unsigned char)buf[0] == value);
        } else if ((attr & LLAMAS_TOKEN_ATTR_NORMAL) && strncmp(text, "\xE2\x96\x81", 3) == 0 && text[3]) {
            char expect[64];
            ++n_space; /* "▁word" -> " word" (every ▁ a space), and one space less with LSTRIP */
            unescape_spaces(text, expect, sizeof expect);
            piece(m, t, 0, buf, sizeof buf, &len);
            CHECK(len == strlen(expect) && strcmp(buf, expect) == 0);
            piece(m, t, LLAMAS_PIECE_LSTRIP, buf, sizeof buf, &len);
            CHECK(len == strlen(expect) - 1 && strcmp(buf, expect + 1) == 0);
        }
    }
    CHECK(n_bytes == 256 && n_space > 100);
    /* NL is the byte token of "\n", as the reference's linefeed id. */
    t = llamas_model_special_token(m, LLAMAS_SPECIAL_NL);
    CHECK(t >= 0 && strcmp(llamas_token_text(m, t), "<0x0A>") == 0);
    CHECK_OK(llamas_tokenize(m, "a\n", 2, 0, nl, 8, &n_nl));
    CHECK(n_nl >= 2 && nl[n_nl - 1] == t);
    /* The buffer rules: too small reports the length; exactly full is not NUL-terminated. */
    t = nl[0];
    piece(m, t, 0, buf, sizeof buf, &len);
    CHECK(len >= 2);
    CHECK_FAILS(llamas_token_to_piece(m, t, 0, buf, 1, &len), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(len >= 2);
    CHECK_OK(llamas_token_to_piece(m, t, 0, buf, len, &len));
    CHECK(llamas_token_score(m, t) != 0.0f);
    llamas_model_free(m);
}

static void test_bpe(void) {
    llamas_model* m = load("models/qwen2-Q8_0.gguf");
    int32_t t, n_space = 0, nl[8];
    size_t n_nl = 0, len = 0;
    char buf[64];
    if (!m) return;
    check_special_keys(m, 0);
    check_round_trip(m, 0);
    /* No special keys in this file: the reference's byte-level BPE defaults, BOS = EOS = 11. */
    CHECK(llamas_model_bos(m) == 11 && llamas_model_eos(m) == 11);
    CHECK(llamas_model_special_token(m, LLAMAS_SPECIAL_PAD) == -1);
    check_errors(m);
    for (t = 0; t < llamas_model_n_vocab(m); ++t) {
        const char* text = llamas_token_text(m, t);
        if (!(llamas_token_attr(m, t) & LLAMAS_TOKEN_ATTR_NORMAL)) continue;
        piece(m, t, 0, buf, sizeof buf, &len);
        if (strncmp(text, "\xC4\xA0", 2) == 0) { /* "Ġ" is the space byte */
            ++n_space;
            CHECK(buf[0] == ' ');
            piece(m, t, LLAMAS_PIECE_LSTRIP, buf, sizeof buf, &len);
            CHECK(strncmp(text, "\xC4\xA0\xC4\xA0", 4) == 0 || buf[0] != ' ');
        } else if (strcmp(text, "\xC4\x8A") == 0) { /* "Ċ" is "\n" */
            CHECK(len == 1 && buf[0] == '\n');
        }
    }
    CHECK(n_space > 100);
    /* NL: the first token of "\n". */
    CHECK_OK(llamas_tokenize(m, "\n", 1, 0, nl, 8, &n_nl));
    CHECK(n_nl >= 1 && llamas_model_special_token(m, LLAMAS_SPECIAL_NL) == nl[0]);
    /* FIM markers are found by their text when the keys are absent. */
    t = llamas_model_special_token(m, LLAMAS_SPECIAL_FIM_PRE);
    if (t >= 0) CHECK(strstr(llamas_token_text(m, t), "fim") || strstr(llamas_token_text(m, t), "PRE"));
    llamas_model_free(m);
}

static void test_wordpiece(void) {
    llamas_model* m = load("models/bert-Q8_0.gguf");
    char buf[64];
    size_t len = 0;
    int32_t t;
    if (!m) return;
    check_special_keys(m, 3);
    check_round_trip(m, 0);
    check_control(m, llamas_model_special_token(m, LLAMAS_SPECIAL_SEP));
    check_control(m, llamas_model_special_token(m, LLAMAS_SPECIAL_UNK));
    /* WordPiece defaults where the file has no key: [CLS] 101 as BOS, [MASK] 103. */
    CHECK(llamas_model_bos(m) == 101 && llamas_model_special_token(m, LLAMAS_SPECIAL_MASK) == 103);
    check_errors(m);
    CHECK(llamas_model_special_token(m, LLAMAS_SPECIAL_SEP) >= 0);
    /* NL: the reference uses PAD for WordPiece. */
    CHECK(llamas_model_special_token(m, LLAMAS_SPECIAL_NL) == llamas_model_special_token(m, LLAMAS_SPECIAL_PAD));
    /* A word-initial token "▁word" gives " word"; a continuation gives its text. */
    for (t = 0; t < llamas_model_n_vocab(m); ++t) {
        const char* text = llamas_token_text(m, t);
        if (!(llamas_token_attr(m, t) & LLAMAS_TOKEN_ATTR_NORMAL)) continue;
        piece(m, t, 0, buf, sizeof buf, &len);
        if (strncmp(text, "\xE2\x96\x81", 3) == 0) CHECK(buf[0] == ' ' && strcmp(buf + 1, text + 3) == 0);
        else CHECK(strcmp(buf, text) == 0);
    }
    llamas_model_free(m);
}

int main(void) {
    test_spm("models/kjv-tiny-Q8_0.gguf");
    test_spm("models/llama-Q8_0.gguf");
    test_bpe();
    test_wordpiece();
    return finish("c-vocab");
}
