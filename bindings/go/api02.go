package llamas

// The surface added in API 0.2: many sequences and batches, per-position logits and logprobs,
// sequence edits, state, vocabulary, typed metadata, sizes, sampler choose/accept/filter and
// finish reasons. Each call checks that the loaded library has the function (ErrUnsupported
// with the symbol's name otherwise), so a 0.1 library still serves the rest of the package.

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"runtime"
	"runtime/cgo"
	"sync"
	"unsafe"
)

var present sync.Map // symbol name -> bool

// need reports an error when the loaded library lacks the (0.2) function name.
func need(name string) error {
	if err := load(); err != nil {
		return err
	}
	if v, ok := present.Load(name); ok {
		if v.(bool) {
			return nil
		}
	} else {
		cname := C.CString(name)
		has := C.lgo_has(cname) != 0
		C.free(unsafe.Pointer(cname))
		present.Store(name, has)
		if has {
			return nil
		}
	}
	return &Error{Status: StatusUnsupported, Message: "the loaded library lacks " + name}
}

// mustHave panics for methods that cannot return an error.
func mustHave(name string) {
	if err := need(name); err != nil {
		panic(err)
	}
}

// ---- model sizes and metadata ---------------------------------------------------------------

// NParams is the number of weights.
func (m *Model) NParams() uint64 {
	mustHave("llamas_model_n_params")
	return uint64(C.lgo_model_n_params(m.handle()))
}

// TensorBytes is the size of the tensor data in bytes.
func (m *Model) TensorBytes() uint64 {
	mustHave("llamas_model_tensor_bytes")
	return uint64(C.lgo_model_tensor_bytes(m.handle()))
}

// FileSize is the model file's size in bytes.
func (m *Model) FileSize() uint64 {
	mustHave("llamas_model_file_size")
	return uint64(C.lgo_model_file_size(m.handle()))
}

// Description is a one-line description such as "llama 1.2B Q4_K - Medium".
func (m *Model) Description() (string, error) {
	if err := need("llamas_model_description"); err != nil {
		return "", err
	}
	h := m.handle()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_model_description(h, buf, capacity, length)
	})
}

// MetaType is a GGUF metadata value type.
type MetaType int32

const (
	MetaU8     MetaType = C.LLAMAS_META_U8
	MetaI8     MetaType = C.LLAMAS_META_I8
	MetaU16    MetaType = C.LLAMAS_META_U16
	MetaI16    MetaType = C.LLAMAS_META_I16
	MetaU32    MetaType = C.LLAMAS_META_U32
	MetaI32    MetaType = C.LLAMAS_META_I32
	MetaF32    MetaType = C.LLAMAS_META_F32
	MetaBool   MetaType = C.LLAMAS_META_BOOL
	MetaString MetaType = C.LLAMAS_META_STRING
	MetaArray  MetaType = C.LLAMAS_META_ARRAY
	MetaU64    MetaType = C.LLAMAS_META_U64
	MetaI64    MetaType = C.LLAMAS_META_I64
	MetaF64    MetaType = C.LLAMAS_META_F64
)

// MetaInfo describes a metadata value: its type and, for arrays, the element type and count
// (scalars: ElemType == Type, Count 1).
type MetaInfo struct {
	Type, ElemType MetaType
	Count          uint64
}

// MetaKeys lists every metadata key in file order.
func (m *Model) MetaKeys() ([]string, error) {
	if err := need("llamas_model_meta_key"); err != nil {
		return nil, err
	}
	h := m.handle()
	n := int(C.lgo_model_meta_count(h))
	keys := make([]string, 0, n)
	for i := 0; i < n; i++ {
		keys = append(keys, C.GoString(C.lgo_model_meta_key(h, C.int32_t(i))))
	}
	return keys, nil
}

