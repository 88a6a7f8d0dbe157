/* C API embeddings: llamas_embed on the bert and gemma-embedding test models against the
 * reference embeddings (cosine >= 0.999), batch vs one text at a time, Matryoshka truncation,
 * normalisation, pooling overrides, and every error path. Plain C99. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

#define MAX_TEXTS 16
#define MAX_DIM 1024

static char g_prompts[MAX_TEXTS][512];
static const char* g_texts[MAX_TEXTS];
static int g_n_prompts = 0;

static void read_prompts(void) {
    char path[1024];
    data_path(path, sizeof path, "reference/embed_prompts.txt");
    FILE* f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return;
    char line[512];
    while (g_n_prompts < MAX_TEXTS && fgets(line, sizeof line, f)) {
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
        if (!n) continue;
        strcpy(g_prompts[g_n_prompts], line); /* these prompts use no \n or \t escapes */
        g_texts[g_n_prompts] = g_prompts[g_n_prompts];
        ++g_n_prompts;
    }
    fclose(f);
}

/* The `embedding` arrays of reference/outputs/STEM.jsonl, one row of n floats per line. */
static int read_reference(const char* stem, float* out, int n, int max_rows) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "reference/outputs/%s.jsonl", stem);
    data_path(path, sizeof path, rel);
    FILE* f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return 0;
    static char line[1 << 16];
    int rows = 0;
    while (rows < max_rows && fgets(line, sizeof line, f)) {
        char* p = strstr(line, "\"embedding\":[");
        if (!p) continue;
        p += strlen("\"embedding\":[");
        for (int i = 0; i < n; ++i) {
            out[rows * n + i] = strtof(p, &p);
            if (*p == ',') ++p;
        }
        ++rows;
    }
    fclose(f);
    return rows;
}

static double dot(const float* a, const float* b, int n) {
    double s = 0;
    for (int i = 0; i < n; ++i) s += (double)a[i] * b[i];
    return s;
}
static double cosine(const float* a, const float* b, int n) { return dot(a, b, n) / sqrt(dot(a, a, n) * dot(b, b, n)); }

