//! The raw layer: the C types of `llamas.h` and a table of function pointers resolved with
//! `dlopen`/`dlsym` at first use (path from `LLAMAS_LIBRARY`, else `libllamas.so.0` on the
//! system search path).

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_float, c_int, c_void, CStr, CString};
use std::sync::OnceLock;

pub type llamas_status = c_int;
pub const LLAMAS_OK: llamas_status = 0;
pub const LLAMAS_ERR_BUFFER_TOO_SMALL: llamas_status = 9;
pub const LLAMAS_ERR_NOT_FOUND: llamas_status = 10;

pub const LLAMAS_TOKENIZE_ADD_SPECIAL: c_int = 1;
pub const LLAMAS_TOKENIZE_PARSE_SPECIAL: c_int = 2;
pub const LLAMAS_DETOKENIZE_SKIP_SPECIAL: c_int = 1;
pub const LLAMAS_PIECE_SPECIAL: c_int = 1;
pub const LLAMAS_PIECE_LSTRIP: c_int = 2;

pub type llamas_progress_callback = unsafe extern "C" fn(progress: c_float, user_data: *mut c_void) -> c_int;
pub type llamas_sampler_filter = unsafe extern "C" fn(logits: *mut c_float, n_vocab: i32, user_data: *mut c_void) -> c_int;
pub type llamas_token_callback = unsafe extern "C" fn(info: *const llamas_token_info, user_data: *mut c_void);

#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct llamas_token_logprob {
    pub token: i32,
    pub logprob: c_float,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct llamas_token_info {
    pub token: i32,
    pub logprob: c_float,
    pub top: *const llamas_token_logprob,
    pub n_top: i32,
    pub reserved0: i32,
}

