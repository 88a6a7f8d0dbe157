/*
 * llamas.h — the public C API of llamas, an embeddable CPU inference engine for GGUF models.
 *
 * Rules this header keeps, so programs built against an older version keep working:
 *  - Every symbol is llamas_* / LLAMAS_*; handles are opaque.
 *  - Every fallible call returns a llamas_status. On failure, llamas_last_error() gives the
 *    reason as text (per thread). No C++ exception, abort(), exit() or signal ever escapes.
 *  - Option structs start with `struct_size`; fill them with the matching *_init() function,
 *    then change fields. New fields are only ever appended, beyond the previous sizeof (never in
 *    tail padding); the library reads only the fields that the caller's struct_size covers and
 *    gives the others their defaults.
 *  - Freeing NULL is a no-op. Output pointers are left untouched on failure unless documented.
 *  - Zero in an option field means "the default" wherever zero is not a meaningful value.
 *  - A context or sampler must be freed before the model it was created from. Using any handle
 *    after freeing it is undefined, as with free().
 *
 * Thread safety (call by call):
 *  - A llamas_model is immutable after loading: any number of threads may use it at once,
 *    including to create contexts, tokenize and detokenize.
 *  - A llamas_context or llamas_sampler is used by one thread at a time, except
 *    llamas_context_cancel(), which any thread may call at any time.
 *  - llamas_version*, llamas_status_string, llamas_last_error and llamas_set_log_callback may be
 *    called from any thread.
 */
#ifndef LLAMAS_H
#define LLAMAS_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(LLAMAS_BUILDING)
#    define LLAMAS_API __declspec(dllexport)
#  else
#    define LLAMAS_API
#  endif
#else
#  define LLAMAS_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ---------------------------------------------------------------------------- */

#define LLAMAS_VERSION_MAJOR 0
#define LLAMAS_VERSION_MINOR 1
#define LLAMAS_VERSION_PATCH 0
#define LLAMAS_VERSION_NUMBER (LLAMAS_VERSION_MAJOR * 10000 + LLAMAS_VERSION_MINOR * 100 + LLAMAS_VERSION_PATCH)

/* The library's version as "MAJOR.MINOR.PATCH", and as MAJOR*10000 + MINOR*100 + PATCH. */
LLAMAS_API const char* llamas_version(void);
LLAMAS_API int llamas_version_number(void);

/* ---- errors ----------------------------------------------------------------------------- */

typedef enum llamas_status {
    LLAMAS_OK = 0,
    LLAMAS_ERR_INVALID_ARGUMENT = 1, /* NULL handle, out-of-range token, bad option value */
    LLAMAS_ERR_IO = 2,               /* a file could not be opened, read or mapped */
    LLAMAS_ERR_BAD_FORMAT = 3,       /* a malformed GGUF file or template */
    LLAMAS_ERR_UNSUPPORTED = 4,      /* valid input llamas cannot handle (architecture, type) */
    LLAMAS_ERR_OUT_OF_MEMORY = 5,
    LLAMAS_ERR_CONTEXT_FULL = 6,     /* the tokens do not fit in the context's n_ctx */
    LLAMAS_ERR_CANCELLED = 7,        /* stopped by llamas_context_cancel() */
    LLAMAS_ERR_INTERNAL = 8,
    LLAMAS_ERR_BUFFER_TOO_SMALL = 9  /* the size needed is reported through the size output */
} llamas_status;

/* A fixed English description of a status code ("invalid argument", ...). Never NULL. */
LLAMAS_API const char* llamas_status_string(llamas_status status);

/* The message of the last failed llamas call on this thread ("" if none). Valid until the
 * next llamas call on this thread. */
LLAMAS_API const char* llamas_last_error(void);

/* Log messages (default: discarded). level: 0 debug, 1 info, 2 warning, 3 error. The callback
 * may be called from any thread. Pass NULL to silence again. */
typedef void (*llamas_log_callback)(int level, const char* message, void* user_data);
LLAMAS_API void llamas_set_log_callback(llamas_log_callback callback, void* user_data);

/* ---- CPU kernels -------------------------------------------------------------------------- */

