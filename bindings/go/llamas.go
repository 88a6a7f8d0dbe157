// Package llamas is the Go binding of llamas, an embeddable CPU inference engine for GGUF
// models. The shared library is opened at run time from $LLAMAS_LIBRARY, else
// "libllamas.so.0" on the system search path, so one build of this package works with any
// compatible build of the library.
//
//	m, err := llamas.LoadModel("qwen2-Q8_0.gguf", nil)
//	if err != nil { ... }
//	defer m.Close()
//	ctx, err := m.NewContext(nil)
//	defer ctx.Close()
//	s, err := m.GreedySampler() // or m.NewSampler(&opts), opts from DefaultSamplerOptions()
//	defer s.Close()
//	_, err = ctx.Generate("Once upon a time", s, nil, func(piece string, token int32) bool {
//		fmt.Print(piece)
//		return true // keep going
//	})
package llamas

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"errors"
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

// Status is a llamas_status code.
type Status int

const (
	StatusOK              Status = C.LLAMAS_OK
	StatusInvalidArgument Status = C.LLAMAS_ERR_INVALID_ARGUMENT
	StatusIO              Status = C.LLAMAS_ERR_IO
	StatusBadFormat       Status = C.LLAMAS_ERR_BAD_FORMAT
	StatusUnsupported     Status = C.LLAMAS_ERR_UNSUPPORTED
	StatusOutOfMemory     Status = C.LLAMAS_ERR_OUT_OF_MEMORY
	StatusContextFull     Status = C.LLAMAS_ERR_CONTEXT_FULL
	StatusCancelled       Status = C.LLAMAS_ERR_CANCELLED
	StatusInternal        Status = C.LLAMAS_ERR_INTERNAL
	StatusBufferTooSmall  Status = C.LLAMAS_ERR_BUFFER_TOO_SMALL
	StatusNotFound        Status = C.LLAMAS_ERR_NOT_FOUND
)

// Error is a failed llamas call: the status code and the library's message.
type Error struct {
	Status  Status
	Message string
}

func (e *Error) Error() string { return "llamas: " + e.Message }

// Is makes errors.Is(err, llamas.ErrIO) (and the other sentinels) match by status.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Status == e.Status
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument = &Error{Status: StatusInvalidArgument}
	ErrIO              = &Error{Status: StatusIO}
	ErrBadFormat       = &Error{Status: StatusBadFormat}
	ErrUnsupported     = &Error{Status: StatusUnsupported}
	ErrOutOfMemory     = &Error{Status: StatusOutOfMemory}
	ErrContextFull     = &Error{Status: StatusContextFull}
	ErrCancelled       = &Error{Status: StatusCancelled}
	ErrInternal        = &Error{Status: StatusInternal}
	// ErrNotFound: a metadata key, sequence or file entry that does not exist (since 0.2).
	ErrNotFound = &Error{Status: StatusNotFound}
)

// ErrClosed is returned when a closed Model, Context or Sampler is used.
var ErrClosed = errors.New("llamas: use of a closed object")

// Version is the library's version ("MAJOR.MINOR.PATCH").
func Version() (string, error) {
	if err := load(); err != nil {
		return "", err
	}
	return C.GoString(C.lgo_version()), nil
}

// CPUPath is the SIMD path in use: "scalar", "avx2", "avx2-vnni", "avx512", "neon-nodot", "neon" or "neon-i8mm".
func CPUPath() (string, error) {
	if err := load(); err != nil {
		return "", err
	}
	return C.GoString(C.lgo_cpu_path()), nil
}

// ---- models -------------------------------------------------------------------------------

// ModelOptions are the loading options; DefaultModelOptions gives the library's defaults.
type ModelOptions struct {
	UseMmap  bool
	NThreads int // threads preparing the weights; 0: one per core
	// Progress, when set, is called during the load with a fraction in [0, 1]; returning false
	// cancels the load (ErrCancelled). A panic in it cancels the load and is re-raised.
	Progress func(fraction float32) bool
}