static void test_model(const char* stem) {
    char rel[256], path[1024];
    snprintf(rel, sizeof rel, "models/%s.gguf", stem);
    data_path(path, sizeof path, rel);
    llamas_model* m = NULL;
    CHECK_OK(llamas_model_load(path, NULL, &m));
    if (!m) return;
    const int n = llamas_model_n_embd_out(m);
    CHECK(n == 256);
    static float ref[MAX_TEXTS * MAX_DIM], out[MAX_TEXTS * MAX_DIM], one[MAX_DIM];
    const int rows = read_reference(stem, ref, n, MAX_TEXTS);
    CHECK(rows == g_n_prompts && rows >= 5);

    llamas_context_options co;
    llamas_context_options_init(&co);
    co.n_threads = 2;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &co, &c));
    if (!c) {
        llamas_model_free(m);
        return;
    }

    /* Defaults: the model's pooling, normalised. */
    llamas_embed_options eo;
    llamas_embed_options_init(&eo);
    CHECK_OK(llamas_embed(c, g_texts, (size_t)rows, &eo, out, sizeof out / sizeof out[0]));
    for (int i = 0; i < rows; ++i) {
        CHECK(fabs(sqrt(dot(out + i * n, out + i * n, n)) - 1.0) < 1e-4);
        CHECK(cosine(out + i * n, ref + i * n, n) >= 0.999);
    }
    /* One text at a time equals the batch. */
    for (int i = 0; i < rows; ++i) {
        CHECK_OK(llamas_embed(c, g_texts + i, 1, &eo, one, MAX_DIM));
        CHECK(cosine(one, out + i * n, n) >= 0.9999);
    }
    /* Not normalised: the reference's vector itself. */
    eo.normalize = 0;
    CHECK_OK(llamas_embed(c, g_texts, (size_t)rows, &eo, out, sizeof out / sizeof out[0]));
    for (int i = 0; i < rows; ++i) {
        const double ours = sqrt(dot(out + i * n, out + i * n, n)), theirs = sqrt(dot(ref + i * n, ref + i * n, n));
        CHECK(fabs(ours - theirs) <= 0.01 * theirs);
    }
    /* Matryoshka: the first 64 values, renormalised. */
    eo.normalize = 1;
    eo.dims = 64;
    CHECK_OK(llamas_embed(c, g_texts, (size_t)rows, &eo, out, (size_t)rows * 64));
    for (int i = 0; i < rows; ++i) {
        CHECK(fabs(sqrt(dot(out + i * 64, out + i * 64, 64)) - 1.0) < 1e-4);
        CHECK(cosine(out + i * 64, ref + i * n, 64) >= 0.999);
    }
    CHECK_FAILS(llamas_embed(c, g_texts, (size_t)rows, &eo, out, (size_t)rows * 64 - 1), LLAMAS_ERR_BUFFER_TOO_SMALL);
    eo.dims = n + 1;
    CHECK_FAILS(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM * 2), LLAMAS_ERR_INVALID_ARGUMENT);
    eo.dims = -1;
    CHECK_FAILS(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM), LLAMAS_ERR_INVALID_ARGUMENT);
    eo.dims = 0;

    /* Pooling overrides. */
    eo.pooling = LLAMAS_POOLING_NONE;
    CHECK_FAILS(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM), LLAMAS_ERR_INVALID_ARGUMENT);
    eo.pooling = 42;
    CHECK_FAILS(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM), LLAMAS_ERR_INVALID_ARGUMENT);
    eo.pooling = LLAMAS_POOLING_CLS;
    CHECK_OK(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM));
    eo.pooling = LLAMAS_POOLING_LAST;
    CHECK_OK(llamas_embed(c, g_texts, 1, &eo, out + n, MAX_DIM));
    eo.pooling = LLAMAS_POOLING_MEAN;
    CHECK_OK(llamas_embed(c, g_texts, 1, &eo, out + 2 * n, MAX_DIM));
    CHECK(cosine(out, out + n, n) < 0.9999);
    CHECK(cosine(out + 2 * n, ref, n) >= 0.999); /* both models pool by mean */
    eo.pooling = LLAMAS_POOLING_MODEL;

    /* Errors and edge cases. */
    CHECK_OK(llamas_embed(c, g_texts, 0, &eo, NULL, 0));
    CHECK_FAILS(llamas_embed(c, g_texts, 1, &eo, out, 10), LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK_FAILS(llamas_embed(c, NULL, 1, &eo, out, MAX_DIM), LLAMAS_ERR_INVALID_ARGUMENT);
    const char* with_null[2] = {"fine", NULL};
    CHECK_FAILS(llamas_embed(c, with_null, 2, &eo, out, MAX_DIM), LLAMAS_ERR_INVALID_ARGUMENT);
    const int32_t tok = 5;
    CHECK_FAILS(llamas_decode(c, &tok, 1), LLAMAS_ERR_UNSUPPORTED);
    llamas_context_cancel(c); /* no call in flight: nothing to cancel, nothing left over */
    CHECK_OK(llamas_embed(c, g_texts, 1, &eo, out, MAX_DIM));
    llamas_context_free(c);

    /* A text longer than the context. */
    co.n_ctx = 8;
    CHECK_OK(llamas_context_create(m, &co, &c));
    if (c) {
        const char* long_text[1] = {"one two three four five six seven eight nine ten eleven twelve"};
        CHECK_FAILS(llamas_embed(c, long_text, 1, &eo, out, MAX_DIM), LLAMAS_ERR_CONTEXT_FULL);
        const char* short_text[1] = {"hi"};
        CHECK_OK(llamas_embed(c, short_text, 1, &eo, out, MAX_DIM));
        llamas_context_free(c);
    }
    llamas_model_free(m);
}

int main(void) {
    read_prompts();
    test_model("bert-F16");
    test_model("bert-Q8_0");
    test_model("gemma-embedding-F16");
    test_model("gemma-embedding-Q8_0");
    return finish("test_embed");
}
