/* A program built against the 0.1 header (llamas-0.1.h, the previous release, and only that),
 * linked to this library: what an existing 0.1 user runs after upgrading the shared library.
 *
 * It fills option structs both ways a 0.1 program could have: by hand, as an 0.1 library's
 * _init would have left them (struct_size = the 0.1 sizeof, the 0.1 defaults), and through the
 * exported 0.1 _init functions, which must write no byte past the 0.1 struct (the 0.2 structs
 * are larger). Then it loads the real tiny KJV model, decodes, samples greedily, generates with
 * a callback, reads metadata and round-trips text, checking the reference outputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "llamas-0.1.h"

#if LLAMAS_VERSION_MINOR != 1
#error "this test must see the 0.1 header"
#endif

#define GUARD_BYTES 64
#define GUARD 0xA5

/* A 0.1 struct followed by bytes an overflowing _init would overwrite. */
#define GUARDED(T) struct { T s; unsigned char tail[GUARD_BYTES]; }

static int tail_intact(const unsigned char* tail) {
    for (int i = 0; i < GUARD_BYTES; ++i)
        if (tail[i] != GUARD) return 0;
    return 1;
}

/* The 0.1 _init functions write exactly the 0.1 struct, with the 0.1 field values. */
static void test_init_functions(void) {
    GUARDED(llamas_model_options) mo;
    GUARDED(llamas_context_options) co;
    GUARDED(llamas_sampler_options) so;
    GUARDED(llamas_generate_options) go;
    GUARDED(llamas_embed_options) eo;
    memset(&mo, GUARD, sizeof mo);
    memset(&co, GUARD, sizeof co);
    memset(&so, GUARD, sizeof so);
    memset(&go, GUARD, sizeof go);
    memset(&eo, GUARD, sizeof eo);
    llamas_model_options_init(&mo.s);
    llamas_context_options_init(&co.s);
    llamas_sampler_options_init(&so.s);
    llamas_generate_options_init(&go.s);
    llamas_embed_options_init(&eo.s);
    CHECK(tail_intact(mo.tail) && tail_intact(co.tail) && tail_intact(so.tail) && tail_intact(go.tail) &&
          tail_intact(eo.tail));
    CHECK(mo.s.struct_size == sizeof mo.s && mo.s.use_mmap == 1 && mo.s.n_threads == 0);
    CHECK(co.s.struct_size == sizeof co.s && co.s.n_ctx == 0 && co.s.n_batch == 512 && co.s.kv_type == LLAMAS_KV_F16);
    CHECK(so.s.struct_size == sizeof so.s && so.s.top_k == 40 && so.s.temperature > 0.79f && so.s.temperature < 0.81f);
    CHECK(go.s.struct_size == sizeof go.s && go.s.max_tokens == 256 && go.s.skip_special == 1 &&
          go.s.parse_special == 0); /* 0.1's default */
    CHECK(eo.s.struct_size == sizeof eo.s && eo.s.pooling == LLAMAS_POOLING_MODEL && eo.s.normalize == 1);
}

/* The first prompt of the KJV reference and its greedy continuation. */
static int g_prompt_tokens[64], g_n_prompt = 0;
static int g_greedy[64], g_n_greedy = 0;

static int parse_ints(const char* line, const char* key, int* out, int cap) {
    const char* p = strstr(line, key);
    int n = 0;
    if (!p) return 0;
    p += strlen(key);
    while (*p && *p != ']' && n < cap) {
        char* end;
        long v = strtol(p, &end, 10);
        if (end == p) break;
        out[n++] = (int)v;
        p = end;
        while (*p == ',' || *p == ' ') ++p;
    }
    return n;
}

static int read_reference(void) {
    char path[4096];
    static char line[1 << 16];
    FILE* f;
    data_path(path, sizeof path, "reference/outputs/kjv-tiny-Q8_0.jsonl");
    f = fopen(path, "r");
    if (!f) return 0;
    if (!fgets(line, sizeof line, f)) line[0] = '\0';
    fclose(f);
    if (!strstr(line, "\"prompt\":\"In the beginning\"")) return 0;
    g_n_prompt = parse_ints(line, "\"tokens\":[", g_prompt_tokens, 64);
    g_n_greedy = parse_ints(line, "\"greedy\":[", g_greedy, 64);
    return g_n_prompt > 0 && g_n_greedy >= 24;
}

typedef struct {
    int32_t tokens[256];
    int n;
} collected;

static int on_piece(const char* piece, size_t length, int32_t token, void* user) {
    collected* c = (collected*)user;
    (void)piece;
    (void)length;
    if (c->n < 256) c->tokens[c->n++] = token;
    return 0;
}

