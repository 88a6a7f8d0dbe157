/*
 * llamas.h — the public C API of llamas, an embeddable CPU inference engine for GGUF models.
 *
 * Rules this header keeps, so programs built against an older version keep working:
 *  - Every symbol is llamas_* / LLAMAS_*; handles are opaque.
 *  - Every fallible call returns a llamas_status. On failure, llamas_last_error() gives the
 *    reason as text (per thread). No C++ exception, abort(), exit() or signal ever escapes.
 *  - Option structs start with `struct_size`; fill them with the matching *_init() function,
 *    then change fields. llamas_X_options_init(o) is a macro for
 *    llamas_X_options_init_size(o, sizeof(llamas_X_options)), so the library writes exactly the
 *    bytes of the caller's header version, whichever side is newer. (The exported function
 *    llamas_X_options_init, which programs built against 0.1 call, cannot know that size: it
 *    writes only the 0.1 fields, a size frozen forever.) New fields are only ever appended,
 *    beyond the previous sizeof; no struct has tail padding (explicit reservedN fields,
 *    ignored, take its place). The library reads only the fields that the caller's struct_size covers and gives the others
 *    their defaults. A struct_size larger than the library's is accepted only when the unknown
 *    bytes are all zero (a newer caller asking for nothing new); otherwise the call fails with
 *    LLAMAS_ERR_UNSUPPORTED.
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
#define LLAMAS_VERSION_MINOR 2
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
    LLAMAS_ERR_BUFFER_TOO_SMALL = 9, /* the size needed is reported through the size output */
    LLAMAS_ERR_NOT_FOUND = 10        /* a metadata key, sequence or file entry that does not exist */
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

/* The SIMD path in use: "scalar", "avx2", "avx2-vnni" (AVX2 with AVX-VNNI), "avx512", "neon-nodot"
 * (any 64-bit Arm), "neon" (Arm with dotprod) or "neon-i8mm". */
LLAMAS_API const char* llamas_cpu_path(void);
/* Forces a path (as the LLAMAS_CPU environment variable does). Fails with
 * LLAMAS_ERR_UNSUPPORTED when this CPU cannot run it. Call before creating contexts. */
LLAMAS_API llamas_status llamas_set_cpu_path(const char* name);

/* ---- models ------------------------------------------------------------------------------- */

typedef struct llamas_model llamas_model;

/* Load progress: called from the loading thread with a fraction in [0, 1], at least once at 0
 * and once at 1 when the load succeeds. Return non-zero to cancel: the load then fails with
 * LLAMAS_ERR_CANCELLED and frees everything it made. */
typedef int (*llamas_progress_callback)(float progress, void* user_data);

typedef struct llamas_model_options {
    size_t struct_size; /* sizeof(llamas_model_options), set by llamas_model_options_init */
    int use_mmap;       /* 1 (default): map the file; 0: read it into memory */
    int n_threads;      /* threads that prepare the weights while loading; 0 (default): one per
                           core; more than the cores is treated as one per core */
    /* since 0.2 */
    llamas_progress_callback progress; /* NULL (default): no reports */
    void* progress_user_data;
} llamas_model_options;

LLAMAS_API void llamas_model_options_init(llamas_model_options* options); /* 0.1 ABI only: see the rules at the top */
/* since 0.2: writes exactly size bytes (the defaults of the fields this library knows, zeros
 * beyond) and sets struct_size = size. Every *_options_init_size works the same way. */
LLAMAS_API void llamas_model_options_init_size(llamas_model_options* options, size_t size);
#define llamas_model_options_init(options) llamas_model_options_init_size((options), sizeof(llamas_model_options))

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
 * length without the NUL. LLAMAS_ERR_NOT_FOUND when the key is absent. */
LLAMAS_API llamas_status llamas_model_meta(const llamas_model* model, const char* key, char* buffer,
                                           size_t capacity, size_t* out_length);

/* Metadata enumeration and typed values (since 0.2). Keys are numbered 0 .. count-1 in file
 * order. Types are GGUF's value types; an array reports its element type and length, and every
 * element is reachable by index (nothing is truncated). Scalars take index 0. A missing key is
 * LLAMAS_ERR_NOT_FOUND; asking a string for a number (or the reverse), or an index past the end,
 * is LLAMAS_ERR_INVALID_ARGUMENT. Booleans read as integers 0 / 1. */
