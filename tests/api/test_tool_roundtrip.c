/* Tool calls round trip, per template family: render a conversation with tools -> generate a
 * forced call under the family's tool-call grammar (sampled, many seeds, on the real tiny model)
 * -> parse the reply -> one call of the right tool whose arguments follow its schema. The
 * templates are small ones in each family's style (tests/data/templates); ChatML stands for the
 * generic family (a template that shows no tools).
 *
 * With LLAMAS_LLAMACPP_DIR set (a llama.cpp checkout), every published template of its
 * models/templates/ goes through the same round trip, with the call forced through the LAZY
 * grammar (calls optional): the trigger word is accepted as the start of the reply, then the
 * grammar takes over from it. Templates that cannot render a tool conversation are listed and
 * skipped; every one that renders must round-trip. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "llamas.h"

#define N_SEEDS 6
#define MAX_TOKENS 512

static const char* k_tools =
    "[{\"type\": \"function\", \"function\": {\"name\": \"get_weather\", \"description\": \"Weather in a city\","
    " \"parameters\": {\"type\": \"object\", \"properties\": {\"city\": {\"type\": \"string\", \"maxLength\": 12},"
    " \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 7}}, \"required\": [\"city\", \"days\"]}}},"
    " {\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"description\": \"Time in a zone\", \"parameters\": {\"type\": \"object\","
    " \"properties\": {\"zone\": {\"enum\": [\"UTC\", \"CET\"]}}, \"required\": [\"zone\"]}}}]";
static const char* k_messages = "[{\"role\": \"user\", \"content\": \"What is the weather in Paris?\"}]";
static const char* k_chatml =
    "{%- for message in messages %}{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' }}"
    "{%- endfor %}{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

static char* read_text(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char* s = malloc((size_t)n + 1);
    if (fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    s[n] = '\0';
    fclose(f);
    return s;
}

static char* render(const char* tmpl) {
    size_t need = 0;
    llamas_chat_apply_template_json(NULL, tmpl, k_messages, k_tools, 1, NULL, 0, &need);
    char* out = malloc(need + 1);
    CHECK_OK(llamas_chat_apply_template_json(NULL, tmpl, k_messages, k_tools, 1, out, need + 1, NULL));
    return out;
}

/* The "grammar", "root", "lazy" fields of llamas_chat_tool_call_grammar's JSON, by hand (a C
 * test has no JSON library; the grammar text is JSON-escaped). */
static char* json_string_field(const char* json, const char* key) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char* p = strstr(json, pat);
    if (!p) return NULL;
    p += strlen(pat);
    while (*p == ' ' || *p == ':' || *p == '[') ++p; /* "key": "..." or the first of "key": ["...", ...] */
    if (*p++ != '"') return NULL;
    char* out = malloc(strlen(p) + 1);
    size_t n = 0;
    for (; *p && *p != '"'; ++p) {
        if (*p == '\\') {
            ++p;
            switch (*p) {
                case 'n': out[n++] = '\n'; break;
                case 't': out[n++] = '\t'; break;
                case 'r': out[n++] = '\r'; break;
                case 'u': { /* only \u00XX appears in grammars of ASCII text */
                    unsigned v = 0;
                    sscanf(p + 1, "%4x", &v);
                    out[n++] = (char)v;
                    p += 4;
                    break;
                }
                default: out[n++] = *p;
            }
        } else {
            out[n++] = *p;
        }
    }
    out[n] = '\0';
    return out;
}

/* Whether the JSON text has "key": followed by a value starting with `value` (any spacing). */
static int has(const char* json, const char* key, const char* value) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char* p = strstr(json, pat); p; p = strstr(p + 1, pat)) {
        const char* v = p + strlen(pat);
        while (*v == ' ' || *v == '\n') ++v;
        if (*v++ != ':') continue;
        while (*v == ' ' || *v == '\n') ++v;
        if (strncmp(v, value, strlen(value)) == 0) return 1;
    }
    return 0;
}

static int collect(const char* piece, size_t n, int32_t tok, void* user) {
    (void)tok;
    char* acc = user;
    size_t have = strlen(acc);
    if (have + n < 16383) {
        memcpy(acc + have, piece, n);
        acc[have + n] = '\0';
    }
    return 0;
}

/* One sampled reply under the grammar: with `trigger` (a lazy grammar), the trigger's tokens are
 * accepted first as the reply's start, which starts the grammar; the reply is trigger + the rest. */