// metaCall runs one metadata lookup, fn, with the key as a C string, once the library is known
// to have the function `name` (a library from before 0.2 lacks it: StatusUnsupported).
func (m *Model) metaCall(name, key string, fn func(ckey *C.char) C.llamas_status) error {
	if err := need(name); err != nil {
		return err
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	return call(func() C.llamas_status { return fn(ckey) })
}

// MetaInfo tells a key's type (ErrNotFound when absent).
func (m *Model) MetaInfo(key string) (MetaInfo, error) {
	var t, et C.int32_t
	var n C.uint64_t
	err := m.metaCall("llamas_model_meta_info", key, func(ckey *C.char) C.llamas_status {
		return C.lgo_model_meta_info(m.handle(), ckey, &t, &et, &n)
	})
	return MetaInfo{Type: MetaType(t), ElemType: MetaType(et), Count: uint64(n)}, err
}

// MetaInt reads an integer or boolean (element index of an array; 0 for a scalar).
func (m *Model) MetaInt(key string, index uint64) (int64, error) {
	var v C.int64_t
	err := m.metaCall("llamas_model_meta_int", key, func(ckey *C.char) C.llamas_status {
		return C.lgo_model_meta_int(m.handle(), ckey, C.uint64_t(index), &v)
	})
	return int64(v), err
}

// MetaFloat reads a number as float64.
func (m *Model) MetaFloat(key string, index uint64) (float64, error) {
	var v C.double
	err := m.metaCall("llamas_model_meta_float", key, func(ckey *C.char) C.llamas_status {
		return C.lgo_model_meta_float(m.handle(), ckey, C.uint64_t(index), &v)
	})
	return float64(v), err
}

// MetaString reads a string (any bytes).
func (m *Model) MetaString(key string, index uint64) (string, error) {
	if err := need("llamas_model_meta_string"); err != nil {
		return "", err
	}
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	h := m.handle()
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_model_meta_string(h, ckey, C.uint64_t(index), buf, capacity, length)
	})
}

func (m *Model) metaElem(key string, t MetaType, index uint64) (interface{}, error) {
	switch t {
	case MetaString:
		return m.MetaString(key, index)
	case MetaF32, MetaF64:
		return m.MetaFloat(key, index)
	case MetaBool:
		v, err := m.MetaInt(key, index)
		return v != 0, err
	case MetaArray:
		return nil, &Error{Status: StatusUnsupported, Message: "nested array in " + key}
	default:
		return m.MetaInt(key, index)
	}
}

// MetaValue reads a value with its type: int64, float64, bool, string, or []interface{} of
// those for an array (every element).
func (m *Model) MetaValue(key string) (interface{}, error) {
	info, err := m.MetaInfo(key)
	if err != nil {
		return nil, err
	}
	if info.Type != MetaArray {
		return m.metaElem(key, info.Type, 0)
	}
	out := make([]interface{}, 0, info.Count)
	for i := uint64(0); i < info.Count; i++ {
		v, err := m.metaElem(key, info.ElemType, i)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// ---- vocabulary -----------------------------------------------------------------------------

// Special names one of the model's special tokens.
type Special int32

const (
	SpecialBOS    Special = C.LLAMAS_SPECIAL_BOS
	SpecialEOS    Special = C.LLAMAS_SPECIAL_EOS
	SpecialEOT    Special = C.LLAMAS_SPECIAL_EOT
	SpecialSEP    Special = C.LLAMAS_SPECIAL_SEP
	SpecialPAD    Special = C.LLAMAS_SPECIAL_PAD
	SpecialUNK    Special = C.LLAMAS_SPECIAL_UNK
	SpecialMASK   Special = C.LLAMAS_SPECIAL_MASK
	SpecialFIMPre Special = C.LLAMAS_SPECIAL_FIM_PRE
	SpecialFIMSuf Special = C.LLAMAS_SPECIAL_FIM_SUF
	SpecialFIMMid Special = C.LLAMAS_SPECIAL_FIM_MID
	SpecialNL     Special = C.LLAMAS_SPECIAL_NL
)

// TokenAttr are a token's attribute bits.
type TokenAttr uint32

const (
	TokenAttrUnknown     TokenAttr = C.LLAMAS_TOKEN_ATTR_UNKNOWN
	TokenAttrUnused      TokenAttr = C.LLAMAS_TOKEN_ATTR_UNUSED
	TokenAttrNormal      TokenAttr = C.LLAMAS_TOKEN_ATTR_NORMAL
	TokenAttrControl     TokenAttr = C.LLAMAS_TOKEN_ATTR_CONTROL
	TokenAttrUserDefined TokenAttr = C.LLAMAS_TOKEN_ATTR_USER_DEFINED
	TokenAttrByte        TokenAttr = C.LLAMAS_TOKEN_ATTR_BYTE
	TokenAttrNormalized  TokenAttr = C.LLAMAS_TOKEN_ATTR_NORMALIZED
	TokenAttrLStrip      TokenAttr = C.LLAMAS_TOKEN_ATTR_LSTRIP
	TokenAttrRStrip      TokenAttr = C.LLAMAS_TOKEN_ATTR_RSTRIP
	TokenAttrSingleWord  TokenAttr = C.LLAMAS_TOKEN_ATTR_SINGLE_WORD
)

// PieceFlags select how TokenToPiece renders a token.
type PieceFlags int

const (
	PieceSpecial PieceFlags = C.LLAMAS_PIECE_SPECIAL // control tokens as their text
	PieceLStrip  PieceFlags = C.LLAMAS_PIECE_LSTRIP  // drop one leading space
)

// SpecialToken is the id of a special token, -1 when the model has none.
func (m *Model) SpecialToken(which Special) int32 {
	mustHave("llamas_model_special_token")
	return int32(C.lgo_model_special_token(m.handle(), C.int32_t(which)))
}

// TokenText is a token's stored text; ok is false when the token is out of range.
func (m *Model) TokenText(token int32) (text string, ok bool) {
	mustHave("llamas_token_text")
	p := C.lgo_token_text(m.handle(), C.int32_t(token))
	if p == nil {
		return "", false
	}
	return C.GoString(p), true
}

// TokenScore is a token's stored score (0 when out of range or absent).
func (m *Model) TokenScore(token int32) float32 {
	mustHave("llamas_token_score")
	return float32(C.lgo_token_score(m.handle(), C.int32_t(token)))
}

// TokenAttr is a token's attribute bits.
func (m *Model) TokenAttr(token int32) TokenAttr {
	mustHave("llamas_token_attr")
	return TokenAttr(C.lgo_token_attr(m.handle(), C.int32_t(token)))
}

// TokenToPiece is the bytes one token stands for (possibly part of a UTF-8 character).
func (m *Model) TokenToPiece(token int32, flags PieceFlags) ([]byte, error) {
	if err := need("llamas_token_to_piece"); err != nil {
		return nil, err
	}
	h := m.handle()
	s, err := readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_token_to_piece(h, C.int32_t(token), C.int(flags), buf, capacity, length)
	})
	return []byte(s), err
}

