/* Model metadata (typed access, enumeration), sizes, the description and load progress
 * (since 0.2), on the real tiny KJV model and the synthetic llama models. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

static char g_kjv[4096];

static uint64_t file_bytes(const char* path) {
    FILE* f = fopen(path, "rb");
    long n;
    if (!f) return 0;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n > 0 ? (uint64_t)n : 0;
}

static void test_enumeration(const llamas_model* m) {
    const int32_t n = llamas_model_meta_count(m);
    int32_t i, type = -1, elem = -1, found_arch = 0;
    uint64_t count = 0;
    CHECK(n > 10);
    CHECK(llamas_model_meta_key(m, n) == NULL);
    CHECK(llamas_model_meta_key(m, -1) == NULL);
    CHECK(llamas_model_meta_key(NULL, 0) == NULL);
    CHECK(llamas_model_meta_count(NULL) == 0);
    for (i = 0; i < n; ++i) {
        const char* key = llamas_model_meta_key(m, i);
        CHECK(key != NULL);
        if (!key) continue;
        CHECK_OK(llamas_model_meta_info(m, key, &type, &elem, &count));
        CHECK(type >= LLAMAS_META_U8 && type <= LLAMAS_META_F64 && count >= 1);
        if (type != LLAMAS_META_ARRAY) CHECK(elem == type && count == 1);
        if (strcmp(key, "general.architecture") == 0) found_arch = 1;
    }
    CHECK(found_arch);
    CHECK_OK(llamas_model_meta_info(m, "general.architecture", NULL, NULL, NULL)); /* outputs optional */
    CHECK_FAILS(llamas_model_meta_info(m, "no.such.key", &type, &elem, &count), LLAMAS_ERR_NOT_FOUND);
    CHECK_FAILS(llamas_model_meta_info(NULL, "general.name", &type, &elem, &count), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_info(m, NULL, &type, &elem, &count), LLAMAS_ERR_INVALID_ARGUMENT);
}

