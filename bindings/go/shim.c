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

static struct {
#define X(name) __typeof__(&llamas_##name) name;
	LLAMAS_GO_FUNCTIONS(X)
#undef X
} lf;

// Opens the library and resolves every symbol; returns NULL or a malloc'd error text.
char* lgo_open(const char* path) {
	void* lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) return strdup(dlerror());
#define X(name) \
	lf.name = (__typeof__(lf.name))dlsym(lib, "llamas_" #name); \
	if (!lf.name) { char* m = malloc(512); snprintf(m, 512, "%s: missing symbol llamas_%s", path, #name); return m; }
	LLAMAS_GO_FUNCTIONS(X)
#undef X
	return NULL;
}

extern int llamasGoPiece(char* piece, size_t length, int32_t token, uintptr_t handle);
static int lgo_piece_trampoline(const char* piece, size_t length, int32_t token, void* user) {
	return llamasGoPiece((char*)piece, length, token, (uintptr_t)user);
}

const char* lgo_version(void) { return lf.version(); }
const char* lgo_status_string(llamas_status s) { return lf.status_string(s); }
const char* lgo_last_error(void) { return lf.last_error(); }
const char* lgo_cpu_path(void) { return lf.cpu_path(); }
llamas_status lgo_set_cpu_path(const char* n) { return lf.set_cpu_path(n); }
void lgo_model_options_init(llamas_model_options* o) { lf.model_options_init(o); }
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
void lgo_context_options_init(llamas_context_options* o) { lf.context_options_init(o); }
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
void lgo_sampler_options_init(llamas_sampler_options* o) { lf.sampler_options_init(o); }
llamas_status lgo_sampler_create(const llamas_model* m, const llamas_sampler_options* o, llamas_sampler** s) { return lf.sampler_create(m, o, s); }
void lgo_sampler_free(llamas_sampler* s) { lf.sampler_free(s); }
llamas_status lgo_sampler_set_logit_bias(llamas_sampler* s, int32_t t, float b) { return lf.sampler_set_logit_bias(s, t, b); }
llamas_status lgo_sample(llamas_sampler* s, llamas_context* c, int32_t* t) { return lf.sample(s, c, t); }
void lgo_sampler_reset(llamas_sampler* s) { lf.sampler_reset(s); }
void lgo_generate_options_init(llamas_generate_options* o) { lf.generate_options_init(o); }
llamas_status lgo_generate(llamas_context* c, llamas_sampler* s, const char* p, const llamas_generate_options* o, uintptr_t handle, int32_t* n) {
	return lf.generate(c, s, p, o, lgo_piece_trampoline, (void*)handle, n);
}
llamas_status lgo_chat_apply_template(const llamas_model* m, const char* t, const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l) { return lf.chat_apply_template(m, t, msg, n, g, b, c, l); }
llamas_status lgo_chat_apply_chatml(const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l) { return lf.chat_apply_chatml(msg, n, g, b, c, l); }
void lgo_embed_options_init(llamas_embed_options* o) { lf.embed_options_init(o); }
llamas_status lgo_embed(llamas_context* c, const char* const* t, size_t n, const llamas_embed_options* o, float* out, size_t cap) { return lf.embed(c, t, n, o, out, cap); }
