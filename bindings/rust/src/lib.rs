//! Rust binding of llamas, an embeddable CPU inference engine for GGUF models.
//!
//! The shared library is opened at run time (`$LLAMAS_LIBRARY`, else `libllamas.so.0` on the
//! system search path), so one build of this crate works with any compatible library build.
//!
//! ```no_run
//! use llamas::{Model, ContextOptions, SamplerOptions, GenerateOptions};
//! let model = Model::load("qwen2-Q8_0.gguf")?;
//! let mut ctx = model.new_context(&ContextOptions::default())?;
//! let mut sampler = model.new_sampler(&SamplerOptions::greedy())?;
//! ctx.generate(&mut sampler, "Once upon a time", &GenerateOptions { max_tokens: 16, ..Default::default() },
//!              |piece, _token| { print!("{piece}"); true })?;
//! # Ok::<(), llamas::Error>(())
//! ```
//!
//! Thread safety follows the C API: a [`Model`] is `Send + Sync` (share it with `&` or `Arc`);
//! a [`Context`] and a [`Sampler`] are `Send` but used by one thread at a time.

pub mod sys;

use std::any::Any;
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::path::Path;
use std::ptr::{self, NonNull};
use std::sync::Arc;

/// A token id.
pub type Token = i32;

/// What kind of failure an [`Error`] is (the C API's `llamas_status`, plus `Library`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    InvalidArgument,
    Io,
    BadFormat,
    Unsupported,
    OutOfMemory,
    ContextFull,
    Cancelled,
    Internal,
    BufferTooSmall,
    /// A metadata key, sequence or file entry that does not exist (since 0.2).
    NotFound,
    /// The shared library could not be loaded (or lacks a symbol).
    Library,
    /// A status code this binding does not know.
    Other(i32),
}

impl ErrorKind {
    fn from_status(status: c_int) -> ErrorKind {
        match status {
            1 => ErrorKind::InvalidArgument,
            2 => ErrorKind::Io,
            3 => ErrorKind::BadFormat,
            4 => ErrorKind::Unsupported,
            5 => ErrorKind::OutOfMemory,
            6 => ErrorKind::ContextFull,
            7 => ErrorKind::Cancelled,
            8 => ErrorKind::Internal,
            9 => ErrorKind::BufferTooSmall,
            10 => ErrorKind::NotFound,
            other => ErrorKind::Other(other),
        }
    }
}

/// A failed llamas call: its kind and the library's message.
#[derive(Debug, Clone)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "llamas: {}", self.message)
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;

fn api() -> Result<&'static sys::Api> {
    sys::api().map_err(|m| Error::new(ErrorKind::Library, format!("cannot load the library: {m}")))
}

unsafe fn c_str(p: *const c_char) -> Option<String> {
    if p.is_null() {
        None
    } else {
        Some(CStr::from_ptr(p).to_string_lossy().into_owned())
    }
}

/// The error for a failed status; call it right after the failing call (the message is kept
/// per thread until the next llamas call).
fn status_error(api: &sys::Api, status: c_int) -> Error {
    // SAFETY: both return NUL-terminated strings owned by the library.
    let mut message = unsafe { c_str((api.llamas_last_error)()) }.unwrap_or_default();
    if message.is_empty() {
        message = unsafe { c_str((api.llamas_status_string)(status)) }.unwrap_or_default();
    }
    Error::new(ErrorKind::from_status(status), message)
}

fn check(api: &sys::Api, status: c_int) -> Result<()> {
    if status == sys::LLAMAS_OK {
        Ok(())
    } else {
        Err(status_error(api, status))
    }
}

/// A function since 0.2, or an error naming it when the loaded library lacks it.
macro_rules! api02 {
    ($api:expr, $name:ident) => {
        $api.$name.ok_or_else(|| {
            Error::new(ErrorKind::Library, concat!("the loaded library lacks ", stringify!($name)))
        })
    };
}

/// As `api02!` for calls that cannot return an error: panics when the function is missing.
macro_rules! api02_or_panic {
    ($api:expr, $name:ident) => {
        $api.$name.unwrap_or_else(|| panic!(concat!("the loaded library lacks ", stringify!($name))))
    };
}

// Structured output and tool calling (after the macros it uses).
mod structured;
pub use structured::{apply_chat_template_json, chat_tool_call_grammar, chat_tool_format, TOOLS_PARALLEL, TOOLS_REQUIRED, grammar_validate, json_schema_to_grammar, parse_chat_reply};

fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(ErrorKind::InvalidArgument, "text contains a NUL byte"))
}

/// Calls `f(buffer, capacity, out_length)` with growing buffers (the BUFFER_TOO_SMALL rule).
fn read_text(api: &sys::Api, f: impl FnMut(*mut c_char, usize, *mut usize) -> c_int) -> Result<String> {
    read_bytes(api, f).map(|b| String::from_utf8_lossy(&b).into_owned())
}

fn read_bytes(api: &sys::Api, mut f: impl FnMut(*mut c_char, usize, *mut usize) -> c_int) -> Result<Vec<u8>> {
    let mut buf: Vec<u8> = vec![0; 256];
    loop {
        let mut len = 0usize;
        let status = f(buf.as_mut_ptr() as *mut c_char, buf.len(), &mut len);
        if status == sys::LLAMAS_OK && len < buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        if status != sys::LLAMAS_OK && status != sys::LLAMAS_ERR_BUFFER_TOO_SMALL {
            return Err(status_error(api, status));
        }
        let grow = (len + 1).max(buf.len() * 2);
        buf.resize(grow, 0);
    }
}

/// The library's version ("MAJOR.MINOR.PATCH").
pub fn version() -> Result<String> {
    let api = api()?;
    Ok(unsafe { c_str((api.llamas_version)()) }.unwrap_or_default())
}

/// The SIMD path in use: "scalar", "avx2", "avx2-vnni", "avx512", "neon-nodot", "neon" or "neon-i8mm".
pub fn cpu_path() -> Result<String> {
    let api = api()?;
    Ok(unsafe { c_str((api.llamas_cpu_path)()) }.unwrap_or_default())
}

// ---- options -----------------------------------------------------------------------------
// Each Default reads the library's own defaults (the *_options_init functions) when the
// library can be loaded, else the values the header documents.

/// Model loading options.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Map the file (default) instead of reading it into memory.
    pub use_mmap: bool,
    /// Threads that prepare the weights; 0: one per core.
    pub n_threads: u32,
}

