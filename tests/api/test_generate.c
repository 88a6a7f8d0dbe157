/* Sampler choose / accept / filter, llamas_logprobs, and llamas_generate's 0.2 behaviour (EOG
 * in the cache, finish reasons, stop strings, token callback, cancel), on the tiny KJV model. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

static char g_kjv[4096];

static llamas_sampler* make_sampler(llamas_model* m, float temp, uint64_t seed, int penalties) {
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = temp;
    so.seed = seed;
    if (penalties) {
        so.repeat_penalty = 1.3f;
        so.frequency_penalty = 0.4f;
        so.presence_penalty = 0.6f;
        so.penalty_last_n = 32;
    }
    llamas_sampler* s = NULL;
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    return s;
}

static size_t tokenize(llamas_model* m, const char* text, int32_t* ids, size_t cap) {
    size_t n = 0;
    CHECK_OK(llamas_tokenize(m, text, strlen(text), LLAMAS_TOKENIZE_ADD_SPECIAL | LLAMAS_TOKENIZE_PARSE_SPECIAL, ids,
                             cap, &n));
    return n;
}

/* ---- choose / accept ------------------------------------------------------------------- */

static void test_choose_accept(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 0;
    so.presence_penalty = 100.0f; /* a recorded token cannot win again */
    llamas_sampler* s = NULL;
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    int32_t tok = -1, again = -1;
    CHECK_FAILS(llamas_sampler_choose(s, c, -1, &tok), LLAMAS_ERR_INVALID_ARGUMENT); /* no logits yet */
    CHECK_FAILS(llamas_sampler_choose(NULL, c, -1, &tok), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_accept(NULL, &tok, 1), LLAMAS_ERR_INVALID_ARGUMENT);

    int32_t ids[64];
    const size_t n = tokenize(m, "And God said", ids, 64);
    CHECK(n > 1);
    CHECK_OK(llamas_decode(c, ids, n));
    /* llamas_decode keeps only its last row: other rows are errors, not garbage. */
    CHECK_FAILS(llamas_sampler_choose(s, c, 0, &tok), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_choose(s, c, -2, &tok), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_choose(s, c, 1000, &tok), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Choosing records nothing: the same choice twice. */
    CHECK_OK(llamas_sampler_choose(s, c, -1, &tok));
    CHECK_OK(llamas_sampler_choose(s, c, -1, &again));
    CHECK(tok == again && tok >= 0);
    /* Accepting records it: the presence penalty now rules it out. */
    CHECK_OK(llamas_sampler_accept(s, &tok, 1));
    CHECK_OK(llamas_sampler_choose(s, c, -1, &again));
    CHECK(again != tok);
    /* An out-of-range id is an error and records nothing (all or nothing). */
    int32_t bad[2] = {again, 5000};
    CHECK_FAILS(llamas_sampler_accept(s, bad, 2), LLAMAS_ERR_INVALID_ARGUMENT);
    int32_t third = -1;
    CHECK_OK(llamas_sampler_choose(s, c, -1, &third));
    CHECK(third == again);
    CHECK_OK(llamas_sampler_accept(s, NULL, 0));
    llamas_sampler_free(s);

    /* llamas_sample == choose(-1) + accept, with random draws and penalties. */
    llamas_sampler* a = make_sampler(m, 0.9f, 7, 1);
    llamas_sampler* b = make_sampler(m, 0.9f, 7, 1);
    int same = 1;
    for (int i = 0; i < 20; ++i) {
        int32_t ta = -1, tb = -1;
        CHECK_OK(llamas_sample(a, c, &ta));
        CHECK_OK(llamas_sampler_choose(b, c, -1, &tb));
        CHECK_OK(llamas_sampler_accept(b, &tb, 1));
        same &= ta == tb;
    }
    CHECK(same);
    llamas_sampler_free(a);
    llamas_sampler_free(b);
    llamas_context_free(c);
}

/* ---- a manual loop reproduces llamas_generate ----------------------------------------- */

typedef struct {
    int32_t tokens[256];
    int n;
} token_list;

static void on_token_record(const llamas_token_info* info, void* user) {
    token_list* l = (token_list*)user;
    if (l->n < 256) l->tokens[l->n++] = info->token;
}

static void test_manual_loop_matches_generate(llamas_model* m) {
    const char* prompt = "And the LORD spake unto Moses, saying";
    const int max_tokens = 40;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));

    llamas_sampler* s = make_sampler(m, 0.9f, 1234, 1);
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = max_tokens;
    token_list gen = {{0}, 0};
    go.token_callback = on_token_record;
    go.token_user_data = &gen;
    int32_t n_generated = 0;
    CHECK_OK(llamas_generate(c, s, prompt, &go, NULL, NULL, &n_generated));
    CHECK(gen.n >= n_generated && n_generated > 0);
    llamas_sampler_free(s);

    /* The same by hand: decode the prompt, feed it to the penalties, choose, accept, decode. */
    CHECK_OK(llamas_kv_clear(c));
    s = make_sampler(m, 0.9f, 1234, 1);
    int32_t ids[128];
    const size_t n = tokenize(m, prompt, ids, 128);
    CHECK_OK(llamas_decode(c, ids, n));
    CHECK_OK(llamas_sampler_accept(s, ids, n));
    token_list manual = {{0}, 0};
    for (int i = 0; i < max_tokens; ++i) {
        int32_t t = -1;
        CHECK_OK(llamas_sampler_choose(s, c, -1, &t));
        CHECK_OK(llamas_sampler_accept(s, &t, 1));
        manual.tokens[manual.n++] = t;
        if (llamas_model_is_eog(m, t)) break;
        CHECK_OK(llamas_decode(c, &t, 1));
    }
    CHECK(manual.n == gen.n);
    CHECK(memcmp(manual.tokens, gen.tokens, sizeof(int32_t) * (size_t)(manual.n < gen.n ? manual.n : gen.n)) == 0);
    /* And penalties matter here: without them the draws differ (so the test can fail). */
    llamas_sampler_free(s);
    CHECK_OK(llamas_kv_clear(c));
    s = make_sampler(m, 0.9f, 1234, 0);
    token_list plain = {{0}, 0};
    go.token_user_data = &plain;
    CHECK_OK(llamas_generate(c, s, prompt, &go, NULL, NULL, &n_generated));
    CHECK(plain.n != gen.n || memcmp(plain.tokens, gen.tokens, sizeof(int32_t) * (size_t)gen.n) != 0);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

