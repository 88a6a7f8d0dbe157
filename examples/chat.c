/*
 * llamas-chat: chat with a GGUF model from the terminal, using only the public C API.
 *
 *   llamas-chat -m MODEL [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P] [--seed S]
 *               [--system S] [--threads N] [--ctx N] [--grammar FILE | --json-schema FILE]
 *
 * --grammar FILE constrains every answer to the GBNF grammar in FILE (llama.cpp's format),
 * from its start each turn; --json-schema FILE to JSON that the JSON Schema in FILE describes
 * (converted to such a grammar by llamas_json_schema_to_grammar).
 *
 * With -p it answers once and exits. Otherwise it reads one user turn per line until EOF.
 * The conversation stays in the KV cache: each turn evaluates only the text it adds. Ctrl-C
 * stops the answer being generated; Ctrl-C at the prompt (or EOF) ends the chat. A model
 * without a chat template (a base model) is simply continued from the text typed.
 */
#define _POSIX_C_SOURCE 200809L
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "llamas.h"

static llamas_context* g_ctx;
static volatile sig_atomic_t g_generating;

static void on_sigint(int sig) {
    (void)sig;
    if (g_generating) llamas_context_cancel(g_ctx); /* stop this answer only */
    else _Exit(130);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    char* text; /* the reply so far, kept for the conversation history */
    size_t len, cap;
    double t_first; /* time the first piece arrived: the end of prompt processing */
    int n_pieces;
    int32_t last_token; /* the last token chosen (the end-of-turn token when the answer ended so) */
} reply;

static void on_token(const llamas_token_info* info, void* user) { ((reply*)user)->last_token = info->token; }

static int on_piece(const char* piece, size_t length, int32_t token, void* user) {
    reply* r = (reply*)user;
    (void)token;
    if (r->n_pieces++ == 0) r->t_first = now_seconds();
    fwrite(piece, 1, length, stdout);
    fflush(stdout);
    if (r->len + length + 1 > r->cap) {
        size_t cap = (r->len + length + 1) * 2;
        char* p = (char*)realloc(r->text, cap);
        if (!p) return 1; /* out of memory: stop generating */
        r->text = p;
        r->cap = cap;
    }
    memcpy(r->text + r->len, piece, length);
    r->len += length;
    r->text[r->len] = '\0';
    return 0;
}

static void usage(void) {
    fprintf(stderr,
            "usage: llamas-chat -m MODEL [-p PROMPT] [-n N] [--temp T] [--top-k K] [--top-p P]\n"
            "                   [--seed S] [--system S] [--threads N] [--ctx N] [--grammar FILE | --json-schema FILE]\n");
}

/* The whole content of a file, NUL-terminated (NULL when it cannot be read). */
static char* read_file(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    size_t len = 0, cap = 4096;
    char* buf = (char*)malloc(cap);
    size_t n;
    while (buf && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char* bigger = (char*)realloc(buf, cap * 2);
            if (!bigger) { free(buf); buf = NULL; break; }
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf) buf[len] = '\0';
    return buf;
}

/* The GBNF grammar answers are held to, from --grammar FILE or --json-schema FILE (NULL:
 * none); everything after this works on the GBNF alone. */
static char* load_grammar(const char* grammar_path, int is_schema) {
    if (!grammar_path) return NULL;
    char* text = read_file(grammar_path);
    if (!text) {
        fprintf(stderr, "error: cannot read %s %s\n", is_schema ? "JSON schema" : "grammar file", grammar_path);
        return NULL;
    }
    if (!is_schema) return text;
    size_t need = 0;
    char* gbnf = NULL;
    llamas_status s = llamas_json_schema_to_grammar(text, NULL, 0, &need);
    if (s == LLAMAS_OK || s == LLAMAS_ERR_BUFFER_TOO_SMALL) {
        gbnf = malloc(need + 1);
        if (gbnf && llamas_json_schema_to_grammar(text, gbnf, need + 1, NULL) != LLAMAS_OK) {
            free(gbnf);
            gbnf = NULL;
        }
    }
    if (!gbnf) fprintf(stderr, "error: %s: %s\n", grammar_path, llamas_last_error());
    free(text);
    return gbnf;
}

/* After a turn, makes the KV cache hold exactly a prefix of `after` (the conversation rendered
 * with the answer) and returns that prefix's length: the next turn feeds only what follows.
 * The cache holds `rendered` (this turn's prompt), the answer's tokens and, when the answer
 * ended with an end-of-generation token, that token too. The template renders the answer
 * followed by its end-of-turn marker, so that marker is in the cache exactly once: either the
 * generated token is the marker (keep it), or it is dropped and the marker is fed next turn. */
