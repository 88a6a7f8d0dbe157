/* Every call of include/llamas.h and its error paths, from plain C. Uses the real tiny
 * King-James model (llama architecture) from the reference data. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

static char g_kjv[4096];

static int g_log_lines = 0;
static void on_log(int level, const char* message, void* user) {
    (void)level;
    (void)message;
    (void)user;
    ++g_log_lines;
}

static void test_version_and_status(void) {
    char expect[32];
    snprintf(expect, sizeof expect, "%d.%d.%d", LLAMAS_VERSION_MAJOR, LLAMAS_VERSION_MINOR, LLAMAS_VERSION_PATCH);
    CHECK(strcmp(llamas_version(), expect) == 0);
    CHECK(llamas_version_number() == LLAMAS_VERSION_NUMBER);
    for (int s = 0; s <= LLAMAS_ERR_NOT_FOUND; ++s) {
        const char* text = llamas_status_string((llamas_status)s);
        CHECK(text && text[0]);
        for (int t = 0; t < s; ++t) CHECK(strcmp(text, llamas_status_string((llamas_status)t)) != 0);
    }
    CHECK(llamas_status_string((llamas_status)1234) != NULL);
}

static void test_null_arguments(void) {
    llamas_model* m = (llamas_model*)0x1;
    llamas_context* c = NULL;
    llamas_sampler* s = NULL;
    int32_t tok = 0;
    size_t n = 0;
    char buf[8];
    CHECK_FAILS(llamas_model_load(NULL, NULL, &m), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(m == (llamas_model*)0x1); /* untouched on failure */
    CHECK_FAILS(llamas_model_load(g_kjv, NULL, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_context_create(NULL, NULL, &c), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_create(NULL, NULL, &s), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_tokenize(NULL, "a", 1, 0, &tok, 1, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_detokenize(NULL, &tok, 1, 0, buf, sizeof buf, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_decode(NULL, &tok, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_kv_clear(NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_kv_remove(NULL, 0, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_kv_keep_shift(NULL, 0, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sample(NULL, NULL, &tok), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_set_logit_bias(NULL, 0, 1.0f), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_generate(NULL, NULL, "x", NULL, NULL, NULL, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta(NULL, "k", buf, sizeof buf, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_template(NULL, NULL, NULL, 0, 1, buf, sizeof buf, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_chatml(NULL, 1, 1, buf, sizeof buf, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_embed(NULL, NULL, 0, NULL, NULL, 0), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_set_cpu_path(NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(llamas_model_architecture(NULL) == NULL);
    CHECK(llamas_model_n_vocab(NULL) == 0 && llamas_model_n_embd(NULL) == 0 && llamas_model_n_ctx_train(NULL) == 0);
    CHECK(llamas_model_bos(NULL) == -1 && llamas_model_eos(NULL) == -1 && llamas_model_is_eog(NULL, 0) == 0);
    CHECK(llamas_model_chat_template(NULL) == NULL && llamas_model_n_embd_out(NULL) == 0);
    CHECK(llamas_context_n_ctx(NULL) == 0 && llamas_context_n_past(NULL) == 0 && llamas_logits(NULL) == NULL);
    llamas_model_free(NULL);
    llamas_context_free(NULL);
    llamas_sampler_free(NULL);
    llamas_sampler_reset(NULL);
    llamas_context_cancel(NULL);
    llamas_model_options_init(NULL);
    llamas_context_options_init(NULL);
    llamas_sampler_options_init(NULL);
    llamas_generate_options_init(NULL);
    llamas_embed_options_init(NULL);
}

static void test_bad_files(void) {
    llamas_model* m = NULL;
    CHECK_FAILS(llamas_model_load("/nonexistent/dir/model.gguf", NULL, &m), LLAMAS_ERR_IO);
    CHECK(strstr(llamas_last_error(), "/nonexistent/dir/model.gguf") != NULL);
    CHECK(m == NULL);

    /* A truncated copy of a real model. */
    const char* cut = "/tmp/llamas_test_truncated.gguf";
    FILE* in = fopen(g_kjv, "rb");
    FILE* out = fopen(cut, "wb");
    CHECK(in && out);
    if (in && out) {
        char buf[4096];
        size_t n = fread(buf, 1, sizeof buf, in);
        fwrite(buf, 1, n, out);
    }
    if (in) fclose(in);
    if (out) fclose(out);
    CHECK_FAILS(llamas_model_load(cut, NULL, &m), LLAMAS_ERR_BAD_FORMAT);
    remove(cut);

    /* Not a GGUF file at all. */
    const char* junk = "/tmp/llamas_test_junk.gguf";
    out = fopen(junk, "wb");
    if (out) {
        fputs("this is not a model", out);
        fclose(out);
    }
    CHECK_FAILS(llamas_model_load(junk, NULL, &m), LLAMAS_ERR_BAD_FORMAT);
    CHECK(strstr(llamas_last_error(), "magic") != NULL);
    remove(junk);

    /* A valid GGUF file whose architecture is not a model llamas runs (a vocabulary-only file). */
    char vocab[4096];
    data_path(vocab, sizeof vocab, "vocab/ggml-vocab-gpt-2.gguf");
    CHECK_FAILS(llamas_model_load(vocab, NULL, &m), LLAMAS_ERR_UNSUPPORTED);
    CHECK(strstr(llamas_last_error(), "gpt2") != NULL);
}

static void test_model_queries(llamas_model* m) {
    char buf[256];
    size_t len = 0;
    CHECK(strcmp(llamas_model_architecture(m), "llama") == 0);
    CHECK(llamas_model_n_vocab(m) == 2048);
    CHECK(llamas_model_n_embd(m) == 256);
    CHECK(llamas_model_n_ctx_train(m) == 2048);
    CHECK(llamas_model_bos(m) == 1 && llamas_model_eos(m) == 2);
    CHECK(llamas_model_is_eog(m, 2) && !llamas_model_is_eog(m, 100) && !llamas_model_is_eog(m, -5) &&
          !llamas_model_is_eog(m, 1 << 30));
    CHECK(llamas_model_chat_template(m) == NULL);
    CHECK_OK(llamas_model_meta(m, "general.name", buf, sizeof buf, &len));
    CHECK(strcmp(buf, "kjv-tiny") == 0 && len == 8);
    CHECK_OK(llamas_model_meta(m, "llama.block_count", buf, sizeof buf, NULL));
    CHECK(strcmp(buf, "4") == 0);
    CHECK_OK(llamas_model_meta(m, "llama.rope.freq_base", buf, sizeof buf, NULL));
    CHECK(atof(buf) == 10000.0);
    CHECK_OK(llamas_model_meta(m, "tokenizer.ggml.tokens", buf, sizeof buf, NULL));
    CHECK(strstr(buf, "<unk>") != NULL && strstr(buf, "2048 items") != NULL);
    CHECK_FAILS(llamas_model_meta(m, "general.name", buf, 4, &len), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8 && strcmp(buf, "kjv") == 0); /* truncated, NUL-terminated, full length reported */
    CHECK_FAILS(llamas_model_meta(m, "no.such.key", buf, sizeof buf, &len), LLAMAS_ERR_NOT_FOUND);
    CHECK(strstr(llamas_last_error(), "no.such.key") != NULL);
}

static void test_tokens(llamas_model* m) {
    const char* text = "And God said, Let there be light";
    int32_t ids[64];
    size_t n = 0, need = 0, len = 0;
    char back[256];
    CHECK_OK(llamas_tokenize(m, text, strlen(text), LLAMAS_TOKENIZE_ADD_SPECIAL, ids, 64, &n));
    CHECK(n > 3 && ids[0] == llamas_model_bos(m));
    CHECK_FAILS(llamas_tokenize(m, text, strlen(text), LLAMAS_TOKENIZE_ADD_SPECIAL, ids, 2, &need),
                LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(need == n);
    /* Like the reference: dropping BOS keeps the space SentencePiece put before the first word;
     * without BOS the decoder removes it again. */
    CHECK_OK(llamas_detokenize(m, ids, n, LLAMAS_DETOKENIZE_SKIP_SPECIAL, back, sizeof back, &len));
    CHECK(len == strlen(text) + 1 && back[0] == ' ' && strcmp(back + 1, text) == 0);
    CHECK_OK(llamas_detokenize(m, ids + 1, n - 1, 0, back, sizeof back, &len));
    CHECK(len == strlen(text) && strcmp(back, text) == 0);
    CHECK_FAILS(llamas_detokenize(m, ids, n, LLAMAS_DETOKENIZE_SKIP_SPECIAL, back, 4, &len),
                LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(len == strlen(text) + 1);
    int32_t bad[2] = {5, 99999};
    CHECK_FAILS(llamas_detokenize(m, bad, 2, 0, back, sizeof back, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    int32_t neg[1] = {-1};
    CHECK_FAILS(llamas_detokenize(m, neg, 1, 0, back, sizeof back, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    /* Invalid UTF-8 is tokenized (byte fallback) or refused with a message; never a crash. */
    const char invalid[] = {'a', (char)0xff, (char)0xc3, 'b', (char)0x80, 0};
    llamas_status s = llamas_tokenize(m, invalid, 5, 0, ids, 64, &n);
    CHECK(s == LLAMAS_OK || (s == LLAMAS_ERR_INVALID_ARGUMENT && llamas_last_error()[0]));
    CHECK_OK(llamas_tokenize(m, "", 0, 0, ids, 64, &n));
    CHECK(n == 0);
}

static int argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_context_and_decode(llamas_model* m) {
    llamas_context* c = NULL;
    llamas_context_options o;
    llamas_context_options_init(&o);
    CHECK(o.struct_size == sizeof o && o.n_batch == 512);
    o.n_ctx = 64;
    o.n_threads = 2;
    o.kv_type = 7;
    CHECK_FAILS(llamas_context_create(m, &o, &c), LLAMAS_ERR_INVALID_ARGUMENT);
    o.kv_type = LLAMAS_KV_F32;
    o.n_batch = -1;
    CHECK_FAILS(llamas_context_create(m, &o, &c), LLAMAS_ERR_INVALID_ARGUMENT);
    o.n_batch = 16;
    CHECK_OK(llamas_context_create(m, &o, &c));
    if (!c) return;
    CHECK(llamas_context_n_ctx(c) == 64 && llamas_context_n_past(c) == 0);
    CHECK(llamas_logits(c) == NULL);

    int32_t ids[80];
    for (int i = 0; i < 80; ++i) ids[i] = 100 + i;
    ids[0] = 1;
    /* Out-of-range ids and overflow are errors that change nothing. */
    int32_t bad[3] = {1, 2048, 5};
    CHECK_FAILS(llamas_decode(c, bad, 3), LLAMAS_ERR_INVALID_ARGUMENT);
    bad[1] = -3;
    CHECK_FAILS(llamas_decode(c, bad, 3), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(llamas_context_n_past(c) == 0);
    CHECK_FAILS(llamas_decode(c, ids, 65), LLAMAS_ERR_CONTEXT_FULL);
    CHECK(llamas_context_n_past(c) == 0);

    /* 40 tokens in passes of n_batch 16, then the rest one at a time. */
    CHECK_OK(llamas_decode(c, ids, 40));
    CHECK(llamas_context_n_past(c) == 40 && llamas_logits(c) != NULL);
    CHECK_OK(llamas_decode(c, ids + 40, 24));
    CHECK(llamas_context_n_past(c) == 64);
    CHECK_FAILS(llamas_decode(c, ids, 1), LLAMAS_ERR_CONTEXT_FULL);

    /* Sampling: greedy picks the argmax; a -inf bias bans it. */
    llamas_sampler* s = NULL;
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 0;
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    int32_t tok = -1;
    const int best = argmax(llamas_logits(c), llamas_model_n_vocab(m));
    CHECK_OK(llamas_sample(s, c, &tok));
    CHECK(tok == best);
    CHECK_OK(llamas_sampler_set_logit_bias(s, best, -INFINITY));
    CHECK_OK(llamas_sample(s, c, &tok));
    CHECK(tok != best);
    CHECK_FAILS(llamas_sampler_set_logit_bias(s, 5000, 1.0f), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_sampler_reset(s);

    /* KV edits (the re-rotation of shifted keys is checked exactly in tests/unit/test_kv_shift.cpp). */
    CHECK_FAILS(llamas_kv_keep_shift(c, 60, 10), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_OK(llamas_kv_clear(c));
    CHECK(llamas_context_n_past(c) == 0 && llamas_logits(c) == NULL);
    CHECK_FAILS(llamas_sample(s, c, &tok), LLAMAS_ERR_INVALID_ARGUMENT); /* no logits */
    CHECK_OK(llamas_decode(c, ids, 20));
    CHECK_OK(llamas_kv_keep_shift(c, 1, 5)); /* keeps BOS, drops ids[1..6) */
    CHECK(llamas_context_n_past(c) == 15);
    CHECK_OK(llamas_kv_remove(c, 3, 5));
    CHECK(llamas_context_n_past(c) == 13);
    CHECK_OK(llamas_decode(c, ids + 20, 1));
    CHECK(llamas_context_n_past(c) == 14 && llamas_logits(c) != NULL);
    CHECK_OK(llamas_kv_remove(c, 5, -1)); /* truncate */
    CHECK(llamas_context_n_past(c) == 5);
    CHECK_FAILS(llamas_kv_remove(c, 4, 2), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

/* An option struct from an "older header" that ended after n_batch must work: the fields it
 * lacks take their defaults. (Fields are only ever appended beyond the old sizeof.) */
typedef struct {
    size_t struct_size;
    int32_t n_ctx;
    int32_t n_batch;
} old_context_options;

static void test_old_option_struct(llamas_model* m) {
    old_context_options old = {sizeof(old_context_options), 32, 8};
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, (const llamas_context_options*)&old, &c));
    CHECK(llamas_context_n_ctx(c) == 32);
    llamas_context_free(c);
}

typedef struct {
    int pieces;
    int stop_after;
    llamas_context* cancel_ctx;
    char text[4096];
    size_t len;
} gen_state;

static int on_piece(const char* piece, size_t length, int32_t token, void* user) {
    gen_state* g = (gen_state*)user;
    (void)token;
    if (g->len + length < sizeof g->text) {
        memcpy(g->text + g->len, piece, length);
        g->len += length;
        g->text[g->len] = 0;
    }
    ++g->pieces;
    if (g->cancel_ctx && g->pieces == g->stop_after) llamas_context_cancel(g->cancel_ctx);
    return !g->cancel_ctx && g->pieces == g->stop_after;
}

static void test_generate(llamas_model* m) {
    llamas_context* c = NULL;
    llamas_sampler* s = NULL;
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 0;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = 48;

    /* Greedy continuation: readable KJV text, deterministic. */
    gen_state g1 = {0};
    int32_t n = 0;
    CHECK_OK(llamas_generate(c, s, "And God said", &go, on_piece, &g1, &n));
    CHECK(n == 48 && g1.pieces >= 48);
    CHECK(strstr(g1.text, "unto") != NULL || strstr(g1.text, "LORD") != NULL);

    CHECK_OK(llamas_kv_clear(c));
    llamas_sampler_reset(s);
    gen_state g2 = {0};
    CHECK_OK(llamas_generate(c, s, "And God said", &go, on_piece, &g2, &n));
    CHECK(strcmp(g1.text, g2.text) == 0);

    /* The callback stops generation: OK, and the count says how far it got. */
    CHECK_OK(llamas_kv_clear(c));
    gen_state g3 = {0};
    g3.stop_after = 5;
    CHECK_OK(llamas_generate(c, s, "In the beginning", &go, on_piece, &g3, &n));
    CHECK(n == 5 && g3.pieces == 5);

    /* Cancel (here from the callback; any thread may call it): CANCELLED, then usable again. */
    gen_state g4 = {0};
    g4.stop_after = 3;
    g4.cancel_ctx = c;
    CHECK_FAILS(llamas_generate(c, s, " And", &go, on_piece, &g4, &n), LLAMAS_ERR_CANCELLED);
    CHECK(n == 3);
    gen_state g5 = {0};
    go.max_tokens = 4;
    CHECK_OK(llamas_generate(c, s, " And", &go, on_piece, &g5, &n));
    CHECK(n == 4);

    /* A context that fills up: CONTEXT_FULL, not a crash. */
    llamas_context* small = NULL;
    llamas_context_options o;
    llamas_context_options_init(&o);
    o.n_ctx = 16;
    CHECK_OK(llamas_context_create(m, &o, &small));
    go.max_tokens = 100;
    gen_state g6 = {0};
    CHECK_FAILS(llamas_generate(small, s, "And God said", &go, on_piece, &g6, &n), LLAMAS_ERR_CONTEXT_FULL);
    CHECK(llamas_context_n_past(small) == 16);
    char long_prompt[2000];
    memset(long_prompt, 0, sizeof long_prompt);
    for (int i = 0; i < 60; ++i) strcat(long_prompt, "And God said ");
    CHECK_FAILS(llamas_generate(small, s, long_prompt, &go, on_piece, &g6, &n), LLAMAS_ERR_CONTEXT_FULL);
    llamas_context_free(small);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

static void test_chat(llamas_model* m) {
    llamas_chat_message msgs[3] = {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}};
    char buf[512];
    size_t len = 0;
    CHECK_FAILS(llamas_chat_apply_template(m, NULL, msgs, 3, 1, buf, sizeof buf, &len), LLAMAS_ERR_UNSUPPORTED);
    CHECK_OK(llamas_chat_apply_chatml(msgs, 2, 1, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n") == 0);
    CHECK(len == strlen(buf));
    const char* tmpl =
        "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
    CHECK_OK(llamas_chat_apply_template(m, tmpl, msgs, 3, 1, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "[system] Be brief.\n[user] Hi\n[assistant] Hello\n[assistant]") == 0);
    CHECK_FAILS(llamas_chat_apply_template(m, "{% for %}", msgs, 3, 1, buf, sizeof buf, &len), LLAMAS_ERR_BAD_FORMAT);
    llamas_chat_message bad[1] = {{"user", NULL}};
    CHECK_FAILS(llamas_chat_apply_chatml(bad, 1, 1, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_chatml(msgs, 2, 1, buf, 8, &len), LLAMAS_ERR_BUFFER_TOO_SMALL);
}

static void test_cpu_path(void) {
    char best[32];
    snprintf(best, sizeof best, "%s", llamas_cpu_path());
    CHECK_FAILS(llamas_set_cpu_path("quantum"), LLAMAS_ERR_UNSUPPORTED);
    CHECK_OK(llamas_set_cpu_path("scalar"));
    CHECK(strcmp(llamas_cpu_path(), "scalar") == 0);
    CHECK_OK(llamas_set_cpu_path(best));
    CHECK(strcmp(llamas_cpu_path(), best) == 0);
}

static void test_embed_on_decoder(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    const char* texts[1] = {"hello"};
    float out[256];
    llamas_embed_options eo;
    llamas_embed_options_init(&eo);
    CHECK(eo.normalize == 1 && eo.pooling == LLAMAS_POOLING_MODEL);
    CHECK_FAILS(llamas_embed(c, texts, 1, &eo, out, 256), LLAMAS_ERR_UNSUPPORTED);
    llamas_context_free(c);
}

/* The threads that repack the weights at load don't change the model: one thread and more
 * threads than cores (clamped) give bit-identical logits. */
static void test_load_threads(const llamas_model_options* base) {
    const int32_t prompt[4] = {1, 42, 7, 99};
    float* first = NULL;
    int32_t n_vocab = 0;
    const int threads[3] = {1, 2, 1000};
    for (int i = 0; i < 3; ++i) {
        llamas_model_options mo = *base;
        mo.n_threads = threads[i];
        llamas_model* m = NULL;
        llamas_context* c = NULL;
        CHECK_OK(llamas_model_load(g_kjv, &mo, &m));
        if (!m) return;
        CHECK_OK(llamas_context_create(m, NULL, &c));
        if (c && llamas_decode(c, prompt, 4) == LLAMAS_OK) {
            const float* lg = llamas_logits(c);
            n_vocab = llamas_model_n_vocab(m);
            if (!first) {
                first = (float*)malloc(sizeof(float) * (size_t)n_vocab);
                memcpy(first, lg, sizeof(float) * (size_t)n_vocab);
            } else {
                CHECK(memcmp(first, lg, sizeof(float) * (size_t)n_vocab) == 0);
            }
        } else {
            CHECK(0);
        }
        llamas_context_free(c);
        llamas_model_free(m);
    }
    free(first);
}

int main(void) {
    data_path(g_kjv, sizeof g_kjv, "models/kjv-tiny-Q8_0.gguf");
    llamas_set_log_callback(on_log, NULL);
    test_version_and_status();
    test_null_arguments();
    test_bad_files();
    llamas_model* m = NULL;
    llamas_model_options mo;
    llamas_model_options_init(&mo);
    CHECK(mo.use_mmap == 1);
    CHECK(mo.n_threads == 0);
    test_load_threads(&mo);
    mo.use_mmap = 0; /* read into memory: the other path */
    CHECK_OK(llamas_model_load(g_kjv, &mo, &m));
    llamas_model_free(m);
    CHECK_OK(llamas_model_load(g_kjv, NULL, &m));
    if (!m) return finish("api");
    CHECK(g_log_lines > 0);
    llamas_set_log_callback(NULL, NULL);
    test_model_queries(m);
    test_tokens(m);
    test_context_and_decode(m);
    test_old_option_struct(m);
    test_generate(m);
    test_chat(m);
    test_cpu_path();
    test_embed_on_decoder(m);
    llamas_model_free(m);
    return finish("api");
}
