"""The raw ctypes layer: loads libllamas at first use and declares every function of llamas.h."""

import ctypes
import os
import threading
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char_p, c_double, c_float, c_int, c_int8,
                    c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p)

# llamas_status values (llamas.h)
OK = 0
ERR_INVALID_ARGUMENT = 1
ERR_IO = 2
ERR_BAD_FORMAT = 3
ERR_UNSUPPORTED = 4
ERR_OUT_OF_MEMORY = 5
ERR_CONTEXT_FULL = 6
ERR_CANCELLED = 7
ERR_INTERNAL = 8
ERR_BUFFER_TOO_SMALL = 9
ERR_NOT_FOUND = 10

TOKENIZE_ADD_SPECIAL = 1
TOKENIZE_PARSE_SPECIAL = 2
DETOKENIZE_SKIP_SPECIAL = 1
PIECE_SPECIAL = 1
PIECE_LSTRIP = 2
TOOLS_REQUIRED = 1
TOOLS_PARALLEL = 2

# callbacks (declared before the structs that hold them)
PIECE_CALLBACK = CFUNCTYPE(c_int, POINTER(ctypes.c_char), c_size_t, c_int32, c_void_p)
PROGRESS_CALLBACK = CFUNCTYPE(c_int, c_float, c_void_p)
FILTER_CALLBACK = CFUNCTYPE(c_int, POINTER(c_float), c_int32, c_void_p)


class TokenLogprob(Structure):
    _fields_ = [("token", c_int32), ("logprob", c_float)]


class TokenInfo(Structure):
    _fields_ = [("token", c_int32), ("logprob", c_float), ("top", POINTER(TokenLogprob)),
                ("n_top", c_int32), ("reserved0", c_int32)]


TOKEN_CALLBACK = CFUNCTYPE(None, POINTER(TokenInfo), c_void_p)


# The option structs mirror llamas.h field for field (tests/api/test_abi.c pins the offsets).
class ModelOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("use_mmap", c_int), ("n_threads", c_int),
                ("progress", PROGRESS_CALLBACK), ("progress_user_data", c_void_p)]


class ContextOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("n_ctx", c_int32), ("n_batch", c_int32),
                ("n_threads", c_int32), ("kv_type", c_int32), ("n_seq_max", c_int32),
                ("reserved0", c_int32)]


class SamplerOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("temperature", c_float), ("top_k", c_int32),
                ("top_p", c_float), ("min_p", c_float), ("typical_p", c_float),
                ("repeat_penalty", c_float), ("frequency_penalty", c_float),
                ("presence_penalty", c_float), ("penalty_last_n", c_int32), ("reserved0", c_int32),
                ("seed", c_uint64)]


class GenerateOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("max_tokens", c_int32), ("parse_special", c_int),
                ("skip_special", c_int), ("reserved0", c_int32), ("stop", POINTER(c_char_p)),
                ("n_stop", c_size_t), ("token_callback", TOKEN_CALLBACK), ("token_user_data", c_void_p),
                ("n_probs", c_int32), ("reserved1", c_int32)]


class EmbedOptions(Structure):
    _fields_ = [("struct_size", c_size_t), ("pooling", c_int32), ("normalize", c_int),
                ("dims", c_int32), ("reserved0", c_int32)]


class ChatMessage(Structure):
    _fields_ = [("role", c_char_p), ("content", c_char_p)]