impl Default for ModelOptions {
    fn default() -> Self {
        let mut o = sys::llamas_model_options { use_mmap: 1, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { api.init_model_options(&mut o) };
        }
        ModelOptions { use_mmap: o.use_mmap != 0, n_threads: o.n_threads as u32 }
    }
}

/// KV cache element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KvType {
    F16 = 0,
    F32 = 1,
    Q8_0 = 2,
}

/// Context options; `n_ctx` 0 means the model's length (at most 4096), `n_threads` 0 all cores.
#[derive(Debug, Clone)]
pub struct ContextOptions {
    pub n_ctx: u32,
    pub n_batch: u32,
    pub n_threads: u32,
    pub kv_type: KvType,
    /// Sequences the context holds at once (ids `0..n_seq_max`); 0: 1 (since 0.2).
    pub n_seq_max: u32,
}

impl Default for ContextOptions {
    fn default() -> Self {
        let mut o = sys::llamas_context_options { n_batch: 512, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { api.init_context_options(&mut o) };
        }
        let kv_type = match o.kv_type {
            1 => KvType::F32,
            2 => KvType::Q8_0,
            _ => KvType::F16,
        };
        ContextOptions {
            n_ctx: o.n_ctx as u32,
            n_batch: o.n_batch as u32,
            n_threads: o.n_threads as u32,
            kv_type,
            n_seq_max: o.n_seq_max as u32,
        }
    }
}

/// Sampling options (see `llamas_sampler_options`); `temperature <= 0` is greedy.
#[derive(Debug, Clone)]
pub struct SamplerOptions {
    pub temperature: f32,
    pub top_k: i32,
    pub top_p: f32,
    pub min_p: f32,
    pub typical_p: f32,
    pub repeat_penalty: f32,
    pub frequency_penalty: f32,
    pub presence_penalty: f32,
    pub penalty_last_n: i32,
    pub seed: u64,
}

impl Default for SamplerOptions {
    fn default() -> Self {
        let mut o = sys::llamas_sampler_options {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            min_p: 0.05,
            typical_p: 1.0,
            repeat_penalty: 1.0,
            penalty_last_n: 64,
            ..Default::default()
        };
        if let Ok(api) = api() {
            unsafe { api.init_sampler_options(&mut o) };
        }
        SamplerOptions {
            temperature: o.temperature,
            top_k: o.top_k,
            top_p: o.top_p,
            min_p: o.min_p,
            typical_p: o.typical_p,
            repeat_penalty: o.repeat_penalty,
            frequency_penalty: o.frequency_penalty,
            presence_penalty: o.presence_penalty,
            penalty_last_n: o.penalty_last_n,
            seed: o.seed,
        }
    }
}

impl SamplerOptions {
    /// The defaults with temperature 0: always the most likely token.
    pub fn greedy() -> Self {
        SamplerOptions { temperature: 0.0, ..Default::default() }
    }
}

/// Generation options.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    pub max_tokens: u32,
    /// Parse special-token text in the prompt.
    pub parse_special: bool,
    /// Don't pass control tokens to the callback.
    pub skip_special: bool,
    /// Stop strings: generation ends where one appears; no part of it reaches the callback.
    pub stop: Vec<String>,
    /// Alternatives per token given to the token callback of `generate_with_tokens`.
    pub n_probs: u32,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        let mut o = sys::llamas_generate_options { max_tokens: 256, skip_special: 1, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { api.init_generate_options(&mut o) };
        }
        GenerateOptions {
            max_tokens: o.max_tokens as u32,
            parse_special: o.parse_special != 0,
            skip_special: o.skip_special != 0,
            stop: Vec::new(),
            n_probs: 0,
        }
    }
}

/// How the token vectors of a text become one embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// What the model's metadata says.
    Model = -1,
    Mean = 1,
    Cls = 2,
    Last = 3,
}

/// Embedding options.
#[derive(Debug, Clone)]
pub struct EmbedOptions {
    pub pooling: Pooling,
    /// L2-normalize each embedding (default).
    pub normalize: bool,
    /// Keep the first `dims` dimensions (0: all).
    pub dims: u32,
}

impl Default for EmbedOptions {
    fn default() -> Self {
        EmbedOptions { pooling: Pooling::Model, normalize: true, dims: 0 }
    }
}

/// One turn of a conversation.
#[derive(Debug, Clone)]
pub struct ChatMessage<'a> {
    pub role: &'a str,
    pub content: &'a str,
}

fn c_messages(msgs: &[ChatMessage<'_>]) -> Result<(Vec<CString>, Vec<sys::llamas_chat_message>)> {
    let mut strings = Vec::with_capacity(msgs.len() * 2);
    for m in msgs {
        strings.push(c_string(m.role)?);
        strings.push(c_string(m.content)?);
    }
    let arr = strings
        .chunks(2)
        .map(|p| sys::llamas_chat_message { role: p[0].as_ptr(), content: p[1].as_ptr() })
        .collect();
    Ok((strings, arr))
}

/// Renders messages in the ChatML format.
pub fn apply_chatml(msgs: &[ChatMessage<'_>], add_generation_prompt: bool) -> Result<String> {
    let api = api()?;
    let (_keep, arr) = c_messages(msgs)?;
    read_text(api, |buf, cap, len| unsafe {
        (api.llamas_chat_apply_chatml)(arr.as_ptr(), arr.len(), add_generation_prompt as c_int, buf, cap, len)
    })
}

// ---- 0.2 types ---------------------------------------------------------------------------

/// Token attribute bits (`Model::token_attr`).
pub const TOKEN_ATTR_UNKNOWN: u32 = 1 << 0;
pub const TOKEN_ATTR_UNUSED: u32 = 1 << 1;
pub const TOKEN_ATTR_NORMAL: u32 = 1 << 2;
pub const TOKEN_ATTR_CONTROL: u32 = 1 << 3;
pub const TOKEN_ATTR_USER_DEFINED: u32 = 1 << 4;
pub const TOKEN_ATTR_BYTE: u32 = 1 << 5;
pub const TOKEN_ATTR_NORMALIZED: u32 = 1 << 6;
pub const TOKEN_ATTR_LSTRIP: u32 = 1 << 7;
pub const TOKEN_ATTR_RSTRIP: u32 = 1 << 8;
pub const TOKEN_ATTR_SINGLE_WORD: u32 = 1 << 9;

/// A model's special tokens (`Model::special_token`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    Bos = 0,
    Eos = 1,
    Eot = 2,
    Sep = 3,
    Pad = 4,
    Unk = 5,
    Mask = 6,
    FimPre = 7,
    FimSuf = 8,
    FimMid = 9,
    Nl = 10,
}

/// GGUF metadata value types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetaType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    Bool,
    String,
    Array,
    U64,
    I64,
    F64,
    Other(i32),
}

