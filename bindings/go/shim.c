// The dlopen'ed function table and one C wrapper per function of llamas.h (cgo cannot call
// through function pointers). The prototypes come from the header itself (__typeof__), so a
// change of the contract shows up here as a compile error.
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "shim.h"

#define LLAMAS_GO_FUNCTIONS(X) \
	X(version) X(version_number) X(status_string) X(last_error) X(cpu_path) X(set_cpu_path) \
	X(model_options_init) X(model_load) X(model_free) X(model_architecture) X(model_n_vocab) \
	X(model_n_ctx_train) X(model_n_embd) X(model_n_embd_out) X(model_bos) X(model_eos) \
	X(model_is_eog) X(model_chat_template) X(model_meta) X(tokenize) X(detokenize) \
	X(context_options_init) X(context_create) X(context_free) X(context_n_ctx) X(context_n_past) \
	X(decode) X(logits) X(kv_clear) X(kv_remove) X(kv_keep_shift) X(context_cancel) \
	X(sampler_options_init) X(sampler_create) X(sampler_free) X(sampler_set_logit_bias) X(sample) \
	X(sampler_reset) X(generate_options_init) X(generate) X(chat_apply_template) \
	X(chat_apply_chatml) X(embed_options_init) X(embed)

// Since 0.2: resolved when present (lgo_has tells), so the 0.1 surface works without them.
#define LLAMAS_GO_FUNCTIONS_0_2(X) \
	X(model_meta_count) X(model_meta_key) X(model_meta_info) X(model_meta_int) X(model_meta_float) \
	X(model_meta_string) X(model_n_params) X(model_tensor_bytes) X(model_file_size) \
	X(model_description) X(model_special_token) X(token_text) X(token_score) X(token_attr) \
	X(token_to_piece) X(context_n_seq_max) X(decode_batch) X(logits_ith) X(logprobs) \
	X(seq_pos_min) X(seq_pos_max) X(seq_remove) X(seq_copy) X(seq_keep) X(seq_shift) \
	X(state_size) X(state_save) X(state_load) X(state_save_file) X(state_load_file) \
	X(sampler_choose) X(sampler_accept) X(sampler_set_filter) X(context_finish_reason) \
	X(json_schema_to_grammar) X(chat_apply_template_json) X(chat_parse_reply) X(chat_tool_format) \
	X(chat_tool_call_grammar) X(grammar_validate) X(sampler_set_grammar) X(sampler_set_grammar_lazy) X(sampler_set_grammar_lazy_patterns) \
	X(sampler_accept_prompt)


static struct {
#define X(name) __typeof__(&llamas_##name) name;
	LLAMAS_GO_FUNCTIONS(X)
	LLAMAS_GO_FUNCTIONS_0_2(X)
#undef X
} lf;

// llamas_X_options_init(o) is llamas_X_options_init_size(o, sizeof) in the 0.2 header; the
// exported llamas_X_options_init writes only the 0.1 fields (its size is frozen). Declared by
// hand so the shim builds against a header without them; used when the library has them.
static struct {
	void (*model)(llamas_model_options*, size_t);
	void (*context)(llamas_context_options*, size_t);
	void (*sampler)(llamas_sampler_options*, size_t);
	void (*generate)(llamas_generate_options*, size_t);
	void (*embed)(llamas_embed_options*, size_t);
} init_size;

static const struct { const char* name; void** slot; } optional_fns[] = {
#define X(name) {"llamas_" #name, (void**)&lf.name},
	LLAMAS_GO_FUNCTIONS_0_2(X)
#undef X
};

// Whether the optional function `name` ("llamas_...") was found (1 for the required ones).
int lgo_has(const char* name) {
	for (size_t i = 0; i < sizeof optional_fns / sizeof optional_fns[0]; i++)
		if (strcmp(optional_fns[i].name, name) == 0) return *optional_fns[i].slot != NULL;
	return 1;
}

