/* Tool calls round trip, per template family: render a conversation with tools -> generate a
 * forced call under the family's tool-call grammar (sampled, many seeds, on the real tiny model)
 * -> parse the reply -> one call of the right tool whose arguments follow its schema. The
 * templates are small ones in each family's style (tests/data/templates); ChatML stands for the
 * generic family (a template that shows no tools). */
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
    " {\"type\": \"function\", \"function\": {\"name\": \"get_time\", \"parameters\": {\"type\": \"object\","
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
    while (*p == ' ' || *p == ':') ++p;
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
    if (have + n < 8191) {
        memcpy(acc + have, piece, n);
        acc[have + n] = '\0';
    }
    return 0;
}

static void roundtrip(llamas_model* m, const char* family, const char* tmpl) {
    char* prompt = render(tmpl);
    CHECK(strstr(prompt, "get_weather") != NULL || strcmp(family, "generic") == 0);
    size_t need = 0;
    llamas_chat_tool_call_grammar(m, tmpl, k_tools, LLAMAS_TOOLS_REQUIRED, NULL, 0, &need);
    char* gj = malloc(need + 1);
    CHECK_OK(llamas_chat_tool_call_grammar(m, tmpl, k_tools, LLAMAS_TOOLS_REQUIRED, gj, need + 1, NULL));
    char* gbnf = json_string_field(gj, "grammar");
    char* root = json_string_field(gj, "root");
    CHECK(gbnf && root && has(gj, "lazy", "false"));
    if (!gbnf || !root) return;
    CHECK_OK(llamas_grammar_validate(gbnf, root));

    int good = 0;
    for (int seed = 1; seed <= N_SEEDS; ++seed) {
        llamas_context_options co;
        llamas_context_options_init(&co);
        co.n_ctx = 2048;
        co.n_threads = 2;
        llamas_context* c = NULL;
        CHECK_OK(llamas_context_create(m, &co, &c));
        llamas_sampler_options so;
        llamas_sampler_options_init(&so);
        so.temperature = 1.0f;
        so.seed = (uint64_t)seed;
        llamas_sampler* s = NULL;
        CHECK_OK(llamas_sampler_create(m, &so, &s));
        CHECK_OK(llamas_sampler_set_grammar(s, gbnf, root));
        llamas_generate_options go;
        llamas_generate_options_init(&go);
        go.max_tokens = MAX_TOKENS;
        go.skip_special = 1;
        char reply[8192] = "";
        CHECK_OK(llamas_generate(c, s, prompt, &go, collect, reply, NULL));
        CHECK(llamas_context_finish_reason(c) == LLAMAS_FINISH_EOG);
        llamas_chat_parse_reply(m, tmpl, reply, NULL, 0, &need);
        char* parsed = malloc(need + 1);
        CHECK_OK(llamas_chat_parse_reply(m, tmpl, reply, parsed, need + 1, NULL));
        const int weather = has(parsed, "name", "\"get_weather\"") && has(parsed, "city", "\"") &&
                            (has(parsed, "days", "1") || has(parsed, "days", "2") || has(parsed, "days", "3") ||
                             has(parsed, "days", "4") || has(parsed, "days", "5") || has(parsed, "days", "6") ||
                             has(parsed, "days", "7"));
        const int time = has(parsed, "name", "\"get_time\"") && (has(parsed, "zone", "\"UTC\"") || has(parsed, "zone", "\"CET\""));
        const int one_call = has(parsed, "tool_calls", "[{");
        if (one_call && (weather || time)) {
            ++good;
        } else {
            fprintf(stderr, "%s seed %d: reply %s\n  parsed %s\n", family, seed, reply, parsed);
        }
        free(parsed);
        llamas_sampler_free(s);
        llamas_context_free(c);
    }
    printf("%s: %d of %d sampled replies parse into a valid call\n", family, good, N_SEEDS);
    CHECK(good == N_SEEDS);
    free(gbnf);
    free(root);
    free(gj);
    free(prompt);
}

int main(void) {
    char path[4096];
    data_path(path, sizeof path, "models/kjv-tiny-Q8_0.gguf");
    llamas_model* m = NULL;
    if (llamas_model_load(path, NULL, &m) != LLAMAS_OK) {
        fprintf(stderr, "cannot load %s: %s\n", path, llamas_last_error());
        return 1;
    }
    const char* families[3][2] = {{"hermes", "hermes.jinja"}, {"llama3", "llama3.jinja"},
                                  {"mistral_nemo", "mistral-nemo.jinja"}};
    for (int i = 0; i < 3; ++i) {
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
        roundtrip(m, families[i][0], tmpl);
        free(tmpl);
    }
    roundtrip(m, "generic", k_chatml);

    /* Errors: not tools, a family the grammar cannot express. */
    char buf[256];
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, "{}", 0, buf, sizeof buf, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, "[{\"type\": \"function\"}]", 0, buf, sizeof buf, NULL),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_tool_call_grammar(m, k_chatml, NULL, 0, buf, sizeof buf, NULL), LLAMAS_ERR_INVALID_ARGUMENT);
    llamas_model_free(m);
    return finish("test_tool_roundtrip");
}