#[repr(C)]
pub struct llamas_model {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct llamas_context {
    _opaque: [u8; 0],
}
#[repr(C)]
pub struct llamas_sampler {
    _opaque: [u8; 0],
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct llamas_model_options {
    pub struct_size: usize,
    pub use_mmap: c_int,
    pub n_threads: c_int,
    pub progress: Option<llamas_progress_callback>,
    pub progress_user_data: *mut c_void,
}

impl Default for llamas_model_options {
    fn default() -> Self {
        llamas_model_options { struct_size: 0, use_mmap: 0, n_threads: 0, progress: None, progress_user_data: std::ptr::null_mut() }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct llamas_context_options {
    pub struct_size: usize,
    pub n_ctx: i32,
    pub n_batch: i32,
    pub n_threads: i32,
    pub kv_type: i32,
    pub n_seq_max: i32,
    pub reserved0: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct llamas_sampler_options {
    pub struct_size: usize,
    pub temperature: c_float,
    pub top_k: i32,
    pub top_p: c_float,
    pub min_p: c_float,
    pub typical_p: c_float,
    pub repeat_penalty: c_float,
    pub frequency_penalty: c_float,
    pub presence_penalty: c_float,
    pub penalty_last_n: i32,
    pub reserved0: i32,
    pub seed: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct llamas_generate_options {
    pub struct_size: usize,
    pub max_tokens: i32,
    pub parse_special: c_int,
    pub skip_special: c_int,
    pub reserved0: i32,
    pub stop: *const *const c_char,
    pub n_stop: usize,
    pub token_callback: Option<llamas_token_callback>,
    pub token_user_data: *mut c_void,
    pub n_probs: i32,
    pub reserved1: i32,
}

impl Default for llamas_generate_options {
    fn default() -> Self {
        llamas_generate_options {
            struct_size: 0,
            max_tokens: 0,
            parse_special: 0,
            skip_special: 0,
            reserved0: 0,
            stop: std::ptr::null(),
            n_stop: 0,
            token_callback: None,
            token_user_data: std::ptr::null_mut(),
            n_probs: 0,
            reserved1: 0,
        }
    }
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
pub struct llamas_embed_options {
    pub struct_size: usize,
    pub pooling: i32,
    pub normalize: c_int,
    pub dims: i32,
    pub reserved0: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
pub struct llamas_chat_message {
    pub role: *const c_char,
    pub content: *const c_char,
}

pub type llamas_piece_callback =
    unsafe extern "C" fn(piece: *const c_char, length: usize, token: i32, user_data: *mut c_void) -> c_int;

// dlopen/dlsym from the C library (libdl on older glibc).
const RTLD_NOW: c_int = 2;
#[link(name = "dl")]
extern "C" {
    fn dlopen(filename: *const c_char, flags: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *const c_char;
}

macro_rules! api {
    ($($name:ident : fn($($arg:ty),*) $(-> $ret:ty)?;)*
     @optional $($oname:ident : fn($($oarg:ty),*) $(-> $oret:ty)?;)*) => {
        /// Every function of the C API, resolved from the loaded library. The functions since
        /// 0.2 are `Option`s (None when the library lacks them), so the 0.1 surface keeps
        /// working with an older library.
        pub struct Api {
            $(pub $name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
            $(pub $oname: Option<unsafe extern "C" fn($($oarg),*) $(-> $oret)?>,)*
        }

        impl Api {
            unsafe fn resolve(lib: *mut c_void, path: &str) -> Result<Api, String> {
                Ok(Api {
                    $($name: {
                        let sym = concat!(stringify!($name), "\0");
                        let p = dlsym(lib, sym.as_ptr() as *const c_char);
                        if p.is_null() {
                            return Err(format!("{}: missing symbol {}", path, stringify!($name)));
                        }
                        std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($arg),*) $(-> $ret)?>(p)
                    },)*
                    $($oname: {
                        let sym = concat!(stringify!($oname), "\0");
                        let p = dlsym(lib, sym.as_ptr() as *const c_char);
                        if p.is_null() {
                            None
                        } else {
                            Some(std::mem::transmute::<*mut c_void, unsafe extern "C" fn($($oarg),*) $(-> $oret)?>(p))
                        }
                    },)*
                })
            }
        }
    };
}

api! {
    llamas_version: fn() -> *const c_char;
    llamas_version_number: fn() -> c_int;
    llamas_status_string: fn(llamas_status) -> *const c_char;
    llamas_last_error: fn() -> *const c_char;
    llamas_cpu_path: fn() -> *const c_char;
    llamas_set_cpu_path: fn(*const c_char) -> llamas_status;
    llamas_model_options_init: fn(*mut llamas_model_options);
    llamas_model_load: fn(*const c_char, *const llamas_model_options, *mut *mut llamas_model) -> llamas_status;
    llamas_model_free: fn(*mut llamas_model);
    llamas_model_architecture: fn(*const llamas_model) -> *const c_char;
    llamas_model_n_vocab: fn(*const llamas_model) -> i32;
    llamas_model_n_ctx_train: fn(*const llamas_model) -> i32;
    llamas_model_n_embd: fn(*const llamas_model) -> i32;
    llamas_model_n_embd_out: fn(*const llamas_model) -> i32;
    llamas_model_bos: fn(*const llamas_model) -> i32;
    llamas_model_eos: fn(*const llamas_model) -> i32;
    llamas_model_is_eog: fn(*const llamas_model, i32) -> c_int;
    llamas_model_chat_template: fn(*const llamas_model) -> *const c_char;
    llamas_model_meta: fn(*const llamas_model, *const c_char, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_tokenize: fn(*const llamas_model, *const c_char, usize, c_int, *mut i32, usize, *mut usize) -> llamas_status;
    llamas_detokenize: fn(*const llamas_model, *const i32, usize, c_int, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_context_options_init: fn(*mut llamas_context_options);
    llamas_context_create: fn(*mut llamas_model, *const llamas_context_options, *mut *mut llamas_context) -> llamas_status;
    llamas_context_free: fn(*mut llamas_context);
    llamas_context_n_ctx: fn(*const llamas_context) -> i32;
    llamas_context_n_past: fn(*const llamas_context) -> i32;
    llamas_decode: fn(*mut llamas_context, *const i32, usize) -> llamas_status;
    llamas_logits: fn(*const llamas_context) -> *const c_float;
    llamas_kv_clear: fn(*mut llamas_context) -> llamas_status;
    llamas_kv_remove: fn(*mut llamas_context, i32, i32) -> llamas_status;
    llamas_kv_keep_shift: fn(*mut llamas_context, i32, i32) -> llamas_status;
    llamas_context_cancel: fn(*mut llamas_context);
    llamas_sampler_options_init: fn(*mut llamas_sampler_options);
    llamas_sampler_create: fn(*const llamas_model, *const llamas_sampler_options, *mut *mut llamas_sampler) -> llamas_status;
    llamas_sampler_free: fn(*mut llamas_sampler);
    llamas_sampler_set_logit_bias: fn(*mut llamas_sampler, i32, c_float) -> llamas_status;
    llamas_sample: fn(*mut llamas_sampler, *mut llamas_context, *mut i32) -> llamas_status;
    llamas_sampler_reset: fn(*mut llamas_sampler);
    llamas_generate_options_init: fn(*mut llamas_generate_options);
    llamas_generate: fn(*mut llamas_context, *mut llamas_sampler, *const c_char, *const llamas_generate_options,
                        Option<llamas_piece_callback>, *mut c_void, *mut i32) -> llamas_status;
    llamas_chat_apply_template: fn(*const llamas_model, *const c_char, *const llamas_chat_message, usize, c_int,
                                   *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_chat_apply_chatml: fn(*const llamas_chat_message, usize, c_int, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_embed_options_init: fn(*mut llamas_embed_options);
    llamas_embed: fn(*mut llamas_context, *const *const c_char, usize, *const llamas_embed_options, *mut c_float, usize) -> llamas_status;
    @optional
    llamas_model_meta_count: fn(*const llamas_model) -> i32;
    llamas_model_meta_key: fn(*const llamas_model, i32) -> *const c_char;
    llamas_model_meta_info: fn(*const llamas_model, *const c_char, *mut i32, *mut i32, *mut u64) -> llamas_status;
    llamas_model_meta_int: fn(*const llamas_model, *const c_char, u64, *mut i64) -> llamas_status;
    llamas_model_meta_float: fn(*const llamas_model, *const c_char, u64, *mut f64) -> llamas_status;
    llamas_model_meta_string: fn(*const llamas_model, *const c_char, u64, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_model_n_params: fn(*const llamas_model) -> u64;
    llamas_model_tensor_bytes: fn(*const llamas_model) -> u64;
    llamas_model_file_size: fn(*const llamas_model) -> u64;
    llamas_model_description: fn(*const llamas_model, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_model_special_token: fn(*const llamas_model, i32) -> i32;
    llamas_token_text: fn(*const llamas_model, i32) -> *const c_char;
    llamas_token_score: fn(*const llamas_model, i32) -> c_float;
    llamas_token_attr: fn(*const llamas_model, i32) -> u32;
    llamas_token_to_piece: fn(*const llamas_model, i32, c_int, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_context_n_seq_max: fn(*const llamas_context) -> i32;
    llamas_decode_batch: fn(*mut llamas_context, *const i32, *const i32, *const i32, *const i8, usize) -> llamas_status;
    llamas_logits_ith: fn(*const llamas_context, i32) -> *const c_float;
    llamas_logprobs: fn(*const llamas_context, i32, i32, *mut c_float, *mut llamas_token_logprob, usize, *mut usize) -> llamas_status;
    llamas_seq_pos_min: fn(*const llamas_context, i32) -> i32;
    llamas_seq_pos_max: fn(*const llamas_context, i32) -> i32;
    llamas_seq_remove: fn(*mut llamas_context, i32, i32, i32, c_int) -> llamas_status;
    llamas_seq_copy: fn(*mut llamas_context, i32, i32, i32) -> llamas_status;
    llamas_seq_keep: fn(*mut llamas_context, i32) -> llamas_status;
    llamas_seq_shift: fn(*mut llamas_context, i32, i32, i32, i32) -> llamas_status;
    llamas_state_size: fn(*const llamas_context, i32, *mut usize) -> llamas_status;
    llamas_state_save: fn(*const llamas_context, i32, *mut c_void, usize, *mut usize) -> llamas_status;
    llamas_state_load: fn(*mut llamas_context, i32, *const c_void, usize) -> llamas_status;
    llamas_state_save_file: fn(*const llamas_context, i32, *const c_char) -> llamas_status;
    llamas_state_load_file: fn(*mut llamas_context, i32, *const c_char) -> llamas_status;
    llamas_sampler_choose: fn(*mut llamas_sampler, *const llamas_context, i32, *mut i32) -> llamas_status;
    llamas_sampler_accept: fn(*mut llamas_sampler, *const i32, usize) -> llamas_status;
    llamas_sampler_set_filter: fn(*mut llamas_sampler, Option<llamas_sampler_filter>, *mut c_void) -> llamas_status;
    llamas_context_finish_reason: fn(*const llamas_context) -> c_int;
    llamas_json_schema_to_grammar: fn(*const c_char, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_chat_apply_template_json: fn(*const llamas_model, *const c_char, *const c_char, *const c_char, c_int,
                                        *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_chat_parse_reply: fn(*const llamas_model, *const c_char, *const c_char, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_chat_tool_format: fn(*const llamas_model, *const c_char, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_chat_tool_call_grammar: fn(*const llamas_model, *const c_char, *const c_char, c_int, *mut c_char, usize, *mut usize) -> llamas_status;
    llamas_grammar_validate: fn(*const c_char, *const c_char) -> llamas_status;
    llamas_sampler_set_grammar: fn(*mut llamas_sampler, *const c_char, *const c_char) -> llamas_status;
    llamas_sampler_set_grammar_lazy: fn(*mut llamas_sampler, *const c_char, *const c_char, *const *const c_char, usize,
                                        *const i32, usize) -> llamas_status;
    llamas_sampler_set_grammar_lazy_patterns: fn(*mut llamas_sampler, *const c_char, *const c_char,
                                                 *const *const c_char, usize, *const i32, usize) -> llamas_status;
    llamas_sampler_accept_prompt: fn(*mut llamas_sampler, *const i32, usize) -> llamas_status;
    llamas_model_options_init_size: fn(*mut llamas_model_options, usize);
    llamas_context_options_init_size: fn(*mut llamas_context_options, usize);
    llamas_sampler_options_init_size: fn(*mut llamas_sampler_options, usize);
    llamas_generate_options_init_size: fn(*mut llamas_generate_options, usize);
    llamas_embed_options_init_size: fn(*mut llamas_embed_options, usize);
}

/// Fills an option struct with the library's defaults for this crate's (0.2) layout:
/// `llamas_X_options_init(o)` is `llamas_X_options_init_size(o, sizeof)` in the 0.2 header, and
/// the exported `llamas_X_options_init` writes only the 0.1 fields (its size is frozen), so the
/// `_size` form is used when the library has it.
macro_rules! init_options {
    ($($fn_:ident: $t:ty => $size:ident, $old:ident;)*) => {
        impl Api {
            $(
                /// The library's defaults in the caller's layout.
                pub unsafe fn $fn_(&self, o: *mut $t) {
                    match self.$size {
                        Some(f) => f(o, std::mem::size_of::<$t>()),
                        None => (self.$old)(o),
                    }
                }
            )*
        }
    };
}

init_options! {
    init_model_options: llamas_model_options => llamas_model_options_init_size, llamas_model_options_init;
    init_context_options: llamas_context_options => llamas_context_options_init_size, llamas_context_options_init;
    init_sampler_options: llamas_sampler_options => llamas_sampler_options_init_size, llamas_sampler_options_init;
    init_generate_options: llamas_generate_options => llamas_generate_options_init_size, llamas_generate_options_init;
    init_embed_options: llamas_embed_options => llamas_embed_options_init_size, llamas_embed_options_init;
}

/// Where the library is loaded from: `$LLAMAS_LIBRARY`, else `libllamas.so.0`.
pub fn library_path() -> String {
    match std::env::var("LLAMAS_LIBRARY") {
        Ok(p) if !p.is_empty() => p,
        _ => "libllamas.so.0".to_string(),
    }
}

static API: OnceLock<Result<Api, String>> = OnceLock::new();

/// The loaded library, or why it could not be loaded.
pub fn api() -> Result<&'static Api, String> {
    API.get_or_init(|| {
        let path = library_path();
        let cpath = CString::new(path.clone()).map_err(|e| e.to_string())?;
        // SAFETY: dlopen/dlsym are called with NUL-terminated strings; the library stays
        // loaded for the life of the process, so the pointers stay valid.
        unsafe {
            let lib = dlopen(cpath.as_ptr(), RTLD_NOW);
            if lib.is_null() {
                let msg = dlerror();
                return Err(if msg.is_null() {
                    format!("cannot load {}", path)
                } else {
                    CStr::from_ptr(msg).to_string_lossy().into_owned()
                });
            }
            Api::resolve(lib, &path)
        }
    })
    .as_ref()
    .map_err(|e| e.clone())
}
