package llamas

// The generation callback, exported to C. A file with //export may only declare C things in
// its preamble, hence this separate file.

/*
#include <stddef.h>
#include <stdint.h>
*/
import "C"

import "runtime/cgo"

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