impl MetaType {
    fn from_raw(t: i32) -> MetaType {
        use MetaType::*;
        match t {
            0 => U8,
            1 => I8,
            2 => U16,
            3 => I16,
            4 => U32,
            5 => I32,
            6 => F32,
            7 => Bool,
            8 => String,
            9 => Array,
            10 => U64,
            11 => I64,
            12 => F64,
            o => Other(o),
        }
    }
}

/// A metadata value's type; for arrays, the element type and count (scalars: `count` 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaInfo {
    pub ty: MetaType,
    pub elem_type: MetaType,
    pub count: u64,
}

/// A typed metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    String(String),
    /// A string that is not UTF-8.
    Bytes(Vec<u8>),
    Array(Vec<MetaValue>),
}

/// Why a generation ended (`Context::finish_reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    None,
    Eog,
    MaxTokens,
    StopString,
    ContextFull,
    Cancelled,
    Callback,
    Other(i32),
}

/// A token and its log-probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenLogprob {
    pub token: Token,
    pub logprob: f32,
}

/// What the token callback of `Context::generate_with_tokens` receives per generated token.
#[derive(Debug, Clone)]
pub struct TokenInfo {
    pub token: Token,
    pub logprob: f32,
    /// The `n_probs` most likely tokens, most likely first.
    pub top: Vec<TokenLogprob>,
}

/// The input of `Context::decode_batch`: `tokens` and, each either empty or as long as
/// `tokens`, the positions (empty: each sequence continues after its last position), sequence
/// ids (empty: all 0) and which tokens keep logits (empty: each sequence's last).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub tokens: Vec<Token>,
    pub positions: Vec<i32>,
    pub seq_ids: Vec<i32>,
    pub want_logits: Vec<bool>,
}

impl Batch {
    /// Adds one token of sequence `seq` at position `pos`.
    pub fn add(&mut self, token: Token, pos: i32, seq: i32, logits: bool) -> &mut Self {
        self.tokens.push(token);
        self.positions.push(pos);
        self.seq_ids.push(seq);
        self.want_logits.push(logits);
        self
    }
}

struct ProgressSink<'f> {
    fn_: &'f mut dyn FnMut(f32) -> bool,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn progress_trampoline(progress: f32, user: *mut c_void) -> c_int {
    let sink = &mut *(user as *mut ProgressSink<'_>);
    if sink.panic.is_some() {
        return 1;
    }
    match catch_unwind(AssertUnwindSafe(|| (sink.fn_)(progress))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            sink.panic = Some(p);
            1
        }
    }
}