typedef enum llamas_meta_type {
    LLAMAS_META_U8 = 0, LLAMAS_META_I8 = 1, LLAMAS_META_U16 = 2, LLAMAS_META_I16 = 3,
    LLAMAS_META_U32 = 4, LLAMAS_META_I32 = 5, LLAMAS_META_F32 = 6, LLAMAS_META_BOOL = 7,
    LLAMAS_META_STRING = 8, LLAMAS_META_ARRAY = 9, LLAMAS_META_U64 = 10, LLAMAS_META_I64 = 11,
    LLAMAS_META_F64 = 12
} llamas_meta_type;
LLAMAS_API int32_t llamas_model_meta_count(const llamas_model* model);
/* The key at index, or NULL when index is out of range. Valid while the model lives. */
LLAMAS_API const char* llamas_model_meta_key(const llamas_model* model, int32_t index);
/* *out_type: the value's type; for arrays *out_elem_type and *out_count describe the elements
 * (for scalars *out_elem_type = *out_type and *out_count = 1). Each output may be NULL. */
LLAMAS_API llamas_status llamas_model_meta_info(const llamas_model* model, const char* key, int32_t* out_type,
                                                int32_t* out_elem_type, uint64_t* out_count);
/* Integers (and booleans) as int64; a uint64 above INT64_MAX is LLAMAS_ERR_INVALID_ARGUMENT. */
LLAMAS_API llamas_status llamas_model_meta_int(const llamas_model* model, const char* key, uint64_t index,
                                               int64_t* out_value);
/* Floats as double (integers are converted too). */
LLAMAS_API llamas_status llamas_model_meta_float(const llamas_model* model, const char* key, uint64_t index,
                                                 double* out_value);
/* A string (buffer rules as llamas_model_meta; strings may hold any bytes, so use *out_length). */
LLAMAS_API llamas_status llamas_model_meta_string(const llamas_model* model, const char* key, uint64_t index,
                                                  char* buffer, size_t capacity, size_t* out_length);

/* Sizes (since 0.2): the number of weights, the bytes of tensor data, the file's size. 0 on NULL. */
LLAMAS_API uint64_t llamas_model_n_params(const llamas_model* model);
LLAMAS_API uint64_t llamas_model_tensor_bytes(const llamas_model* model);
LLAMAS_API uint64_t llamas_model_file_size(const llamas_model* model);
/* A one-line description such as "llama 1.2B Q4_K - Medium" (architecture, size, file type).
 * Buffer rules as llamas_model_meta. */
LLAMAS_API llamas_status llamas_model_description(const llamas_model* model, char* buffer, size_t capacity,
                                                  size_t* out_length);

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

/* ---- vocabulary (since 0.2) --------------------------------------------------------------- */

/* Token attributes, bit flags (the reference runtime's values). */
enum {
    LLAMAS_TOKEN_ATTR_UNKNOWN = 1 << 0,
    LLAMAS_TOKEN_ATTR_UNUSED = 1 << 1,
    LLAMAS_TOKEN_ATTR_NORMAL = 1 << 2,
    LLAMAS_TOKEN_ATTR_CONTROL = 1 << 3,
    LLAMAS_TOKEN_ATTR_USER_DEFINED = 1 << 4,
    LLAMAS_TOKEN_ATTR_BYTE = 1 << 5,
    LLAMAS_TOKEN_ATTR_NORMALIZED = 1 << 6,
    LLAMAS_TOKEN_ATTR_LSTRIP = 1 << 7,
    LLAMAS_TOKEN_ATTR_RSTRIP = 1 << 8,
    LLAMAS_TOKEN_ATTR_SINGLE_WORD = 1 << 9
};

/* The model's special tokens, for llamas_model_special_token(). */
typedef enum llamas_special_token {
    LLAMAS_SPECIAL_BOS = 0,
    LLAMAS_SPECIAL_EOS = 1,
    LLAMAS_SPECIAL_EOT = 2,      /* end of turn */
    LLAMAS_SPECIAL_SEP = 3,
    LLAMAS_SPECIAL_PAD = 4,
    LLAMAS_SPECIAL_UNK = 5,
    LLAMAS_SPECIAL_MASK = 6,
    LLAMAS_SPECIAL_FIM_PRE = 7,  /* fill-in-the-middle: prefix, suffix, middle */
    LLAMAS_SPECIAL_FIM_SUF = 8,
    LLAMAS_SPECIAL_FIM_MID = 9,
    LLAMAS_SPECIAL_NL = 10       /* the token of "\n" */
} llamas_special_token;