// ---- sequences and batches ------------------------------------------------------------------

// NSeqMax is the number of sequences the context holds.
func (c *Context) NSeqMax() int {
	mustHave("llamas_context_n_seq_max")
	return int(C.lgo_context_n_seq_max(c.ptr))
}

// Batch is the input of DecodeBatch. Tokens is required; the other slices are nil or as long
// as Tokens: Positions nil continues each sequence after its last position, SeqIDs nil sends
// everything to sequence 0, WantLogits nil keeps the logits of each sequence's last token.
type Batch struct {
	Tokens     []int32
	Positions  []int32
	SeqIDs     []int32
	WantLogits []bool
}

// DecodeBatch evaluates tokens of several sequences in one pass; read the kept logits with
// LogitsIth.
func (c *Context) DecodeBatch(b Batch) error {
	if err := need("llamas_decode_batch"); err != nil {
		return err
	}
	if c.ptr == nil {
		return ErrClosed
	}
	n := len(b.Tokens)
	for _, l := range []int{len(b.Positions), len(b.SeqIDs), len(b.WantLogits)} {
		if l != 0 && l != n {
			return &Error{Status: StatusInvalidArgument, Message: "batch slices must be as long as Tokens"}
		}
	}
	toks := cTokens(b.Tokens)
	defer C.free(unsafe.Pointer(toks))
	var pos, seq *C.int32_t
	if b.Positions != nil {
		pos = cTokens(b.Positions)
		defer C.free(unsafe.Pointer(pos))
	}
	if b.SeqIDs != nil {
		seq = cTokens(b.SeqIDs)
		defer C.free(unsafe.Pointer(seq))
	}
	var want *C.int8_t
	if b.WantLogits != nil {
		want = (*C.int8_t)(C.malloc(C.size_t(n + 1)))
		defer C.free(unsafe.Pointer(want))
		w := unsafe.Slice((*int8)(unsafe.Pointer(want)), n)
		for i, v := range b.WantLogits {
			if v {
				w[i] = 1
			} else {
				w[i] = 0
			}
		}
	}
	return call(func() C.llamas_status { return C.lgo_decode_batch(c.ptr, toks, pos, seq, want, C.size_t(n)) })
}

// LogitsIth is a copy of the logits of token i of the last decode (i < 0 counts from the end),
// nil when that token kept none.
func (c *Context) LogitsIth(i int) []float32 {
	mustHave("llamas_logits_ith")
	if c.ptr == nil {
		return nil
	}
	p := C.lgo_logits_ith(c.ptr, C.int32_t(i))
	if p == nil {
		return nil
	}
	out := make([]float32, c.model.NVocab())
	copy(out, unsafe.Slice((*float32)(unsafe.Pointer(p)), len(out)))
	return out
}