struct TokenSink<'f> {
    fn_: &'f mut dyn FnMut(&TokenInfo),
    raw: *const RawContext,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn token_trampoline(info: *const sys::llamas_token_info, user: *mut c_void) {
    let sink = &mut *(user as *mut TokenSink<'_>);
    if sink.panic.is_some() || info.is_null() {
        return;
    }
    let info = &*info;
    let top = if info.top.is_null() || info.n_top <= 0 {
        Vec::new()
    } else {
        std::slice::from_raw_parts(info.top, info.n_top as usize)
            .iter()
            .map(|t| TokenLogprob { token: t.token, logprob: t.logprob })
            .collect()
    };
    let ti = TokenInfo { token: info.token, logprob: info.logprob, top };
    if let Err(p) = catch_unwind(AssertUnwindSafe(|| (sink.fn_)(&ti))) {
        // The callback cannot stop the generation: cancel it, resume the panic afterwards.
        sink.panic = Some(p);
        let raw = &*sink.raw;
        (raw.api.llamas_context_cancel)(raw.ptr.as_ptr());
    }
}

/// A sampler's filter stage, boxed so its address is stable while installed.
struct FilterSink {
    fn_: Box<dyn FnMut(&mut [f32]) -> bool + Send>,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn filter_trampoline(logits: *mut f32, n_vocab: i32, user: *mut c_void) -> c_int {
    let sink = &mut *(user as *mut FilterSink);
    if sink.panic.is_some() {
        return 1;
    }
    let l = std::slice::from_raw_parts_mut(logits, n_vocab.max(0) as usize);
    match catch_unwind(AssertUnwindSafe(|| (sink.fn_)(l))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            sink.panic = Some(p);
            1
        }
    }
}

// ---- model -------------------------------------------------------------------------------

/// A loaded GGUF model, freed on drop. Immutable: share it between threads freely.
pub struct Model {
    ptr: NonNull<sys::llamas_model>,
    api: &'static sys::Api,
}

// SAFETY: the C API documents a model as immutable after loading and usable from any number
// of threads at once.
unsafe impl Send for Model {}
unsafe impl Sync for Model {}

impl Model {
    /// Loads and validates a GGUF model with the default options.
    pub fn load(path: impl AsRef<Path>) -> Result<Model> {
        Model::load_with(path, &ModelOptions::default())
    }

    /// Loads and validates a GGUF model.
    pub fn load_with(path: impl AsRef<Path>, options: &ModelOptions) -> Result<Model> {
        Model::load_impl(path.as_ref(), options, None)
    }

    /// Loads a model, reporting progress: `progress(fraction)` gets fractions in [0, 1];
    /// returning false cancels the load (`ErrorKind::Cancelled`). A panic in it cancels the
    /// load and is resumed here.
    pub fn load_with_progress(
        path: impl AsRef<Path>,
        options: &ModelOptions,
        mut progress: impl FnMut(f32) -> bool,
    ) -> Result<Model> {
        Model::load_impl(path.as_ref(), options, Some(&mut progress))
    }

    fn load_impl(path: &Path, options: &ModelOptions, progress: Option<&mut dyn FnMut(f32) -> bool>) -> Result<Model> {
        let api = api()?;
        let cpath = c_string(path.to_str().ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "path is not UTF-8"))?)?;
        let mut o = sys::llamas_model_options::default();
        let mut out = ptr::null_mut();
        let mut sink = progress.map(|fn_| ProgressSink { fn_, panic: None });
        let status = unsafe {
            api.init_model_options(&mut o);
            o.use_mmap = options.use_mmap as c_int;
            o.n_threads = options.n_threads as c_int;
            if let Some(sink) = sink.as_mut() {
                o.progress = Some(progress_trampoline);
                o.progress_user_data = sink as *mut ProgressSink<'_> as *mut c_void;
            }
            (api.llamas_model_load)(cpath.as_ptr(), &o, &mut out)
        };
        if let Some(p) = sink.and_then(|s| s.panic) {
            if status == sys::LLAMAS_OK {
                unsafe { (api.llamas_model_free)(out) };
            }
            resume_unwind(p);
        }
        check(api, status)?;
        let ptr = NonNull::new(out).ok_or_else(|| Error::new(ErrorKind::Internal, "model_load returned NULL"))?;
        Ok(Model { ptr, api })
    }

    fn raw(&self) -> *const sys::llamas_model {
        self.ptr.as_ptr()
    }

    /// The architecture name ("llama", "qwen2", ...).
    pub fn architecture(&self) -> String {
        unsafe { c_str((self.api.llamas_model_architecture)(self.raw())) }.unwrap_or_default()
    }
    pub fn n_vocab(&self) -> usize {
        unsafe { (self.api.llamas_model_n_vocab)(self.raw()) as usize }
    }
    pub fn n_ctx_train(&self) -> usize {
        unsafe { (self.api.llamas_model_n_ctx_train)(self.raw()) as usize }
    }
    pub fn n_embd(&self) -> usize {
        unsafe { (self.api.llamas_model_n_embd)(self.raw()) as usize }
    }
    /// Length of one full-size embedding.
    pub fn n_embd_out(&self) -> usize {
        unsafe { (self.api.llamas_model_n_embd_out)(self.raw()) as usize }
    }
    pub fn bos(&self) -> Option<Token> {
        let t = unsafe { (self.api.llamas_model_bos)(self.raw()) };
        (t >= 0).then_some(t)
    }
    pub fn eos(&self) -> Option<Token> {
        let t = unsafe { (self.api.llamas_model_eos)(self.raw()) };
        (t >= 0).then_some(t)
    }
    /// Whether `token` ends generation.
    pub fn is_eog(&self, token: Token) -> bool {
        unsafe { (self.api.llamas_model_is_eog)(self.raw(), token) != 0 }
    }
    pub fn chat_template(&self) -> Option<String> {
        unsafe { c_str((self.api.llamas_model_chat_template)(self.raw())) }
    }

    /// Any metadata value rendered as text.
    pub fn meta(&self, key: &str) -> Result<String> {
        let ckey = c_string(key)?;
        read_text(self.api, |buf, cap, len| unsafe {
            (self.api.llamas_model_meta)(self.raw(), ckey.as_ptr(), buf, cap, len)
        })
    }

    /// Tokenizes text; `add_special` adds BOS/EOS as the model says, `parse_special` turns
    /// special-token text into tokens.
    pub fn tokenize(&self, text: &str, add_special: bool, parse_special: bool) -> Result<Vec<Token>> {
        let mut flags = 0;
        if add_special {
            flags |= sys::LLAMAS_TOKENIZE_ADD_SPECIAL;
        }
        if parse_special {
            flags |= sys::LLAMAS_TOKENIZE_PARSE_SPECIAL;
        }
        let mut toks: Vec<Token> = vec![0; text.len() + 8];
        loop {
            let mut count = 0usize;
            let status = unsafe {
                (self.api.llamas_tokenize)(
                    self.raw(),
                    text.as_ptr() as *const c_char,
                    text.len(),
                    flags,
                    toks.as_mut_ptr(),
                    toks.len(),
                    &mut count,
                )
            };
            match status {
                sys::LLAMAS_OK => {
                    toks.truncate(count);
                    return Ok(toks);
                }
                sys::LLAMAS_ERR_BUFFER_TOO_SMALL => toks.resize(count, 0),
                _ => return Err(status_error(self.api, status)),
            }
        }
    }

    /// Turns tokens back into text; `skip_special` leaves out control tokens.
    pub fn detokenize(&self, tokens: &[Token], skip_special: bool) -> Result<String> {
        let flags = if skip_special { sys::LLAMAS_DETOKENIZE_SKIP_SPECIAL } else { 0 };
        read_text(self.api, |buf, cap, len| unsafe {
            (self.api.llamas_detokenize)(self.raw(), tokens.as_ptr(), tokens.len(), flags, buf, cap, len)
        })
    }

    /// Renders messages with the model's chat template.
    pub fn apply_chat_template(&self, msgs: &[ChatMessage<'_>], add_generation_prompt: bool) -> Result<String> {
        let (_keep, arr) = c_messages(msgs)?;
        read_text(self.api, |buf, cap, len| unsafe {
            (self.api.llamas_chat_apply_template)(
                self.raw(),
                ptr::null(),
                arr.as_ptr(),
                arr.len(),
                add_generation_prompt as c_int,
                buf,
                cap,
                len,
            )
        })
    }

    /// The number of weights (0.2).
    pub fn n_params(&self) -> u64 {
        unsafe { api02_or_panic!(self.api, llamas_model_n_params)(self.raw()) }
    }
    /// The bytes of tensor data (0.2).
    pub fn tensor_bytes(&self) -> u64 {
        unsafe { api02_or_panic!(self.api, llamas_model_tensor_bytes)(self.raw()) }
    }
    /// The model file's size (0.2).
    pub fn file_size(&self) -> u64 {
        unsafe { api02_or_panic!(self.api, llamas_model_file_size)(self.raw()) }
    }
    /// A one-line description such as "llama 1.2B Q4_K - Medium".
    pub fn description(&self) -> Result<String> {
        let f = api02!(self.api, llamas_model_description)?;
        read_text(self.api, |buf, cap, len| unsafe { f(self.raw(), buf, cap, len) })
    }

    /// Every metadata key, in file order.
    pub fn meta_keys(&self) -> Result<Vec<String>> {
        let count = api02!(self.api, llamas_model_meta_count)?;
        let key = api02!(self.api, llamas_model_meta_key)?;
        let n = unsafe { count(self.raw()) };
        Ok((0..n).filter_map(|i| unsafe { c_str(key(self.raw(), i)) }).collect())
    }

    /// A key's type (`ErrorKind::NotFound` when absent).
    pub fn meta_info(&self, key: &str) -> Result<MetaInfo> {
        let f = api02!(self.api, llamas_model_meta_info)?;
        let ckey = c_string(key)?;
        let (mut t, mut et, mut n) = (0i32, 0i32, 0u64);
        unsafe { check(self.api, f(self.raw(), ckey.as_ptr(), &mut t, &mut et, &mut n))? };
        Ok(MetaInfo { ty: MetaType::from_raw(t), elem_type: MetaType::from_raw(et), count: n })
    }

    /// An integer or boolean value (element `index` of an array; 0 for a scalar).
    pub fn meta_int(&self, key: &str, index: u64) -> Result<i64> {
        let f = api02!(self.api, llamas_model_meta_int)?;
        let ckey = c_string(key)?;
        let mut v = 0i64;
        unsafe { check(self.api, f(self.raw(), ckey.as_ptr(), index, &mut v))? };
        Ok(v)
    }

    /// A number as f64.
    pub fn meta_float(&self, key: &str, index: u64) -> Result<f64> {
        let f = api02!(self.api, llamas_model_meta_float)?;
        let ckey = c_string(key)?;
        let mut v = 0f64;
        unsafe { check(self.api, f(self.raw(), ckey.as_ptr(), index, &mut v))? };
        Ok(v)
    }

    /// A string value's bytes (GGUF strings may hold any bytes).
    pub fn meta_bytes(&self, key: &str, index: u64) -> Result<Vec<u8>> {
        let f = api02!(self.api, llamas_model_meta_string)?;
        let ckey = c_string(key)?;
        read_bytes(self.api, |buf, cap, len| unsafe { f(self.raw(), ckey.as_ptr(), index, buf, cap, len) })
    }

    fn meta_elem(&self, key: &str, ty: MetaType, index: u64) -> Result<MetaValue> {
        Ok(match ty {
            MetaType::String => match String::from_utf8(self.meta_bytes(key, index)?) {
                Ok(s) => MetaValue::String(s),
                Err(e) => MetaValue::Bytes(e.into_bytes()),
            },
            MetaType::F32 | MetaType::F64 => MetaValue::Float(self.meta_float(key, index)?),
            MetaType::Bool => MetaValue::Bool(self.meta_int(key, index)? != 0),
            MetaType::Array => return Err(Error::new(ErrorKind::Unsupported, format!("nested array in {key}"))),
            _ => MetaValue::Int(self.meta_int(key, index)?),
        })
    }

    /// A metadata value with its type; arrays in full.
    pub fn meta_value(&self, key: &str) -> Result<MetaValue> {
        let info = self.meta_info(key)?;
        if info.ty != MetaType::Array {
            return self.meta_elem(key, info.ty, 0);
        }
        (0..info.count).map(|i| self.meta_elem(key, info.elem_type, i)).collect::<Result<Vec<_>>>().map(MetaValue::Array)
    }

    /// The id of a special token, None when the model has none.
    pub fn special_token(&self, which: Special) -> Option<Token> {
        let t = unsafe { api02_or_panic!(self.api, llamas_model_special_token)(self.raw(), which as i32) };
        (t >= 0).then_some(t)
    }
    /// A token's stored text ("▁the", "<0x0A>"), None when out of range.
    pub fn token_text(&self, token: Token) -> Option<String> {
        unsafe { c_str(api02_or_panic!(self.api, llamas_token_text)(self.raw(), token)) }
    }
    /// A token's stored score.
    pub fn token_score(&self, token: Token) -> f32 {
        unsafe { api02_or_panic!(self.api, llamas_token_score)(self.raw(), token) }
    }
    /// A token's attribute bits (`TOKEN_ATTR_*`).
    pub fn token_attr(&self, token: Token) -> u32 {
        unsafe { api02_or_panic!(self.api, llamas_token_attr)(self.raw(), token) }
    }
    /// The bytes one token stands for (possibly part of a UTF-8 character). `special`: control
    /// tokens as their text; `lstrip`: drop one leading space.
    pub fn token_to_piece(&self, token: Token, special: bool, lstrip: bool) -> Result<Vec<u8>> {
        let f = api02!(self.api, llamas_token_to_piece)?;
        let flags = if special { sys::LLAMAS_PIECE_SPECIAL } else { 0 } | if lstrip { sys::LLAMAS_PIECE_LSTRIP } else { 0 };
        read_bytes(self.api, |buf, cap, len| unsafe { f(self.raw(), token, flags, buf, cap, len) })
    }

    /// Creates a context (KV cache, scratch, threads) for one conversation.
    pub fn new_context(&self, options: &ContextOptions) -> Result<Context<'_>> {
        let mut o = sys::llamas_context_options::default();
        let mut out = ptr::null_mut();
        unsafe {
            self.api.init_context_options(&mut o);
            o.n_ctx = options.n_ctx as i32;
            o.n_batch = options.n_batch as i32;
            o.n_threads = options.n_threads as i32;
            o.kv_type = options.kv_type as i32;
            o.n_seq_max = options.n_seq_max as i32;
            check(self.api, (self.api.llamas_context_create)(self.ptr.as_ptr(), &o, &mut out))?;
        }
        let ptr = NonNull::new(out).ok_or_else(|| Error::new(ErrorKind::Internal, "context_create returned NULL"))?;
        Ok(Context { raw: Arc::new(RawContext { ptr, api: self.api }), model: self, not_sync: PhantomData })
    }

    /// Creates a sampler.
    pub fn new_sampler(&self, options: &SamplerOptions) -> Result<Sampler<'_>> {
        let mut o = sys::llamas_sampler_options::default();
        let mut out = ptr::null_mut();
        unsafe {
            self.api.init_sampler_options(&mut o);
            o.temperature = options.temperature;
            o.top_k = options.top_k;
            o.top_p = options.top_p;
            o.min_p = options.min_p;
            o.typical_p = options.typical_p;
            o.repeat_penalty = options.repeat_penalty;
            o.frequency_penalty = options.frequency_penalty;
            o.presence_penalty = options.presence_penalty;
            o.penalty_last_n = options.penalty_last_n;
            o.seed = options.seed;
            check(self.api, (self.api.llamas_sampler_create)(self.raw(), &o, &mut out))?;
        }
        let ptr = NonNull::new(out).ok_or_else(|| Error::new(ErrorKind::Internal, "sampler_create returned NULL"))?;
        Ok(Sampler { ptr, api: self.api, filter: None, _model: PhantomData })
    }

    /// Embeds texts in a temporary context with the default options (normalized).
    pub fn embed<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.new_context(&ContextOptions::default())?.embed(texts)
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        unsafe { (self.api.llamas_model_free)(self.ptr.as_ptr()) }
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("architecture", &self.architecture()).finish()
    }
}

