/* Pins the size and field offsets of every public struct (x86-64 / AArch64 LP64 ABI). A change
 * here breaks programs compiled against an older header: append fields, never reorder. */
#include <stddef.h>

#include "check.h"
#include "llamas.h"

#define PIN_SIZE(T, n) CHECK(sizeof(T) == (n))
#define PIN(T, f, off) CHECK(offsetof(T, f) == (off))

int main(void) {
    PIN_SIZE(llamas_model_options, 32);
    PIN(llamas_model_options, struct_size, 0);
    PIN(llamas_model_options, use_mmap, 8);
    PIN(llamas_model_options, n_threads, 12);
    PIN(llamas_model_options, progress, 16);
    PIN(llamas_model_options, progress_user_data, 24);

    PIN_SIZE(llamas_context_options, 32);
    PIN(llamas_context_options, n_seq_max, 24);
    PIN(llamas_context_options, reserved0, 28);
    PIN(llamas_context_options, struct_size, 0);
    PIN(llamas_context_options, n_ctx, 8);
    PIN(llamas_context_options, n_batch, 12);
    PIN(llamas_context_options, n_threads, 16);
    PIN(llamas_context_options, kv_type, 20);

    PIN_SIZE(llamas_sampler_options, 56);
    PIN(llamas_sampler_options, struct_size, 0);
    PIN(llamas_sampler_options, temperature, 8);
    PIN(llamas_sampler_options, top_k, 12);
    PIN(llamas_sampler_options, top_p, 16);
    PIN(llamas_sampler_options, min_p, 20);
    PIN(llamas_sampler_options, typical_p, 24);
    PIN(llamas_sampler_options, repeat_penalty, 28);
    PIN(llamas_sampler_options, frequency_penalty, 32);
    PIN(llamas_sampler_options, presence_penalty, 36);
    PIN(llamas_sampler_options, penalty_last_n, 40);
    PIN(llamas_sampler_options, reserved0, 44);
    PIN(llamas_sampler_options, seed, 48);

    PIN_SIZE(llamas_generate_options, 64);
    PIN(llamas_generate_options, struct_size, 0);
    PIN(llamas_generate_options, max_tokens, 8);
    PIN(llamas_generate_options, parse_special, 12);
    PIN(llamas_generate_options, skip_special, 16);
    PIN(llamas_generate_options, reserved0, 20);
    PIN(llamas_generate_options, stop, 24);
    PIN(llamas_generate_options, n_stop, 32);
    PIN(llamas_generate_options, token_callback, 40);
    PIN(llamas_generate_options, token_user_data, 48);
    PIN(llamas_generate_options, n_probs, 56);
    PIN(llamas_generate_options, reserved1, 60);

    PIN_SIZE(llamas_token_logprob, 8);
    PIN(llamas_token_logprob, token, 0);
    PIN(llamas_token_logprob, logprob, 4);
    PIN_SIZE(llamas_token_info, 24);
    PIN(llamas_token_info, token, 0);
    PIN(llamas_token_info, logprob, 4);
    PIN(llamas_token_info, top, 8);
    PIN(llamas_token_info, n_top, 16);

    PIN_SIZE(llamas_chat_message, 16);
    PIN(llamas_chat_message, role, 0);
    PIN(llamas_chat_message, content, 8);

    PIN_SIZE(llamas_embed_options, 24);
    PIN(llamas_embed_options, struct_size, 0);
    PIN(llamas_embed_options, pooling, 8);
    PIN(llamas_embed_options, normalize, 12);
    PIN(llamas_embed_options, dims, 16);
    PIN(llamas_embed_options, reserved0, 20);

    /* Enum values are part of the ABI too. */
    CHECK(LLAMAS_OK == 0 && LLAMAS_ERR_INVALID_ARGUMENT == 1 && LLAMAS_ERR_IO == 2 && LLAMAS_ERR_BAD_FORMAT == 3 &&
          LLAMAS_ERR_UNSUPPORTED == 4 && LLAMAS_ERR_OUT_OF_MEMORY == 5 && LLAMAS_ERR_CONTEXT_FULL == 6 &&
          LLAMAS_ERR_CANCELLED == 7 && LLAMAS_ERR_INTERNAL == 8 && LLAMAS_ERR_BUFFER_TOO_SMALL == 9 &&
          LLAMAS_ERR_NOT_FOUND == 10);
    CHECK(LLAMAS_KV_F16 == 0 && LLAMAS_KV_F32 == 1 && LLAMAS_KV_Q8_0 == 2);
    CHECK(LLAMAS_POOLING_MODEL == -1 && LLAMAS_POOLING_NONE == 0 && LLAMAS_POOLING_MEAN == 1 &&
          LLAMAS_POOLING_CLS == 2 && LLAMAS_POOLING_LAST == 3);
    CHECK(LLAMAS_TOKENIZE_ADD_SPECIAL == 1 && LLAMAS_TOKENIZE_PARSE_SPECIAL == 2 && LLAMAS_DETOKENIZE_SKIP_SPECIAL == 1);
    return finish("abi");
}