// TokenLogprob is a token and its log-probability.
type TokenLogprob struct {
	Token   int32
	Logprob float32
}

// TokenInfo is what GenerateOptions.OnToken receives per generated token.
type TokenInfo struct {
	Token   int32
	Logprob float32
	Top     []TokenLogprob // the NProbs most likely tokens, most likely first
}

// Logprobs gives row i's log-probability of token (token < 0: not asked, 0 returned) and the
// nTop most likely tokens.
func (c *Context) Logprobs(i int, token int32, nTop int) (float32, []TokenLogprob, error) {
	if err := need("llamas_logprobs"); err != nil {
		return 0, nil, err
	}
	var lp C.float
	var got C.size_t
	var top *C.llamas_token_logprob
	if nTop > 0 {
		top = (*C.llamas_token_logprob)(C.calloc(C.size_t(nTop), C.size_t(unsafe.Sizeof(C.llamas_token_logprob{}))))
		defer C.free(unsafe.Pointer(top))
	}
	err := call(func() C.llamas_status {
		return C.lgo_logprobs(c.ptr, C.int32_t(i), C.int32_t(token), &lp, top, C.size_t(nTop), &got)
	})
	if err != nil {
		return 0, nil, err
	}
	var out []TokenLogprob
	if nTop > 0 {
		for _, t := range unsafe.Slice(top, int(got)) {
			out = append(out, TokenLogprob{Token: int32(t.token), Logprob: float32(t.logprob)})
		}
	}
	return float32(lp), out, nil
}

// SeqPosMin is the lowest position sequence seq holds, -1 when empty.
func (c *Context) SeqPosMin(seq int) int {
	mustHave("llamas_seq_pos_min")
	return int(C.lgo_seq_pos_min(c.ptr, C.int32_t(seq)))
}

// SeqPosMax is the highest position sequence seq holds, -1 when empty.
func (c *Context) SeqPosMax(seq int) int {
	mustHave("llamas_seq_pos_max")
	return int(C.lgo_seq_pos_max(c.ptr, C.int32_t(seq)))
}

// SeqRemove drops positions [p0, p1) of seq (seq < 0: every sequence; p1 < 0: to the end);
// shift closes the gap.
func (c *Context) SeqRemove(seq, p0, p1 int, shift bool) error {
	if err := need("llamas_seq_remove"); err != nil {
		return err
	}
	return call(func() C.llamas_status {
		return C.lgo_seq_remove(c.ptr, C.int32_t(seq), C.int32_t(p0), C.int32_t(p1), cBool(shift))
	})
}

// SeqCopy makes dst hold a copy of src's tokens below position p1 (p1 < 0: all).
func (c *Context) SeqCopy(src, dst, p1 int) error {
	if err := need("llamas_seq_copy"); err != nil {
		return err
	}
	return call(func() C.llamas_status { return C.lgo_seq_copy(c.ptr, C.int32_t(src), C.int32_t(dst), C.int32_t(p1)) })
}

// SeqKeep empties every sequence but seq.
func (c *Context) SeqKeep(seq int) error {
	if err := need("llamas_seq_keep"); err != nil {
		return err
	}
	return call(func() C.llamas_status { return C.lgo_seq_keep(c.ptr, C.int32_t(seq)) })
}

// SeqShift adds delta to the positions [p0, p1) of seq.
func (c *Context) SeqShift(seq, p0, p1, delta int) error {
	if err := need("llamas_seq_shift"); err != nil {
		return err
	}
	return call(func() C.llamas_status {
		return C.lgo_seq_shift(c.ptr, C.int32_t(seq), C.int32_t(p0), C.int32_t(p1), C.int32_t(delta))
	})
}

// ---- state ----------------------------------------------------------------------------------