// ---- context -----------------------------------------------------------------------------

/// One conversation's state, freed on drop. It borrows its model, which therefore outlives it.
/// `Send` (one thread at a time, any thread) but not `Sync`.
pub struct Context<'m> {
    raw: Arc<RawContext>,
    model: &'m Model,
    not_sync: PhantomData<Cell<()>>,
}

/// The C context, freed when the Context and all its Cancellers are gone.
struct RawContext {
    ptr: NonNull<sys::llamas_context>,
    api: &'static sys::Api,
}

// SAFETY: the C API lets any thread use a context (one at a time) and lets any thread call
// llamas_context_cancel at any time. Through RawContext's sharing (Arc), only Canceller calls
// it concurrently, and only llamas_context_cancel; everything else goes through &mut Context.
unsafe impl Send for RawContext {}
unsafe impl Sync for RawContext {}

impl Drop for RawContext {
    fn drop(&mut self) {
        unsafe { (self.api.llamas_context_free)(self.ptr.as_ptr()) }
    }
}

/// Stops the generation or decode running in a context, from any thread. Keeps the C context
/// alive while it exists (the model outlives it by its lifetime).
#[derive(Clone)]
pub struct Canceller<'m> {
    raw: Arc<RawContext>,
    _model: PhantomData<&'m Model>,
}