/* The token id of a special token, or -1 when the model has none (or on NULL / unknown which). */
LLAMAS_API int32_t llamas_model_special_token(const llamas_model* model, int32_t which);
/* A token's stored text (as in the vocabulary: "▁the", "Ġthe", "<0x0A>"), NUL-terminated; NULL
 * when the token is out of range. Valid while the model lives. */
LLAMAS_API const char* llamas_token_text(const llamas_model* model, int32_t token);
/* A token's score (SentencePiece log-probability or BPE rank as stored; 0 when the file has
 * none) and attribute bits (LLAMAS_TOKEN_ATTR_*). 0 when the token is out of range. */
LLAMAS_API float llamas_token_score(const llamas_model* model, int32_t token);
LLAMAS_API uint32_t llamas_token_attr(const llamas_model* model, int32_t token);

enum {
    LLAMAS_PIECE_SPECIAL = 1, /* render control tokens as their text (otherwise they give "") */
    LLAMAS_PIECE_LSTRIP = 2   /* drop one leading space, as the first piece of a text does */
};
/* The bytes one token stands for: a byte token gives its byte (possibly part of a UTF-8
 * character), SentencePiece's "▁" becomes a space, byte-level BPE's symbols are mapped back.
 * Buffer rules as llamas_detokenize. LLAMAS_ERR_INVALID_ARGUMENT for a token out of range. */
LLAMAS_API llamas_status llamas_token_to_piece(const llamas_model* model, int32_t token, int flags, char* buffer,
                                               size_t capacity, size_t* out_length);

/* ---- contexts ----------------------------------------------------------------------------- */

typedef struct llamas_context llamas_context;

typedef enum llamas_kv_type { LLAMAS_KV_F16 = 0, LLAMAS_KV_F32 = 1, LLAMAS_KV_Q8_0 = 2 } llamas_kv_type;

typedef struct llamas_context_options {
    size_t struct_size; /* sizeof(llamas_context_options), set by llamas_context_options_init */
    int32_t n_ctx;      /* tokens one sequence can hold; 0 (default): min(model's, 4096) */
    int32_t n_batch;    /* most tokens evaluated in one pass; 0 (default): 512 */
    int32_t n_threads;  /* worker threads; 0 (default): the number of cores */
    int32_t kv_type;    /* llamas_kv_type; default LLAMAS_KV_F16 */
    /* since 0.2 */
    int32_t n_seq_max;  /* sequences the context holds at once, ids 0 .. n_seq_max-1, each up to
                           n_ctx tokens (the cache reserves n_seq_max * n_ctx positions; pages
                           are touched only when used); 0 (default): 1 */
    int32_t reserved0;  /* ignored (keeps the struct free of tail padding) */
} llamas_context_options;

LLAMAS_API void llamas_context_options_init(llamas_context_options* options); /* 0.1 ABI only: see the rules at the top */
LLAMAS_API void llamas_context_options_init_size(llamas_context_options* options, size_t size); /* since 0.2 */
#define llamas_context_options_init(options) llamas_context_options_init_size((options), sizeof(llamas_context_options))
/* Creates a context (KV cache, scratch buffers, thread pool) for one conversation. All memory
 * a decode step needs is allocated here. options may be NULL (defaults). */
LLAMAS_API llamas_status llamas_context_create(llamas_model* model, const llamas_context_options* options,
                                               llamas_context** out_context);
LLAMAS_API void llamas_context_free(llamas_context* context);
LLAMAS_API int32_t llamas_context_n_ctx(const llamas_context* context);
/* Number of tokens in the KV cache (the position the next token gets) of sequence 0. */
LLAMAS_API int32_t llamas_context_n_past(const llamas_context* context);
/* The n_seq_max the context was created with (since 0.2). */
LLAMAS_API int32_t llamas_context_n_seq_max(const llamas_context* context);

/* Evaluates tokens after those already in sequence 0 of the cache (any number: they are split
 * into n_batch-sized passes). Afterwards llamas_logits() holds the logits after the last token.
 * LLAMAS_ERR_CONTEXT_FULL when they do not fit (nothing is evaluated then);
 * LLAMAS_ERR_INVALID_ARGUMENT for a token id out of range. */
LLAMAS_API llamas_status llamas_decode(llamas_context* context, const int32_t* tokens, size_t n_tokens);
/* The logits after the last evaluated token: llamas_model_n_vocab() floats (NULL before any
 * decode). After llamas_decode_batch, the last row of logits that batch produced. Valid until
 * the next call that changes the context. */
LLAMAS_API const float* llamas_logits(const llamas_context* context);