_status = c_int
_P = c_void_p  # opaque handles
# name: (restype, argtypes)
_SIGNATURES = {
    "llamas_version": (c_char_p, []),
    "llamas_version_number": (c_int, []),
    "llamas_status_string": (c_char_p, [_status]),
    "llamas_last_error": (c_char_p, []),
    "llamas_cpu_path": (c_char_p, []),
    "llamas_set_cpu_path": (_status, [c_char_p]),
    "llamas_model_options_init": (None, [POINTER(ModelOptions)]),
    "llamas_model_load": (_status, [c_char_p, POINTER(ModelOptions), POINTER(_P)]),
    "llamas_model_free": (None, [_P]),
    "llamas_model_architecture": (c_char_p, [_P]),
    "llamas_model_n_vocab": (c_int32, [_P]),
    "llamas_model_n_ctx_train": (c_int32, [_P]),
    "llamas_model_n_embd": (c_int32, [_P]),
    "llamas_model_n_embd_out": (c_int32, [_P]),
    "llamas_model_bos": (c_int32, [_P]),
    "llamas_model_eos": (c_int32, [_P]),
    "llamas_model_is_eog": (c_int, [_P, c_int32]),
    "llamas_model_chat_template": (c_char_p, [_P]),
    "llamas_model_meta": (_status, [_P, c_char_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_tokenize": (_status, [_P, c_char_p, c_size_t, c_int, POINTER(c_int32), c_size_t,
                                  POINTER(c_size_t)]),
    "llamas_detokenize": (_status, [_P, POINTER(c_int32), c_size_t, c_int, c_void_p, c_size_t,
                                    POINTER(c_size_t)]),
    "llamas_context_options_init": (None, [POINTER(ContextOptions)]),
    "llamas_context_create": (_status, [_P, POINTER(ContextOptions), POINTER(_P)]),
    "llamas_context_free": (None, [_P]),
    "llamas_context_n_ctx": (c_int32, [_P]),
    "llamas_context_n_past": (c_int32, [_P]),
    "llamas_decode": (_status, [_P, POINTER(c_int32), c_size_t]),
    "llamas_logits": (POINTER(c_float), [_P]),
    "llamas_kv_clear": (_status, [_P]),
    "llamas_kv_remove": (_status, [_P, c_int32, c_int32]),
    "llamas_kv_keep_shift": (_status, [_P, c_int32, c_int32]),
    "llamas_context_cancel": (None, [_P]),
    "llamas_sampler_options_init": (None, [POINTER(SamplerOptions)]),
    "llamas_sampler_create": (_status, [_P, POINTER(SamplerOptions), POINTER(_P)]),
    "llamas_sampler_free": (None, [_P]),
    "llamas_sampler_set_logit_bias": (_status, [_P, c_int32, c_float]),
    "llamas_sample": (_status, [_P, _P, POINTER(c_int32)]),
    "llamas_sampler_reset": (None, [_P]),
    "llamas_generate_options_init": (None, [POINTER(GenerateOptions)]),
    "llamas_generate": (_status, [_P, _P, c_char_p, POINTER(GenerateOptions), PIECE_CALLBACK,
                                  c_void_p, POINTER(c_int32)]),
    "llamas_chat_apply_template": (_status, [_P, c_char_p, POINTER(ChatMessage), c_size_t, c_int,
                                             c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_chat_apply_chatml": (_status, [POINTER(ChatMessage), c_size_t, c_int, c_void_p,
                                           c_size_t, POINTER(c_size_t)]),
    "llamas_embed_options_init": (None, [POINTER(EmbedOptions)]),
    "llamas_embed": (_status, [_P, POINTER(c_char_p), c_size_t, POINTER(EmbedOptions),
                               POINTER(c_float), c_size_t]),
}