impl Canceller<'_> {
    /// Makes the running (or next) call in the context return `ErrorKind::Cancelled`.
    pub fn cancel(&self) {
        unsafe { (self.raw.api.llamas_context_cancel)(self.raw.ptr.as_ptr()) }
    }
}

fn path_cstring(path: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| Error::new(ErrorKind::InvalidArgument, "path contains a NUL byte"))
}

struct PieceSink<'f> {
    on_piece: &'f mut dyn FnMut(&str, Token) -> bool,
    panic: Option<Box<dyn Any + Send>>,
}

unsafe extern "C" fn piece_trampoline(piece: *const c_char, length: usize, token: i32, user: *mut c_void) -> c_int {
    let sink = &mut *(user as *mut PieceSink<'_>);
    let bytes = if piece.is_null() || length == 0 { &[][..] } else { std::slice::from_raw_parts(piece as *const u8, length) };
    let text = String::from_utf8_lossy(bytes);
    // A panic must not unwind through the C frames: keep it and re-raise after the call.
    match catch_unwind(AssertUnwindSafe(|| (sink.on_piece)(&text, token))) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(p) => {
            sink.panic = Some(p);
            1
        }
    }
}

impl<'m> Context<'m> {
    fn api(&self) -> &'static sys::Api {
        self.model.api
    }

    fn ptr(&self) -> *mut sys::llamas_context {
        self.raw.ptr.as_ptr()
    }

    /// A handle that cancels this context's running call from another thread.
    pub fn canceller(&self) -> Canceller<'m> {
        Canceller { raw: Arc::clone(&self.raw), _model: PhantomData }
    }

    pub fn model(&self) -> &'m Model {
        self.model
    }
    pub fn n_ctx(&self) -> usize {
        unsafe { (self.api().llamas_context_n_ctx)(self.ptr()) as usize }
    }
    /// Number of tokens in the KV cache.
    pub fn n_past(&self) -> usize {
        unsafe { (self.api().llamas_context_n_past)(self.ptr()) as usize }
    }

    /// Evaluates tokens after those already in the cache.
    pub fn decode(&mut self, tokens: &[Token]) -> Result<()> {
        unsafe { check(self.api(), (self.api().llamas_decode)(self.ptr(), tokens.as_ptr(), tokens.len())) }
    }

    /// The logits after the last evaluated token (None before any decode).
    pub fn logits(&self) -> Option<&[f32]> {
        let p = unsafe { (self.api().llamas_logits)(self.ptr()) };
        if p.is_null() {
            None
        } else {
            // SAFETY: n_vocab floats, valid until the next call that changes the context,
            // which needs &mut self and so ends this borrow first.
            Some(unsafe { std::slice::from_raw_parts(p, self.model.n_vocab()) })
        }
    }

    pub fn kv_clear(&mut self) -> Result<()> {
        unsafe { check(self.api(), (self.api().llamas_kv_clear)(self.ptr())) }
    }
    /// Drops positions `[p0, p1)` (`p1 < 0`: to the end).
    pub fn kv_remove(&mut self, p0: i32, p1: i32) -> Result<()> {
        unsafe { check(self.api(), (self.api().llamas_kv_remove)(self.ptr(), p0, p1)) }
    }
    /// Keeps the first `n_keep` tokens and drops the `n_discard` after them.
    pub fn kv_keep_shift(&mut self, n_keep: i32, n_discard: i32) -> Result<()> {
        unsafe { check(self.api(), (self.api().llamas_kv_keep_shift)(self.ptr(), n_keep, n_discard)) }
    }

    /// Evaluates `prompt` after what the context holds, then samples until an
    /// end-of-generation token, `max_tokens`, or `on_piece` returning false. `on_piece` gets
    /// each piece of text (complete UTF-8 characters) and its token. Returns the number of
    /// tokens generated.
    pub fn generate(
        &mut self,
        sampler: &mut Sampler<'_>,
        prompt: &str,
        options: &GenerateOptions,
        mut on_piece: impl FnMut(&str, Token) -> bool,
    ) -> Result<usize> {
        self.generate_impl(sampler, prompt, options, None, &mut on_piece)
    }

    /// As `generate`, with `on_token` called for every generated token (before its piece)
    /// with the token's log-probability and the `options.n_probs` most likely alternatives.
    pub fn generate_with_tokens(
        &mut self,
        sampler: &mut Sampler<'_>,
        prompt: &str,
        options: &GenerateOptions,
        mut on_token: impl FnMut(&TokenInfo),
        mut on_piece: impl FnMut(&str, Token) -> bool,
    ) -> Result<usize> {
        self.generate_impl(sampler, prompt, options, Some(&mut on_token), &mut on_piece)
    }

    fn generate_impl(
        &mut self,
        sampler: &mut Sampler<'_>,
        prompt: &str,
        options: &GenerateOptions,
        on_token: Option<&mut dyn FnMut(&TokenInfo)>,
        on_piece: &mut dyn FnMut(&str, Token) -> bool,
    ) -> Result<usize> {
        let api = self.api();
        let cprompt = c_string(prompt)?;
        let stops = options.stop.iter().map(|s| c_string(s)).collect::<Result<Vec<_>>>()?;
        let stop_ptrs: Vec<*const c_char> = stops.iter().map(|s| s.as_ptr()).collect();
        let mut o = sys::llamas_generate_options::default();
        unsafe { api.init_generate_options(&mut o) };
        o.max_tokens = options.max_tokens as i32;
        o.parse_special = options.parse_special as c_int;
        o.skip_special = options.skip_special as c_int;
        if !stop_ptrs.is_empty() {
            o.stop = stop_ptrs.as_ptr();
            o.n_stop = stop_ptrs.len();
        }
        let mut token_sink = on_token.map(|fn_| TokenSink { fn_, raw: Arc::as_ptr(&self.raw), panic: None });
        if let Some(ts) = token_sink.as_mut() {
            o.token_callback = Some(token_trampoline);
            o.token_user_data = ts as *mut TokenSink<'_> as *mut c_void;
            o.n_probs = options.n_probs as i32;
        }
        let mut sink = PieceSink { on_piece, panic: None };
        let mut n = 0i32;
        let status = unsafe {
            (api.llamas_generate)(
                self.ptr(),
                sampler.ptr.as_ptr(),
                cprompt.as_ptr(),
                &o,
                Some(piece_trampoline),
                &mut sink as *mut PieceSink<'_> as *mut c_void,
                &mut n,
            )
        };
        let result = check(api, status);
        if let Some(p) = sink.panic {
            resume_unwind(p);
        }
        if let Some(p) = token_sink.and_then(|t| t.panic) {
            resume_unwind(p);
        }
        sampler.rethrow();
        result.map(|_| n as usize)
    }

    /// The number of sequences the context holds.
    pub fn n_seq_max(&self) -> usize {
        unsafe { api02_or_panic!(self.api(), llamas_context_n_seq_max)(self.ptr()) as usize }
    }

    /// Evaluates tokens of several sequences in one pass; read kept logits with `logits_ith`.
    pub fn decode_batch(&mut self, batch: &Batch) -> Result<()> {
        let f = api02!(self.api(), llamas_decode_batch)?;
        let n = batch.tokens.len();
        if [batch.positions.len(), batch.seq_ids.len(), batch.want_logits.len()].iter().any(|&l| l != 0 && l != n) {
            return Err(Error::new(ErrorKind::InvalidArgument, "batch vectors must be empty or as long as tokens"));
        }
        let opt = |v: &Vec<i32>| if v.is_empty() { ptr::null() } else { v.as_ptr() };
        let want: Vec<i8> = batch.want_logits.iter().map(|&w| w as i8).collect();
        let want_p = if want.is_empty() { ptr::null() } else { want.as_ptr() };
        unsafe {
            check(self.api(), f(self.ptr(), batch.tokens.as_ptr(), opt(&batch.positions), opt(&batch.seq_ids), want_p, n))
        }
    }

    /// The logits of token `i` of the last decode (`i < 0` counts from the end), None when
    /// that token kept none.
    pub fn logits_ith(&self, i: i32) -> Option<&[f32]> {
        let p = unsafe { api02_or_panic!(self.api(), llamas_logits_ith)(self.ptr(), i) };
        // SAFETY: as `logits`: valid until a call that needs &mut self.
        (!p.is_null()).then(|| unsafe { std::slice::from_raw_parts(p, self.model.n_vocab()) })
    }

    /// Row `i`'s log-probability of `token` (if asked) and its `n_top` most likely tokens.
    pub fn logprobs(&self, i: i32, token: Option<Token>, n_top: usize) -> Result<(Option<f32>, Vec<TokenLogprob>)> {
        let f = api02!(self.api(), llamas_logprobs)?;
        let mut lp = 0f32;
        let mut top = vec![sys::llamas_token_logprob::default(); n_top];
        let mut got = 0usize;
        let top_p = if n_top == 0 { ptr::null_mut() } else { top.as_mut_ptr() };
        unsafe { check(self.api(), f(self.ptr(), i, token.unwrap_or(-1), &mut lp, top_p, n_top, &mut got))? };
        top.truncate(if n_top == 0 { 0 } else { got });
        Ok((token.map(|_| lp), top.iter().map(|t| TokenLogprob { token: t.token, logprob: t.logprob }).collect()))
    }

    /// The lowest position sequence `seq` holds, None when it is empty.
    pub fn seq_pos_min(&self, seq: i32) -> Option<i32> {
        let p = unsafe { api02_or_panic!(self.api(), llamas_seq_pos_min)(self.ptr(), seq) };
        (p >= 0).then_some(p)
    }
    /// The highest position sequence `seq` holds, None when it is empty.
    pub fn seq_pos_max(&self, seq: i32) -> Option<i32> {
        let p = unsafe { api02_or_panic!(self.api(), llamas_seq_pos_max)(self.ptr(), seq) };
        (p >= 0).then_some(p)
    }
    /// Drops positions `[p0, p1)` of `seq` (`seq < 0`: every one; `p1 < 0`: to the end);
    /// `shift` closes the gap.
    pub fn seq_remove(&mut self, seq: i32, p0: i32, p1: i32, shift: bool) -> Result<()> {
        let f = api02!(self.api(), llamas_seq_remove)?;
        unsafe { check(self.api(), f(self.ptr(), seq, p0, p1, shift as c_int)) }
    }
    /// Makes `dst` a copy of `src`'s tokens below position `p1` (`p1 < 0`: all).
    pub fn seq_copy(&mut self, src: i32, dst: i32, p1: i32) -> Result<()> {
        let f = api02!(self.api(), llamas_seq_copy)?;
        unsafe { check(self.api(), f(self.ptr(), src, dst, p1)) }
    }
    /// Empties every sequence but `seq`.
    pub fn seq_keep(&mut self, seq: i32) -> Result<()> {
        let f = api02!(self.api(), llamas_seq_keep)?;
        unsafe { check(self.api(), f(self.ptr(), seq)) }
    }
    /// Adds `delta` to the positions `[p0, p1)` of `seq`.
    pub fn seq_shift(&mut self, seq: i32, p0: i32, p1: i32, delta: i32) -> Result<()> {
        let f = api02!(self.api(), llamas_seq_shift)?;
        unsafe { check(self.api(), f(self.ptr(), seq, p0, p1, delta)) }
    }

    /// The context's state (`seq` None: every sequence) as bytes.
    pub fn state_save(&self, seq: Option<i32>) -> Result<Vec<u8>> {
        let size_f = api02!(self.api(), llamas_state_size)?;
        let save = api02!(self.api(), llamas_state_save)?;
        let seq = seq.unwrap_or(-1);
        let mut size = 0usize;
        unsafe { check(self.api(), size_f(self.ptr(), seq, &mut size))? };
        loop {
            let mut buf = vec![0u8; size.max(1)];
            let status = unsafe { save(self.ptr(), seq, buf.as_mut_ptr() as *mut c_void, buf.len(), &mut size) };
            match status {
                sys::LLAMAS_OK => {
                    buf.truncate(size);
                    return Ok(buf);
                }
                sys::LLAMAS_ERR_BUFFER_TOO_SMALL => continue,
                _ => return Err(status_error(self.api(), status)),
            }
        }
    }
    /// Restores a state (`seq` Some: a one-sequence state into that sequence). A state that
    /// does not fit is `ErrorKind::BadFormat`, and the context is left as it was.
    pub fn state_load(&mut self, data: &[u8], seq: Option<i32>) -> Result<()> {
        let f = api02!(self.api(), llamas_state_load)?;
        unsafe { check(self.api(), f(self.ptr(), seq.unwrap_or(-1), data.as_ptr() as *const c_void, data.len())) }
    }
    pub fn state_save_file(&self, path: impl AsRef<Path>, seq: Option<i32>) -> Result<()> {
        let f = api02!(self.api(), llamas_state_save_file)?;
        let p = path_cstring(path.as_ref())?;
        unsafe { check(self.api(), f(self.ptr(), seq.unwrap_or(-1), p.as_ptr())) }
    }
    pub fn state_load_file(&mut self, path: impl AsRef<Path>, seq: Option<i32>) -> Result<()> {
        let f = api02!(self.api(), llamas_state_load_file)?;
        let p = path_cstring(path.as_ref())?;
        unsafe { check(self.api(), f(self.ptr(), seq.unwrap_or(-1), p.as_ptr())) }
    }

    /// Why the last generation ended.
    pub fn finish_reason(&self) -> FinishReason {
        match unsafe { api02_or_panic!(self.api(), llamas_context_finish_reason)(self.ptr()) } {
            0 => FinishReason::None,
            1 => FinishReason::Eog,
            2 => FinishReason::MaxTokens,
            3 => FinishReason::StopString,
            4 => FinishReason::ContextFull,
            5 => FinishReason::Cancelled,
            6 => FinishReason::Callback,
            o => FinishReason::Other(o),
        }
    }

    /// One normalized embedding per text, with the model's pooling. Clears the KV cache.
    pub fn embed<S: AsRef<str>>(&mut self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        self.embed_with(texts, &EmbedOptions::default())
    }

    /// One embedding per text. Clears the KV cache.
    pub fn embed_with<S: AsRef<str>>(&mut self, texts: &[S], options: &EmbedOptions) -> Result<Vec<Vec<f32>>> {
        let api = self.api();
        let ctexts = texts.iter().map(|t| c_string(t.as_ref())).collect::<Result<Vec<_>>>()?;
        let ptrs: Vec<*const c_char> = ctexts.iter().map(|c| c.as_ptr()).collect();
        let mut o = sys::llamas_embed_options::default();
        unsafe { api.init_embed_options(&mut o) };
        o.pooling = options.pooling as i32;
        o.normalize = options.normalize as c_int;
        o.dims = options.dims as i32;
        let width = if options.dims > 0 { options.dims as usize } else { self.model.n_embd_out() };
        let mut flat = vec![0f32; width * texts.len()];
        unsafe {
            check(
                api,
                (api.llamas_embed)(self.ptr(), ptrs.as_ptr(), ptrs.len(), &o, flat.as_mut_ptr(), flat.len()),
            )?;
        }
        Ok(flat.chunks(width.max(1)).map(|c| c.to_vec()).collect())
    }
}

