/* One model, four contexts generating at once on four threads: every thread must produce the
 * same greedy text a single context produces alone. Run under ThreadSanitizer in CI. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "check.h"
#include "llamas.h"

#define N_THREADS 4
#define N_TOKENS 24

typedef struct {
    llamas_model* model;
    const char* prompt;
    char text[2048];
    size_t len;
    llamas_status status;
} job;

static int collect(const char* piece, size_t length, int32_t token, void* user) {
    job* j = (job*)user;
    (void)token;
    if (j->len + length < sizeof j->text) {
        memcpy(j->text + j->len, piece, length);
        j->len += length;
        j->text[j->len] = 0;
    }
    return 0;
}

static void* run(void* arg) {
    job* j = (job*)arg;
    llamas_context* c = NULL;
    llamas_sampler* s = NULL;
    llamas_context_options co;
    llamas_context_options_init(&co);
    co.n_ctx = 128;
    co.n_threads = 1;
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 0;
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = N_TOKENS;
    j->status = llamas_context_create(j->model, &co, &c);
    if (j->status == LLAMAS_OK) j->status = llamas_sampler_create(j->model, &so, &s);
    /* Tokenizing and querying the shared model from many threads is allowed too. */
    int32_t ids[32];
    size_t n = 0;
    if (j->status == LLAMAS_OK) j->status = llamas_tokenize(j->model, j->prompt, strlen(j->prompt), 1, ids, 32, &n);
    if (j->status == LLAMAS_OK) j->status = llamas_generate(c, s, j->prompt, &go, collect, j, NULL);
    llamas_sampler_free(s);
    llamas_context_free(c);
    return NULL;
}

int main(void) {
    char path[4096];
    data_path(path, sizeof path, "models/kjv-tiny-Q8_0.gguf");
    llamas_model* model = NULL;
    CHECK_OK(llamas_model_load(path, NULL, &model));
    if (!model) return finish("threads");
    const char* prompts[2] = {"And God said", "In the beginning"};

    job alone[2];
    for (int i = 0; i < 2; ++i) {
        memset(&alone[i], 0, sizeof alone[i]);
        alone[i].model = model;
        alone[i].prompt = prompts[i];
        run(&alone[i]);
        CHECK(alone[i].status == LLAMAS_OK && alone[i].len > 0);
    }

    job jobs[N_THREADS];
    pthread_t threads[N_THREADS];
    for (int i = 0; i < N_THREADS; ++i) {
        memset(&jobs[i], 0, sizeof jobs[i]);
        jobs[i].model = model;
        jobs[i].prompt = prompts[i % 2];
        CHECK(pthread_create(&threads[i], NULL, run, &jobs[i]) == 0);
    }
    for (int i = 0; i < N_THREADS; ++i) pthread_join(threads[i], NULL);
    for (int i = 0; i < N_THREADS; ++i) {
        CHECK(jobs[i].status == LLAMAS_OK);
        CHECK(strcmp(jobs[i].text, alone[i % 2].text) == 0);
    }
    llamas_model_free(model);
    return finish("threads");
}