/* Evaluates a batch of tokens of several sequences in one forward pass per n_batch tokens (one
 * read of the weights for all of them), since 0.2.
 *  - tokens[i] goes to sequence seq_ids[i] (NULL: every token to sequence 0) at position
 *    positions[i] (NULL: each sequence continues after the last position it holds, in batch
 *    order).
 *  - The tokens of one sequence may be interleaved with other sequences' tokens, but their
 *    positions must increase in batch order, and the first must follow the sequence's last
 *    cached position (anything the sequence holds at or after that position is dropped first).
 *  - want_logits[i] != 0 keeps the logits of token i (NULL: the last token of each sequence in
 *    the batch); read them with llamas_logits_ith(context, i).
 * LLAMAS_ERR_CONTEXT_FULL when a sequence would exceed n_ctx, LLAMAS_ERR_INVALID_ARGUMENT for a
 * token, sequence id or position out of range (in either case nothing is evaluated). */
LLAMAS_API llamas_status llamas_decode_batch(llamas_context* context, const int32_t* tokens,
                                             const int32_t* positions, const int32_t* seq_ids,
                                             const int8_t* want_logits, size_t n_tokens);
/* The logits of token i of the last llamas_decode(_batch) call (i < 0: counted from the end, so
 * -1 is the last token), or NULL when that token did not keep logits. llamas_decode keeps only
 * its last token's. Valid until the next call that changes the context. */
LLAMAS_API const float* llamas_logits_ith(const llamas_context* context, int32_t i);

/* One alternative token and its log-probability. */
typedef struct llamas_token_logprob {
    int32_t token;
    float logprob;
} llamas_token_logprob;
/* Log-probabilities (log-softmax of the raw logits, temperature 1) of row i as in
 * llamas_logits_ith: *out_logprob (optional) receives token's (token < 0: skipped); top
 * (optional) receives the n_top most likely tokens, most likely first, and *out_n_top (optional)
 * how many were written (fewer when the vocabulary is smaller). */
LLAMAS_API llamas_status llamas_logprobs(const llamas_context* context, int32_t i, int32_t token,
                                         float* out_logprob, llamas_token_logprob* top, size_t n_top,
                                         size_t* out_n_top);

/* Sequences (since 0.2). seq < 0 means every sequence where noted. Positions p0 <= p < p1;
 * p1 < 0 means "to the end". Every edit keeps the cached keys valid for their positions. */
/* The lowest and highest position a sequence holds, -1 when it is empty (or on a bad id). */
LLAMAS_API int32_t llamas_seq_pos_min(const llamas_context* context, int32_t seq);
LLAMAS_API int32_t llamas_seq_pos_max(const llamas_context* context, int32_t seq);
/* Drops positions [p0, p1) of seq (seq < 0: of every sequence). With shift != 0 the positions
 * after p1 move down by p1 - p0 to close the gap (keys are re-rotated). Without shift they keep
 * their positions; a model with sliding-window layers cannot leave such a gap in the middle
 * (LLAMAS_ERR_UNSUPPORTED): it needs its positions contiguous. */
LLAMAS_API llamas_status llamas_seq_remove(llamas_context* context, int32_t seq, int32_t p0, int32_t p1,
                                           int shift);
/* Makes dst hold a copy of src's tokens at positions below p1 (p1 < 0: all of them), replacing
 * what dst held. The cached keys and values are copied; nothing is recomputed. */
LLAMAS_API llamas_status llamas_seq_copy(llamas_context* context, int32_t src, int32_t dst, int32_t p1);
/* Empties every sequence but seq. */
LLAMAS_API llamas_status llamas_seq_keep(llamas_context* context, int32_t seq);
/* Adds delta to the positions in [p0, p1) of seq (keys re-rotated). The positions must stay
 * in order and non-negative (LLAMAS_ERR_INVALID_ARGUMENT otherwise). */
LLAMAS_API llamas_status llamas_seq_shift(llamas_context* context, int32_t seq, int32_t p0, int32_t p1,
                                          int32_t delta);

/* KV cache: drop everything (every sequence); in sequence 0, drop positions [p0, p1) (p1 < 0:
 * to the end) — later positions move down to close the gap; keep the first n_keep tokens and
 * drop the n_discard after them, shifting the rest (the way to continue past a full context). */
LLAMAS_API llamas_status llamas_kv_clear(llamas_context* context);
LLAMAS_API llamas_status llamas_kv_remove(llamas_context* context, int32_t p0, int32_t p1);
LLAMAS_API llamas_status llamas_kv_keep_shift(llamas_context* context, int32_t n_keep, int32_t n_discard);

