/* Grammar-constrained sampling through the C API: validation errors with line and column,
 * set/remove, accept refusing a token, accept_prompt leaving the grammar alone, reset, a lazy
 * grammar (trigger words and patterns), token references, and llamas_generate under a grammar. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

typedef struct {
    char text[4096];
    size_t len;
} collected;

static int collect(const char* piece, size_t length, int32_t token, void* user) {
    collected* c = (collected*)user;
    (void)token;
    if (c->len + length < sizeof c->text) {
        memcpy(c->text + c->len, piece, length);
        c->len += length;
        c->text[c->len] = '\0';
    }
    return 0;
}

static int32_t first_token(const llamas_model* m, const char* text) {
    int32_t ids[16];
    size_t n = 0;
    if (llamas_tokenize(m, text, strlen(text), 0, ids, 16, &n) != LLAMAS_OK || n == 0) return -1;
    return ids[0];
}

int main(void) {
    char path[1024];
    data_path(path, sizeof path, "models/kjv-tiny-Q8_0.gguf");

    /* Validation without a model. */
    CHECK_OK(llamas_grammar_validate("root ::= [a-z]+", NULL));
    CHECK_OK(llamas_grammar_validate("start ::= \"x\"", "start"));
    CHECK_FAILS(llamas_grammar_validate("root ::= (\"a\"\n  | undefined-rule)", NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(llamas_last_error(), "line 2, column 5: undefined rule 'undefined-rule'") != NULL);
    CHECK_FAILS(llamas_grammar_validate("root ::= root \"a\" | \"b\"", NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(llamas_last_error(), "left recursion") != NULL);
    CHECK_FAILS(llamas_grammar_validate(NULL, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    /* Token references: <[id]> and !<[id]> need no model, <text> does. */
    CHECK_OK(llamas_grammar_validate("root ::= <[5]> !<[7]>*", NULL));
    CHECK_FAILS(llamas_grammar_validate("root ::= <think>", NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(llamas_last_error(), "line 1, column 10") != NULL);

    llamas_model* m = NULL;
    CHECK_OK(llamas_model_load(path, NULL, &m));
    if (!m) return finish("c-grammar");
    llamas_context* c = NULL;
    llamas_context_options copt;
    llamas_context_options_init(&copt);
    copt.n_ctx = 512;
    copt.n_threads = 1;
    CHECK_OK(llamas_context_create(m, &copt, &c));
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 1.0f;
    so.seed = 5;
    llamas_sampler* s = NULL;
    CHECK_OK(llamas_sampler_create(m, &so, &s));

    CHECK_FAILS(llamas_sampler_set_grammar(s, "root ::= [", NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(llamas_last_error(), "line 1, column 10") != NULL);
    CHECK_FAILS(llamas_sampler_set_grammar(NULL, "root ::= \"a\"", NULL), LLAMAS_ERR_INVALID_ARGUMENT);

    /* accept refuses a token the grammar does not allow, and changes nothing. */
    CHECK_OK(llamas_sampler_set_grammar(s, "root ::= \" Yea\" \",\" [a-z ]*", NULL));
    const int32_t yea = first_token(m, "Yea"); /* SentencePiece: " Yea" */
    const int32_t and_ = first_token(m, "And");
    CHECK(yea >= 0 && and_ >= 0);
    CHECK_FAILS(llamas_sampler_accept(s, &and_, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_OK(llamas_sampler_accept_prompt(s, &and_, 1)); /* the prompt does not advance it */
    CHECK_OK(llamas_sampler_accept(s, &yea, 1));
    CHECK_FAILS(llamas_sampler_accept(s, &yea, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_sampler_reset(s);
    CHECK_OK(llamas_sampler_accept(s, &yea, 1));

    /* Generation under the grammar: every seed's text matches it. */
    int seed;
    for (seed = 0; seed < 20; ++seed) {
        collected out = {{0}, 0};
        int32_t n = 0;
        llamas_generate_options go;
        llamas_generate_options_init(&go);
        go.max_tokens = 40;
        llamas_kv_clear(c);
        llamas_sampler_free(s);
        so.seed = (uint64_t)seed;
        CHECK_OK(llamas_sampler_create(m, &so, &s));
        CHECK_OK(llamas_sampler_set_grammar(s, "root ::= \" Yea, \" [a-z]+ ( \" \" [a-z]+ ){0,4} \".\"", NULL));
        CHECK_OK(llamas_generate(c, s, "And God said", &go, collect, &out, &n));
        CHECK(strncmp(out.text, " Yea, ", 6) == 0);
        CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_EOG);
        CHECK(out.len > 7 && out.text[out.len - 1] == '.');
    }

    /* Token references: the reply starts with the token `yea` (" Y") by id, and <s> is one token. */
    char by_id[128], want[64];
    size_t piece_len = 0;
    CHECK_OK(llamas_token_to_piece(m, yea, 0, want, sizeof want - 3, &piece_len));
    memcpy(want + piece_len, ", ", 3);
    snprintf(by_id, sizeof by_id, "root ::= <[%d]> \", \" [a-z]+ \".\"", (int)yea);
    for (seed = 0; seed < 5; ++seed) {
        collected out = {{0}, 0};
        llamas_generate_options go;
        llamas_generate_options_init(&go);
        go.max_tokens = 40;
        llamas_kv_clear(c);
        CHECK_OK(llamas_sampler_set_grammar(s, by_id, NULL));
        CHECK_OK(llamas_generate(c, s, "And God said", &go, collect, &out, NULL));
        CHECK(strncmp(out.text, want, strlen(want)) == 0);
    }
    CHECK_OK(llamas_sampler_set_grammar(s, "root ::= !<s> [a-z]*", NULL));
    CHECK_FAILS(llamas_sampler_set_grammar(s, "root ::= <no such token>", NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK(strstr(llamas_last_error(), "is not exactly one token") != NULL);
    CHECK_FAILS(llamas_sampler_set_grammar(s, "root ::= <[99999999]>", NULL), LLAMAS_ERR_INVALID_ARGUMENT);

    /* Removing the grammar frees the choice again. */
    CHECK_OK(llamas_sampler_set_grammar(s, NULL, NULL));
    CHECK_OK(llamas_sampler_accept(s, &and_, 1));

    /* Lazy: free text until the trigger word, then the grammar from the trigger on. */
    const char* triggers[] = {"LORD"};
    CHECK_OK(llamas_sampler_set_grammar_lazy(s, "root ::= \"LORD\" [a-z ]* \".\"", NULL, triggers, 1, NULL, 0));
    CHECK_OK(llamas_sampler_accept(s, &and_, 1));
    CHECK_FAILS(llamas_sampler_set_grammar_lazy(s, "root ::= \"x\"", NULL, NULL, 0, NULL, 0),
                LLAMAS_ERR_INVALID_ARGUMENT);

    /* Lazy with a pattern: a reply that opens with "Y" (after spaces) is constrained from "Y"
     * on; " And" then breaks the grammar. */
    const char* patterns[] = {"^\\s*(Y)"};
    CHECK_OK(llamas_sampler_set_grammar_lazy_patterns(s, "root ::= \"Y\" [a-z]+", NULL, patterns, 1, NULL, 0));
    CHECK_OK(llamas_sampler_accept(s, &yea, 1));
    CHECK_FAILS(llamas_sampler_accept(s, &and_, 1), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_sampler_reset(s); /* and " And" first leaves it free: the pattern wants "Y" at the start */
    CHECK_OK(llamas_sampler_accept(s, &and_, 1));
    CHECK_OK(llamas_sampler_accept(s, &yea, 1));
    CHECK_OK(llamas_sampler_accept(s, &and_, 1));
    const char* bad_patterns[] = {"(unclosed"};
    CHECK_FAILS(llamas_sampler_set_grammar_lazy_patterns(s, "root ::= \"x\"", NULL, bad_patterns, 1, NULL, 0),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_sampler_set_grammar_lazy_patterns(s, "root ::= \"x\"", NULL, NULL, 0, NULL, 0),
                LLAMAS_ERR_INVALID_ARGUMENT);

    llamas_sampler_free(s);
    llamas_context_free(c);
    llamas_model_free(m);
    return finish("c-grammar");
}