// DefaultModelOptions returns the library's default model options.
func DefaultModelOptions() ModelOptions {
	if load() != nil {
		return ModelOptions{UseMmap: true}
	}
	var o C.llamas_model_options
	C.lgo_model_options_init(&o)
	return ModelOptions{UseMmap: o.use_mmap != 0}
}

// Model is a loaded GGUF model. It is immutable: any number of goroutines may use it at once.
// Close frees it once every Context and Sampler made from it is closed too.
type Model struct {
	ptr    *C.llamas_model
	mu     sync.Mutex
	refs   int // 1 for the Model itself + one per open Context/Sampler
	closed bool
}

// LoadModel loads and validates a GGUF model; opts nil means the defaults.
func LoadModel(path string, opts *ModelOptions) (*Model, error) {
	if err := load(); err != nil {
		return nil, err
	}
	var o C.llamas_model_options
	C.lgo_model_options_init(&o)
	var sink *progressSink
	if opts != nil {
		o.use_mmap = cBool(opts.UseMmap)
		o.n_threads = C.int(opts.NThreads)
		if opts.Progress != nil {
			sink = &progressSink{fn: opts.Progress}
			h := cgo.NewHandle(sink)
			defer h.Delete()
			C.lgo_set_progress(&o, C.uintptr_t(h))
		}
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	m := &Model{refs: 1}
	err := call(func() C.llamas_status { return C.lgo_model_load(cpath, &o, &m.ptr) })
	if sink != nil && sink.panic != nil {
		if err == nil {
			C.lgo_model_free(m.ptr)
		}
		panic(sink.panic)
	}
	if err != nil {
		return nil, err
	}
	runtime.SetFinalizer(m, (*Model).Close)
	return m, nil
}

// Close releases the model (at once, or when its last Context/Sampler is closed). Idempotent.
func (m *Model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	runtime.SetFinalizer(m, nil)
	m.release()
	return nil
}

func (m *Model) retain() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.refs++
	return nil
}

func (m *Model) release() {
	m.mu.Lock()
	m.refs--
	free := m.refs == 0
	p := m.ptr
	if free {
		m.ptr = nil
	}
	m.mu.Unlock()
	if free {
		C.lgo_model_free(p)
	}
}

func (m *Model) handle() *C.llamas_model {
	if m.closed {
		return nil // the C functions return 0/NULL or INVALID_ARGUMENT on NULL
	}
	return m.ptr
}

// Architecture is the model's architecture name ("llama", "qwen2", ...).
func (m *Model) Architecture() string { return C.GoString(C.lgo_model_architecture(m.handle())) }

// NVocab is the vocabulary size.
func (m *Model) NVocab() int { return int(C.lgo_model_n_vocab(m.handle())) }

// NCtxTrain is the context length the model was trained with.
func (m *Model) NCtxTrain() int { return int(C.lgo_model_n_ctx_train(m.handle())) }

// NEmbd is the model's hidden width.
func (m *Model) NEmbd() int { return int(C.lgo_model_n_embd(m.handle())) }

// NEmbdOut is the length of one full-size embedding.
func (m *Model) NEmbdOut() int { return int(C.lgo_model_n_embd_out(m.handle())) }

// BOS is the beginning-of-sequence token, -1 when none.
func (m *Model) BOS() int32 { return int32(C.lgo_model_bos(m.handle())) }

// EOS is the end-of-sequence token, -1 when none.
func (m *Model) EOS() int32 { return int32(C.lgo_model_eos(m.handle())) }

// IsEOG tells whether token ends generation.
func (m *Model) IsEOG(token int32) bool { return C.lgo_model_is_eog(m.handle(), C.int32_t(token)) != 0 }

// ChatTemplate is the model's chat template; ok is false when it has none.
func (m *Model) ChatTemplate() (tmpl string, ok bool) {
	p := C.lgo_model_chat_template(m.handle())
	if p == nil {
		return "", false
	}
	return C.GoString(p), true
}

// Meta renders any metadata value as text.
func (m *Model) Meta(key string) (string, error) {
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	h := m.handle()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_model_meta(h, ckey, buf, capacity, length)
	})
}

