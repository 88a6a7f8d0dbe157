package llamas

// The generation callback, exported to C. A file with //export may only declare C things in
// its preamble, hence this separate file.

/*
#include <stddef.h>
#include <stdint.h>
#include "llamas.h"
*/
import "C"

import (
	"runtime/cgo"
	"unsafe"
)

// pieceSink receives the pieces of one llamas_generate call.
type pieceSink struct {
	fn    func(piece string, token int32) bool
	panic interface{} // a panic in fn, re-raised after the C call returned
}

//export llamasGoPiece
func llamasGoPiece(piece *C.char, length C.size_t, token C.int32_t, handle C.uintptr_t) (stop C.int) {
	sink := cgo.Handle(handle).Value().(*pieceSink)
	defer func() {
		if r := recover(); r != nil { // never unwind through C frames
			sink.panic = r
			stop = 1
		}
	}()
	text := ""
	if piece != nil && length > 0 {
		text = C.GoStringN(piece, C.int(length))
	}
	if sink.fn(text, int32(token)) {
		return 0
	}
	return 1
}

// progressSink receives the load progress of one llamas_model_load call.
type progressSink struct {
	fn    func(fraction float32) bool
	panic interface{}
}

//export llamasGoProgress
func llamasGoProgress(progress C.float, handle C.uintptr_t) (cancel C.int) {
	sink := cgo.Handle(handle).Value().(*progressSink)
	if sink.panic != nil {
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			sink.panic = r
			cancel = 1
		}
	}()
	if sink.fn(float32(progress)) {
		return 0
	}
	return 1
}

// tokenSink receives the token infos of one llamas_generate call. The C callback cannot stop
// the generation, so a panic cancels the context and is re-raised after the call.
type tokenSink struct {
	fn     func(TokenInfo)
	cancel func()
	panic  interface{}
}

//export llamasGoToken
func llamasGoToken(info *C.llamas_token_info, handle C.uintptr_t) {
	sink := cgo.Handle(handle).Value().(*tokenSink)
	if sink.panic != nil {
		return
	}
	defer func() {
		if r := recover(); r != nil {
			sink.panic = r
			sink.cancel()
		}
	}()
	ti := TokenInfo{Token: int32(info.token), Logprob: float32(info.logprob)}
	if info.n_top > 0 && info.top != nil {
		for _, t := range unsafe.Slice(info.top, int(info.n_top)) {
			ti.Top = append(ti.Top, TokenLogprob{Token: int32(t.token), Logprob: float32(t.logprob)})
		}
	}
	sink.fn(ti)
}

// filterSink is a sampler's filter stage.
type filterSink struct {
	fn    func(logits []float32) bool
	panic interface{}
}

//export llamasGoFilter
func llamasGoFilter(logits *C.float, nVocab C.int32_t, handle C.uintptr_t) (fail C.int) {
	sink := cgo.Handle(handle).Value().(*filterSink)
	if sink.panic != nil {
		return 1
	}
	defer func() {
		if r := recover(); r != nil {
			sink.panic = r
			fail = 1
		}
	}()
	if sink.fn(unsafe.Slice((*float32)(unsafe.Pointer(logits)), int(nVocab))) {
		return 0
	}
	return 1
}