static size_t sync_history(llamas_context* ctx, const llamas_model* model, const char* rendered, const char* after,
                           const reply* r, llamas_finish_reason finish) {
    const size_t prompt_len = strlen(rendered), after_len = strlen(after);
    const size_t answer_end = prompt_len + r->len;
    if (answer_end > after_len || memcmp(after, rendered, prompt_len) != 0 ||
        (r->len && memcmp(after + prompt_len, r->text, r->len) != 0)) {
        /* The template rewrote earlier text (or trimmed the answer): start the cache over. */
        llamas_kv_clear(ctx);
        return 0;
    }
    if (finish != LLAMAS_FINISH_EOG) return answer_end; /* the marker comes with the next turn */
    char piece[256];
    size_t piece_len = 0;
    /* The token's own text (detokenizing one control token without skipping gives its text). */
    if (r->last_token >= 0 &&
        llamas_detokenize(model, &r->last_token, 1, 0, piece, sizeof piece, &piece_len) == LLAMAS_OK &&
        piece_len > 0 && answer_end + piece_len <= after_len && memcmp(after + answer_end, piece, piece_len) == 0) {
        int32_t first = -1;
        size_t n = 0;
        const llamas_status s = llamas_tokenize(model, after + answer_end, after_len - answer_end,
                                                LLAMAS_TOKENIZE_PARSE_SPECIAL, &first, 1, &n);
        if ((s == LLAMAS_OK || s == LLAMAS_ERR_BUFFER_TOO_SMALL) && n > 0 && first == r->last_token)
            return answer_end + piece_len; /* the cached end-of-turn token is the template's marker */
    }
    /* Another end token than the template's marker: drop it from the cache. */
    const int32_t n_past = llamas_context_n_past(ctx);
    if (n_past > 0) llamas_kv_remove(ctx, n_past - 1, -1);
    return answer_end;
}

