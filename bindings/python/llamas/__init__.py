"""Python binding of llamas (ctypes only).

    import llamas
    with llamas.Model("qwen2-Q8_0.gguf") as model, model.context() as ctx:
        for piece in ctx.generate("Once upon a time", max_tokens=16, temperature=0):
            print(piece, end="")

The shared library is loaded from $LLAMAS_LIBRARY, else "libllamas.so.0" on the system path.
"""

import ctypes
import queue
import threading
import weakref
from ctypes import byref, c_char_p, c_float, c_int32, c_size_t, c_void_p

from . import _native as N

__all__ = ["LlamasError", "LlamasIOError", "Model", "Context", "Sampler", "Piece", "version",
           "cpu_path", "POOLING_MODEL", "POOLING_NONE", "POOLING_MEAN", "POOLING_CLS",
           "POOLING_LAST", "KV_F16", "KV_F32", "KV_Q8_0"]

POOLING_MODEL, POOLING_NONE, POOLING_MEAN, POOLING_CLS, POOLING_LAST = -1, 0, 1, 2, 3
KV_F16, KV_F32, KV_Q8_0 = 0, 1, 2


class LlamasError(Exception):
    """A failed llamas call: `status` is the llamas_status code, the text is the library's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class LlamasIOError(LlamasError, OSError):
    """LLAMAS_ERR_IO (a file could not be opened, read or mapped); also an OSError."""


def _error(status):
    lib = N.lib()
    message = (lib.llamas_last_error() or b"").decode("utf-8", "replace")
    if not message:
        message = lib.llamas_status_string(status).decode()
    cls = LlamasIOError if status == N.ERR_IO else LlamasError
    return cls(status, message)


def _check(status):
    if status != N.OK:
        raise _error(status)


def _text(b):
    return None if b is None else b.decode("utf-8", "replace")


def _read_text(call):
    """Runs call(buffer, capacity, out_length) with the BUFFER_TOO_SMALL convention."""
    capacity = 256
    while True:
        buf = ctypes.create_string_buffer(capacity)
        length = c_size_t(0)
        status = call(buf, capacity, byref(length))
        if status == N.OK and length.value < capacity:
            return buf.raw[:length.value].decode("utf-8", "replace")
        if status not in (N.OK, N.ERR_BUFFER_TOO_SMALL):
            raise _error(status)
        capacity = max(length.value + 1, capacity * 2)


def version():
    """The library's version string ("MAJOR.MINOR.PATCH")."""
    return N.lib().llamas_version().decode()


def cpu_path():
    """The SIMD path in use: "scalar", "avx2", "avx512" or "neon"."""
    return N.lib().llamas_cpu_path().decode()