static int generate_call(llamas_model* m, const char* tmpl, const char* prompt, const char* gbnf, const char* root,
                         const char* trigger, int seed, const char* name) {
    llamas_context_options co;
    llamas_context_options_init(&co);
    co.n_ctx = 4096;
    co.n_threads = 2;
    llamas_context* c = NULL;
    CHECK_OK(llamas_context_create(m, &co, &c));
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    so.temperature = 1.0f;
    so.seed = (uint64_t)seed;
    llamas_sampler* s = NULL;
    CHECK_OK(llamas_sampler_create(m, &so, &s));
    if (!c || !s) return 0;
    static char reply[16384];
    static char full_prompt[65536];
    reply[0] = '\0';
    snprintf(full_prompt, sizeof full_prompt, "%s%s", prompt, trigger ? trigger : "");
    if (trigger) {
        CHECK_OK(llamas_sampler_set_grammar_lazy(s, gbnf, root, &trigger, 1, NULL, 0));
        int32_t ids[256];
        size_t n = 0;
        CHECK_OK(llamas_tokenize(m, trigger, strlen(trigger), 0, ids, 256, &n));
        CHECK_OK(llamas_sampler_accept(s, ids, n)); /* "generated": the grammar starts here */
        snprintf(reply, sizeof reply, "%s", trigger);
    } else {
        CHECK_OK(llamas_sampler_set_grammar(s, gbnf, root));
    }
    llamas_generate_options go;
    llamas_generate_options_init(&go);
    go.max_tokens = MAX_TOKENS;
    go.skip_special = 1;
    CHECK_OK(llamas_generate(c, s, full_prompt, &go, collect, reply, NULL));
    CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_EOG);
    size_t need = 0;
    llamas_chat_parse_reply(m, tmpl, reply, NULL, 0, &need);
    char* parsed = malloc(need + 1);
    CHECK_OK(llamas_chat_parse_reply(m, tmpl, reply, parsed, need + 1, NULL));
    const int weather = has(parsed, "name", "\"get_weather\"") && has(parsed, "city", "\"") &&
                        (has(parsed, "days", "1") || has(parsed, "days", "2") || has(parsed, "days", "3") ||
                         has(parsed, "days", "4") || has(parsed, "days", "5") || has(parsed, "days", "6") ||
                         has(parsed, "days", "7"));
    const int time = has(parsed, "name", "\"get_time\"") && (has(parsed, "zone", "\"UTC\"") || has(parsed, "zone", "\"CET\""));
    const int one_call = has(parsed, "tool_calls", "[{");
    const int good = one_call && (weather || time);
    if (!good) fprintf(stderr, "%s seed %d: reply %s\n  parsed %s\n", name, seed, reply, parsed);
    free(parsed);
    llamas_sampler_free(s);
    llamas_context_free(c);
    return good;
}

static char* tool_call_grammar(llamas_model* m, const char* tmpl, int required) {
    const int flags = required ? LLAMAS_TOOLS_REQUIRED : 0;
    size_t need = 0;
    llamas_chat_tool_call_grammar(m, tmpl, k_tools, flags, NULL, 0, &need);
    char* gj = malloc(need + 1);
    CHECK_OK(llamas_chat_tool_call_grammar(m, tmpl, k_tools, flags, gj, need + 1, NULL));
    return gj;
}

/* Renders, builds the grammar (required: from the first token; otherwise lazy, the call forced
 * through its trigger, or from the first token for a family without one) and checks n_seeds
 * sampled replies. Returns 0 when the template cannot
 * render a tool conversation (reason printed), else 1 (failures are CHECKed). */
static int roundtrip(llamas_model* m, const char* name, const char* tmpl, int required, int n_seeds) {
    size_t need = 0;
    if (llamas_chat_apply_template_json(NULL, tmpl, k_messages, k_tools, 1, NULL, 0, &need) != LLAMAS_OK &&
        need == 0) {
        printf("%s: skipped, the template does not render a tool conversation: %s\n", name, llamas_last_error());
        return 0;
    }
    char* prompt = render(tmpl);
    char* gj = tool_call_grammar(m, tmpl, required);
    int lazy = has(gj, "lazy", "true");
    if (!required && !lazy) { /* the family has no trigger (generic JSON): force the call instead */
        free(gj);
        gj = tool_call_grammar(m, tmpl, 1);
    }
    char* gbnf = json_string_field(gj, "grammar");
    char* root = json_string_field(gj, "root");
    CHECK(gbnf && root);
    CHECK(!required || !lazy);
    char* trigger = lazy ? json_string_field(gj, "triggers") : NULL;
    CHECK(!lazy || (trigger && *trigger));
    int good = 0;
    if (gbnf && root) {
        CHECK_OK(llamas_grammar_validate(gbnf, root));
        for (int seed = 1; seed <= n_seeds; ++seed) good += generate_call(m, tmpl, prompt, gbnf, root, trigger, seed, name);
    }
    printf("%s: %d of %d sampled replies (%s) parse into a valid call\n", name, good, n_seeds,
           lazy ? "lazy grammar, call forced by its trigger" : "grammar from the first token");
    CHECK(good == n_seeds);
    free(trigger);
    free(gbnf);
    free(root);
    free(gj);
    free(prompt);
    return 1;
}