static void test_program(void) {
    char model_path[4096];
    llamas_model_options mo;
    llamas_context_options co;
    llamas_sampler_options so;
    llamas_generate_options go;
    llamas_model* m = NULL;
    llamas_context* c = NULL;
    llamas_sampler* s = NULL;
    int32_t tokens[64];
    size_t n = 0, len = 0;
    char text[512];
    collected got;
    int i, same;

    data_path(model_path, sizeof model_path, "models/kjv-tiny-Q8_0.gguf");
    CHECK(read_reference());

    /* By hand, as an 0.1 library's _init would have left them. */
    memset(&mo, 0, sizeof mo);
    mo.struct_size = sizeof mo;
    mo.use_mmap = 1;
    memset(&co, 0, sizeof co);
    co.struct_size = sizeof co;
    co.n_ctx = 256;
    co.n_batch = 512;
    co.kv_type = LLAMAS_KV_F16;
    memset(&so, 0, sizeof so);
    so.struct_size = sizeof so;
    so.temperature = 0.0f; /* greedy */
    so.top_k = 40;
    so.top_p = 0.95f;
    so.min_p = 0.05f;
    so.typical_p = 1.0f;
    so.repeat_penalty = 1.0f;
    so.penalty_last_n = 64;
    memset(&go, 0, sizeof go);
    go.struct_size = sizeof go;
    go.max_tokens = 24;
    go.parse_special = 0;
    go.skip_special = 1;

    CHECK_OK(llamas_model_load(model_path, &mo, &m));
    if (!m) return;
    CHECK(strcmp(llamas_model_architecture(m), "llama") == 0);
    CHECK(llamas_model_n_vocab(m) == 2048);
    CHECK_OK(llamas_model_meta(m, "general.architecture", text, sizeof text, &len));
    CHECK(strcmp(text, "llama") == 0 && len == 5);
    /* A missing key fails (0.2 reports a status this program does not know by name). */
    CHECK(llamas_model_meta(m, "no.such.key", text, sizeof text, &len) != LLAMAS_OK);

    /* Tokenize / detokenize. */
    CHECK_OK(llamas_tokenize(m, "In the beginning", 16, LLAMAS_TOKENIZE_ADD_SPECIAL, tokens, 64, &n));
    CHECK((int)n == g_n_prompt);
    for (i = 0; i < (int)n && i < g_n_prompt; ++i) CHECK(tokens[i] == g_prompt_tokens[i]);
    CHECK_OK(llamas_detokenize(m, tokens + 1, n - 1, 0, text, sizeof text, &len)); /* without BOS */
    CHECK(strcmp(text, "In the beginning") == 0 && len == 16);

    CHECK_OK(llamas_context_create(m, &co, &c));
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    if (!c || !s) goto done;
    CHECK(llamas_context_n_ctx(c) == 256);
    {   /* Structs from the 0.1 _init functions are accepted too. */
        llamas_context_options co2;
        llamas_context* c2 = NULL;
        llamas_context_options_init(&co2);
        co2.n_ctx = 64;
        CHECK_OK(llamas_context_create(m, &co2, &c2));
        CHECK(c2 && llamas_context_n_ctx(c2) == 64);
        llamas_context_free(c2);
    }

    /* Decode and sample greedily, one token at a time. */
    CHECK_OK(llamas_decode(c, tokens, n));
    same = 1;
    for (i = 0; i < 24; ++i) {
        int32_t t = -1;
        CHECK_OK(llamas_sample(s, c, &t));
        if (t != g_greedy[i]) same = 0;
        CHECK_OK(llamas_decode(c, &t, 1));
    }
    CHECK(same);
    CHECK(llamas_context_n_past(c) == (int32_t)n + 24);

    /* The same continuation through llamas_generate and its callback. */
    CHECK_OK(llamas_kv_clear(c));
    llamas_sampler_reset(s);
    got.n = 0;
    CHECK_OK(llamas_generate(c, s, "In the beginning", &go, on_piece, &got, NULL));
    CHECK(got.n == 24);
    for (i = 0; i < got.n && i < 24; ++i) CHECK(got.tokens[i] == g_greedy[i]);

done:
    llamas_sampler_free(s);
    llamas_context_free(c);
    llamas_model_free(m);
}

int main(void) {
    CHECK(llamas_version_number() >= LLAMAS_VERSION_NUMBER);
    test_init_functions();
    test_program();
    return finish("c-abi-0.1");
}