/* Makes the call running in this context return LLAMAS_ERR_CANCELLED soon (llamas_generate
 * returns LLAMAS_ERR_CANCELLED too). A cancel while no call runs does nothing: it never carries
 * over to the next call. Safe from any thread and from a signal handler. */
LLAMAS_API void llamas_context_cancel(llamas_context* context);

/* ---- state (since 0.2) ------------------------------------------------------------------- */

/* Saves the context's cache, positions and current logits (seq < 0: every sequence; else one
 * sequence) in a versioned, checksummed format bound to the model. llamas_state_size gives the
 * bytes needed; llamas_state_save writes them (LLAMAS_ERR_BUFFER_TOO_SMALL with *out_size set
 * when capacity is short). llamas_state_load restores a whole-context state (seq < 0) or puts a
 * one-sequence state into sequence seq; a state of another model, another cache type, another
 * format version, or a truncated or altered one is LLAMAS_ERR_BAD_FORMAT and leaves the
 * context as it was. After a whole-context load, llamas_logits() is what it was at the save. */
LLAMAS_API llamas_status llamas_state_size(const llamas_context* context, int32_t seq, size_t* out_size);
LLAMAS_API llamas_status llamas_state_save(const llamas_context* context, int32_t seq, void* buffer,
                                           size_t capacity, size_t* out_size);
LLAMAS_API llamas_status llamas_state_load(llamas_context* context, int32_t seq, const void* data, size_t size);
LLAMAS_API llamas_status llamas_state_save_file(const llamas_context* context, int32_t seq, const char* path);
LLAMAS_API llamas_status llamas_state_load_file(llamas_context* context, int32_t seq, const char* path);

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
    int32_t reserved0;        /* ignored (was padding before seed) */
    uint64_t seed;            /* the RNG seed; same seed, same choices. default 0 */
} llamas_sampler_options;

LLAMAS_API void llamas_sampler_options_init(llamas_sampler_options* options); /* 0.1 ABI only: see the rules at the top */
LLAMAS_API void llamas_sampler_options_init_size(llamas_sampler_options* options, size_t size); /* since 0.2 */
#define llamas_sampler_options_init(options) llamas_sampler_options_init_size((options), sizeof(llamas_sampler_options))
LLAMAS_API llamas_status llamas_sampler_create(const llamas_model* model, const llamas_sampler_options* options,
                                               llamas_sampler** out_sampler);
LLAMAS_API void llamas_sampler_free(llamas_sampler* sampler);
/* Adds bias to a token's logit before sampling (-INFINITY bans it). */
LLAMAS_API llamas_status llamas_sampler_set_logit_bias(llamas_sampler* sampler, int32_t token, float bias);
/* Picks a token from the context's current logits and records it for the penalties
 * (llamas_sampler_choose on row -1, then llamas_sampler_accept). */
LLAMAS_API llamas_status llamas_sample(llamas_sampler* sampler, llamas_context* context, int32_t* out_token);
/* Picks a token from row i of the context's logits (as llamas_logits_ith) without recording it
 * (since 0.2). A manual loop chooses, then accepts what it keeps. */
LLAMAS_API llamas_status llamas_sampler_choose(llamas_sampler* sampler, const llamas_context* context, int32_t i,
                                               int32_t* out_token);
/* Records generated tokens the caller kept: in the penalty window and, when a grammar is set,
 * advancing it (since 0.2). All or nothing: a token out of range or one the grammar does not
 * allow here fails with LLAMAS_ERR_INVALID_ARGUMENT and changes nothing. */
LLAMAS_API llamas_status llamas_sampler_accept(llamas_sampler* sampler, const int32_t* tokens, size_t n_tokens);
/* Records prompt tokens in the penalty window only; a grammar is not advanced (since 0.2). */
LLAMAS_API llamas_status llamas_sampler_accept_prompt(llamas_sampler* sampler, const int32_t* tokens,
                                                      size_t n_tokens);
/* A filter stage (since 0.2), for custom constraints: called on every choose, after the logit
 * biases and before a grammar, the penalties and the other filters, with the logits (writable, n_vocab floats);
 * set a logit to -INFINITY to forbid a token. Return non-zero to fail the choose with
 * LLAMAS_ERR_CANCELLED. NULL removes it. */
typedef int (*llamas_sampler_filter)(float* logits, int32_t n_vocab, void* user_data);
LLAMAS_API llamas_status llamas_sampler_set_filter(llamas_sampler* sampler, llamas_sampler_filter filter,
                                                   void* user_data);
/* Clears the penalty window, restarts the random stream from the seed and a grammar from its
 * start (a new conversation). */