/* The SIMD path in use: "scalar", "avx2", "avx512" or "neon". */
LLAMAS_API const char* llamas_cpu_path(void);
/* Forces a path (as the LLAMAS_CPU environment variable does). Fails with
 * LLAMAS_ERR_UNSUPPORTED when this CPU cannot run it. Call before creating contexts. */
LLAMAS_API llamas_status llamas_set_cpu_path(const char* name);

/* ---- models ------------------------------------------------------------------------------- */

typedef struct llamas_model llamas_model;

typedef struct llamas_model_options {
    size_t struct_size; /* sizeof(llamas_model_options), set by llamas_model_options_init */
    int use_mmap;       /* 1 (default): map the file; 0: read it into memory */
    int n_threads;      /* threads that prepare the weights while loading; 0 (default): one per
                           core; more than the cores is treated as one per core */
} llamas_model_options;

LLAMAS_API void llamas_model_options_init(llamas_model_options* options);

/* Loads and validates a GGUF model. options may be NULL (defaults). */
LLAMAS_API llamas_status llamas_model_load(const char* path, const llamas_model_options* options,
                                           llamas_model** out_model);
LLAMAS_API void llamas_model_free(llamas_model* model);

/* Queries. On a NULL model they return NULL / 0. */
LLAMAS_API const char* llamas_model_architecture(const llamas_model* model); /* "llama", "gemma3", ... */
LLAMAS_API int32_t llamas_model_n_vocab(const llamas_model* model);
LLAMAS_API int32_t llamas_model_n_ctx_train(const llamas_model* model);
LLAMAS_API int32_t llamas_model_n_embd(const llamas_model* model);
LLAMAS_API int32_t llamas_model_bos(const llamas_model* model); /* -1 when none */
LLAMAS_API int32_t llamas_model_eos(const llamas_model* model); /* -1 when none */
LLAMAS_API int llamas_model_is_eog(const llamas_model* model, int32_t token); /* end of generation? */
/* The model's tokenizer.chat_template, or NULL when it has none. */
LLAMAS_API const char* llamas_model_chat_template(const llamas_model* model);
/* Any metadata value rendered as text (numbers in decimal, arrays abbreviated). Writes at most
 * capacity bytes including the terminating NUL; *out_length (optional) receives the full
 * length without the NUL. LLAMAS_ERR_INVALID_ARGUMENT when the key is absent. */
LLAMAS_API llamas_status llamas_model_meta(const llamas_model* model, const char* key, char* buffer,
                                           size_t capacity, size_t* out_length);

/* ---- tokens ------------------------------------------------------------------------------- */

enum {
    LLAMAS_TOKENIZE_ADD_SPECIAL = 1,   /* add BOS/EOS (CLS/SEP) as the model says */
    LLAMAS_TOKENIZE_PARSE_SPECIAL = 2  /* turn special-token text (e.g. "<|im_start|>") into tokens */
};
enum {
    LLAMAS_DETOKENIZE_SKIP_SPECIAL = 1 /* leave out control tokens (BOS, EOS, ...) */
};

/* Tokenizes text_length bytes of text. Writes up to capacity ids; *out_count receives the number
 * of tokens. When capacity is too small: LLAMAS_ERR_BUFFER_TOO_SMALL and *out_count is the
 * capacity needed. */
LLAMAS_API llamas_status llamas_tokenize(const llamas_model* model, const char* text, size_t text_length,
                                         int flags, int32_t* tokens, size_t capacity, size_t* out_count);
/* Turns tokens back into UTF-8 text (same buffer rules as llamas_model_meta; not NUL-terminated
 * when the buffer is exactly full). */
LLAMAS_API llamas_status llamas_detokenize(const llamas_model* model, const int32_t* tokens, size_t n_tokens,
                                           int flags, char* buffer, size_t capacity, size_t* out_length);

/* ---- contexts ----------------------------------------------------------------------------- */

typedef struct llamas_context llamas_context;

typedef enum llamas_kv_type { LLAMAS_KV_F16 = 0, LLAMAS_KV_F32 = 1, LLAMAS_KV_Q8_0 = 2 } llamas_kv_type;