static void test_typed(const llamas_model* m) {
    const int32_t n_vocab = llamas_model_n_vocab(m);
    int32_t type = -1, elem = -1;
    uint64_t count = 0;
    int64_t iv = -1;
    double fv = -1;
    char buf[256];
    size_t len = 0;

    /* Scalars. */
    CHECK_OK(llamas_model_meta_int(m, "llama.block_count", 0, &iv));
    CHECK(iv == 4);
    CHECK_OK(llamas_model_meta_float(m, "llama.block_count", 0, &fv)); /* integers convert */
    CHECK(fv == 4.0);
    CHECK_OK(llamas_model_meta_float(m, "llama.rope.freq_base", 0, &fv));
    CHECK(fv > 1.0);
    CHECK_FAILS(llamas_model_meta_int(m, "llama.rope.freq_base", 0, &iv), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_int(m, "llama.block_count", 1, &iv), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_string(m, "llama.block_count", 0, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_OK(llamas_model_meta_string(m, "general.name", 0, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "kjv-tiny") == 0 && len == 8);
    CHECK_FAILS(llamas_model_meta_string(m, "general.name", 0, buf, 4, &len), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(len == 8 && strcmp(buf, "kjv") == 0);
    CHECK_FAILS(llamas_model_meta_int(m, "general.name", 0, &iv), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_float(m, "general.name", 0, &fv), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_int(m, "no.such.key", 0, &iv), LLAMAS_ERR_NOT_FOUND);
    CHECK_FAILS(llamas_model_meta_float(m, "no.such.key", 0, &fv), LLAMAS_ERR_NOT_FOUND);
    CHECK_FAILS(llamas_model_meta_string(m, "no.such.key", 0, buf, sizeof buf, &len), LLAMAS_ERR_NOT_FOUND);
    CHECK_FAILS(llamas_model_meta(m, "no.such.key", buf, sizeof buf, &len), LLAMAS_ERR_NOT_FOUND);
    CHECK_FAILS(llamas_model_meta_int(m, "llama.block_count", 0, NULL), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Arrays: every element by index, agreeing with the vocabulary calls. */
    CHECK_OK(llamas_model_meta_info(m, "tokenizer.ggml.tokens", &type, &elem, &count));
    CHECK(type == LLAMAS_META_ARRAY && elem == LLAMAS_META_STRING && count == (uint64_t)n_vocab);
    CHECK_OK(llamas_model_meta_string(m, "tokenizer.ggml.tokens", (uint64_t)n_vocab - 1, buf, sizeof buf, &len));
    CHECK(strcmp(buf, llamas_token_text(m, n_vocab - 1)) == 0 && len == strlen(buf));
    CHECK_OK(llamas_model_meta_string(m, "tokenizer.ggml.tokens", 1, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "<s>") == 0);
    CHECK_FAILS(llamas_model_meta_string(m, "tokenizer.ggml.tokens", (uint64_t)n_vocab, buf, sizeof buf, &len),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_model_meta_int(m, "tokenizer.ggml.tokens", 0, &iv), LLAMAS_ERR_INVALID_ARGUMENT);
    if (llamas_model_meta_info(m, "tokenizer.ggml.scores", &type, &elem, &count) == LLAMAS_OK) {
        int32_t t;
        CHECK(elem == LLAMAS_META_F32 && count == (uint64_t)n_vocab);
        for (t = 0; t < n_vocab; t += 97) {
            CHECK_OK(llamas_model_meta_float(m, "tokenizer.ggml.scores", (uint64_t)t, &fv));
            CHECK((float)fv == llamas_token_score(m, t));
        }
    }
    CHECK_OK(llamas_model_meta_info(m, "tokenizer.ggml.token_type", &type, &elem, &count));
    CHECK(elem == LLAMAS_META_I32 && count == (uint64_t)n_vocab);
    CHECK_OK(llamas_model_meta_int(m, "tokenizer.ggml.token_type", 1, &iv));
    CHECK(iv == 3); /* <s> is a control token */
    CHECK_OK(llamas_model_meta_int(m, "tokenizer.ggml.token_type", (uint64_t)n_vocab - 1, &iv));
    CHECK(iv >= 1 && iv <= 6);
    CHECK_OK(llamas_model_meta_info(m, "tokenizer.ggml.add_bos_token", &type, NULL, NULL));
    CHECK(type == LLAMAS_META_BOOL);
    CHECK_OK(llamas_model_meta_int(m, "tokenizer.ggml.add_bos_token", 0, &iv)); /* booleans read as 0 / 1 */
    CHECK(iv == 1);
    CHECK_OK(llamas_model_meta_int(m, "tokenizer.ggml.add_eos_token", 0, &iv));
    CHECK(iv == 0);
    CHECK_OK(llamas_model_meta_int(m, "tokenizer.ggml.bos_token_id", 0, &iv));
    CHECK(iv == llamas_model_bos(m));
}

static void test_sizes(const llamas_model* m, const char* path) {
    char buf[128];
    size_t len = 0;
    const uint64_t n_params = llamas_model_n_params(m);
    /* README: a 3.7M-parameter network. */
    CHECK(n_params > 3650000 && n_params < 3750000);
    CHECK(llamas_model_file_size(m) == file_bytes(path));
    CHECK(llamas_model_tensor_bytes(m) > n_params && llamas_model_tensor_bytes(m) < llamas_model_file_size(m));
    CHECK(llamas_model_n_params(NULL) == 0 && llamas_model_tensor_bytes(NULL) == 0 && llamas_model_file_size(NULL) == 0);
    CHECK_OK(llamas_model_description(m, buf, sizeof buf, &len));
    CHECK(strcmp(buf, "llama 3.7M Q8_0") == 0 && len == strlen(buf));
    CHECK_FAILS(llamas_model_description(m, buf, 5, &len), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK(len == strlen("llama 3.7M Q8_0"));
    CHECK_FAILS(llamas_model_description(NULL, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
}

/* The file type part of the description, as the reference names general.file_type. */
static void test_description_types(void) {
    static const struct {
        const char* file;
        const char* ftype;
    } cases[] = {{"models/llama-Q4_K_M.gguf", " Q4_K - Medium"}, {"models/llama-F16.gguf", " F16"},
                 {"models/llama-Q3_K_M.gguf", " Q3_K - Medium"}, {"models/llama-IQ4_NL.gguf", " IQ4_NL - 4.5 bpw"},
                 {"models/llama-Q2_K.gguf", " Q2_K - Medium"},   {"models/llama-F32.gguf", " all F32"}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        char path[4096], buf[128];
        llamas_model* m = NULL;
        size_t n, k;
        data_path(path, sizeof path, cases[i].file);
        CHECK_OK(llamas_model_load(path, NULL, &m));
        if (!m) continue;
        CHECK_OK(llamas_model_description(m, buf, sizeof buf, NULL));
        n = strlen(buf);
        k = strlen(cases[i].ftype);
        CHECK(strncmp(buf, "llama ", 6) == 0 && n > k && strcmp(buf + n - k, cases[i].ftype) == 0);
        if (!(n > k && strcmp(buf + n - k, cases[i].ftype) == 0)) fprintf(stderr, "  description: '%s'\n", buf);
        llamas_model_free(m);
    }
}

/* ---- load progress ---- */

typedef struct {
    float values[4096];
    int n;
    int cancel_at; /* call index that returns non-zero; -1: never */
    int wrong_thread;
    pthread_t loader;
} progress_log;

static int on_progress(float p, void* user) {
    progress_log* log = (progress_log*)user;
    if (!pthread_equal(pthread_self(), log->loader)) log->wrong_thread = 1;
    if (log->n < 4096) log->values[log->n] = p;
    return log->n++ == log->cancel_at;
}

static llamas_status load_with_progress(progress_log* log, int cancel_at, int n_threads, llamas_model** m) {
    llamas_model_options o;
    llamas_model_options_init(&o);
    o.n_threads = n_threads;
    o.progress = on_progress;
    o.progress_user_data = log;
    memset(log, 0, sizeof *log);
    log->cancel_at = cancel_at;
    log->loader = pthread_self();
    return llamas_model_load(g_kjv, &o, m);
}

static void test_progress(void) {
    static progress_log log;
    llamas_model* m = NULL;
    int i, n_full, threads;
    for (threads = 1; threads <= 3; threads += 2) {
        CHECK_OK(load_with_progress(&log, -1, threads, &m));
        CHECK(m != NULL);
        llamas_model_free(m);
        m = NULL;
        n_full = log.n;
        CHECK(n_full >= 3);
        CHECK(log.values[0] == 0.0f && log.values[n_full - 1] == 1.0f);
        for (i = 1; i < n_full; ++i) CHECK(log.values[i] >= log.values[i - 1] && log.values[i] <= 1.0f);
        CHECK(!log.wrong_thread);

        /* Cancelling at the first, a middle and the last report fails the load, stopping the reports. */
        m = (llamas_model*)0x1;
        CHECK_FAILS(load_with_progress(&log, 0, threads, &m), LLAMAS_ERR_CANCELLED);
        CHECK(m == (llamas_model*)0x1 && log.n == 1);
        if (threads == 1) { /* one thread: the same reports every time */
            CHECK_FAILS(load_with_progress(&log, n_full / 2, threads, &m), LLAMAS_ERR_CANCELLED);
            CHECK(m == (llamas_model*)0x1 && log.n == n_full / 2 + 1);
            CHECK_FAILS(load_with_progress(&log, n_full - 1, threads, &m), LLAMAS_ERR_CANCELLED);
            CHECK(m == (llamas_model*)0x1 && log.n == n_full);
        } else { /* how many matrices the loading thread packs itself varies */
            CHECK_FAILS(load_with_progress(&log, 1, threads, &m), LLAMAS_ERR_CANCELLED);
            CHECK(m == (llamas_model*)0x1 && log.n == 2);
        }
        m = NULL;
    }
}

/* *_options_init_size writes exactly size bytes, whichever side is newer. */
static void test_options_init_size(void) {
    union { /* aligned as the struct */
        llamas_model_options o;
        unsigned char bytes[sizeof(llamas_model_options) + 32];
    } u;
    unsigned char* buf = u.bytes;
    llamas_model_options o;
    llamas_model* m = NULL;
    size_t i, size;
    int ok = 1;
    memset(buf, 0xA5, sizeof u.bytes);
    llamas_model_options_init_size(&u.o, 16); /* an 0.1 caller */
    for (i = 16; i < sizeof u.bytes; ++i) ok &= buf[i] == 0xA5;
    memcpy(&size, buf, sizeof size);
    CHECK(ok && size == 16);
    memset(buf, 0xA5, sizeof u.bytes);
    llamas_model_options_init_size(&u.o, sizeof u.bytes - 8); /* a newer caller */
    for (i = sizeof(llamas_model_options); i < sizeof u.bytes - 8; ++i) ok &= buf[i] == 0;
    for (i = sizeof u.bytes - 8; i < sizeof u.bytes; ++i) ok &= buf[i] == 0xA5;
    memcpy(&size, buf, sizeof size);
    CHECK(ok && size == sizeof u.bytes - 8);
    CHECK_OK(llamas_model_load(g_kjv, &u.o, &m)); /* zeros beyond: accepted */
    llamas_model_free(m);
    llamas_model_options_init(&o); /* the macro: this header's size, this version's defaults */
    CHECK(o.struct_size == sizeof o && o.use_mmap == 1 && o.progress == NULL);
    llamas_model_options_init_size(NULL, sizeof o); /* NULL: nothing */
}

int main(void) {
    llamas_model* m = NULL;
    data_path(g_kjv, sizeof g_kjv, "models/kjv-tiny-Q8_0.gguf");
    CHECK_OK(llamas_model_load(g_kjv, NULL, &m));
    if (!m) return finish("c-model_info");
    test_enumeration(m);
    test_typed(m);
    test_sizes(m, g_kjv);
    llamas_model_free(m);
    test_description_types();
    test_progress();
    test_options_init_size();
    return finish("c-model_info");
}