// Tokenize turns text into token ids; addSpecial adds BOS/EOS as the model says, parseSpecial
// turns special-token text into tokens.
func (m *Model) Tokenize(text string, addSpecial, parseSpecial bool) ([]int32, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	flags := C.int(0)
	if addSpecial {
		flags |= C.LLAMAS_TOKENIZE_ADD_SPECIAL
	}
	if parseSpecial {
		flags |= C.LLAMAS_TOKENIZE_PARSE_SPECIAL
	}
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	capacity := len(text) + 8
	for {
		buf := (*C.int32_t)(C.malloc(C.size_t(capacity) * 4))
		var count C.size_t
		s := C.lgo_tokenize(m.handle(), ctext, C.size_t(len(text)), flags, buf, C.size_t(capacity), &count)
		if s == C.LLAMAS_OK {
			out := make([]int32, int(count))
			copy(out, unsafe.Slice((*int32)(unsafe.Pointer(buf)), int(count)))
			C.free(unsafe.Pointer(buf))
			return out, nil
		}
		C.free(unsafe.Pointer(buf))
		if s != C.LLAMAS_ERR_BUFFER_TOO_SMALL {
			return nil, statusError(s)
		}
		capacity = int(count)
	}
}

// Detokenize turns tokens back into text; skipSpecial leaves out control tokens.
func (m *Model) Detokenize(tokens []int32, skipSpecial bool) (string, error) {
	flags := C.int(0)
	if skipSpecial {
		flags = C.LLAMAS_DETOKENIZE_SKIP_SPECIAL
	}
	ctoks := cTokens(tokens)
	defer C.free(unsafe.Pointer(ctoks))
	h := m.handle()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_detokenize(h, ctoks, C.size_t(len(tokens)), flags, buf, capacity, length)
	})
}

// ChatMessage is one turn of a conversation ("system", "user" or "assistant").
type ChatMessage struct {
	Role, Content string
}

// cMessages copies messages to C memory; free it with the returned function.
func cMessages(msgs []ChatMessage) (*C.llamas_chat_message, func()) {
	n := len(msgs)
	if n == 0 {
		n = 1
	}
	arr := (*C.llamas_chat_message)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.llamas_chat_message{}))))
	items := unsafe.Slice(arr, n)
	for i, msg := range msgs {
		items[i].role = C.CString(msg.Role)
		items[i].content = C.CString(msg.Content)
	}
	return arr, func() {
		for i := range msgs {
			C.free(unsafe.Pointer(items[i].role))
			C.free(unsafe.Pointer(items[i].content))
		}
		C.free(unsafe.Pointer(arr))
	}
}

// ApplyChatTemplate renders messages with the model's chat template.
func (m *Model) ApplyChatTemplate(msgs []ChatMessage, addGenerationPrompt bool) (string, error) {
	arr, free := cMessages(msgs)
	defer free()
	h := m.handle()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_apply_template(h, nil, arr, C.size_t(len(msgs)), cBool(addGenerationPrompt), buf, capacity, length)
	})
}

// ApplyChatML renders messages in the ChatML format.
func ApplyChatML(msgs []ChatMessage, addGenerationPrompt bool) (string, error) {
	if err := load(); err != nil {
		return "", err
	}
	arr, free := cMessages(msgs)
	defer free()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_apply_chatml(arr, C.size_t(len(msgs)), cBool(addGenerationPrompt), buf, capacity, length)
	})
}

// Embed embeds texts in a temporary context with the default options (normalized).
func (m *Model) Embed(texts []string) ([][]float32, error) {
	ctx, err := m.NewContext(nil)
	if err != nil {
		return nil, err
	}
	defer ctx.Close()
	return ctx.Embed(texts)
}

// ---- contexts -----------------------------------------------------------------------------

// KVType is the KV cache's element type.
type KVType int32

const (
	KVF16  KVType = C.LLAMAS_KV_F16
	KVF32  KVType = C.LLAMAS_KV_F32
	KVQ8_0 KVType = C.LLAMAS_KV_Q8_0
)