// StateSave returns the context's state (seq < 0: every sequence; else that sequence).
func (c *Context) StateSave(seq int) ([]byte, error) {
	if err := need("llamas_state_save"); err != nil {
		return nil, err
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var size C.size_t
	if s := C.lgo_state_size(c.ptr, C.int32_t(seq), &size); s != C.LLAMAS_OK {
		return nil, statusError(s)
	}
	for {
		buf := C.malloc(size + 1)
		s := C.lgo_state_save(c.ptr, C.int32_t(seq), buf, size, &size)
		if s == C.LLAMAS_OK {
			out := C.GoBytes(buf, C.int(size))
			C.free(buf)
			return out, nil
		}
		C.free(buf)
		if s != C.LLAMAS_ERR_BUFFER_TOO_SMALL {
			return nil, statusError(s)
		}
	}
}

// StateLoad restores a state from StateSave (seq >= 0: a one-sequence state into seq). A
// state that does not fit this context and model is ErrBadFormat.
func (c *Context) StateLoad(seq int, data []byte) error {
	if err := need("llamas_state_load"); err != nil {
		return err
	}
	buf := C.CBytes(data)
	defer C.free(buf)
	return call(func() C.llamas_status { return C.lgo_state_load(c.ptr, C.int32_t(seq), buf, C.size_t(len(data))) })
}

// StateSaveFile writes the state to a file.
func (c *Context) StateSaveFile(seq int, path string) error {
	if err := need("llamas_state_save_file"); err != nil {
		return err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.llamas_status { return C.lgo_state_save_file(c.ptr, C.int32_t(seq), cpath) })
}

// StateLoadFile restores a state from a file.
func (c *Context) StateLoadFile(seq int, path string) error {
	if err := need("llamas_state_load_file"); err != nil {
		return err
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	return call(func() C.llamas_status { return C.lgo_state_load_file(c.ptr, C.int32_t(seq), cpath) })
}

// ---- finish reasons -------------------------------------------------------------------------

// FinishReason tells why a generation ended.
type FinishReason int

const (
	FinishNone        FinishReason = C.LLAMAS_FINISH_NONE
	FinishEOG         FinishReason = C.LLAMAS_FINISH_EOG
	FinishMaxTokens   FinishReason = C.LLAMAS_FINISH_MAX_TOKENS
	FinishStopString  FinishReason = C.LLAMAS_FINISH_STOP_STRING
	FinishContextFull FinishReason = C.LLAMAS_FINISH_CONTEXT_FULL
	FinishCancelled   FinishReason = C.LLAMAS_FINISH_CANCELLED
	FinishCallback    FinishReason = C.LLAMAS_FINISH_CALLBACK
)

func (r FinishReason) String() string {
	names := []string{"none", "eog", "max_tokens", "stop_string", "context_full", "cancelled", "callback"}
	if int(r) >= 0 && int(r) < len(names) {
		return names[r]
	}
	return "unknown"
}

// FinishReason is why the last Generate on this context ended.
func (c *Context) FinishReason() FinishReason {
	mustHave("llamas_context_finish_reason")
	return FinishReason(C.lgo_context_finish_reason(c.ptr))
}

// ---- sampler --------------------------------------------------------------------------------

// Choose picks a token from row i of c's logits (-1: the last) without recording it.
func (s *Sampler) Choose(c *Context, i int) (int32, error) {
	if err := need("llamas_sampler_choose"); err != nil {
		return 0, err
	}
	var tok C.int32_t
	err := call(func() C.llamas_status { return C.lgo_sampler_choose(s.ptr, c.ptr, C.int32_t(i), &tok) })
	s.rethrow()
	return int32(tok), err
}

// Accept records tokens in the penalty window (the prompt's and every kept token).
func (s *Sampler) Accept(tokens []int32) error {
	if err := need("llamas_sampler_accept"); err != nil {
		return err
	}
	ctoks := cTokens(tokens)
	defer C.free(unsafe.Pointer(ctoks))
	return call(func() C.llamas_status { return C.lgo_sampler_accept(s.ptr, ctoks, C.size_t(len(tokens))) })
}

// SetFilter installs fn as a filter stage (nil removes it): it gets the logits (writable, valid
// only during the call) on every choose; set one to float32(math.Inf(-1)) to forbid the
// token. Returning false fails the choose with ErrCancelled; a panic fails it too and is
// re-raised from the Sample/Choose/Generate call.
func (s *Sampler) SetFilter(fn func(logits []float32) bool) error {
	if err := need("llamas_sampler_set_filter"); err != nil {
		return err
	}
	if s.ptr == nil {
		return ErrClosed
	}
	var sink *filterSink
	var h cgo.Handle
	if fn != nil {
		sink = &filterSink{fn: fn}
		h = cgo.NewHandle(sink)
	}
	err := call(func() C.llamas_status { return C.lgo_sampler_set_filter(s.ptr, C.uintptr_t(h)) })
	if err != nil {
		if sink != nil {
			h.Delete()
		}
		return err
	}
	if s.filter != nil {
		s.fh.Delete()
	}
	s.filter, s.fh = sink, h
	return nil
}

// rethrow re-raises a panic of the filter after the C call returned.
func (s *Sampler) rethrow() {
	if s.filter != nil && s.filter.panic != nil {
		p := s.filter.panic
		s.filter.panic = nil
		panic(p)
	}
}