/* Renders the conversation with the model's template into a growing buffer. */
static char* render(const llamas_model* model, const llamas_chat_message* msgs, size_t n, int add_gen) {
    size_t need = 0;
    llamas_status s = llamas_chat_apply_template(model, NULL, msgs, n, add_gen, NULL, 0, &need);
    if (s != LLAMAS_OK && s != LLAMAS_ERR_BUFFER_TOO_SMALL) return NULL;
    char* buf = (char*)malloc(need + 1);
    if (!buf) return NULL;
    if (llamas_chat_apply_template(model, NULL, msgs, n, add_gen, buf, need + 1, NULL) != LLAMAS_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

int main(int argc, char** argv) {
    const char* model_path = NULL;
    const char* prompt = NULL;
    const char* system_prompt = NULL;
    const char* grammar_path = NULL;
    int grammar_is_schema = 0;
    int n_predict = 256, n_threads = 0, n_ctx = 0;
    llamas_sampler_options sopt;
    llamas_sampler_options_init(&sopt);

    for (int i = 1; i < argc; i += 2) { /* every flag but --help takes a value */
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(); return 0; }
        if (!v) { usage(); return 2; }
        if (!strcmp(a, "-m") || !strcmp(a, "--model")) model_path = v;
        else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) prompt = v;
        else if (!strcmp(a, "-n")) n_predict = atoi(v);
        else if (!strcmp(a, "--temp")) sopt.temperature = (float)atof(v);
        else if (!strcmp(a, "--top-k")) sopt.top_k = atoi(v);
        else if (!strcmp(a, "--top-p")) sopt.top_p = (float)atof(v);
        else if (!strcmp(a, "--seed")) sopt.seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--system")) system_prompt = v;
        else if (!strcmp(a, "--threads") || !strcmp(a, "-t")) n_threads = atoi(v);
        else if (!strcmp(a, "--ctx") || !strcmp(a, "-c")) n_ctx = atoi(v);
        else if (!strcmp(a, "--grammar")) { grammar_path = v; grammar_is_schema = 0; }
        else if (!strcmp(a, "--json-schema")) { grammar_path = v; grammar_is_schema = 1; }
        else { usage(); return 2; }
    }
    if (!model_path) { usage(); return 2; }
    char* gbnf = load_grammar(grammar_path, grammar_is_schema);
    if (grammar_path && !gbnf) return 1;
    if (gbnf && llamas_grammar_validate(gbnf, NULL) != LLAMAS_OK) { /* before loading the model */
        fprintf(stderr, "error: %s: %s\n", grammar_path, llamas_last_error());
        free(gbnf);
        return 1;
    }

    llamas_model* model = NULL;
    if (llamas_model_load(model_path, NULL, &model) != LLAMAS_OK) {
        fprintf(stderr, "error: %s\n", llamas_last_error());
        free(gbnf);
        return 1;
    }
    llamas_context_options copt;
    llamas_context_options_init(&copt);
    copt.n_ctx = n_ctx;
    copt.n_threads = n_threads;
    llamas_sampler* sampler = NULL;
    if (llamas_context_create(model, &copt, &g_ctx) != LLAMAS_OK ||
        llamas_sampler_create(model, &sopt, &sampler) != LLAMAS_OK) {
        fprintf(stderr, "error: %s\n", llamas_last_error());
        llamas_context_free(g_ctx);
        llamas_model_free(model);
        free(gbnf);
        return 1;
    }
    signal(SIGINT, on_sigint);

    const int has_template = llamas_model_chat_template(model) != NULL;
    llamas_chat_message msgs[256];
    size_t n_msgs = 0;
    size_t prev_len = 0; /* length of the conversation text already in the KV cache */
    if (system_prompt && has_template) {
        msgs[n_msgs].role = "system";
        msgs[n_msgs++].content = system_prompt;
    }
    double t_prompt = 0, t_gen = 0;
    long n_prompt_tokens = 0, n_gen_tokens = 0;
    int status = 0;
    char* line = NULL;
    size_t line_cap = 0;

    for (;;) {
        const char* user = prompt;
        if (!prompt) {
            printf("\n> ");
            fflush(stdout);
            ssize_t n = getline(&line, &line_cap, stdin);
            if (n < 0) break;
            while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
            if (n == 0) continue;
            user = line;
        }
        char* text = NULL; /* what this turn adds to the conversation */
        char* rendered = NULL;
        if (has_template) {
            if (n_msgs + 2 > sizeof msgs / sizeof msgs[0]) { fprintf(stderr, "error: conversation too long\n"); status = 1; break; }
            msgs[n_msgs].role = "user";
            msgs[n_msgs++].content = strdup(user);
            rendered = render(model, msgs, n_msgs, 1);
            if (!rendered) { fprintf(stderr, "error: %s\n", llamas_last_error()); status = 1; break; }
            text = rendered + prev_len;
        } else {
            text = (char*)user;
        }

        reply r = {0};
        r.last_token = -1;
        llamas_generate_options gopt;
        llamas_generate_options_init(&gopt);
        gopt.max_tokens = n_predict;
        gopt.parse_special = has_template; /* the template's own markers are special tokens */
        gopt.token_callback = on_token;
        gopt.token_user_data = &r;
        /* Each answer is matched from the grammar's start (setting it again keeps the sampler's
         * penalties and random stream, unlike llamas_sampler_reset). */
        if (gbnf && llamas_sampler_set_grammar(sampler, gbnf, NULL) != LLAMAS_OK) {
            fprintf(stderr, "error: %s\n", llamas_last_error());
            status = 1;
            free(rendered);
            break;
        }
        const int32_t past_before = llamas_context_n_past(g_ctx);
        int32_t n_generated = 0;
        const double t0 = now_seconds();
        g_generating = 1;
        llamas_status s = llamas_generate(g_ctx, sampler, text, &gopt, on_piece, &r, &n_generated);
        g_generating = 0;
        const double t1 = now_seconds();
        if (s != LLAMAS_OK && s != LLAMAS_ERR_CANCELLED) {
            fprintf(stderr, "\nerror: %s\n", llamas_last_error());
            status = 1;
            free(rendered);
            free(r.text);
            break;
        }
        if (s == LLAMAS_ERR_CANCELLED) printf(" [stopped]");
        printf("\n");
        const double tf = r.n_pieces ? r.t_first : t1;
        /* The cache also holds the end-of-generation token when the answer ended with one. */
        const int ended_eog = llamas_context_finish_reason(g_ctx) == LLAMAS_FINISH_EOG;
        n_prompt_tokens += llamas_context_n_past(g_ctx) - past_before - n_generated - ended_eog;
        n_gen_tokens += n_generated;
        t_prompt += tf - t0;
        t_gen += t1 - tf;

        if (has_template) {
            const reply r_done = r; /* its text now belongs to msgs */
            msgs[n_msgs].role = "assistant";
            msgs[n_msgs++].content = r.text ? r.text : strdup("");
            r.text = NULL;
            char* after = render(model, msgs, n_msgs, 0);
            if (after) {
                prev_len = sync_history(g_ctx, model, rendered, after, &r_done, llamas_context_finish_reason(g_ctx));
            } else { /* cannot tell what the cache matches: start over next turn */
                llamas_kv_clear(g_ctx);
                prev_len = 0;
            }
            free(after);
        }
        free(rendered);
        free(r.text);
        if (prompt) break;
    }

    fprintf(stderr, "\nprompt: %ld tokens, %.1f tokens/s; generation: %ld tokens, %.1f tokens/s\n", n_prompt_tokens,
            t_prompt > 0 ? n_prompt_tokens / t_prompt : 0.0, n_gen_tokens, t_gen > 0 ? n_gen_tokens / t_gen : 0.0);
    for (size_t i = 0; i < n_msgs; ++i)
        if (strcmp(msgs[i].role, "system") != 0) free((void*)msgs[i].content);
    free(line);
    free(gbnf);
    llamas_sampler_free(sampler);
    llamas_context_free(g_ctx);
    llamas_model_free(model);
    return status;
}
