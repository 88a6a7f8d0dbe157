/* Many sequences through the C API: an interleaved batch against one context per prompt, the
 * logits rows by batch index, sequence edits and their errors. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

static llamas_context* make(llamas_model* m, int32_t n_seq) {
    llamas_context_options o;
    llamas_context_options_init(&o);
    o.n_ctx = 64;
    o.n_threads = 2;
    o.n_seq_max = n_seq;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &o, &c));
    return c;
}

static int same(const float* a, const float* b, int32_t n) { return a && b && memcmp(a, b, sizeof(float) * (size_t)n) == 0; }

int main(void) {
    char path[4096];
    data_path(path, sizeof path, "models/kjv-tiny-Q8_0.gguf");
    llamas_model* m = NULL;
    if (llamas_model_load(path, NULL, &m) != LLAMAS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, llamas_last_error());
        return 1;
    }
    const int32_t n_vocab = llamas_model_n_vocab(m);
    const char* texts[3] = {"And God said", "In the beginning was the Word", "Blessed are"};
    int32_t ids[3][32];
    size_t n[3];
    for (int s = 0; s < 3; ++s)
        CHECK_OK(llamas_tokenize(m, texts[s], strlen(texts[s]), LLAMAS_TOKENIZE_ADD_SPECIAL, ids[s], 32, &n[s]));

    /* Each prompt alone, in a one-sequence context: the last token's logits. */
    float alone[3][4096];
    CHECK(n_vocab <= 4096);
    for (int s = 0; s < 3; ++s) {
        llamas_context* c = make(m, 1);
        CHECK_OK(llamas_decode(c, ids[s], n[s]));
        memcpy(alone[s], llamas_logits(c), sizeof(float) * (size_t)n_vocab);
        CHECK(llamas_logits_ith(c, -1) == llamas_logits(c));
        CHECK(llamas_logits_ith(c, 0) == NULL || n[s] == 1); /* decode keeps only the last row */
        llamas_context_free(c);
    }

    /* All three interleaved in one batch; every token keeps logits, rows by batch index. */
    llamas_context* c = make(m, 3);
    CHECK(llamas_context_n_seq_max(c) == 3);
    int32_t tok[96], seq[96], last_index[3] = {-1, -1, -1};
    int8_t want[96];
    size_t k = 0;
    for (size_t i = 0; i < 32; ++i)
        for (int s = 0; s < 3; ++s)
            if (i < n[s]) {
                tok[k] = ids[s][i];
                seq[k] = s;
                want[k] = 1;
                last_index[s] = (int32_t)k++;
            }
    CHECK_OK(llamas_decode_batch(c, tok, NULL, seq, want, k));
    for (int s = 0; s < 3; ++s) {
        CHECK(same(llamas_logits_ith(c, last_index[s]), alone[s], n_vocab));
        CHECK(llamas_seq_pos_min(c, s) == 0);
        CHECK(llamas_seq_pos_max(c, s) == (int32_t)n[s] - 1);
    }
    CHECK(llamas_logits(c) == llamas_logits_ith(c, (int32_t)k - 1));
    CHECK(llamas_logits_ith(c, -1) == llamas_logits_ith(c, (int32_t)k - 1));
    CHECK(llamas_logits_ith(c, (int32_t)k) == NULL);
    CHECK(llamas_context_n_past(c) == (int32_t)n[0]);

    /* Default logits flags: the last token of each sequence only. */
    CHECK_OK(llamas_kv_clear(c));
    CHECK(llamas_seq_pos_max(c, 1) == -1);
    CHECK_OK(llamas_decode_batch(c, tok, NULL, seq, NULL, k));
    for (int s = 0; s < 3; ++s) CHECK(same(llamas_logits_ith(c, last_index[s]), alone[s], n_vocab));
    CHECK(llamas_logits_ith(c, 0) == NULL);

    /* Copy sequence 0 into 1, then both continue with the same token: the same logits. */
    CHECK_OK(llamas_seq_copy(c, 0, 1, -1));
    CHECK(llamas_logits(c) == NULL); /* an edit invalidates the rows */
    int32_t two_tok[2] = {ids[1][1], ids[1][1]}, two_seq[2] = {0, 1};
    CHECK_OK(llamas_decode_batch(c, two_tok, NULL, two_seq, NULL, 2));
    CHECK(same(llamas_logits_ith(c, 0), llamas_logits_ith(c, 1), n_vocab));
    CHECK_OK(llamas_seq_keep(c, 1));
    CHECK(llamas_seq_pos_max(c, 0) == -1 && llamas_seq_pos_max(c, 2) == -1);
    CHECK(llamas_seq_pos_max(c, 1) == (int32_t)n[0]);
    CHECK_OK(llamas_seq_remove(c, 1, 1, 3, 1));
    CHECK(llamas_seq_pos_max(c, 1) == (int32_t)n[0] - 2);
    CHECK_OK(llamas_seq_shift(c, 1, 0, -1, 5));
    CHECK(llamas_seq_pos_min(c, 1) == 5);
    CHECK_OK(llamas_seq_remove(c, -1, 0, -1, 0));
    CHECK(llamas_seq_pos_max(c, 1) == -1);

    /* Errors. */
    int32_t bad_seq = 3, pos_back[2] = {4, 2}, one_seq[2] = {0, 0};
    CHECK_FAILS(llamas_decode_batch(c, tok, NULL, &bad_seq, NULL, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_decode_batch(c, tok, pos_back, one_seq, NULL, 2), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_decode_batch(c, NULL, NULL, NULL, NULL, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_decode_batch(c, tok, NULL, NULL, NULL, 0), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_decode_batch(NULL, tok, NULL, NULL, NULL, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    int32_t many[70];
    for (int i = 0; i < 70; ++i) many[i] = ids[0][i % (int)n[0]];
    CHECK_FAILS(llamas_decode_batch(c, many, NULL, NULL, NULL, 70), LLAMAS_ERR_CONTEXT_FULL);
    CHECK_FAILS(llamas_seq_copy(c, 0, 3, -1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_seq_keep(c, -1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_seq_remove(c, 0, 5, 2, 0), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_seq_shift(NULL, 0, 0, -1, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(llamas_seq_pos_max(c, 9) == -1 && llamas_seq_pos_min(NULL, 0) == -1);
    CHECK(llamas_logits_ith(NULL, 0) == NULL);

    llamas_context_free(c);
    llamas_model_free(m);
    return finish("test_batch");
}
