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

fn c_string(s: &str) -> Result<CString> {
    CString::new(s).map_err(|_| Error::new(ErrorKind::InvalidArgument, "text contains a NUL byte"))
}

/// Calls `f(buffer, capacity, out_length)` with growing buffers (the BUFFER_TOO_SMALL rule).
fn read_text(api: &sys::Api, mut f: impl FnMut(*mut c_char, usize, *mut usize) -> c_int) -> Result<String> {
    let mut buf: Vec<u8> = vec![0; 256];
    loop {
        let mut len = 0usize;
        let status = f(buf.as_mut_ptr() as *mut c_char, buf.len(), &mut len);
        if status == sys::LLAMAS_OK && len < buf.len() {
            buf.truncate(len);
            return Ok(String::from_utf8_lossy(&buf).into_owned());
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

/// The SIMD path in use: "scalar", "avx2", "avx512" or "neon".
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
}

impl Default for ModelOptions {
    fn default() -> Self {
        let mut o = sys::llamas_model_options { use_mmap: 1, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { (api.llamas_model_options_init)(&mut o) };
        }
        ModelOptions { use_mmap: o.use_mmap != 0 }
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
}

impl Default for ContextOptions {
    fn default() -> Self {
        let mut o = sys::llamas_context_options { n_batch: 512, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { (api.llamas_context_options_init)(&mut o) };
        }
        let kv_type = match o.kv_type {
            1 => KvType::F32,
            2 => KvType::Q8_0,
            _ => KvType::F16,
        };
        ContextOptions { n_ctx: o.n_ctx as u32, n_batch: o.n_batch as u32, n_threads: o.n_threads as u32, kv_type }
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
            unsafe { (api.llamas_sampler_options_init)(&mut o) };
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
}

impl Default for GenerateOptions {
    fn default() -> Self {
        let mut o = sys::llamas_generate_options { max_tokens: 256, skip_special: 1, ..Default::default() };
        if let Ok(api) = api() {
            unsafe { (api.llamas_generate_options_init)(&mut o) };
        }
        GenerateOptions { max_tokens: o.max_tokens as u32, parse_special: o.parse_special != 0, skip_special: o.skip_special != 0 }
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
        let api = api()?;
        let path = path.as_ref();
        let cpath = c_string(path.to_str().ok_or_else(|| Error::new(ErrorKind::InvalidArgument, "path is not UTF-8"))?)?;
        let mut o = sys::llamas_model_options::default();
        let mut out = ptr::null_mut();
        unsafe {
            (api.llamas_model_options_init)(&mut o);
            o.use_mmap = options.use_mmap as c_int;
            check(api, (api.llamas_model_load)(cpath.as_ptr(), &o, &mut out))?;
        }
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

    /// Creates a context (KV cache, scratch, threads) for one conversation.
    pub fn new_context(&self, options: &ContextOptions) -> Result<Context<'_>> {
        let mut o = sys::llamas_context_options::default();
        let mut out = ptr::null_mut();
        unsafe {
            (self.api.llamas_context_options_init)(&mut o);
            o.n_ctx = options.n_ctx as i32;
            o.n_batch = options.n_batch as i32;
            o.n_threads = options.n_threads as i32;
            o.kv_type = options.kv_type as i32;
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
            (self.api.llamas_sampler_options_init)(&mut o);
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
        Ok(Sampler { ptr, api: self.api, _model: PhantomData })
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
        let api = self.api();
        let cprompt = c_string(prompt)?;
        let mut o = sys::llamas_generate_options::default();
        unsafe { (api.llamas_generate_options_init)(&mut o) };
        o.max_tokens = options.max_tokens as i32;
        o.parse_special = options.parse_special as c_int;
        o.skip_special = options.skip_special as c_int;
        let mut sink = PieceSink { on_piece: &mut on_piece, panic: None };
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
        result.map(|_| n as usize)
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
        unsafe { (api.llamas_embed_options_init)(&mut o) };
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
    _model: PhantomData<&'m Model>,
}

// SAFETY: used by one thread at a time, from any thread (C API rule).
unsafe impl Send for Sampler<'_> {}

impl Sampler<'_> {
    /// Picks a token from the context's current logits.
    pub fn sample(&mut self, context: &mut Context<'_>) -> Result<Token> {
        let mut tok = 0;
        unsafe { check(self.api, (self.api.llamas_sample)(self.ptr.as_ptr(), context.ptr(), &mut tok))? };
        Ok(tok)
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
