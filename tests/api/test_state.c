/* Saved state: save -> free -> load -> the same logits and the same next 32 greedy tokens, for a
 * whole context and for one sequence, through a buffer and a file; every truncation, flipped
 * bytes, another model's state and bad arguments are refused and leave the context as it was. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

#define N_GREEDY 32

static int32_t argmax(const float* l, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (l[i] > l[best]) best = i;
    return best;
}

static llamas_context* make_context(llamas_model* m, int32_t n_seq) {
    llamas_context_options o;
    llamas_context_options_init(&o);
    o.n_ctx = 128;
    o.n_threads = 2;
    o.n_seq_max = n_seq;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &o, &c));
    return c;
}

/* Greedy tokens of sequence seq after what it holds, starting from row -1 of the last batch. */
static void greedy(llamas_context* c, int32_t seq, int32_t n_vocab, int32_t* out) {
    for (int i = 0; i < N_GREEDY; ++i) {
        const float* l = llamas_logits_ith(c, -1);
        CHECK(l != NULL);
        if (!l) return;
        out[i] = argmax(l, n_vocab);
        CHECK_OK(llamas_decode_batch(c, &out[i], NULL, &seq, NULL, 1));
    }
}

static void test_whole(llamas_model* m, llamas_model* other) {
    const int32_t n_vocab = llamas_model_n_vocab(m);
    const char* prompt = "And God said";
    int32_t ids[64];
    size_t n_ids = 0;
    CHECK_OK(llamas_tokenize(m, prompt, strlen(prompt), LLAMAS_TOKENIZE_ADD_SPECIAL, ids, 64, &n_ids));
    llamas_context* c = make_context(m, 1);
    CHECK_OK(llamas_decode(c, ids, n_ids));

    size_t size = 0;
    CHECK_OK(llamas_state_size(c, -1, &size));
    CHECK(size > 0);
    uint8_t* saved = malloc(size);
    size_t written = 0;
    CHECK_FAILS(llamas_state_save(c, -1, saved, size - 1, &written), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(written == size);
    CHECK_OK(llamas_state_save(c, -1, saved, size, &written));
    CHECK(written == size);
    float* logits_before = malloc(sizeof(float) * (size_t)n_vocab);
    memcpy(logits_before, llamas_logits(c), sizeof(float) * (size_t)n_vocab);
    int32_t expected[N_GREEDY];
    greedy(c, 0, n_vocab, expected);
    llamas_context_free(c);

    /* A fresh context restored from the buffer: identical logits, identical continuation. */
    c = make_context(m, 1);
    CHECK_OK(llamas_state_load(c, -1, saved, size));
    CHECK(llamas_context_n_past(c) == (int32_t)n_ids);
    CHECK(llamas_logits(c) && memcmp(llamas_logits(c), logits_before, sizeof(float) * (size_t)n_vocab) == 0);
    int32_t got[N_GREEDY];
    greedy(c, 0, n_vocab, got);
    CHECK(memcmp(got, expected, sizeof got) == 0);

    /* Truncations (a sample: the whole state carries the logits), flipped bytes, another model:
     * refused, and the context is left as it was. */
    const int32_t past = llamas_context_n_past(c);
    for (size_t cut = 0; cut < size; cut += (cut < 512 ? 1 : 997))
        CHECK_FAILS(llamas_state_load(c, -1, saved, cut), LLAMAS_ERR_BAD_FORMAT);
    for (size_t at = 0; at < size; at += (at < 256 ? 1 : 509)) {
        saved[at] ^= 0x10;
        CHECK_FAILS(llamas_state_load(c, -1, saved, size), LLAMAS_ERR_BAD_FORMAT);
        saved[at] ^= 0x10;
    }
    CHECK(llamas_context_n_past(c) == past);
    if (other) {
        llamas_context* oc = make_context(other, 1);
        CHECK_FAILS(llamas_state_load(oc, -1, saved, size), LLAMAS_ERR_BAD_FORMAT);
        llamas_context_free(oc);
    }
    CHECK_FAILS(llamas_state_load(c, 0, saved, size), LLAMAS_ERR_BAD_FORMAT); /* whole state as one sequence */
    CHECK_FAILS(llamas_state_load(NULL, -1, saved, size), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_state_load(c, -1, NULL, 10), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_state_size(c, 3, &size), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Through a file. */
    char path[256];
    snprintf(path, sizeof path, "/tmp/llamas-state-%d.bin", (int)(uintptr_t)&size);
    CHECK_OK(llamas_state_save_file(c, -1, path));
    llamas_context* c2 = make_context(m, 1);
    CHECK_OK(llamas_state_load_file(c2, -1, path));
    CHECK(memcmp(llamas_logits(c2), llamas_logits(c), sizeof(float) * (size_t)n_vocab) == 0);
    int32_t a[N_GREEDY], b[N_GREEDY];
    greedy(c, 0, n_vocab, a);
    greedy(c2, 0, n_vocab, b);
    CHECK(memcmp(a, b, sizeof a) == 0);
    remove(path);
    CHECK_FAILS(llamas_state_load_file(c2, -1, path), LLAMAS_ERR_IO);
    CHECK_FAILS(llamas_state_save_file(c2, -1, "/nonexistent-dir/state.bin"), LLAMAS_ERR_IO);
    llamas_context_free(c2);
    llamas_context_free(c);
    free(logits_before);
    free(saved);
}

static void test_one_sequence(llamas_model* m) {
    const int32_t n_vocab = llamas_model_n_vocab(m);
    int32_t ids[64];
    size_t n_ids = 0;
    const char* prompt = "In the beginning";
    CHECK_OK(llamas_tokenize(m, prompt, strlen(prompt), LLAMAS_TOKENIZE_ADD_SPECIAL, ids, 64, &n_ids));
    llamas_context* c = make_context(m, 2);
    int32_t zero = 0;
    int32_t seq0[64];
    for (size_t i = 0; i < n_ids; ++i) seq0[i] = 0;
    CHECK_OK(llamas_decode_batch(c, ids, NULL, seq0, NULL, n_ids));
    size_t size = 0;
    CHECK_OK(llamas_state_size(c, 0, &size));
    uint8_t* saved = malloc(size);
    CHECK_OK(llamas_state_save(c, 0, saved, size, NULL));
    int32_t expected[N_GREEDY];
    greedy(c, zero, n_vocab, expected);

    /* Into sequence 1 of another context: the same continuation from there. */
    llamas_context* d = make_context(m, 2);
    CHECK_OK(llamas_state_load(d, 1, saved, size));
    CHECK(llamas_seq_pos_max(d, 1) == (int32_t)n_ids - 1);
    CHECK(llamas_seq_pos_max(d, 0) == -1);
    CHECK(llamas_logits(d) == NULL); /* a sequence's state carries no logits: decode first */
    int32_t last = ids[n_ids - 1];
    int32_t one = 1;
    int32_t pos = (int32_t)n_ids - 1;
    CHECK_OK(llamas_decode_batch(d, &last, &pos, &one, NULL, 1)); /* recompute the last token's logits */
    int32_t got[N_GREEDY];
    greedy(d, one, n_vocab, got);
    CHECK(memcmp(got, expected, sizeof got) == 0);

    /* Every truncation and every flipped byte of this small state is refused. */
    for (size_t cut = 0; cut < size; ++cut) CHECK_FAILS(llamas_state_load(d, 0, saved, cut), LLAMAS_ERR_BAD_FORMAT);
    for (size_t at = 0; at < size; ++at) {
        saved[at] ^= 0x01;
        CHECK_FAILS(llamas_state_load(d, 0, saved, size), LLAMAS_ERR_BAD_FORMAT);
        saved[at] ^= 0x01;
    }
    CHECK(llamas_seq_pos_max(d, 0) == -1); /* untouched by every refusal */
    CHECK_FAILS(llamas_state_load(d, -1, saved, size), LLAMAS_ERR_BAD_FORMAT); /* one sequence as a whole */
    CHECK_FAILS(llamas_state_load(d, 2, saved, size), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_context_free(d);
    llamas_context_free(c);
    free(saved);
}

int main(void) {
    char kjv[4096], other_path[4096];
    data_path(kjv, sizeof kjv, "models/kjv-tiny-Q8_0.gguf");
    data_path(other_path, sizeof other_path, "models/kjv-tiny-Q4_K_M.gguf");
    llamas_model* m = NULL;
    llamas_model* other = NULL;
    if (llamas_model_load(kjv, NULL, &m) != LLAMAS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", kjv, llamas_last_error());
        return 1;
    }
    if (llamas_model_load(other_path, NULL, &other) != LLAMAS_OK) other = NULL;
    CHECK(other != NULL);
    test_whole(m, other);
    test_one_sequence(m);
    llamas_model_free(other);
    llamas_model_free(m);
    return finish("test_state");
}
