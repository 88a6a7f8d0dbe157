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


// 0.2
int lgo_has(const char* name);
void lgo_set_progress(llamas_model_options* o, uintptr_t handle);
void lgo_set_token_callback(llamas_generate_options* o, uintptr_t handle);
int32_t lgo_model_meta_count(const llamas_model* m);
const char* lgo_model_meta_key(const llamas_model* m, int32_t i);
llamas_status lgo_model_meta_info(const llamas_model* m, const char* k, int32_t* t, int32_t* et, uint64_t* n);
llamas_status lgo_model_meta_int(const llamas_model* m, const char* k, uint64_t i, int64_t* v);
llamas_status lgo_model_meta_float(const llamas_model* m, const char* k, uint64_t i, double* v);
llamas_status lgo_model_meta_string(const llamas_model* m, const char* k, uint64_t i, char* b, size_t c, size_t* n);
uint64_t lgo_model_n_params(const llamas_model* m);
uint64_t lgo_model_tensor_bytes(const llamas_model* m);
uint64_t lgo_model_file_size(const llamas_model* m);
llamas_status lgo_model_description(const llamas_model* m, char* b, size_t c, size_t* n);
int32_t lgo_model_special_token(const llamas_model* m, int32_t w);
const char* lgo_token_text(const llamas_model* m, int32_t t);
float lgo_token_score(const llamas_model* m, int32_t t);
uint32_t lgo_token_attr(const llamas_model* m, int32_t t);
llamas_status lgo_token_to_piece(const llamas_model* m, int32_t t, int f, char* b, size_t c, size_t* n);
int32_t lgo_context_n_seq_max(const llamas_context* c);
llamas_status lgo_decode_batch(llamas_context* c, const int32_t* t, const int32_t* p, const int32_t* s, const int8_t* w, size_t n);
const float* lgo_logits_ith(const llamas_context* c, int32_t i);
llamas_status lgo_logprobs(const llamas_context* c, int32_t i, int32_t t, float* lp, llamas_token_logprob* top, size_t n, size_t* got);
int32_t lgo_seq_pos_min(const llamas_context* c, int32_t s);
int32_t lgo_seq_pos_max(const llamas_context* c, int32_t s);
llamas_status lgo_seq_remove(llamas_context* c, int32_t s, int32_t p0, int32_t p1, int shift);
llamas_status lgo_seq_copy(llamas_context* c, int32_t src, int32_t dst, int32_t p1);
llamas_status lgo_seq_keep(llamas_context* c, int32_t s);
llamas_status lgo_seq_shift(llamas_context* c, int32_t s, int32_t p0, int32_t p1, int32_t d);
llamas_status lgo_state_size(const llamas_context* c, int32_t s, size_t* n);
llamas_status lgo_state_save(const llamas_context* c, int32_t s, void* b, size_t cap, size_t* n);
llamas_status lgo_state_load(llamas_context* c, int32_t s, const void* d, size_t n);
llamas_status lgo_state_save_file(const llamas_context* c, int32_t s, const char* p);
llamas_status lgo_state_load_file(llamas_context* c, int32_t s, const char* p);
llamas_status lgo_sampler_choose(llamas_sampler* s, const llamas_context* c, int32_t i, int32_t* t);
llamas_status lgo_sampler_accept(llamas_sampler* s, const int32_t* t, size_t n);
llamas_status lgo_sampler_set_filter(llamas_sampler* s, uintptr_t handle);
int lgo_context_finish_reason(const llamas_context* c);

// structured output, chat with tools, grammars
llamas_status lgo_json_schema_to_grammar(const char* j, char* b, size_t c, size_t* n);
llamas_status lgo_chat_apply_template_json(const llamas_model* m, const char* t, const char* msgs, const char* tools, int g, char* b, size_t c, size_t* n);
llamas_status lgo_chat_parse_reply(const llamas_model* m, const char* t, const char* r, char* b, size_t c, size_t* n);
llamas_status lgo_chat_tool_format(const llamas_model* m, const char* t, char* b, size_t c, size_t* n);
llamas_status lgo_chat_tool_call_grammar(const llamas_model* m, const char* t, const char* tools, int f, char* b, size_t c, size_t* n);
llamas_status lgo_grammar_validate(const char* g, const char* r);
llamas_status lgo_sampler_set_grammar(llamas_sampler* s, const char* g, const char* r);
llamas_status lgo_sampler_set_grammar_lazy(llamas_sampler* s, const char* g, const char* r, const char* const* w, size_t nw, const int32_t* t, size_t nt);
llamas_status lgo_sampler_set_grammar_lazy_patterns(llamas_sampler* s, const char* g, const char* r, const char* const* p, size_t np, const int32_t* t, size_t nt);
llamas_status lgo_sampler_accept_prompt(llamas_sampler* s, const int32_t* t, size_t n);

#endif