LLAMAS_API void llamas_sampler_reset(llamas_sampler* sampler);

/* Grammars (since 0.2): GBNF text in llama.cpp's format, e.g.
 *     root ::= "yes" | "no" | num
 *     num  ::= [0-9]+ ("." [0-9]+)?
 * Rules, alternatives |, groups ( ), repetitions * + ? {m} {m,} {m,n}, string literals and
 * character classes [a-z] [^"] with escapes \n \t \r \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH,
 * . (any character), # comments, and whole-token references: <[ID]> (that token id), <TEXT>
 * (the one token TEXT is, e.g. <think>; needs a model, so llamas_grammar_validate refuses it)
 * and !<[ID]> / !<TEXT> (any one token but that one). A grammar is refused
 * (LLAMAS_ERR_INVALID_ARGUMENT, with "line L, column C: ..." in llamas_last_error) for a syntax error, an undefined rule, left
 * recursion, or sizes beyond the limits (groups nested 64 deep, repetition counts above 10000,
 * about a million elements once repetitions are expanded).
 *
 * Checks a grammar without a model. root NULL: "root". */
LLAMAS_API llamas_status llamas_grammar_validate(const char* gbnf, const char* root);
/* Constrains the sampler's choices to texts the grammar matches from rule `root` (NULL:
 * "root"): on every choose, after the logit biases and the filter and before the penalties,
 * tokens that cannot continue a match are forbidden, and end-of-generation tokens are allowed
 * only where the grammar can end. llamas_sampler_accept (and llamas_sample, llamas_generate)
 * advance it; llamas_sampler_reset restarts it. gbnf NULL removes the grammar. A choose fails
 * with LLAMAS_ERR_INVALID_ARGUMENT when no token is allowed. */
LLAMAS_API llamas_status llamas_sampler_set_grammar(llamas_sampler* sampler, const char* gbnf, const char* root);
/* A lazy grammar: choices are free until one of the trigger words appears in the accepted
 * generated text or one of the trigger tokens is accepted; from then on the grammar applies,
 * starting with the text from the trigger on (which it must accept, or the accept fails). */
LLAMAS_API llamas_status llamas_sampler_set_grammar_lazy(llamas_sampler* sampler, const char* gbnf, const char* root,
                                                         const char* const* trigger_words, size_t n_trigger_words,
                                                         const int32_t* trigger_tokens, size_t n_trigger_tokens);
/* A lazy grammar triggered by regular expressions (ECMAScript syntax), as llama.cpp's
 * trigger_patterns: each is searched in all the text generated so far, or matched against all
 * of it when anchored as ^...$; the grammar starts at the pattern's first non-empty capture
 * group (or at the match when it has none), e.g. "^\\s*(\\{\"name\")" for a reply that opens
 * with a JSON call. Patterns look at the first 4096 bytes of generated text only; trigger
 * tokens work as above. An invalid pattern is LLAMAS_ERR_INVALID_ARGUMENT. */
LLAMAS_API llamas_status llamas_sampler_set_grammar_lazy_patterns(llamas_sampler* sampler, const char* gbnf,
                                                                  const char* root, const char* const* trigger_patterns,
                                                                  size_t n_trigger_patterns,
                                                                  const int32_t* trigger_tokens, size_t n_trigger_tokens);

/* ---- generation --------------------------------------------------------------------------- */

/* Receives each generated piece (UTF-8, complete characters only; may be empty for a token that
 * only starts a character). Return 0 to continue, non-zero to stop. */
typedef int (*llamas_piece_callback)(const char* piece, size_t length, int32_t token, void* user_data);

/* Why a generation ended (llamas_context_finish_reason). */
typedef enum llamas_finish_reason {
    LLAMAS_FINISH_NONE = 0,         /* no generation has run, or it failed before sampling */
    LLAMAS_FINISH_EOG = 1,          /* the model produced an end-of-generation token */
    LLAMAS_FINISH_MAX_TOKENS = 2,   /* max_tokens reached */
    LLAMAS_FINISH_STOP_STRING = 3,  /* one of the stop strings appeared */
    LLAMAS_FINISH_CONTEXT_FULL = 4, /* the sequence reached n_ctx (status LLAMAS_ERR_CONTEXT_FULL) */
    LLAMAS_FINISH_CANCELLED = 5,    /* llamas_context_cancel (status LLAMAS_ERR_CANCELLED) */
    LLAMAS_FINISH_CALLBACK = 6      /* the piece callback returned non-zero */
} llamas_finish_reason;