class _Handle:
    """Owns one C handle; close() (or leaving a `with` block) frees it at once."""

    _free_name = None

    def __init__(self):
        self._ptr = None

    @property
    def closed(self):
        return not self._ptr

    def _p(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr

    def close(self):
        if self._ptr:
            ptr, self._ptr = self._ptr, None
            getattr(N.lib(), self._free_name)(ptr)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Model(_Handle):
    """A loaded GGUF model. Immutable and usable from any number of threads."""

    _free_name = "llamas_model_free"

    def __init__(self, path, use_mmap=True):
        super().__init__()
        opts = N.options(N.ModelOptions, "llamas_model_options_init")
        opts.use_mmap = 1 if use_mmap else 0
        out = c_void_p()
        _check(N.lib().llamas_model_load(str(path).encode(), byref(opts), byref(out)))
        self._ptr = out.value
        self._children = weakref.WeakSet()  # contexts and samplers, closed before the model

    def close(self):
        for child in list(getattr(self, "_children", ())):
            child.close()
        super().close()

    architecture = property(lambda self: _text(N.lib().llamas_model_architecture(self._p())))
    n_vocab = property(lambda self: N.lib().llamas_model_n_vocab(self._p()))
    n_ctx_train = property(lambda self: N.lib().llamas_model_n_ctx_train(self._p()))
    n_embd = property(lambda self: N.lib().llamas_model_n_embd(self._p()))
    n_embd_out = property(lambda self: N.lib().llamas_model_n_embd_out(self._p()))
    chat_template = property(lambda self: _text(N.lib().llamas_model_chat_template(self._p())))

    @property
    def bos(self):
        """The BOS token id, or None."""
        t = N.lib().llamas_model_bos(self._p())
        return None if t < 0 else t

    @property
    def eos(self):
        """The EOS token id, or None."""
        t = N.lib().llamas_model_eos(self._p())
        return None if t < 0 else t

    def is_eog(self, token):
        return bool(N.lib().llamas_model_is_eog(self._p(), token))

    def meta(self, key):
        """A metadata value as text; raises LlamasError when the key is absent."""
        p = self._p()
        return _read_text(lambda buf, cap, out: N.lib().llamas_model_meta(p, key.encode(), buf, cap, out))

    def tokenize(self, text, add_special=True, parse_special=False):
        data = text.encode("utf-8")
        flags = (N.TOKENIZE_ADD_SPECIAL if add_special else 0) | \
                (N.TOKENIZE_PARSE_SPECIAL if parse_special else 0)
        capacity = len(data) + 8
        while True:
            toks = (c_int32 * capacity)()
            count = c_size_t(0)
            status = N.lib().llamas_tokenize(self._p(), data, len(data), flags, toks, capacity, byref(count))
            if status == N.OK:
                return list(toks[:count.value])
            if status != N.ERR_BUFFER_TOO_SMALL:
                raise _error(status)
            capacity = count.value

    def detokenize(self, tokens, skip_special=False):
        arr = (c_int32 * len(tokens))(*tokens)
        flags = N.DETOKENIZE_SKIP_SPECIAL if skip_special else 0
        p = self._p()
        return _read_text(lambda buf, cap, out: N.lib().llamas_detokenize(p, arr, len(tokens), flags, buf, cap, out))

    def apply_chat_template(self, messages, add_generation_prompt=True, template=None):
        """Renders [{"role": ..., "content": ...}, ...] with the model's (or the given) template."""
        arr, keep = _messages(messages)
        p = self._p()
        tmpl = template.encode() if template is not None else None
        return _read_text(lambda buf, cap, out: N.lib().llamas_chat_apply_template(
            p, tmpl, arr, len(keep), int(add_generation_prompt), buf, cap, out))

    def context(self, n_ctx=0, n_batch=None, n_threads=0, kv_type=None):
        """A new Context (use it with `with`)."""
        return Context(self, n_ctx=n_ctx, n_batch=n_batch, n_threads=n_threads, kv_type=kv_type)

    def sampler(self, **options):
        return Sampler(self, **options)

    def embed(self, texts, **options):
        """Embeds texts in a temporary context; see Context.embed."""
        with self.context() as ctx:
            return ctx.embed(texts, **options)


def _messages(messages):
    keep = [(m["role"].encode(), m["content"].encode()) for m in messages]
    arr = (N.ChatMessage * max(1, len(keep)))()
    for i, (role, content) in enumerate(keep):
        arr[i].role, arr[i].content = role, content
    return arr, keep


def apply_chatml(messages, add_generation_prompt=True):
    """Renders messages in the ChatML format."""
    arr, keep = _messages(messages)
    return _read_text(lambda buf, cap, out: N.lib().llamas_chat_apply_chatml(
        arr, len(keep), int(add_generation_prompt), buf, cap, out))


class Sampler(_Handle):
    """Token sampler. temperature <= 0 is greedy. Options as llamas_sampler_options."""

    _free_name = "llamas_sampler_free"

    def __init__(self, model, **options):
        super().__init__()
        opts = N.options(N.SamplerOptions, "llamas_sampler_options_init")
        for name, value in options.items():
            if name == "struct_size" or not hasattr(opts, name):
                raise TypeError("unknown sampler option %r" % name)
            setattr(opts, name, value)
        out = c_void_p()
        _check(N.lib().llamas_sampler_create(model._p(), byref(opts), byref(out)))
        self._ptr = out.value
        self.model = model
        model._children.add(self)

    def sample(self, context):
        tok = c_int32(0)
        _check(N.lib().llamas_sample(self._p(), context._p(), byref(tok)))
        return tok.value

    def set_logit_bias(self, token, bias):
        _check(N.lib().llamas_sampler_set_logit_bias(self._p(), token, bias))

    def reset(self):
        N.lib().llamas_sampler_reset(self._p())


class Piece(str):
    """A generated piece of text; `token` is the id it came from."""

    def __new__(cls, text, token):
        obj = super().__new__(cls, text)
        obj.token = token
        return obj


_DONE = object()


class Context(_Handle):
    """One conversation's state (KV cache). Use from one thread at a time."""

    _free_name = "llamas_context_free"

    def __init__(self, model, n_ctx=0, n_batch=None, n_threads=0, kv_type=None):
        super().__init__()
        opts = N.options(N.ContextOptions, "llamas_context_options_init")
        opts.n_ctx = n_ctx
        opts.n_threads = n_threads
        if n_batch is not None:
            opts.n_batch = n_batch
        if kv_type is not None:
            opts.kv_type = kv_type
        out = c_void_p()
        _check(N.lib().llamas_context_create(model._p(), byref(opts), byref(out)))
        self._ptr = out.value
        self.model = model  # keeps the model alive as long as this context
        model._children.add(self)

    n_ctx = property(lambda self: N.lib().llamas_context_n_ctx(self._p()))
    n_past = property(lambda self: N.lib().llamas_context_n_past(self._p()))

    def decode(self, tokens):
        arr = (c_int32 * len(tokens))(*tokens)
        _check(N.lib().llamas_decode(self._p(), arr, len(tokens)))

    def logits(self):
        """The logits after the last evaluated token, as a list (None before any decode)."""
        ptr = N.lib().llamas_logits(self._p())
        if not ptr:
            return None
        return ptr[:self.model.n_vocab]

    def kv_clear(self):
        _check(N.lib().llamas_kv_clear(self._p()))

    def kv_remove(self, p0, p1=-1):
        _check(N.lib().llamas_kv_remove(self._p(), p0, p1))

    def kv_keep_shift(self, n_keep, n_discard):
        _check(N.lib().llamas_kv_keep_shift(self._p(), n_keep, n_discard))

    def cancel(self):
        """Makes the running (or next) call return LLAMAS_ERR_CANCELLED; safe from any thread."""
        N.lib().llamas_context_cancel(self._p())

    def generate(self, prompt, max_tokens=256, sampler=None, parse_special=False,
                 skip_special=True, **sampling):
        """Yields generated pieces (Piece: a str with a .token id) as the library produces them.

        sampler: a Sampler to use; otherwise one is made from the keyword options
        (temperature=0 for greedy). Leaving the loop early stops the generation.
        """
        own_sampler = sampler is None
        if own_sampler:
            sampler = Sampler(self.model, **sampling)
        elif sampling:
            raise TypeError("pass either sampler or sampling options")
        opts = N.options(N.GenerateOptions, "llamas_generate_options_init")
        opts.max_tokens = max_tokens
        opts.parse_special = int(parse_special)
        opts.skip_special = int(skip_special)
        ctx_p, sampler_p = self._p(), sampler._p()
        prompt_b = prompt.encode("utf-8")

        # The library drives generation with a callback; a worker thread runs it in lock-step
        # with this iterator, so nothing is generated ahead of what the caller consumed.
        items = queue.Queue()
        resume = threading.Semaphore(0)
        state = {"stop": False, "error": None}

        def on_piece(piece, length, token, _user):
            items.put(Piece(ctypes.string_at(piece, length).decode("utf-8", "replace"), token))
            resume.acquire()
            return 1 if state["stop"] else 0

        callback = N.PIECE_CALLBACK(on_piece)

        def run():
            try:
                status = N.lib().llamas_generate(ctx_p, sampler_p, prompt_b, byref(opts), callback,
                                                 None, None)
                if status != N.OK:
                    state["error"] = _error(status)  # last_error is per thread: read it here
            finally:
                items.put(_DONE)

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        finished = False
        try:
            while True:
                item = items.get()
                if item is _DONE:
                    finished = True
                    break
                yield item
                resume.release()
        finally:
            if not finished:  # the caller stopped early: let the callback return "stop"
                state["stop"] = True
                resume.release()
                while items.get() is not _DONE:
                    resume.release()
            worker.join()
            if own_sampler:
                sampler.close()
        if state["error"] is not None:
            raise state["error"]

    def embed(self, texts, normalize=True, pooling=POOLING_MODEL, dims=0):
        """One embedding (list of floats) per text. Clears the KV cache."""
        if isinstance(texts, str):
            raise TypeError("embed takes a list of texts")
        opts = N.options(N.EmbedOptions, "llamas_embed_options_init")
        opts.normalize = int(normalize)
        opts.pooling = pooling
        opts.dims = dims
        width = dims or self.model.n_embd_out
        encoded = [t.encode("utf-8") for t in texts]
        arr = (c_char_p * max(1, len(encoded)))(*encoded)
        out = (c_float * max(1, width * len(encoded)))()
        _check(N.lib().llamas_embed(self._p(), arr, len(encoded), byref(opts), out, width * len(encoded)))
        return [out[i * width:(i + 1) * width] for i in range(len(encoded))]