// Opens the library and resolves every symbol; returns NULL or a malloc'd error text.
char* lgo_open(const char* path) {
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return strdup(dlerror());
#define X(name) \
	lf.name = (__typeof__(lf.name))dlsym(lib, "llamas_" #name); \
	if (!lf.name) { char* m = malloc(512); snprintf(m, 512, "%s: missing symbol llamas_%s", path, #name); return m; }
	LLAMAS_GO_FUNCTIONS(X)
#undef X
#define X(name) lf.name = (__typeof__(lf.name))dlsym(lib, "llamas_" #name);
	LLAMAS_GO_FUNCTIONS_0_2(X)
#undef X
	*(void**)&init_size.model = dlsym(lib, "llamas_model_options_init_size");
	*(void**)&init_size.context = dlsym(lib, "llamas_context_options_init_size");
	*(void**)&init_size.sampler = dlsym(lib, "llamas_sampler_options_init_size");
	*(void**)&init_size.generate = dlsym(lib, "llamas_generate_options_init_size");
	*(void**)&init_size.embed = dlsym(lib, "llamas_embed_options_init_size");
	return NULL;
}

extern int llamasGoPiece(char* piece, size_t length, int32_t token, uintptr_t handle);
static int lgo_piece_trampoline(const char* piece, size_t length, int32_t token, void* user) {
	return llamasGoPiece((char*)piece, length, token, (uintptr_t)user);
}

extern int llamasGoProgress(float progress, uintptr_t handle);
static int lgo_progress_trampoline(float progress, void* user) {
	return llamasGoProgress(progress, (uintptr_t)user);
}
extern void llamasGoToken(llamas_token_info* info, uintptr_t handle);
static void lgo_token_trampoline(const llamas_token_info* info, void* user) {
	llamasGoToken((llamas_token_info*)info, (uintptr_t)user);
}
extern int llamasGoFilter(float* logits, int32_t n_vocab, uintptr_t handle);
static int lgo_filter_trampoline(float* logits, int32_t n_vocab, void* user) {
	return llamasGoFilter(logits, n_vocab, (uintptr_t)user);
}

void lgo_set_progress(llamas_model_options* o, uintptr_t handle) {
	o->progress = lgo_progress_trampoline;
	o->progress_user_data = (void*)handle;
}
void lgo_set_token_callback(llamas_generate_options* o, uintptr_t handle) {
	o->token_callback = lgo_token_trampoline;
	o->token_user_data = (void*)handle;
}

const char* lgo_version(void) { return lf.version(); }
const char* lgo_status_string(llamas_status s) { return lf.status_string(s); }
const char* lgo_last_error(void) { return lf.last_error(); }
const char* lgo_cpu_path(void) { return lf.cpu_path(); }
llamas_status lgo_set_cpu_path(const char* n) { return lf.set_cpu_path(n); }
void lgo_model_options_init(llamas_model_options* o) { if (init_size.model) init_size.model(o, sizeof *o); else lf.model_options_init(o); }
llamas_status lgo_model_load(const char* p, const llamas_model_options* o, llamas_model** m) { return lf.model_load(p, o, m); }
void lgo_model_free(llamas_model* m) { lf.model_free(m); }
const char* lgo_model_architecture(const llamas_model* m) { return lf.model_architecture(m); }
int32_t lgo_model_n_vocab(const llamas_model* m) { return lf.model_n_vocab(m); }
int32_t lgo_model_n_ctx_train(const llamas_model* m) { return lf.model_n_ctx_train(m); }
int32_t lgo_model_n_embd(const llamas_model* m) { return lf.model_n_embd(m); }
int32_t lgo_model_n_embd_out(const llamas_model* m) { return lf.model_n_embd_out(m); }
int32_t lgo_model_bos(const llamas_model* m) { return lf.model_bos(m); }
int32_t lgo_model_eos(const llamas_model* m) { return lf.model_eos(m); }
int lgo_model_is_eog(const llamas_model* m, int32_t t) { return lf.model_is_eog(m, t); }
const char* lgo_model_chat_template(const llamas_model* m) { return lf.model_chat_template(m); }
llamas_status lgo_model_meta(const llamas_model* m, const char* k, char* b, size_t c, size_t* n) { return lf.model_meta(m, k, b, c, n); }
llamas_status lgo_tokenize(const llamas_model* m, const char* t, size_t tl, int f, int32_t* o, size_t c, size_t* n) { return lf.tokenize(m, t, tl, f, o, c, n); }
llamas_status lgo_detokenize(const llamas_model* m, const int32_t* t, size_t nt, int f, char* b, size_t c, size_t* n) { return lf.detokenize(m, t, nt, f, b, c, n); }
void lgo_context_options_init(llamas_context_options* o) { if (init_size.context) init_size.context(o, sizeof *o); else lf.context_options_init(o); }
llamas_status lgo_context_create(llamas_model* m, const llamas_context_options* o, llamas_context** c) { return lf.context_create(m, o, c); }
void lgo_context_free(llamas_context* c) { lf.context_free(c); }
int32_t lgo_context_n_ctx(const llamas_context* c) { return lf.context_n_ctx(c); }
int32_t lgo_context_n_past(const llamas_context* c) { return lf.context_n_past(c); }
llamas_status lgo_decode(llamas_context* c, const int32_t* t, size_t n) { return lf.decode(c, t, n); }
const float* lgo_logits(const llamas_context* c) { return lf.logits(c); }
llamas_status lgo_kv_clear(llamas_context* c) { return lf.kv_clear(c); }
llamas_status lgo_kv_remove(llamas_context* c, int32_t a, int32_t b) { return lf.kv_remove(c, a, b); }
llamas_status lgo_kv_keep_shift(llamas_context* c, int32_t a, int32_t b) { return lf.kv_keep_shift(c, a, b); }
void lgo_context_cancel(llamas_context* c) { lf.context_cancel(c); }
void lgo_sampler_options_init(llamas_sampler_options* o) { if (init_size.sampler) init_size.sampler(o, sizeof *o); else lf.sampler_options_init(o); }
llamas_status lgo_sampler_create(const llamas_model* m, const llamas_sampler_options* o, llamas_sampler** s) { return lf.sampler_create(m, o, s); }
void lgo_sampler_free(llamas_sampler* s) { lf.sampler_free(s); }
llamas_status lgo_sampler_set_logit_bias(llamas_sampler* s, int32_t t, float b) { return lf.sampler_set_logit_bias(s, t, b); }
llamas_status lgo_sample(llamas_sampler* s, llamas_context* c, int32_t* t) { return lf.sample(s, c, t); }
void lgo_sampler_reset(llamas_sampler* s) { lf.sampler_reset(s); }
void lgo_generate_options_init(llamas_generate_options* o) { if (init_size.generate) init_size.generate(o, sizeof *o); else lf.generate_options_init(o); }
llamas_status lgo_generate(llamas_context* c, llamas_sampler* s, const char* p, const llamas_generate_options* o, uintptr_t handle, int32_t* n) {
	return lf.generate(c, s, p, o, lgo_piece_trampoline, (void*)handle, n);
}
llamas_status lgo_chat_apply_template(const llamas_model* m, const char* t, const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l) { return lf.chat_apply_template(m, t, msg, n, g, b, c, l); }
llamas_status lgo_chat_apply_chatml(const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l) { return lf.chat_apply_chatml(msg, n, g, b, c, l); }
void lgo_embed_options_init(llamas_embed_options* o) { if (init_size.embed) init_size.embed(o, sizeof *o); else lf.embed_options_init(o); }
llamas_status lgo_embed(llamas_context* c, const char* const* t, size_t n, const llamas_embed_options* o, float* out, size_t cap) { return lf.embed(c, t, n, o, out, cap); }

// ---- 0.2 (call only after lgo_has said yes)
int32_t lgo_model_meta_count(const llamas_model* m) { return lf.model_meta_count(m); }
const char* lgo_model_meta_key(const llamas_model* m, int32_t i) { return lf.model_meta_key(m, i); }
llamas_status lgo_model_meta_info(const llamas_model* m, const char* k, int32_t* t, int32_t* et, uint64_t* n) { return lf.model_meta_info(m, k, t, et, n); }
llamas_status lgo_model_meta_int(const llamas_model* m, const char* k, uint64_t i, int64_t* v) { return lf.model_meta_int(m, k, i, v); }
llamas_status lgo_model_meta_float(const llamas_model* m, const char* k, uint64_t i, double* v) { return lf.model_meta_float(m, k, i, v); }
llamas_status lgo_model_meta_string(const llamas_model* m, const char* k, uint64_t i, char* b, size_t c, size_t* n) { return lf.model_meta_string(m, k, i, b, c, n); }
uint64_t lgo_model_n_params(const llamas_model* m) { return lf.model_n_params(m); }
uint64_t lgo_model_tensor_bytes(const llamas_model* m) { return lf.model_tensor_bytes(m); }
uint64_t lgo_model_file_size(const llamas_model* m) { return lf.model_file_size(m); }
llamas_status lgo_model_description(const llamas_model* m, char* b, size_t c, size_t* n) { return lf.model_description(m, b, c, n); }
int32_t lgo_model_special_token(const llamas_model* m, int32_t w) { return lf.model_special_token(m, w); }
const char* lgo_token_text(const llamas_model* m, int32_t t) { return lf.token_text(m, t); }
float lgo_token_score(const llamas_model* m, int32_t t) { return lf.token_score(m, t); }
uint32_t lgo_token_attr(const llamas_model* m, int32_t t) { return lf.token_attr(m, t); }
llamas_status lgo_token_to_piece(const llamas_model* m, int32_t t, int f, char* b, size_t c, size_t* n) { return lf.token_to_piece(m, t, f, b, c, n); }
int32_t lgo_context_n_seq_max(const llamas_context* c) { return lf.context_n_seq_max(c); }
llamas_status lgo_decode_batch(llamas_context* c, const int32_t* t, const int32_t* p, const int32_t* s, const int8_t* w, size_t n) { return lf.decode_batch(c, t, p, s, w, n); }
const float* lgo_logits_ith(const llamas_context* c, int32_t i) { return lf.logits_ith(c, i); }
llamas_status lgo_logprobs(const llamas_context* c, int32_t i, int32_t t, float* lp, llamas_token_logprob* top, size_t n, size_t* got) { return lf.logprobs(c, i, t, lp, top, n, got); }
int32_t lgo_seq_pos_min(const llamas_context* c, int32_t s) { return lf.seq_pos_min(c, s); }
int32_t lgo_seq_pos_max(const llamas_context* c, int32_t s) { return lf.seq_pos_max(c, s); }
llamas_status lgo_seq_remove(llamas_context* c, int32_t s, int32_t p0, int32_t p1, int shift) { return lf.seq_remove(c, s, p0, p1, shift); }
llamas_status lgo_seq_copy(llamas_context* c, int32_t src, int32_t dst, int32_t p1) { return lf.seq_copy(c, src, dst, p1); }
llamas_status lgo_seq_keep(llamas_context* c, int32_t s) { return lf.seq_keep(c, s); }
llamas_status lgo_seq_shift(llamas_context* c, int32_t s, int32_t p0, int32_t p1, int32_t d) { return lf.seq_shift(c, s, p0, p1, d); }
llamas_status lgo_state_size(const llamas_context* c, int32_t s, size_t* n) { return lf.state_size(c, s, n); }
llamas_status lgo_state_save(const llamas_context* c, int32_t s, void* b, size_t cap, size_t* n) { return lf.state_save(c, s, b, cap, n); }
llamas_status lgo_state_load(llamas_context* c, int32_t s, const void* d, size_t n) { return lf.state_load(c, s, d, n); }
llamas_status lgo_state_save_file(const llamas_context* c, int32_t s, const char* p) { return lf.state_save_file(c, s, p); }
llamas_status lgo_state_load_file(llamas_context* c, int32_t s, const char* p) { return lf.state_load_file(c, s, p); }
llamas_status lgo_sampler_choose(llamas_sampler* s, const llamas_context* c, int32_t i, int32_t* t) { return lf.sampler_choose(s, c, i, t); }
llamas_status lgo_sampler_accept(llamas_sampler* s, const int32_t* t, size_t n) { return lf.sampler_accept(s, t, n); }
llamas_status lgo_sampler_set_filter(llamas_sampler* s, uintptr_t handle) {
	return lf.sampler_set_filter(s, handle ? lgo_filter_trampoline : NULL, (void*)handle);
}
int lgo_context_finish_reason(const llamas_context* c) { return (int)lf.context_finish_reason(c); }

// ---- structured output, chat with tools, grammars (call only after lgo_has said yes)
llamas_status lgo_json_schema_to_grammar(const char* j, char* b, size_t c, size_t* n) { return lf.json_schema_to_grammar(j, b, c, n); }
llamas_status lgo_chat_apply_template_json(const llamas_model* m, const char* t, const char* msgs, const char* tools, int g, char* b, size_t c, size_t* n) { return lf.chat_apply_template_json(m, t, msgs, tools, g, b, c, n); }
llamas_status lgo_chat_parse_reply(const llamas_model* m, const char* t, const char* r, char* b, size_t c, size_t* n) { return lf.chat_parse_reply(m, t, r, b, c, n); }
llamas_status lgo_chat_tool_format(const llamas_model* m, const char* t, char* b, size_t c, size_t* n) { return lf.chat_tool_format(m, t, b, c, n); }
llamas_status lgo_chat_tool_call_grammar(const llamas_model* m, const char* t, const char* tools, int f, char* b, size_t c, size_t* n) { return lf.chat_tool_call_grammar(m, t, tools, f, b, c, n); }
llamas_status lgo_grammar_validate(const char* g, const char* r) { return lf.grammar_validate(g, r); }
llamas_status lgo_sampler_set_grammar(llamas_sampler* s, const char* g, const char* r) { return lf.sampler_set_grammar(s, g, r); }
llamas_status lgo_sampler_set_grammar_lazy(llamas_sampler* s, const char* g, const char* r, const char* const* w, size_t nw, const int32_t* t, size_t nt) { return lf.sampler_set_grammar_lazy(s, g, r, w, nw, t, nt); }
llamas_status lgo_sampler_set_grammar_lazy_patterns(llamas_sampler* s, const char* g, const char* r, const char* const* p, size_t np, const int32_t* t, size_t nt) { return lf.sampler_set_grammar_lazy_patterns(s, g, r, p, np, t, nt); }
llamas_status lgo_sampler_accept_prompt(llamas_sampler* s, const int32_t* t, size_t n) { return lf.sampler_accept_prompt(s, t, n); }