// ContextOptions; a zero field means the library's default (NCtx: the model's, at most 4096;
// NBatch: 512; NThreads: all cores; KVType: F16).
type ContextOptions struct {
	NCtx, NBatch, NThreads int
	KVType                 KVType
	NSeqMax                int // sequences held at once (ids 0..NSeqMax-1); 0: 1 (since 0.2)
}

// DefaultContextOptions returns the library's default context options.
func DefaultContextOptions() ContextOptions {
	var o C.llamas_context_options
	if load() == nil {
		C.lgo_context_options_init(&o)
	}
	return ContextOptions{NCtx: int(o.n_ctx), NBatch: int(o.n_batch), NThreads: int(o.n_threads), KVType: KVType(o.kv_type), NSeqMax: int(o.n_seq_max)}
}

// Context is one conversation's state (KV cache, scratch, threads). Use it from one goroutine
// at a time (Cancel excepted); Close frees it.
type Context struct {
	ptr   *C.llamas_context
	model *Model
}

// NewContext creates a context; opts nil means the defaults.
func (m *Model) NewContext(opts *ContextOptions) (*Context, error) {
	var o C.llamas_context_options
	C.lgo_context_options_init(&o)
	if opts != nil {
		o.n_ctx = C.int32_t(opts.NCtx)
		if opts.NBatch != 0 {
			o.n_batch = C.int32_t(opts.NBatch)
		}
		o.n_threads = C.int32_t(opts.NThreads)
		o.kv_type = C.int32_t(opts.KVType)
		o.n_seq_max = C.int32_t(opts.NSeqMax)
	}
	if err := m.retain(); err != nil {
		return nil, err
	}
	c := &Context{model: m}
	if err := call(func() C.llamas_status { return C.lgo_context_create(m.ptr, &o, &c.ptr) }); err != nil {
		m.release()
		return nil, err
	}
	runtime.SetFinalizer(c, (*Context).Close)
	return c, nil
}

// Close frees the context. Idempotent.
func (c *Context) Close() error {
	if c.ptr != nil {
		runtime.SetFinalizer(c, nil)
		C.lgo_context_free(c.ptr)
		c.ptr = nil
		c.model.release()
	}
	return nil
}

// Model is the model this context was made from.
func (c *Context) Model() *Model { return c.model }

// NCtx is the context length in tokens.
func (c *Context) NCtx() int { return int(C.lgo_context_n_ctx(c.ptr)) }

// NPast is the number of tokens in the KV cache.
func (c *Context) NPast() int { return int(C.lgo_context_n_past(c.ptr)) }

// Decode evaluates tokens after those already in the cache.
func (c *Context) Decode(tokens []int32) error {
	if c.ptr == nil {
		return ErrClosed
	}
	ctoks := cTokens(tokens)
	defer C.free(unsafe.Pointer(ctoks))
	return call(func() C.llamas_status { return C.lgo_decode(c.ptr, ctoks, C.size_t(len(tokens))) })
}

// Logits returns a copy of the logits after the last evaluated token (nil before any decode).
func (c *Context) Logits() []float32 {
	if c.ptr == nil {
		return nil
	}
	p := C.lgo_logits(c.ptr)
	if p == nil {
		return nil
	}
	out := make([]float32, c.model.NVocab())
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(p)), len(out)))
	return out
}

// ClearKV drops everything from the KV cache.
func (c *Context) ClearKV() error {
	return call(func() C.llamas_status { return C.lgo_kv_clear(c.ptr) })
}

// RemoveKV drops positions [p0, p1) (p1 < 0: to the end); later positions move down.
func (c *Context) RemoveKV(p0, p1 int) error {
	return call(func() C.llamas_status { return C.lgo_kv_remove(c.ptr, C.int32_t(p0), C.int32_t(p1)) })
}

// KeepShiftKV keeps the first nKeep tokens and drops the nDiscard after them.
func (c *Context) KeepShiftKV(nKeep, nDiscard int) error {
	return call(func() C.llamas_status { return C.lgo_kv_keep_shift(c.ptr, C.int32_t(nKeep), C.int32_t(nDiscard)) })
}

// Cancel makes the call running in this context return ErrCancelled. Safe from any goroutine.
// A cancel while no call runs does nothing (it does not carry over to the next call).
func (c *Context) Cancel() {
	if p := c.ptr; p != nil {
		C.lgo_context_cancel(p)
	}
}

