/*
 * simple.c: the smallest complete llamas program. Loads a model, generates a continuation of a
 * prompt greedily, prints it as it streams.
 *
 *   cc simple.c -o simple $(pkg-config --cflags --libs llamas)
 *   ./simple model.gguf "And God said"
 */
#include <stdio.h>

#include "llamas.h"

static int print_piece(const char* piece, size_t length, int32_t token, void* user_data) {
    (void)token;
    (void)user_data;
    fwrite(piece, 1, length, stdout);
    fflush(stdout);
    return 0; /* 0: keep going */
}

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT\n", argv[0]);
        return 2;
    }
    llamas_model* model = NULL;
    llamas_context* ctx = NULL;
    llamas_sampler* sampler = NULL;
    llamas_sampler_options sopt;
    llamas_sampler_options_init(&sopt);
    sopt.temperature = 0; /* greedy */

    int ok = llamas_model_load(argv[1], NULL, &model) == LLAMAS_OK &&
             llamas_context_create(model, NULL, &ctx) == LLAMAS_OK &&
             llamas_sampler_create(model, &sopt, &sampler) == LLAMAS_OK;
    if (ok) {
        llamas_generate_options gopt;
        llamas_generate_options_init(&gopt);
        gopt.max_tokens = 48;
        printf("%s", argv[2]);
        ok = llamas_generate(ctx, sampler, argv[2], &gopt, print_piece, NULL, NULL) == LLAMAS_OK;
        printf("\n");
    }
    if (!ok) fprintf(stderr, "error: %s\n", llamas_last_error());
    llamas_sampler_free(sampler);
    llamas_context_free(ctx);
    llamas_model_free(model);
    return ok ? 0 : 1;
}
