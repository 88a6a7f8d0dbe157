// The C side of the Go binding: see shim.c.
#ifndef LLAMAS_GO_SHIM_H
#define LLAMAS_GO_SHIM_H
#include <stdint.h>
#include "llamas.h"

char* lgo_open(const char* path);
const char* lgo_version(void);
const char* lgo_status_string(llamas_status s);
const char* lgo_last_error(void);
const char* lgo_cpu_path(void);
llamas_status lgo_set_cpu_path(const char* n);
void lgo_model_options_init(llamas_model_options* o);
llamas_status lgo_model_load(const char* p, const llamas_model_options* o, llamas_model** m);
void lgo_model_free(llamas_model* m);
const char* lgo_model_architecture(const llamas_model* m);
int32_t lgo_model_n_vocab(const llamas_model* m);
int32_t lgo_model_n_ctx_train(const llamas_model* m);
int32_t lgo_model_n_embd(const llamas_model* m);
int32_t lgo_model_n_embd_out(const llamas_model* m);
int32_t lgo_model_bos(const llamas_model* m);
int32_t lgo_model_eos(const llamas_model* m);
int lgo_model_is_eog(const llamas_model* m, int32_t t);
const char* lgo_model_chat_template(const llamas_model* m);
llamas_status lgo_model_meta(const llamas_model* m, const char* k, char* b, size_t c, size_t* n);
llamas_status lgo_tokenize(const llamas_model* m, const char* t, size_t tl, int f, int32_t* o, size_t c, size_t* n);
llamas_status lgo_detokenize(const llamas_model* m, const int32_t* t, size_t nt, int f, char* b, size_t c, size_t* n);
void lgo_context_options_init(llamas_context_options* o);
llamas_status lgo_context_create(llamas_model* m, const llamas_context_options* o, llamas_context** c);
void lgo_context_free(llamas_context* c);
int32_t lgo_context_n_ctx(const llamas_context* c);
int32_t lgo_context_n_past(const llamas_context* c);
llamas_status lgo_decode(llamas_context* c, const int32_t* t, size_t n);
const float* lgo_logits(const llamas_context* c);
llamas_status lgo_kv_clear(llamas_context* c);
llamas_status lgo_kv_remove(llamas_context* c, int32_t a, int32_t b);
llamas_status lgo_kv_keep_shift(llamas_context* c, int32_t a, int32_t b);
void lgo_context_cancel(llamas_context* c);
void lgo_sampler_options_init(llamas_sampler_options* o);
llamas_status lgo_sampler_create(const llamas_model* m, const llamas_sampler_options* o, llamas_sampler** s);
void lgo_sampler_free(llamas_sampler* s);
llamas_status lgo_sampler_set_logit_bias(llamas_sampler* s, int32_t t, float b);
llamas_status lgo_sample(llamas_sampler* s, llamas_context* c, int32_t* t);
void lgo_sampler_reset(llamas_sampler* s);
void lgo_generate_options_init(llamas_generate_options* o);
llamas_status lgo_generate(llamas_context* c, llamas_sampler* s, const char* p, const llamas_generate_options* o, uintptr_t handle, int32_t* n);
llamas_status lgo_chat_apply_template(const llamas_model* m, const char* t, const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l);
llamas_status lgo_chat_apply_chatml(const llamas_chat_message* msg, size_t n, int g, char* b, size_t c, size_t* l);
void lgo_embed_options_init(llamas_embed_options* o);
llamas_status lgo_embed(llamas_context* c, const char* const* t, size_t n, const llamas_embed_options* o, float* out, size_t cap);

#endif