// GenerateOptions; the zero value means the library's defaults.
type GenerateOptions struct {
	MaxTokens    int  // stop after this many tokens; 0: the library's default (256)
	ParseSpecial bool // parse special-token text in the prompt
	KeepSpecial  bool // pass control tokens to the callback too (skipped by default)
	// Stop strings: generation ends where one appears; no part of it reaches the callback.
	Stop []string
	// OnToken, when set, gets every generated token with its log-probability and the NProbs
	// most likely alternatives (before the piece callback). A panic in it cancels the
	// generation and is re-raised.
	OnToken func(TokenInfo)
	NProbs  int
}

// Generate evaluates prompt after what the context holds and samples with s until an
// end-of-generation token, MaxTokens, or fn returning false. fn receives each piece of text
// (complete UTF-8 characters) and its token id. It returns the number of tokens generated.
func (c *Context) Generate(prompt string, s *Sampler, opts *GenerateOptions, fn func(piece string, token int32) bool) (int, error) {
	if c.ptr == nil || s == nil || s.ptr == nil {
		return 0, ErrClosed
	}
	var o C.llamas_generate_options
	C.lgo_generate_options_init(&o)
	var tsink *tokenSink
	if opts != nil {
		if opts.MaxTokens != 0 {
			o.max_tokens = C.int32_t(opts.MaxTokens)
		}
		o.parse_special = cBool(opts.ParseSpecial)
		o.skip_special = cBool(!opts.KeepSpecial)
		if len(opts.Stop) > 0 {
			arr, free := cStrings(opts.Stop)
			defer free()
			o.stop = arr
			o.n_stop = C.size_t(len(opts.Stop))
		}
		if opts.OnToken != nil {
			ptr := c.ptr
			tsink = &tokenSink{fn: opts.OnToken, cancel: func() { C.lgo_context_cancel(ptr) }}
			th := cgo.NewHandle(tsink)
			defer th.Delete()
			C.lgo_set_token_callback(&o, C.uintptr_t(th))
			o.n_probs = C.int32_t(opts.NProbs)
		}
	}
	cprompt := C.CString(prompt)
	defer C.free(unsafe.Pointer(cprompt))
	if fn == nil {
		fn = func(string, int32) bool { return true }
	}
	sink := &pieceSink{fn: fn}
	h := cgo.NewHandle(sink)
	defer h.Delete()
	var n C.int32_t
	err := call(func() C.llamas_status {
		return C.lgo_generate(c.ptr, s.ptr, cprompt, &o, C.uintptr_t(h), &n)
	})
	if sink.panic != nil {
		panic(sink.panic)
	}
	if tsink != nil && tsink.panic != nil {
		panic(tsink.panic)
	}
	s.rethrow()
	return int(n), err
}

// Piece is one generated piece of text and its token id.
type Piece struct {
	Text  string
	Token int32
}

// GenerateChan runs Generate in a goroutine and sends the pieces on the returned channel, which
// is closed at the end; the error channel then receives the result (nil on success). When ctx
// ends, the generation stops at once — also in the middle of evaluating the prompt, through
// Cancel — and the error is ctx.Err(). Don't use c until the pieces channel is closed.
func (c *Context) GenerateChan(ctx context.Context, prompt string, s *Sampler, opts *GenerateOptions) (<-chan Piece, <-chan error) {
	pieces := make(chan Piece)
	errc := make(chan error, 1)
	go func() {
		defer close(errc)
		if err := ctx.Err(); err != nil {
			close(pieces)
			errc <- err
			return
		}
		// A cancel reaches only the call in flight, so watch ctx for as long as Generate runs
		// (a cancel landing just before the call starts is caught by the callback below).
		finished := make(chan struct{})
		watching := make(chan struct{})
		go func() {
			defer close(watching)
			select {
			case <-ctx.Done():
				c.Cancel()
			case <-finished:
			}
		}()
		_, err := c.Generate(prompt, s, opts, func(text string, token int32) bool {
			if ctx.Err() != nil {
				return false
			}
			select {
			case pieces <- Piece{Text: text, Token: token}:
				return true
			case <-ctx.Done():
				return false
			}
		})
		close(finished)
		<-watching // the watcher never touches c after this
		close(pieces)
		if cerr := ctx.Err(); cerr != nil && (err == nil || errors.Is(err, ErrCancelled)) {
			err = cerr
		}
		errc <- err
	}()
	return pieces, errc
}