/* Per generated token, when set: the token, its log-probability under the raw logits it was
 * chosen from, and the n_probs most likely alternatives (top has n_top entries). */
typedef struct llamas_token_info {
    int32_t token;
    float logprob;
    const llamas_token_logprob* top;
    int32_t n_top;
    int32_t reserved0;
} llamas_token_info;
typedef void (*llamas_token_callback)(const llamas_token_info* info, void* user_data);

typedef struct llamas_generate_options {
    size_t struct_size;     /* sizeof(llamas_generate_options), set by llamas_generate_options_init */
    int32_t max_tokens;     /* stop after this many tokens; default 256 */
    int parse_special;      /* parse special-token text in the prompt; default 1 (since 0.2; was 0):
                               a rendered chat template's markers become their tokens */
    int skip_special;       /* don't pass control tokens to the callback; default 1 */
    int32_t reserved0;      /* ignored (since 0.2: was tail padding) */
    /* since 0.2 */
    const char* const* stop; /* n_stop NUL-terminated stop strings: generation ends where one
                               appears, and no part of it reaches the callback */
    size_t n_stop;
    llamas_token_callback token_callback; /* NULL (default): none; runs before the piece callback */
    void* token_user_data;
    int32_t n_probs;        /* alternatives per token_callback call; default 0 */
    int32_t reserved1;      /* ignored */
} llamas_generate_options;

LLAMAS_API void llamas_generate_options_init(llamas_generate_options* options); /* 0.1 ABI only: see the rules at the top */
LLAMAS_API void llamas_generate_options_init_size(llamas_generate_options* options, size_t size); /* since 0.2 */
#define llamas_generate_options_init(options) llamas_generate_options_init_size((options), sizeof(llamas_generate_options))
/* Tokenizes prompt (adding BOS only when the cache is empty), evaluates it after what the
 * context's sequence 0 holds (the prompt's tokens are fed to the sampler's penalties, as
 * llamas_sampler_accept_prompt: a grammar constrains only the generated text), then
 * samples until an end-of-generation token, max_tokens, a stop string, the callback's stop, or
 * a cancel. The end-of-generation token itself is evaluated into the cache (it is part of the
 * conversation a chat template renders next turn) but not passed to the callback.
 * *out_n_generated (optional) receives the number of tokens generated; the reason it ended is
 * llamas_context_finish_reason(). Stopping by callback, stop string, max_tokens or EOG returns
 * LLAMAS_OK; a cancel returns LLAMAS_ERR_CANCELLED. */
LLAMAS_API llamas_status llamas_generate(llamas_context* context, llamas_sampler* sampler, const char* prompt,
                                         const llamas_generate_options* options, llamas_piece_callback callback,
                                         void* user_data, int32_t* out_n_generated);
/* Why the last llamas_generate on this context ended (since 0.2). */
LLAMAS_API llamas_finish_reason llamas_context_finish_reason(const llamas_context* context);

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

/* ---- chat with tools (since 0.2) ------------------------------------------------------------
 * OpenAI-format conversations rendered by the model's own template (or `template_text` when not
 * NULL; `model` may then be NULL, and bos_token/eos_token render empty). Buffer rules as
 * llamas_model_meta. JSON that is not valid, nested deeper than 64 levels, or of the wrong shape
 * is LLAMAS_ERR_INVALID_ARGUMENT, as is a conversation the template rejects. */

/* messages_json: an array of {"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}
 * (content a string, an array of parts, or null); tools_json: NULL or an array of OpenAI tools
 * ({"type": "function", "function": {"name", "description", "parameters"}}). Tool-call
 * arguments may be JSON text (as OpenAI sends them) or objects: each template gets the form it
 * prints. Templates that show no tools to the model (the "generic" family) get a system
 * message that describes the tools and the JSON reply format. */
LLAMAS_API llamas_status llamas_chat_apply_template_json(const llamas_model* model, const char* template_text,
                                                         const char* messages_json, const char* tools_json,
                                                         int add_generation_prompt, char* buffer, size_t capacity,
                                                         size_t* out_length);

/* Splits a finished assistant reply into content and tool calls, in the call format of the
 * template's family (see llamas_chat_tool_format). Writes JSON:
 *   {"content": "...", "reasoning_content": "..." (only when the template thinks in <think>),
 *    "tool_calls": [{"name": "...", "arguments": {...}, "id": "..." (when the format has ids)}]}
 * A call that does not parse leaves the whole reply as content, with no tool_calls. */