/* ---- the filter hook ------------------------------------------------------------------- */

typedef struct {
    int calls;
    int32_t ban;          /* set to -inf */
    int fail_on;          /* return non-zero on this call (1-based; 0: never) */
    int32_t watch;        /* token whose logit is recorded */
    float seen;
    int32_t n_vocab_seen;
} filter_state;

static int on_filter(float* logits, int32_t n_vocab, void* user) {
    filter_state* f = (filter_state*)user;
    ++f->calls;
    f->n_vocab_seen = n_vocab;
    if (f->watch >= 0) f->seen = logits[f->watch];
    if (f->ban >= 0) logits[f->ban] = -INFINITY;
    return f->fail_on == f->calls;
}

static int32_t argmax(const float* x, int32_t n) {
    int32_t best = 0;
    for (int32_t i = 1; i < n; ++i)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_filter(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    int32_t ids[64];
    const size_t n = tokenize(m, "In the beginning", ids, 64);
    CHECK_OK(llamas_decode(c, ids, n));
    const int32_t n_vocab = llamas_model_n_vocab(m);
    const float* logits = llamas_logits(c);
    const int32_t best = argmax(logits, n_vocab);

    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 0;
    so.presence_penalty = 5.0f;
    llamas_sampler* s = NULL;
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    CHECK_FAILS(llamas_sampler_set_filter(NULL, on_filter, NULL), LLAMAS_ERR_INVALID_ARGUMENT);

    /* The filter sees the logits after the bias and before the penalties. */
    const int32_t watch = best == 7 ? 8 : 7;
    CHECK_OK(llamas_sampler_set_logit_bias(s, watch, 2.0f));
    CHECK_OK(llamas_sampler_accept(s, &watch, 1)); /* a presence penalty the filter must not see */
    filter_state f = {0, best, 0, watch, 0.0f, 0};
    CHECK_OK(llamas_sampler_set_filter(s, on_filter, &f));
    int32_t tok = -1;
    CHECK_OK(llamas_sampler_choose(s, c, -1, &tok));
    CHECK(f.calls == 1 && f.n_vocab_seen == n_vocab);
    CHECK(f.seen == logits[watch] + 2.0f);
    CHECK(tok != best); /* banned by the filter */
    CHECK(llamas_logits(c)[best] == logits[best]); /* the context's logits are untouched */

    /* Non-zero from the filter: CANCELLED; the output is untouched. */
    f.fail_on = 2;
    int32_t out = 4242;
    CHECK_FAILS(llamas_sampler_choose(s, c, -1, &out), LLAMAS_ERR_CANCELLED);
    CHECK(out == 4242 && f.calls == 2);
    f.fail_on = 3;
    CHECK_FAILS(llamas_sample(s, c, &out), LLAMAS_ERR_CANCELLED);
    CHECK(out == 4242);

    /* NULL removes it: the argmax wins again. */
    CHECK_OK(llamas_sampler_set_filter(s, NULL, NULL));
    CHECK_OK(llamas_sampler_set_logit_bias(s, watch, 0.0f));
    CHECK_OK(llamas_sampler_choose(s, c, -1, &tok));
    CHECK(f.calls == 3);
    CHECK(tok == best);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

/* ---- logprobs -------------------------------------------------------------------------- */

static void test_logprobs(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    float lp = 1.0f;
    llamas_token_logprob top[16];
    size_t n_top = 99;
    CHECK_FAILS(llamas_logprobs(NULL, -1, 0, &lp, top, 4, &n_top), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_logprobs(c, -1, 0, &lp, top, 4, &n_top), LLAMAS_ERR_INVALID_ARGUMENT); /* no logits */
    CHECK(lp == 1.0f && n_top == 99);
    int32_t ids[64];
    const size_t n = tokenize(m, "And Moses said", ids, 64);
    CHECK_OK(llamas_decode(c, ids, n));
    const int32_t n_vocab = llamas_model_n_vocab(m);
    CHECK_FAILS(llamas_logprobs(c, 0, 0, &lp, NULL, 0, NULL), LLAMAS_ERR_INVALID_ARGUMENT); /* row kept nothing */
    CHECK_FAILS(llamas_logprobs(c, -1, n_vocab, &lp, NULL, 0, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_logprobs(c, -1, 0, &lp, NULL, 3, NULL), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Direct computation in double. */
    const float* l = llamas_logits(c);
    double mx = l[0];
    for (int32_t i = 1; i < n_vocab; ++i) mx = l[i] > mx ? l[i] : mx;
    double sum = 0;
    for (int32_t i = 0; i < n_vocab; ++i) sum += exp((double)l[i] - mx);
    const double log_z = mx + log(sum);
    double worst = 0, total = 0;
    for (int32_t t = 0; t < n_vocab; t += 1) {
        CHECK_OK(llamas_logprobs(c, -1, t, &lp, NULL, 0, NULL));
        const double d = fabs((double)lp - ((double)l[t] - log_z));
        worst = d > worst ? d : worst;
        total += exp((double)lp);
    }
    CHECK(worst < 1e-5);
    CHECK(fabs(total - 1.0) < 1e-4);

    /* Top 16: the 16 largest logits, in order, with their logprobs. */
    CHECK_OK(llamas_logprobs(c, -1, -1, NULL, top, 16, &n_top));
    CHECK(n_top == 16);
    CHECK(top[0].token == argmax(l, n_vocab));
    for (size_t k = 0; k < 16; ++k) {
        CHECK(fabs((double)top[k].logprob - ((double)l[top[k].token] - log_z)) < 1e-5);
        if (k) CHECK(top[k].logprob <= top[k - 1].logprob);
        /* nothing outside the top is larger than the last kept */
        int32_t larger = 0;
        for (int32_t i = 0; i < n_vocab; ++i) larger += l[i] > l[top[k].token];
        CHECK(larger <= (int32_t)k);
    }
    /* More than the vocabulary: all of it. */
    llamas_token_logprob* all = (llamas_token_logprob*)malloc(sizeof *all * (size_t)(n_vocab + 10));
    CHECK_OK(llamas_logprobs(c, -1, -1, NULL, all, (size_t)n_vocab + 10, &n_top));
    CHECK(n_top == (size_t)n_vocab);
    CHECK(all[n_vocab - 1].logprob <= all[0].logprob);
    free(all);
    llamas_context_free(c);
}

/* ---- generation ------------------------------------------------------------------------- */

typedef struct {
    char text[8192];
    size_t len;
    int calls;
    int eog_seen; /* an EOG token reached the piece callback */
    llamas_model* model;
    llamas_context* cancel_ctx;
    int cancel_at;
    int stop_at;
} collect;

static int on_piece(const char* piece, size_t length, int32_t token, void* user) {
    collect* g = (collect*)user;
    if (g->len + length < sizeof g->text) {
        memcpy(g->text + g->len, piece, length);
        g->len += length;
        g->text[g->len] = 0;
    }
    ++g->calls;
    if (token >= 0 && llamas_model_is_eog(g->model, token)) g->eog_seen = 1;
    if (g->cancel_ctx && g->calls == g->cancel_at) llamas_context_cancel(g->cancel_ctx);
    return g->stop_at && g->calls == g->stop_at;
}

/* Greedy generation from a clean cache with the given stop strings. */
static llamas_status run(llamas_context* c, llamas_sampler* s, const char* prompt, int max_tokens,
                         const char* const* stop, size_t n_stop, collect* g, int32_t* n) {
    llamas_kv_clear(c);
    llamas_sampler_reset(s);
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = max_tokens;
    go.stop = stop;
    go.n_stop = n_stop;
    return llamas_generate(c, s, prompt, &go, on_piece, g, n);
}

static void test_finish_reasons(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    llamas_sampler* s = make_sampler(m, 0, 0, 0);
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    CHECK(go.parse_special == 1 && go.skip_special == 1 && go.max_tokens == 256);
    CHECK(go.stop == NULL && go.n_stop == 0 && go.token_callback == NULL && go.n_probs == 0);
    CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_NONE);
    CHECK(llamas_context_finish_reason(NULL) == LLAMAS_FINISH_NONE);

    collect g;
    int32_t n = -1;
    memset(&g, 0, sizeof g);
    g.model = m;
    CHECK_OK(run(c, s, "And God said", 10, NULL, 0, &g, &n));
    CHECK(n == 10 && llamas_context_finish_reason(c) == LLAMAS_FINISH_MAX_TOKENS);

    memset(&g, 0, sizeof g);
    g.model = m;
    g.stop_at = 4;
    CHECK_OK(run(c, s, "And God said", 10, NULL, 0, &g, &n));
    CHECK(n == 4 && g.calls == 4 && llamas_context_finish_reason(c) == LLAMAS_FINISH_CALLBACK);

    /* Bad arguments: NONE. */
    const char* empty[1] = {""};
    CHECK_FAILS(run(c, s, "And", 10, empty, 1, &g, &n), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_NONE);
    CHECK_FAILS(run(c, s, "And", 10, NULL, 2, &g, &n), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Cancel from the piece callback: CANCELLED; the next call is not cancelled. */
    memset(&g, 0, sizeof g);
    g.model = m;
    g.cancel_ctx = c;
    g.cancel_at = 3;
    CHECK_FAILS(run(c, s, "And God said", 20, NULL, 0, &g, &n), LLAMAS_ERR_CANCELLED);
    CHECK(n == 3 && llamas_context_finish_reason(c) == LLAMAS_FINISH_CANCELLED);
    /* Every delivered token is in the cache: the prompt, then the 3 tokens. */
    int32_t ids[64];
    const size_t n_prompt = tokenize(m, "And God said", ids, 64);
    CHECK(llamas_context_n_past(c) == (int32_t)n_prompt + 3);
    memset(&g, 0, sizeof g);
    g.model = m;
    CHECK_OK(run(c, s, "And God said", 5, NULL, 0, &g, &n));
    CHECK(n == 5 && llamas_context_finish_reason(c) == LLAMAS_FINISH_MAX_TOKENS);
    /* A cancel while nothing runs does not carry over. */
    llamas_context_cancel(c);
    CHECK_OK(run(c, s, "And God said", 5, NULL, 0, &g, &n));

    /* Context full. */
    llamas_context* small = NULL;
    llamas_context_options co;
    llamas_context_options_init(&co);
    co.n_ctx = 12;
    CHECK_OK(llamas_context_create(m, &co, &small));
    memset(&g, 0, sizeof g);
    g.model = m;
    CHECK_FAILS(run(small, s, "And God said", 100, NULL, 0, &g, &n), LLAMAS_ERR_CONTEXT_FULL);
    CHECK(llamas_context_finish_reason(small) == LLAMAS_FINISH_CONTEXT_FULL);
    CHECK(llamas_context_n_past(small) == 12 && n == 12 - (int32_t)n_prompt);
    llamas_context_free(small);

    /* EOG: forced by a bias. It is decoded into the cache but never reaches the callback. */
    const int32_t eos = llamas_model_eos(m);
    CHECK(eos >= 0 && llamas_model_is_eog(m, eos));
    llamas_sampler* se = make_sampler(m, 0, 0, 0);
    CHECK_OK(llamas_sampler_set_logit_bias(se, eos, 1000.0f));
    memset(&g, 0, sizeof g);
    g.model = m;
    CHECK_OK(run(c, se, "And God said", 10, NULL, 0, &g, &n));
    CHECK(n == 0 && g.len == 0 && !g.eog_seen);
    CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_EOG);
    CHECK(llamas_context_n_past(c) == (int32_t)n_prompt + 1);
    /* The cached EOG is what a decode of prompt + EOG gives: same logits afterwards. */
    llamas_context* ref = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &ref));
    ids[n_prompt] = eos;
    CHECK_OK(llamas_decode(ref, ids, n_prompt + 1));
    CHECK(memcmp(llamas_logits(ref), llamas_logits(c), sizeof(float) * (size_t)llamas_model_n_vocab(m)) == 0);
    llamas_context_free(ref);
    llamas_sampler_free(se);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

static void check_stopped_at(llamas_context* c, llamas_sampler* s, llamas_model* m, const char* full,
                             const char* const* stop, size_t n_stop, int expect_stop) {
    collect g;
    memset(&g, 0, sizeof g);
    g.model = m;
    int32_t n = 0;
    CHECK_OK(run(c, s, "And God said", 48, stop, n_stop, &g, &n));
    /* The expected text: everything before the earliest occurrence of any stop string. */
    size_t cut = strlen(full);
    for (size_t i = 0; i < n_stop; ++i) {
        const char* at = strstr(full, stop[i]);
        if (at && (size_t)(at - full) < cut) cut = (size_t)(at - full);
    }
    CHECK(g.len == cut && strncmp(g.text, full, cut) == 0);
    if (g.len != cut || strncmp(g.text, full, cut) != 0)
        fprintf(stderr, "  got '%s'\n  expected the first %zu bytes of '%s'\n", g.text, cut, full);
    CHECK(llamas_context_finish_reason(c) == (expect_stop ? LLAMAS_FINISH_STOP_STRING : LLAMAS_FINISH_MAX_TOKENS));
    CHECK(expect_stop ? n < 48 : n == 48);
    CHECK(g.calls >= n); /* every token still reaches the callback (with what may be released) */
}

static void test_stop_strings(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    llamas_sampler* s = make_sampler(m, 0, 0, 0);

    /* The full greedy text, and where each token's piece starts in it. */
    collect g;
    memset(&g, 0, sizeof g);
    g.model = m;
    int32_t n = 0;
    CHECK_OK(run(c, s, "And God said", 48, NULL, 0, &g, &n));
    char full[8192];
    snprintf(full, sizeof full, "%s", g.text);
    const size_t len = strlen(full);
    CHECK(len > 60);
    if (len <= 60) return;

    /* A stop string spanning several tokens, from the middle of the text. */
    char span[32];
    memcpy(span, full + 21, 14);
    span[14] = 0;
    const char* one[1] = {span};
    check_stopped_at(c, s, m, full, one, 1, 1);

    /* At the very first token: nothing is delivered. */
    char first[3] = {full[0], full[1], 0};
    const char* at_first[1] = {first};
    check_stopped_at(c, s, m, full, at_first, 1, 1);

    /* Prefixes that never complete: the held text comes out, all of it. One is the text's own
     * end followed by more (held until the very end, then released). */
    char mid_prefix[32], end_prefix[32];
    snprintf(mid_prefix, sizeof mid_prefix, "%.6s#never", full + 30);
    snprintf(end_prefix, sizeof end_prefix, "%s~", full + len - 3);
    const char* never[2] = {mid_prefix, end_prefix};
    check_stopped_at(c, s, m, full, never, 2, 0);

    /* Several stop strings: the earliest occurrence wins, whichever is listed first. */
    char late[16], early[16];
    memcpy(late, full + 40, 8);
    late[8] = 0;
    memcpy(early, full + 12, 5);
    early[5] = 0;
    const char* several[3] = {late, mid_prefix, early};
    check_stopped_at(c, s, m, full, several, 3, 1);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

typedef struct {
    int calls;
    int32_t first_token;
    float first_logprob;
    llamas_token_logprob first_top[5];
    int32_t n_top;
    int bad;
    const char* last_piece_event; /* "token" or "piece": the order of the callbacks */
} info_state;

static info_state* g_info;

static void on_info(const llamas_token_info* info, void* user) {
    info_state* st = (info_state*)user;
    if (st->calls == 0) {
        st->first_token = info->token;
        st->first_logprob = info->logprob;
        st->n_top = info->n_top;
        memcpy(st->first_top, info->top, sizeof(llamas_token_logprob) * (size_t)(info->n_top < 5 ? info->n_top : 5));
    }
    /* Greedy: the chosen token is the most likely one. */
    if (info->n_top != 5 || info->top[0].token != info->token || info->top[0].logprob != info->logprob ||
        !(info->logprob <= 0))
        st->bad++;
    if (st->last_piece_event && strcmp(st->last_piece_event, "token") == 0) st->bad++; /* two in a row */
    st->last_piece_event = "token";
    st->calls++;
}

static int on_piece_after_info(const char* piece, size_t length, int32_t token, void* user) {
    (void)piece;
    (void)length;
    (void)user;
    if (token >= 0) g_info->last_piece_event = "piece";
    return 0;
}

static void test_token_callback(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    llamas_sampler* s = make_sampler(m, 0, 0, 0);
    info_state st;
    memset(&st, 0, sizeof st);
    g_info = &st;
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = 12;
    go.token_callback = on_info;
    go.token_user_data = &st;
    go.n_probs = 5;
    int32_t n = 0;
    CHECK_OK(llamas_generate(c, s, "And God said", &go, on_piece_after_info, NULL, &n));
    CHECK(st.calls == 12 && n == 12 && st.bad == 0 && st.n_top == 5);
    go.n_probs = -1;
    CHECK_FAILS(llamas_generate(c, s, "And", &go, NULL, NULL, &n), LLAMAS_ERR_INVALID_ARGUMENT);

    /* The first token's numbers equal llamas_logprobs on the prompt's logits. */
    llamas_context* ref = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &ref));
    int32_t ids[64];
    const size_t np = tokenize(m, "And God said", ids, 64);
    CHECK_OK(llamas_decode(ref, ids, np));
    float lp = 0;
    llamas_token_logprob top[5];
    size_t n_top = 0;
    CHECK_OK(llamas_logprobs(ref, -1, st.first_token, &lp, top, 5, &n_top));
    CHECK(lp == st.first_logprob && n_top == 5);
    CHECK(memcmp(top, st.first_top, sizeof top) == 0);
    llamas_context_free(ref);
    llamas_sampler_free(s);
    llamas_context_free(c);
}


/* ---- every row of a batch ----------------------------------------------------------------- */

static void test_batch_rows(llamas_model* m) {
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    int32_t ids[64];
    const size_t n = tokenize(m, "And the earth was without form", ids, 64);
    int8_t want[64];
    for (size_t i = 0; i < n; ++i) want[i] = (int8_t)(i % 2 == 0 || i + 1 == n); /* some rows, and the last */
    CHECK_OK(llamas_decode_batch(c, ids, NULL, NULL, want, n));
    llamas_sampler* s = make_sampler(m, 0, 0, 0);
    const int32_t n_vocab = llamas_model_n_vocab(m);
    for (size_t i = 0; i < n; ++i) {
        int32_t tok = -1;
        float lp = 0;
        llamas_token_logprob top[1];
        size_t n_top = 0;
        if (!want[i]) {
            CHECK_FAILS(llamas_sampler_choose(s, c, (int32_t)i, &tok), LLAMAS_ERR_INVALID_ARGUMENT);
            CHECK_FAILS(llamas_logprobs(c, (int32_t)i, 0, &lp, top, 1, &n_top), LLAMAS_ERR_INVALID_ARGUMENT);
            continue;
        }
        const float* row = llamas_logits_ith(c, (int32_t)i);
        CHECK(row != NULL);
        if (!row) continue;
        CHECK_OK(llamas_sampler_choose(s, c, (int32_t)i, &tok));
        CHECK(tok == argmax(row, n_vocab));
        CHECK_OK(llamas_logprobs(c, (int32_t)i, tok, &lp, top, 1, &n_top));
        CHECK(n_top == 1 && top[0].token == tok && top[0].logprob == lp);
    }
    /* -1 is the last row. */
    int32_t last = -1, by_index = -2;
    CHECK_OK(llamas_sampler_choose(s, c, -1, &last));
    CHECK_OK(llamas_sampler_choose(s, c, (int32_t)n - 1, &by_index));
    CHECK(last == by_index);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

/* ---- a chat turn after an end-of-generation token -------------------------------------- */

typedef struct {
    int calls;
    int free_calls; /* choices left to the model before the end token is forced */
    int32_t eos;
} force_state;

static int force_end(float* logits, int32_t n_vocab, void* user) {
    force_state* f = (force_state*)user;
    if (++f->calls > f->free_calls) {
        for (int32_t i = 0; i < n_vocab; ++i)
            if (i != f->eos) logits[i] = -INFINITY;
    } else {
        logits[f->eos] = -INFINITY;
    }
    return 0;
}

static char* render(llamas_model* m, const char* tmpl, const llamas_chat_message* msgs, size_t n, int add_gen) {
    static char buf[4][2048];
    static int next = 0;
    char* out = buf[next++ % 4];
    size_t len = 0;
    CHECK_OK(llamas_chat_apply_template(m, tmpl, msgs, n, add_gen, out, 2048, &len));
    return out;
}

/* The model's end token is the template's end-of-turn marker: after an answer that ends with
 * it, the cache holds exactly the rendered conversation up to and including that marker, so
 * feeding the next rendering's suffix gives what evaluating the whole rendering gives. */
static void test_chat_turn_after_eog(llamas_model* m) {
    const char* tmpl = "{% for m in messages %}{{ m['role'] }}:{{ m['content'] }}</s>\n{% endfor %}"
                       "{% if add_generation_prompt %}assistant:{% endif %}";
    const int32_t eos = llamas_model_eos(m);
    int32_t marker[4];
    size_t n_marker = 0;
    CHECK_OK(llamas_tokenize(m, "</s>", 4, LLAMAS_TOKENIZE_PARSE_SPECIAL, marker, 4, &n_marker));
    CHECK(n_marker == 1 && marker[0] == eos);

    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &c));
    llamas_sampler* s = make_sampler(m, 0, 0, 0);
    force_state f = {0, 5, eos};
    CHECK_OK(llamas_sampler_set_filter(s, force_end, &f));
    llamas_chat_message msgs[3] = {{"user", "And God said"}, {"assistant", ""}, {"user", "And Moses"}};
    const char* turn1 = render(m, tmpl, msgs, 1, 1);
    collect g;
    memset(&g, 0, sizeof g);
    g.model = m;
    llamas_generate_options go;
    llamas_generate_options_init(&go); /* parse_special: the markers are tokens */
    go.max_tokens = 50;
    int32_t n = 0;
    CHECK_OK(llamas_generate(c, s, turn1, &go, on_piece, &g, &n));
    CHECK(n == 5 && llamas_context_finish_reason(c) == LLAMAS_FINISH_EOG && !g.eog_seen);
    CHECK(strstr(g.text, "</s>") == NULL);

    /* What chat.c does: the next turn feeds only what follows the cached marker. */
    msgs[1].content = g.text;
    const char* history = render(m, tmpl, msgs, 2, 0);
    const size_t cached = strlen(turn1) + g.len + strlen("</s>");
    CHECK(strncmp(history + strlen(turn1), g.text, g.len) == 0);
    CHECK(strncmp(history + strlen(turn1) + g.len, "</s>", 4) == 0);
    const char* turn2 = render(m, tmpl, msgs, 3, 1);
    CHECK(strncmp(turn2, history, cached) == 0);
    go.max_tokens = 0;
    CHECK_OK(llamas_generate(c, s, turn2 + cached, &go, on_piece, &g, &n));

    /* The same as evaluating the whole second rendering from scratch. */
    int32_t ids[512];
    const size_t n_ids = tokenize(m, turn2, ids, 512);
    CHECK(llamas_context_n_past(c) == (int32_t)n_ids);
    llamas_context* ref = NULL;
    CHECK_OK(llamas_context_create(m, NULL, &ref));
    CHECK_OK(llamas_decode(ref, ids, n_ids));
    const float* a = llamas_logits(ref);
    const float* b = llamas_logits(c);
    float worst = 0;
    for (int32_t i = 0; a && b && i < llamas_model_n_vocab(m); ++i) worst = fmaxf(worst, fabsf(a[i] - b[i]));
    CHECK(a && b && worst < 1e-3f);
    llamas_context_free(ref);
    llamas_sampler_free(s);
    llamas_context_free(c);
}

int main(void) {
    data_path(g_kjv, sizeof g_kjv, "models/kjv-tiny-Q8_0.gguf");
    llamas_model* m = NULL;
    CHECK_OK(llamas_model_load(g_kjv, NULL, &m));
    if (!m) return finish("generate");
    test_choose_accept(m);
    test_manual_loop_matches_generate(m);
    test_filter(m);
    test_logprobs(m);
    test_finish_reasons(m);
    test_stop_strings(m);
    test_token_callback(m);
    test_chat_turn_after_eog(m);
    test_batch_rows(m);
    llamas_model_free(m);
    return finish("generate");
}