// ---- sampler -----------------------------------------------------------------------------

/// Picks tokens from a context's logits; freed on drop.
pub struct Sampler<'m> {
    ptr: NonNull<sys::llamas_sampler>,
    api: &'static sys::Api,
    filter: Option<Box<FilterSink>>, // dropped after the C sampler (Drop runs first)
    _model: PhantomData<&'m Model>,
}

// SAFETY: used by one thread at a time, from any thread (C API rule).
unsafe impl Send for Sampler<'_> {}

impl Sampler<'_> {
    /// Picks a token from the context's current logits.
    pub fn sample(&mut self, context: &mut Context<'_>) -> Result<Token> {
        let mut tok = 0;
        let status = unsafe { (self.api.llamas_sample)(self.ptr.as_ptr(), context.ptr(), &mut tok) };
        self.rethrow();
        check(self.api, status)?;
        Ok(tok)
    }

    /// Picks a token from row `i` of the context's logits without recording it.
    pub fn choose(&mut self, context: &Context<'_>, i: i32) -> Result<Token> {
        let f = api02!(self.api, llamas_sampler_choose)?;
        let mut tok = 0;
        let status = unsafe { f(self.ptr.as_ptr(), context.ptr(), i, &mut tok) };
        self.rethrow();
        check(self.api, status)?;
        Ok(tok)
    }

    /// Records tokens in the penalty window (the prompt's and every kept token).
    pub fn accept(&mut self, tokens: &[Token]) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_accept)?;
        unsafe { check(self.api, f(self.ptr.as_ptr(), tokens.as_ptr(), tokens.len())) }
    }

    /// Installs a filter stage (None removes it): it gets the logits on every choose; set one
    /// to `f32::NEG_INFINITY` to forbid that token. Returning false fails the choose with
    /// `ErrorKind::Cancelled`; a panic fails it too and is resumed after the call.
    pub fn set_filter(&mut self, filter: Option<Box<dyn FnMut(&mut [f32]) -> bool + Send>>) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_set_filter)?;
        match filter {
            None => {
                unsafe { check(self.api, f(self.ptr.as_ptr(), None, ptr::null_mut()))? };
                self.filter = None;
            }
            Some(fn_) => {
                let mut sink = Box::new(FilterSink { fn_, panic: None });
                let user = &mut *sink as *mut FilterSink as *mut c_void;
                unsafe { check(self.api, f(self.ptr.as_ptr(), Some(filter_trampoline), user))? };
                self.filter = Some(sink);
            }
        }
        Ok(())
    }

    fn rethrow(&mut self) {
        if let Some(p) = self.filter.as_mut().and_then(|f| f.panic.take()) {
            resume_unwind(p);
        }
    }
    /// Adds `bias` to a token's logit before sampling (`f32::NEG_INFINITY` bans it).
    pub fn set_logit_bias(&mut self, token: Token, bias: f32) -> Result<()> {
        unsafe { check(self.api, (self.api.llamas_sampler_set_logit_bias)(self.ptr.as_ptr(), token, bias)) }
    }
    /// Clears the penalty window.
    pub fn reset(&mut self) {
        unsafe { (self.api.llamas_sampler_reset)(self.ptr.as_ptr()) }
    }
}

impl Drop for Sampler<'_> {
    fn drop(&mut self) {
        unsafe { (self.api.llamas_sampler_free)(self.ptr.as_ptr()) }
    }
}