// EmbedOptions; DefaultEmbedOptions gives the library's defaults (model pooling, normalized,
// all dimensions).
type EmbedOptions struct {
	Pooling   Pooling
	Normalize bool
	Dims      int
}

// Pooling selects how token vectors become one embedding.
type Pooling int32

const (
	PoolingModel Pooling = C.LLAMAS_POOLING_MODEL
	PoolingNone  Pooling = C.LLAMAS_POOLING_NONE
	PoolingMean  Pooling = C.LLAMAS_POOLING_MEAN
	PoolingCLS   Pooling = C.LLAMAS_POOLING_CLS
	PoolingLast  Pooling = C.LLAMAS_POOLING_LAST
)

// DefaultEmbedOptions returns the library's default embedding options.
func DefaultEmbedOptions() EmbedOptions {
	var o C.llamas_embed_options
	if load() == nil {
		C.lgo_embed_options_init(&o)
	}
	return EmbedOptions{Pooling: Pooling(o.pooling), Normalize: o.normalize != 0, Dims: int(o.dims)}
}

// Embed returns one embedding per text with the default options. It clears the KV cache.
func (c *Context) Embed(texts []string) ([][]float32, error) {
	return c.EmbedWithOptions(texts, DefaultEmbedOptions())
}

// EmbedWithOptions returns one embedding per text. It clears the KV cache.
func (c *Context) EmbedWithOptions(texts []string, opts EmbedOptions) ([][]float32, error) {
	if c.ptr == nil {
		return nil, ErrClosed
	}
	var o C.llamas_embed_options
	C.lgo_embed_options_init(&o)
	o.pooling = C.int32_t(opts.Pooling)
	o.normalize = cBool(opts.Normalize)
	o.dims = C.int32_t(opts.Dims)
	width := opts.Dims
	if width <= 0 {
		width = c.model.NEmbdOut()
	}
	n := len(texts)
	ctexts := (**C.char)(C.calloc(C.size_t(n+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(ctexts, n+1)
	for i, t := range texts {
		items[i] = C.CString(t)
	}
	defer func() {
		for i := range texts {
			C.free(unsafe.Pointer(items[i]))
		}
		C.free(unsafe.Pointer(ctexts))
	}()
	flat := make([]float32, n*width+1)
	out := (*C.float)(C.malloc(C.size_t(len(flat)) * 4))
	defer C.free(unsafe.Pointer(out))
	err := call(func() C.llamas_status {
		return C.lgo_embed(c.ptr, ctexts, C.size_t(n), &o, out, C.size_t(n*width))
	})
	if err != nil {
		return nil, err
	}
	copy(flat, unsafe.Slice((*float32)(unsafe.Pointer(out)), n*width))
	vecs := make([][]float32, n)
	for i := range vecs {
		vecs[i] = flat[i*width : (i+1)*width : (i+1)*width]
	}
	return vecs, nil
}

// ---- sampling -----------------------------------------------------------------------------

// SamplerOptions mirror llamas_sampler_options. Start from DefaultSamplerOptions() (the
// library's defaults; a zero TopP or TypicalP is not "off"). Temperature <= 0 means greedy.
type SamplerOptions struct {
	Temperature      float32
	TopK             int
	TopP             float32
	MinP             float32
	TypicalP         float32
	RepeatPenalty    float32
	FrequencyPenalty float32
	PresencePenalty  float32
	PenaltyLastN     int
	Seed             uint64
}

// DefaultSamplerOptions returns the library's default sampler options.
func DefaultSamplerOptions() SamplerOptions {
	var o C.llamas_sampler_options
	if load() == nil {
		C.lgo_sampler_options_init(&o)
	}
	return SamplerOptions{
		Temperature: float32(o.temperature), TopK: int(o.top_k), TopP: float32(o.top_p), MinP: float32(o.min_p),
		TypicalP: float32(o.typical_p), RepeatPenalty: float32(o.repeat_penalty),
		FrequencyPenalty: float32(o.frequency_penalty), PresencePenalty: float32(o.presence_penalty),
		PenaltyLastN: int(o.penalty_last_n), Seed: uint64(o.seed),
	}
}

// GreedySampler is a convenience for NewSampler with temperature 0.
func (m *Model) GreedySampler() (*Sampler, error) {
	o := DefaultSamplerOptions()
	o.Temperature = 0
	return m.NewSampler(&o)
}

// Sampler picks tokens from a context's logits. Use it from one goroutine at a time.
type Sampler struct {
	ptr    *C.llamas_sampler
	model  *Model
	filter *filterSink
	fh     cgo.Handle
}

// NewSampler creates a sampler; opts nil means the defaults.
func (m *Model) NewSampler(opts *SamplerOptions) (*Sampler, error) {
	var o C.llamas_sampler_options
	C.lgo_sampler_options_init(&o)
	if opts != nil {
		o.temperature = C.float(opts.Temperature)
		o.top_k = C.int32_t(opts.TopK)
		o.top_p = C.float(opts.TopP)
		o.min_p = C.float(opts.MinP)
		o.typical_p = C.float(opts.TypicalP)
		o.repeat_penalty = C.float(opts.RepeatPenalty)
		o.frequency_penalty = C.float(opts.FrequencyPenalty)
		o.presence_penalty = C.float(opts.PresencePenalty)
		o.penalty_last_n = C.int32_t(opts.PenaltyLastN)
		o.seed = C.uint64_t(opts.Seed)
	}
	if err := m.retain(); err != nil {
		return nil, err
	}
	s := &Sampler{model: m}
	if err := call(func() C.llamas_status { return C.lgo_sampler_create(m.ptr, &o, &s.ptr) }); err != nil {
		m.release()
		return nil, err
	}
	runtime.SetFinalizer(s, (*Sampler).Close)
	return s, nil
}

// Close frees the sampler. Idempotent.
func (s *Sampler) Close() error {
	if s.ptr != nil {
		runtime.SetFinalizer(s, nil)
		C.lgo_sampler_free(s.ptr)
		s.ptr = nil
		if s.filter != nil {
			s.fh.Delete()
			s.filter = nil
		}
		s.model.release()
	}
	return nil
}

// Sample picks a token from c's current logits.
func (s *Sampler) Sample(c *Context) (int32, error) {
	var tok C.int32_t
	err := call(func() C.llamas_status { return C.lgo_sample(s.ptr, c.ptr, &tok) })
	s.rethrow()
	return int32(tok), err
}

// SetLogitBias adds bias to token's logit before sampling (-Inf bans it).
func (s *Sampler) SetLogitBias(token int32, bias float32) error {
	return call(func() C.llamas_status { return C.lgo_sampler_set_logit_bias(s.ptr, C.int32_t(token), C.float(bias)) })
}

// Reset clears the penalty window.
func (s *Sampler) Reset() { C.lgo_sampler_reset(s.ptr) }

// ---- helpers ------------------------------------------------------------------------------

func cBool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// cStrings copies strs to a C array of C strings; free it with the returned function.
func cStrings(strs []string) (**C.char, func()) {
	arr := (**C.char)(C.calloc(C.size_t(len(strs)+1), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(arr, len(strs)+1)
	for i, str := range strs {
		items[i] = C.CString(str)
	}
	return arr, func() {
		for i := range strs {
			C.free(unsafe.Pointer(items[i]))
		}
		C.free(unsafe.Pointer(arr))
	}
}

// cTokens copies tokens to C memory (never NULL); free it with C.free.
func cTokens(tokens []int32) *C.int32_t {
	p := (*C.int32_t)(C.malloc(C.size_t(len(tokens)+1) * 4))
	copy(unsafe.Slice((*int32)(unsafe.Pointer(p)), len(tokens)), tokens)
	return p
}