typedef struct llamas_context_options {
    size_t struct_size; /* sizeof(llamas_context_options), set by llamas_context_options_init */
    int32_t n_ctx;      /* context length in tokens; 0 (default): min(model's, 4096) */
    int32_t n_batch;    /* most tokens evaluated in one pass; 0 (default): 512 */
    int32_t n_threads;  /* worker threads; 0 (default): the number of cores */
    int32_t kv_type;    /* llamas_kv_type; default LLAMAS_KV_F16 */
} llamas_context_options;

LLAMAS_API void llamas_context_options_init(llamas_context_options* options);
/* Creates a context (KV cache, scratch buffers, thread pool) for one conversation. All memory
 * a decode step needs is allocated here. options may be NULL (defaults). */
LLAMAS_API llamas_status llamas_context_create(llamas_model* model, const llamas_context_options* options,
                                               llamas_context** out_context);
LLAMAS_API void llamas_context_free(llamas_context* context);
LLAMAS_API int32_t llamas_context_n_ctx(const llamas_context* context);
/* Number of tokens in the KV cache (the position the next token gets). */
LLAMAS_API int32_t llamas_context_n_past(const llamas_context* context);

/* Evaluates tokens after those already in the cache (any number: they are split into
 * n_batch-sized passes). Afterwards llamas_logits() holds the logits after the last token.
 * LLAMAS_ERR_CONTEXT_FULL when they do not fit (nothing is evaluated then);
 * LLAMAS_ERR_INVALID_ARGUMENT for a token id out of range. */
LLAMAS_API llamas_status llamas_decode(llamas_context* context, const int32_t* tokens, size_t n_tokens);
/* The logits after the last evaluated token: llamas_model_n_vocab() floats (NULL before any
 * decode). Valid until the next call that changes the context. */
LLAMAS_API const float* llamas_logits(const llamas_context* context);

/* KV cache: drop everything; drop positions [p0, p1) (p1 < 0: to the end) — later positions
 * move down to close the gap; keep the first n_keep tokens and drop the n_discard after them,
 * shifting the rest (the way to continue past a full context). */
LLAMAS_API llamas_status llamas_kv_clear(llamas_context* context);
LLAMAS_API llamas_status llamas_kv_remove(llamas_context* context, int32_t p0, int32_t p1);
LLAMAS_API llamas_status llamas_kv_keep_shift(llamas_context* context, int32_t n_keep, int32_t n_discard);

/* Makes the call running in this context (or the next one) return LLAMAS_ERR_CANCELLED soon.
 * Safe from any thread and from a signal handler. The flag clears when that call returns. */
LLAMAS_API void llamas_context_cancel(llamas_context* context);

/* ---- sampling ----------------------------------------------------------------------------- */

typedef struct llamas_sampler llamas_sampler;

typedef struct llamas_sampler_options {
    size_t struct_size;       /* sizeof(llamas_sampler_options), set by llamas_sampler_options_init */
    float temperature;        /* <= 0: greedy. default 0.8 */
    int32_t top_k;            /* <= 0: off. default 40 */
    float top_p;              /* 1: off. default 0.95 */
    float min_p;              /* 0: off. default 0.05 */
    float typical_p;          /* 1: off (default) */
    float repeat_penalty;     /* 1: off (default) */
    float frequency_penalty;  /* 0: off (default) */
    float presence_penalty;   /* 0: off (default) */
    int32_t penalty_last_n;   /* window of recent tokens the penalties look at; default 64 */
    uint64_t seed;            /* the RNG seed; same seed, same choices. default 0 */
} llamas_sampler_options;

LLAMAS_API void llamas_sampler_options_init(llamas_sampler_options* options);
LLAMAS_API llamas_status llamas_sampler_create(const llamas_model* model, const llamas_sampler_options* options,
                                               llamas_sampler** out_sampler);
LLAMAS_API void llamas_sampler_free(llamas_sampler* sampler);
/* Adds bias to a token's logit before sampling (-INFINITY bans it). */
LLAMAS_API llamas_status llamas_sampler_set_logit_bias(llamas_sampler* sampler, int32_t token, float bias);
/* Picks a token from the context's current logits and records it for the penalties. */
LLAMAS_API llamas_status llamas_sample(llamas_sampler* sampler, llamas_context* context, int32_t* out_token);
/* Clears the penalty window and restarts the random stream from the seed (a new conversation). */
LLAMAS_API void llamas_sampler_reset(llamas_sampler* sampler);