# Since 0.2. Resolved when present, so the 0.1 surface keeps working with a library that lacks
# them; calling one that is missing raises AttributeError (undefined symbol).
_SIGNATURES_0_2 = {
    "llamas_model_meta_count": (c_int32, [_P]),
    "llamas_model_meta_key": (c_char_p, [_P, c_int32]),
    "llamas_model_meta_info": (_status, [_P, c_char_p, POINTER(c_int32), POINTER(c_int32),
                                         POINTER(c_uint64)]),
    "llamas_model_meta_int": (_status, [_P, c_char_p, c_uint64, POINTER(c_int64)]),
    "llamas_model_meta_float": (_status, [_P, c_char_p, c_uint64, POINTER(c_double)]),
    "llamas_model_meta_string": (_status, [_P, c_char_p, c_uint64, c_void_p, c_size_t,
                                           POINTER(c_size_t)]),
    "llamas_model_n_params": (c_uint64, [_P]),
    "llamas_model_tensor_bytes": (c_uint64, [_P]),
    "llamas_model_file_size": (c_uint64, [_P]),
    "llamas_model_description": (_status, [_P, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_model_special_token": (c_int32, [_P, c_int32]),
    "llamas_token_text": (c_char_p, [_P, c_int32]),
    "llamas_token_score": (c_float, [_P, c_int32]),
    "llamas_token_attr": (c_uint32, [_P, c_int32]),
    "llamas_token_to_piece": (_status, [_P, c_int32, c_int, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_context_n_seq_max": (c_int32, [_P]),
    "llamas_decode_batch": (_status, [_P, POINTER(c_int32), POINTER(c_int32), POINTER(c_int32),
                                      POINTER(c_int8), c_size_t]),
    "llamas_logits_ith": (POINTER(c_float), [_P, c_int32]),
    "llamas_logprobs": (_status, [_P, c_int32, c_int32, POINTER(c_float), POINTER(TokenLogprob),
                                  c_size_t, POINTER(c_size_t)]),
    "llamas_seq_pos_min": (c_int32, [_P, c_int32]),
    "llamas_seq_pos_max": (c_int32, [_P, c_int32]),
    "llamas_seq_remove": (_status, [_P, c_int32, c_int32, c_int32, c_int]),
    "llamas_seq_copy": (_status, [_P, c_int32, c_int32, c_int32]),
    "llamas_seq_keep": (_status, [_P, c_int32]),
    "llamas_seq_shift": (_status, [_P, c_int32, c_int32, c_int32, c_int32]),
    "llamas_state_size": (_status, [_P, c_int32, POINTER(c_size_t)]),
    "llamas_state_save": (_status, [_P, c_int32, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_state_load": (_status, [_P, c_int32, c_void_p, c_size_t]),
    "llamas_state_save_file": (_status, [_P, c_int32, c_char_p]),
    "llamas_state_load_file": (_status, [_P, c_int32, c_char_p]),
    "llamas_sampler_choose": (_status, [_P, _P, c_int32, POINTER(c_int32)]),
    "llamas_sampler_accept": (_status, [_P, POINTER(c_int32), c_size_t]),
    "llamas_sampler_set_filter": (_status, [_P, FILTER_CALLBACK, c_void_p]),
    "llamas_context_finish_reason": (c_int, [_P]),
    # structured output, chat with tools, grammars
    "llamas_json_schema_to_grammar": (_status, [c_char_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_chat_apply_template_json": (_status, [_P, c_char_p, c_char_p, c_char_p, c_int, c_void_p,
                                                  c_size_t, POINTER(c_size_t)]),
    "llamas_chat_parse_reply": (_status, [_P, c_char_p, c_char_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_chat_tool_format": (_status, [_P, c_char_p, c_void_p, c_size_t, POINTER(c_size_t)]),
    "llamas_chat_tool_call_grammar": (_status, [_P, c_char_p, c_char_p, c_int, c_void_p, c_size_t,
                                                POINTER(c_size_t)]),
    "llamas_grammar_validate": (_status, [c_char_p, c_char_p]),
    "llamas_sampler_set_grammar": (_status, [_P, c_char_p, c_char_p]),
    "llamas_sampler_set_grammar_lazy": (_status, [_P, c_char_p, c_char_p, POINTER(c_char_p), c_size_t,
                                                  POINTER(c_int32), c_size_t]),
    "llamas_sampler_set_grammar_lazy_patterns": (_status, [_P, c_char_p, c_char_p, POINTER(c_char_p), c_size_t,
                                                           POINTER(c_int32), c_size_t]),
    "llamas_sampler_accept_prompt": (_status, [_P, POINTER(c_int32), c_size_t]),
    # llamas_X_options_init(o) is llamas_X_options_init_size(o, sizeof) in the 0.2 header; the
    # exported llamas_X_options_init writes only the 0.1 fields (its size is frozen).
    "llamas_model_options_init_size": (None, [POINTER(ModelOptions), c_size_t]),
    "llamas_context_options_init_size": (None, [POINTER(ContextOptions), c_size_t]),
    "llamas_sampler_options_init_size": (None, [POINTER(SamplerOptions), c_size_t]),
    "llamas_generate_options_init_size": (None, [POINTER(GenerateOptions), c_size_t]),
    "llamas_embed_options_init_size": (None, [POINTER(EmbedOptions), c_size_t]),
}

_lib = None
_lock = threading.Lock()


def library_path():
    """Where the library is loaded from: $LLAMAS_LIBRARY, else the system search path."""
    return os.environ.get("LLAMAS_LIBRARY") or "libllamas.so.0"


def lib():
    """The loaded library (loaded on first call). Raises OSError when it cannot be loaded."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                loaded = ctypes.CDLL(library_path())
                for name, (restype, argtypes) in _SIGNATURES.items():
                    fn = getattr(loaded, name)
                    fn.restype = restype
                    fn.argtypes = argtypes
                for name, (restype, argtypes) in _SIGNATURES_0_2.items():
                    try:
                        fn = getattr(loaded, name)
                    except AttributeError:
                        continue
                    fn.restype = restype
                    fn.argtypes = argtypes
                _lib = loaded
    return _lib


def options(struct_type, init_name):
    """An option struct filled with the library's defaults, for this binding's (0.2) layout:
    through llamas_X_options_init_size(o, sizeof) when the library has it, else the exported
    llamas_X_options_init (a library from before init_size, whose init writes its own size)."""
    opts = struct_type()
    loaded = lib()
    try:
        init_size = getattr(loaded, init_name + "_size")
    except AttributeError:
        getattr(loaded, init_name)(ctypes.byref(opts))
    else:
        init_size(ctypes.byref(opts), ctypes.sizeof(struct_type))
    return opts