LLAMAS_API llamas_status llamas_chat_parse_reply(const llamas_model* model, const char* template_text,
                                                 const char* reply_text, char* buffer, size_t capacity,
                                                 size_t* out_length);

/* Describes the template's tool-call format as JSON, for building a grammar that forces or
 * allows a call: {"family": "hermes" | "llama3" | "mistral_nemo" | "mistral" | "generic",
 *  "lazy": grammar starts at a trigger (true) or at the first token (false),
 *  "triggers": [words that open a call], "trigger_at_start": true when a trigger counts only at
 *  the start of the reply, "call_prefix", "call_suffix", "call_separator": text around and
 *  between calls, "body": "object" ({"name": NAME, ARGUMENTS_KEY: ARGS}) or "name_args"
 *  (NAME + args_marker + ARGS), "arguments_key", "args_marker", "id_key"/"id_pattern" (when the
 *  template needs ids), "parallel": several calls allowed, "thinking": <think> reasoning}. */
LLAMAS_API llamas_status llamas_chat_tool_format(const llamas_model* model, const char* template_text,
                                                 char* buffer, size_t capacity, size_t* out_length);

enum {
    LLAMAS_TOOLS_REQUIRED = 1, /* the reply must be a call (a grammar from the first token) */
    LLAMAS_TOOLS_PARALLEL = 2  /* several calls in one reply, where the format allows it */
};
/* A GBNF grammar that makes the reply a tool call in the template's format, with each call's
 * arguments following its tool's `parameters` schema (tools_json: an array of OpenAI tools; pass
 * one tool to force that tool). Writes JSON {"grammar": GBNF, "root": rule, "lazy": bool,
 * "triggers": [words]}: give it to llamas_sampler_set_grammar, or, when lazy (calls optional),
 * to llamas_sampler_set_grammar_lazy with the triggers. Buffer rules as llamas_model_meta.
 * The mistral family's calls are [TOOL_CALLS]NAME[ARGS]{...}, with [CALL_ID]ID before [ARGS]
 * where the template prints ids. */
LLAMAS_API llamas_status llamas_chat_tool_call_grammar(const llamas_model* model, const char* template_text,
                                                       const char* tools_json, int flags, char* buffer,
                                                       size_t capacity, size_t* out_length);

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
    int32_t reserved0;  /* ignored (since 0.2: was tail padding) */
} llamas_embed_options;

LLAMAS_API void llamas_embed_options_init(llamas_embed_options* options); /* 0.1 ABI only: see the rules at the top */
LLAMAS_API void llamas_embed_options_init_size(llamas_embed_options* options, size_t size); /* since 0.2 */
#define llamas_embed_options_init(options) llamas_embed_options_init_size((options), sizeof(llamas_embed_options))
/* Length of one embedding from this model at full size (after any dense projections). */
LLAMAS_API int32_t llamas_model_n_embd_out(const llamas_model* model);
/* Embeds n_texts NUL-terminated texts in as few forward passes as fit the context, writing
 * n_texts rows of `dims` floats (or n_embd_out) to out. out_capacity is the number of floats
 * out can hold; LLAMAS_ERR_BUFFER_TOO_SMALL when it is too small. A text longer than the
 * context is LLAMAS_ERR_CONTEXT_FULL. The context's KV cache is cleared. */
LLAMAS_API llamas_status llamas_embed(llamas_context* context, const char* const* texts, size_t n_texts,
                                      const llamas_embed_options* options, float* out, size_t out_capacity);

/* ---- structured output (since 0.2) ------------------------------------------------------ */

/* Converts a JSON Schema (UTF-8 JSON text, NUL-terminated) into a GBNF grammar (llama.cpp's
 * format, start rule `root`) that matches exactly the JSON texts the schema describes, with
 * bounded whitespace between tokens. Supported: type (and type arrays), properties, required
 * (required properties in schema order, then optional ones), additionalProperties, enum, const,
 * items / prefixItems / minItems / maxItems, minLength / maxLength, format date, time,
 * date-time and uuid, simple `pattern` regexes, anyOf / oneOf / allOf, local $ref (recursion
 * allowed) and integer minimum / maximum. Buffer rules as llamas_model_meta.
 * LLAMAS_ERR_INVALID_ARGUMENT, with the reason in llamas_last_error(), for text that is not
 * JSON and for schemas that are unsupported, match nothing, or exceed the converter's bounds
 * (nesting, repetition counts, grammar size). */
LLAMAS_API llamas_status llamas_json_schema_to_grammar(const char* schema_json, char* buffer, size_t capacity,
                                                       size_t* out_length);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAS_H */
