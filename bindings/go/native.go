package llamas

// The raw layer: libllamas is opened with dlopen at first use (path from LLAMAS_LIBRARY, else
// "libllamas.so.0" on the system search path) and every function is called through a pointer
// looked up with dlsym (shim.c).

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -ldl
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"errors"
	"os"
	"runtime"
	"sync"
	"unsafe"
)

var (
	loadOnce sync.Once
	loadErr  error
)

// LibraryPath is where the library is loaded from: $LLAMAS_LIBRARY, else "libllamas.so.0" on
// the system search path.
func LibraryPath() string {
	if p := os.Getenv("LLAMAS_LIBRARY"); p != "" {
		return p
	}
	return "libllamas.so.0"
}

// load opens the library once; every entry point calls it first.
func load() error {
	loadOnce.Do(func() {
		path := C.CString(LibraryPath())
		defer C.free(unsafe.Pointer(path))
		if msg := C.lgo_open(path); msg != nil {
			loadErr = errors.New("llamas: cannot load the library: " + C.GoString(msg))
			C.free(unsafe.Pointer(msg))
		}
	})
	return loadErr
}

// call runs f, a C call returning a llamas_status, and turns a failure into an *Error carrying
// llamas_last_error(). The thread is locked because the message is kept per OS thread, and a
// goroutine may otherwise move to another thread between the call and the read.
func call(f func() C.llamas_status) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if s := f(); s != C.LLAMAS_OK {
		return statusError(s)
	}
	return nil
}

// statusError builds the error for status s; call it on the thread that made the failing call.
func statusError(s C.llamas_status) error {
	msg := C.GoString(C.lgo_last_error())
	if msg == "" {
		msg = C.GoString(C.lgo_status_string(s))
	}
	return &Error{Status: Status(s), Message: msg}
}

// readText runs f with growing buffers until the text fits (the BUFFER_TOO_SMALL convention).
func readText(f func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status) (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	capacity := 256
	for {
		buf := (*C.char)(C.malloc(C.size_t(capacity)))
		var length C.size_t
		s := f(buf, C.size_t(capacity), &length)
		if (s == C.LLAMAS_OK && int(length) < capacity) || (s != C.LLAMAS_OK && s != C.LLAMAS_ERR_BUFFER_TOO_SMALL) {
			var text string
			if s == C.LLAMAS_OK {
				text = C.GoStringN(buf, C.int(length))
			}
			C.free(unsafe.Pointer(buf))
			if s != C.LLAMAS_OK {
				return "", statusError(s)
			}
			return text, nil
		}
		C.free(unsafe.Pointer(buf))
		if int(length)+1 > capacity*2 {
			capacity = int(length) + 1
		} else {
			capacity *= 2
		}
	}
}