/* ---- generation --------------------------------------------------------------------------- */

/* Receives each generated piece (UTF-8, complete characters only; may be empty for a token that
 * only starts a character). Return 0 to continue, non-zero to stop. */
typedef int (*llamas_piece_callback)(const char* piece, size_t length, int32_t token, void* user_data);

typedef struct llamas_generate_options {
    size_t struct_size;     /* sizeof(llamas_generate_options), set by llamas_generate_options_init */
    int32_t max_tokens;     /* stop after this many tokens; default 256 */
    int parse_special;      /* parse special-token text in the prompt; default 0 */
    int skip_special;       /* don't pass control tokens to the callback; default 1 */
} llamas_generate_options;

LLAMAS_API void llamas_generate_options_init(llamas_generate_options* options);
/* Tokenizes prompt (adding BOS only when the cache is empty), evaluates it after what the
 * context holds, then samples until an end-of-generation token, max_tokens, the callback's
 * stop, or a cancel. *out_n_generated (optional) receives the number of tokens generated.
 * Stopping by callback returns LLAMAS_OK; a cancel returns LLAMAS_ERR_CANCELLED. */
LLAMAS_API llamas_status llamas_generate(llamas_context* context, llamas_sampler* sampler, const char* prompt,
                                         const llamas_generate_options* options, llamas_piece_callback callback,
                                         void* user_data, int32_t* out_n_generated);

/* ---- chat templates ----------------------------------------------------------------------- */

typedef struct llamas_chat_message {
    const char* role;    /* "system", "user" or "assistant" */
    const char* content;
} llamas_chat_message;

/* Renders messages with the model's chat template (or `template_text` when not NULL). With
 * add_generation_prompt, ends with the assistant turn's opening. Buffer rules as
 * llamas_model_meta. LLAMAS_ERR_UNSUPPORTED when the template cannot be interpreted. */
LLAMAS_API llamas_status llamas_chat_apply_template(const llamas_model* model, const char* template_text,
                                                    const llamas_chat_message* messages, size_t n_messages,
                                                    int add_generation_prompt, char* buffer, size_t capacity,
                                                    size_t* out_length);
/* The same with the ChatML format, for models without a usable template. */
LLAMAS_API llamas_status llamas_chat_apply_chatml(const llamas_chat_message* messages, size_t n_messages,
                                                  int add_generation_prompt, char* buffer, size_t capacity,
                                                  size_t* out_length);

/* ---- embeddings ---------------------------------------------------------------------------- */

typedef enum llamas_pooling {
    LLAMAS_POOLING_MODEL = -1, /* what the model's metadata says (default) */
    LLAMAS_POOLING_NONE = 0,   /* not allowed for llamas_embed: it returns one vector per text */
    LLAMAS_POOLING_MEAN = 1,
    LLAMAS_POOLING_CLS = 2,
    LLAMAS_POOLING_LAST = 3
} llamas_pooling;

typedef struct llamas_embed_options {
    size_t struct_size; /* sizeof(llamas_embed_options), set by llamas_embed_options_init */
    int32_t pooling;    /* llamas_pooling; default LLAMAS_POOLING_MODEL */
    int normalize;      /* 1 (default): L2-normalize each embedding */
    int32_t dims;       /* 0 (default): all; N: keep the first N dimensions (Matryoshka), then
                           normalize if asked */
} llamas_embed_options;

LLAMAS_API void llamas_embed_options_init(llamas_embed_options* options);
/* Length of one embedding from this model at full size (after any dense projections). */
LLAMAS_API int32_t llamas_model_n_embd_out(const llamas_model* model);
/* Embeds n_texts NUL-terminated texts in as few forward passes as fit the context, writing
 * n_texts rows of `dims` floats (or n_embd_out) to out. out_capacity is the number of floats
 * out can hold; LLAMAS_ERR_BUFFER_TOO_SMALL when it is too small. A text longer than the
 * context is LLAMAS_ERR_CONTEXT_FULL. The context's KV cache is cleared. */
LLAMAS_API llamas_status llamas_embed(llamas_context* context, const char* const* texts, size_t n_texts,
                                      const llamas_embed_options* options, float* out, size_t out_capacity);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAS_H */