static int by_name(const void* a, const void* b) { return strcmp(*(char* const*)a, *(char* const*)b); }

/* The published templates of a llama.cpp checkout (LLAMAS_LLAMACPP_DIR), in name order. */
static void published_templates(llamas_model* m) {
    const char* dir = getenv("LLAMAS_LLAMACPP_DIR");
    if (!dir || !*dir) {
        printf("published templates: skipped, LLAMAS_LLAMACPP_DIR is not set (a llama.cpp checkout)\n");
        return;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/models/templates", dir);
    DIR* d = opendir(path);
    CHECK(d != NULL);
    if (!d) return;
    char* names[512];
    int n = 0;
    for (struct dirent* e; (e = readdir(d)) != NULL && n < 512;) {
        const size_t len = strlen(e->d_name);
        if (len > 6 && strcmp(e->d_name + len - 6, ".jinja") == 0) {
            names[n] = malloc(len + 1);
            memcpy(names[n++], e->d_name, len + 1);
        }
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], by_name);
    int rendered = 0;
    for (int i = 0; i < n; ++i) {
        snprintf(path, sizeof path, "%s/models/templates/%s", dir, names[i]);
        char* tmpl = read_text(path);
        CHECK(tmpl != NULL);
        if (tmpl) rendered += roundtrip(m, names[i], tmpl, 0, 2);
        free(tmpl);
        free(names[i]);
    }
    printf("published templates: %d of %d render a tool conversation and round-trip\n", rendered, n);
    CHECK(n > 0 && rendered > 0);
}

int main(void) {
    char path[4096];
    data_path(path, sizeof path, "models/kjv-tiny-Q8_0.gguf");
    llamas_model* m = NULL;
    if (llamas_model_load(path, NULL, &m) != LLAMAS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, llamas_last_error());
        return 1;
    }
    /* Under the sanitizers (20x slower) fewer seeds: the same code runs for each. */
    const char* san = getenv("LLAMAS_TEST_SANITIZER");
    const int n_seeds = san && *san && strcmp(san, "0") != 0 ? 2 : N_SEEDS;
    const char* families[4][2] = {{"hermes", "hermes.jinja"}, {"llama3", "llama3.jinja"},
                                  {"mistral_nemo", "mistral-nemo.jinja"}, {"mistral", "mistral-small.jinja"}};
    for (int i = 0; i < 4; ++i) {
        snprintf(path, sizeof path, "%s/tests/data/templates/%s", LLAMAS_SOURCE_DIR, families[i][1]);
        char* tmpl = read_text(path);
        CHECK(tmpl != NULL);
        if (!tmpl) continue;
        size_t need = 0;
        char fmt[1024];
        CHECK_OK(llamas_chat_tool_format(NULL, tmpl, fmt, sizeof fmt, &need));
        char want[64];
        snprintf(want, sizeof want, "\"%s\"", families[i][0]);
        CHECK(has(fmt, "family", want));
        CHECK(roundtrip(m, families[i][0], tmpl, 1, n_seeds));
        CHECK(roundtrip(m, families[i][0], tmpl, 0, n_seeds < 2 ? n_seeds : 2)); /* lazy, the call forced by its trigger */
        free(tmpl);
    }
    CHECK(roundtrip(m, "generic", k_chatml, 1, n_seeds));
    published_templates(m);

    /* Errors: not tools, a family the grammar cannot express. */
    char buf[256];
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, "{}", 0, buf, sizeof buf, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, "[{\"type\": \"function\"}]", 0, buf, sizeof buf, NULL),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, NULL, 0, buf, sizeof buf, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_model_free(m);
    return finish("test_tool_roundtrip");
}
