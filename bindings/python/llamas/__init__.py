"""Python binding of llamas (ctypes only).

    import llamas
    with llamas.Model("qwen2-Q8_0.gguf") as model, model.context() as ctx:
        for piece in ctx.generate("Once upon a time", max_tokens=16, temperature=0):
            print(piece, end="")

The shared library is loaded from $LLAMAS_LIBRARY, else "libllamas.so.0" on the system path.
"""

import ctypes
import enum
import json
import os
import queue
import threading
import weakref
from collections import namedtuple
from ctypes import (byref, c_char_p, c_double, c_float, c_int8, c_int32, c_int64, c_size_t,
                    c_uint64, c_void_p)

from . import _native as N

__all__ = ["LlamasError", "LlamasIOError", "LlamasNotFoundError", "LlamasInvalidArgumentError", "Model", "Context", "Sampler",
           "Piece", "TokenInfo", "FinishReason", "Special", "MetaType", "version", "cpu_path",
           "apply_chatml", "json_schema_to_grammar", "validate_grammar", "apply_chat_template_json",
           "parse_chat_reply", "chat_tool_format", "chat_tool_call_grammar", "POOLING_MODEL", "POOLING_NONE", "POOLING_MEAN", "POOLING_CLS",
           "POOLING_LAST", "KV_F16", "KV_F32", "KV_Q8_0"]

POOLING_MODEL, POOLING_NONE, POOLING_MEAN, POOLING_CLS, POOLING_LAST = -1, 0, 1, 2, 3
KV_F16, KV_F32, KV_Q8_0 = 0, 1, 2

# Token attribute bits (Model.token_attr)
TOKEN_ATTR_UNKNOWN, TOKEN_ATTR_UNUSED, TOKEN_ATTR_NORMAL, TOKEN_ATTR_CONTROL = 1, 2, 4, 8
TOKEN_ATTR_USER_DEFINED, TOKEN_ATTR_BYTE, TOKEN_ATTR_NORMALIZED = 16, 32, 64
TOKEN_ATTR_LSTRIP, TOKEN_ATTR_RSTRIP, TOKEN_ATTR_SINGLE_WORD = 128, 256, 512


class FinishReason(enum.IntEnum):
    """Why the last generation ended (llamas_finish_reason)."""
    NONE = 0
    EOG = 1
    MAX_TOKENS = 2
    STOP_STRING = 3
    CONTEXT_FULL = 4
    CANCELLED = 5
    CALLBACK = 6


class Special(enum.IntEnum):
    """The special tokens of Model.special_token (llamas_special_token)."""
    BOS = 0
    EOS = 1
    EOT = 2
    SEP = 3
    PAD = 4
    UNK = 5
    MASK = 6
    FIM_PRE = 7
    FIM_SUF = 8
    FIM_MID = 9
    NL = 10


class MetaType(enum.IntEnum):
    """GGUF metadata value types (llamas_meta_type)."""
    U8 = 0
    I8 = 1
    U16 = 2
    I16 = 3
    U32 = 4
    I32 = 5
    F32 = 6
    BOOL = 7
    STRING = 8
    ARRAY = 9
    U64 = 10
    I64 = 11
    F64 = 12


MetaInfo = namedtuple("MetaInfo", "type elem_type count")
TokenInfo = namedtuple("TokenInfo", "token logprob top")  # top: [(token, logprob), ...]


class LlamasError(Exception):
    """A failed llamas call: `status` is the llamas_status code, the text is the library's message."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


class LlamasIOError(LlamasError, OSError):
    """LLAMAS_ERR_IO (a file could not be opened, read or mapped); also an OSError."""


class LlamasNotFoundError(LlamasError, LookupError):
    """LLAMAS_ERR_NOT_FOUND (a metadata key, sequence or file entry that does not exist); also a
    LookupError."""


class LlamasInvalidArgumentError(LlamasError, ValueError):
    """LLAMAS_ERR_INVALID_ARGUMENT (a bad argument, JSON text, schema or grammar: a grammar's
    message says "line L, column C: ..."); also a ValueError."""


def _error(status):
    lib = N.lib()
    message = (lib.llamas_last_error() or b"").decode("utf-8", "replace")
    if not message:
        message = lib.llamas_status_string(status).decode()
    cls = {N.ERR_IO: LlamasIOError, N.ERR_NOT_FOUND: LlamasNotFoundError,
           N.ERR_INVALID_ARGUMENT: LlamasInvalidArgumentError}.get(status, LlamasError)
    return cls(status, message)


def _check(status):
    if status != N.OK:
        raise _error(status)


def _text(b):
    return None if b is None else b.decode("utf-8", "replace")


def _read_bytes(call, capacity=256):
    """Runs call(buffer, capacity, out_length) with the BUFFER_TOO_SMALL convention."""
    while True:
        buf = ctypes.create_string_buffer(capacity)
        length = c_size_t(0)
        status = call(buf, capacity, byref(length))
        if status == N.OK and length.value < capacity:
            return buf.raw[:length.value]
        if status not in (N.OK, N.ERR_BUFFER_TOO_SMALL):
            raise _error(status)
        capacity = max(length.value + 1, capacity * 2)


def _read_text(call):
    return _read_bytes(call).decode("utf-8", "replace")


def version():
    """The library's version string ("MAJOR.MINOR.PATCH")."""
    return N.lib().llamas_version().decode()


def cpu_path():
    """The SIMD path in use: "scalar", "avx2", "avx2-vnni", "avx512", "neon-nodot", "neon" or "neon-i8mm"."""
    return N.lib().llamas_cpu_path().decode()


class _Handle:
    """Owns one C handle; close() (or leaving a `with` block) frees it at once."""

    _free_name = None

    def __init__(self):
        self._ptr = None
        self._sessions = set()  # generations running inside the library with this handle

    @property
    def closed(self):
        return not self._ptr

    def _p(self):
        if not self._ptr:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._ptr

    def close(self):
        """Frees the handle. A generation still using it (a suspended generate() iterator) is
        stopped first and its worker thread waited for, so the library never sees freed memory."""
        for session in list(getattr(self, "_sessions", ())):
            session.abort()
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

    def __init__(self, path, use_mmap=True, n_threads=0, progress=None):
        """Loads a GGUF model. progress(fraction) is called during the load (fraction in
        [0, 1]); returning False cancels it (LlamasError with status LLAMAS_ERR_CANCELLED), and
        an exception it raises cancels the load and is re-raised here."""
        super().__init__()
        opts = N.options(N.ModelOptions, "llamas_model_options_init")
        opts.use_mmap = 1 if use_mmap else 0
        opts.n_threads = n_threads
        raised = []
        if progress is not None:
            def on_progress(fraction, _user):
                if raised:
                    return 1
                try:
                    return 1 if progress(fraction) is False else 0
                except BaseException as e:  # never let it unwind through C
                    raised.append(e)
                    return 1
            opts.progress = N.PROGRESS_CALLBACK(on_progress)
        out = c_void_p()
        status = N.lib().llamas_model_load(os.fsencode(path), byref(opts), byref(out))
        if raised:
            if status == N.OK:
                N.lib().llamas_model_free(out.value)
            raise raised[0]
        _check(status)
        self._ptr = out.value
        self._children = weakref.WeakSet()  # contexts and samplers, closed before the model

    def close(self):
        children = list(getattr(self, "_children", ()))
        for child in children:  # contexts first: they may run generations using the samplers
            if isinstance(child, Context):
                child.close()
        for child in children:
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

    # -- sizes and description (0.2)
    n_params = property(lambda self: N.lib().llamas_model_n_params(self._p()))
    tensor_bytes = property(lambda self: N.lib().llamas_model_tensor_bytes(self._p()))
    file_size = property(lambda self: N.lib().llamas_model_file_size(self._p()))

    @property
    def description(self):
        """A one-line description such as "llama 1.2B Q4_K - Medium"."""
        p = self._p()
        return _read_text(lambda buf, cap, out: N.lib().llamas_model_description(p, buf, cap, out))

    # -- typed metadata (0.2)
    def meta_keys(self):
        """Every metadata key, in file order."""
        lib, p = N.lib(), self._p()
        return [lib.llamas_model_meta_key(p, i).decode("utf-8", "replace")
                for i in range(lib.llamas_model_meta_count(p))]

    def meta_info(self, key):
        """MetaInfo(type, elem_type, count) of a key; LlamasNotFoundError when absent."""
        t, et, n = c_int32(0), c_int32(0), c_uint64(0)
        _check(N.lib().llamas_model_meta_info(self._p(), key.encode(), byref(t), byref(et), byref(n)))
        return MetaInfo(MetaType(t.value), MetaType(et.value), n.value)

    def _meta_elem(self, key, kind, index):
        lib, p, k = N.lib(), self._p(), key.encode()
        if kind == MetaType.STRING:
            raw = _read_bytes(lambda buf, cap, out: lib.llamas_model_meta_string(p, k, index, buf, cap, out))
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                return raw  # strings may hold any bytes
        if kind in (MetaType.F32, MetaType.F64):
            v = c_double(0)
            _check(lib.llamas_model_meta_float(p, k, index, byref(v)))
            return v.value
        if kind == MetaType.ARRAY:  # nested arrays are not readable through the C API
            raise LlamasError(N.ERR_UNSUPPORTED, "nested array in %s" % key)
        v = c_int64(0)
        _check(lib.llamas_model_meta_int(p, k, index, byref(v)))
        return bool(v.value) if kind == MetaType.BOOL else v.value

    def meta_value(self, key):
        """A metadata value with its type: int, float, bool, str (bytes when not UTF-8), or a
        list of those for an array. LlamasNotFoundError when the key is absent."""
        info = self.meta_info(key)
        if info.type == MetaType.ARRAY:
            return [self._meta_elem(key, info.elem_type, i) for i in range(info.count)]
        return self._meta_elem(key, info.type, 0)

    def metadata(self):
        """Every metadata entry as a dict {key: meta_value(key)} (arrays in full)."""
        return {k: self.meta_value(k) for k in self.meta_keys()}

    # -- vocabulary (0.2)
    def special_token(self, which):
        """The id of a special token (Special.BOS, ...), or None when the model has none."""
        t = N.lib().llamas_model_special_token(self._p(), int(which))
        return None if t < 0 else t

    def token_text(self, token):
        """A token's stored text ("▁the", "<0x0A>"); IndexError when out of range."""
        t = N.lib().llamas_token_text(self._p(), token)
        if t is None:
            raise IndexError("token %d out of range" % token)
        return t.decode("utf-8", "replace")

    def token_score(self, token):
        return N.lib().llamas_token_score(self._p(), token)

    def token_attr(self, token):
        """The TOKEN_ATTR_* bits of a token."""
        return N.lib().llamas_token_attr(self._p(), token)

    def token_to_piece(self, token, special=False, lstrip=False):
        """The bytes one token stands for (possibly part of a UTF-8 character)."""
        flags = (N.PIECE_SPECIAL if special else 0) | (N.PIECE_LSTRIP if lstrip else 0)
        p = self._p()
        return _read_bytes(lambda buf, cap, out: N.lib().llamas_token_to_piece(p, token, flags, buf, cap, out), 64)

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

    def apply_chat_template_json(self, messages, tools=None, add_generation_prompt=True, template=None):
        """apply_chat_template_json() with this model's template (or `template`) and BOS/EOS."""
        return apply_chat_template_json(messages, tools, add_generation_prompt, template=template, model=self)

    def parse_chat_reply(self, reply, template=None):
        """parse_chat_reply() with this model's template (or `template`)."""
        return parse_chat_reply(reply, template=template, model=self)

    def chat_tool_format(self, template=None):
        """chat_tool_format() of this model's template (or `template`)."""
        return chat_tool_format(template=template, model=self)

    def chat_tool_call_grammar(self, tools, required=False, parallel=False, template=None):
        """chat_tool_call_grammar() for this model's template (or `template`)."""
        return chat_tool_call_grammar(tools, required, parallel, template=template, model=self)

    def context(self, n_ctx=0, n_batch=None, n_threads=0, kv_type=None, n_seq_max=0):
        """A new Context (use it with `with`). n_seq_max: sequences it holds (default 1)."""
        return Context(self, n_ctx=n_ctx, n_batch=n_batch, n_threads=n_threads, kv_type=kv_type,
                       n_seq_max=n_seq_max)

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


def _json_text(value):
    """JSON text for a value: str/bytes pass through, anything else goes through json.dumps."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    return json.dumps(value).encode()


def _opt(text):
    return None if text is None else text.encode()


def json_schema_to_grammar(schema):
    """Converts a JSON Schema (a dict, or JSON text) into a GBNF grammar (str, start rule "root")
    that matches exactly the JSON texts the schema describes. Raises LlamasInvalidArgumentError
    with the reason for text that is not JSON and for unsupported or unsatisfiable schemas."""
    text = _json_text(schema)
    return _read_text(lambda buf, cap, out: N.lib().llamas_json_schema_to_grammar(text, buf, cap, out))


def validate_grammar(gbnf, root=None):
    """Checks a GBNF grammar without a model (root None: "root"). Raises
    LlamasInvalidArgumentError with "line L, column C: ..." when it is bad."""
    _check(N.lib().llamas_grammar_validate(gbnf.encode(), _opt(root)))


def apply_chat_template_json(messages, tools=None, add_generation_prompt=True, *, template=None, model=None):
    """Renders an OpenAI-format conversation: messages is a list of {"role", "content",
    "tool_calls"?, "tool_call_id"?, "name"?} (or its JSON text), tools None or a list of OpenAI
    tools. The template is `template` when given (then model may be None: BOS/EOS render empty),
    else the model's. A wrong shape or a conversation the template rejects raises
    LlamasInvalidArgumentError."""
    p = model._p() if model is not None else None
    msgs, tls, tmpl = _json_text(messages), None if tools is None else _json_text(tools), _opt(template)
    return _read_text(lambda buf, cap, out: N.lib().llamas_chat_apply_template_json(
        p, tmpl, msgs, tls, int(add_generation_prompt), buf, cap, out))


def parse_chat_reply(reply, *, template=None, model=None):
    """Splits a finished assistant reply into content and tool calls, in the call format of the
    template's family: {"content": str, "reasoning_content": str (when the template thinks),
    "tool_calls": [{"name": str, "arguments": dict, "id": str (when the format has ids)}]}."""
    p = model._p() if model is not None else None
    tmpl, text = _opt(template), reply.encode()
    return json.loads(_read_text(lambda buf, cap, out: N.lib().llamas_chat_parse_reply(p, tmpl, text, buf, cap, out)))


def chat_tool_format(*, template=None, model=None):
    """The template family's tool-call format as a dict ({"family", "lazy", "triggers", ...};
    see llamas_chat_tool_format in llamas.h)."""
    p = model._p() if model is not None else None
    tmpl = _opt(template)
    return json.loads(_read_text(lambda buf, cap, out: N.lib().llamas_chat_tool_format(p, tmpl, buf, cap, out)))


def chat_tool_call_grammar(tools, required=False, parallel=False, *, template=None, model=None):
    """A GBNF grammar that makes the reply a tool call in the template's format, each call's
    arguments following its tool's "parameters" (tools: a list of OpenAI tools, or its JSON
    text; one tool forces that tool). required: the reply must be a call; parallel: several
    calls where the format allows. Returns {"grammar", "root", "lazy", "triggers"}: give it to
    Sampler.set_tool_call_grammar."""
    p = model._p() if model is not None else None
    tmpl, tls = _opt(template), _json_text(tools)
    flags = (N.TOOLS_REQUIRED if required else 0) | (N.TOOLS_PARALLEL if parallel else 0)
    return json.loads(_read_text(lambda buf, cap, out: N.lib().llamas_chat_tool_call_grammar(
        p, tmpl, tls, flags, buf, cap, out)))


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
        self._filter = None          # the ctypes callback, kept alive while installed
        self._filter_error = None    # an exception the filter raised, re-raised after the call

    def _reraise(self):
        err, self._filter_error = self._filter_error, None
        if err is not None:
            raise err

    def sample(self, context):
        """Picks a token from the context's current logits and records it for the penalties."""
        tok = c_int32(0)
        status = N.lib().llamas_sample(self._p(), context._p(), byref(tok))
        self._reraise()
        _check(status)
        return tok.value

    def choose(self, context, i=-1):
        """Picks a token from row i of the context's logits without recording it."""
        tok = c_int32(0)
        status = N.lib().llamas_sampler_choose(self._p(), context._p(), i, byref(tok))
        self._reraise()
        _check(status)
        return tok.value

    def accept(self, tokens):
        """Records tokens (prompt tokens, kept tokens) in the penalty window."""
        tokens = list(tokens)
        arr = (c_int32 * max(1, len(tokens)))(*tokens)
        _check(N.lib().llamas_sampler_accept(self._p(), arr, len(tokens)))

    def set_filter(self, fn):
        """Installs fn(logits) as a filter stage (None removes it): logits is a writable
        memoryview of n_vocab floats; set an entry to float("-inf") to forbid that token.
        Returning False fails the choose with LLAMAS_ERR_CANCELLED; an exception fails it too
        and is re-raised from the sample/choose/generate call."""
        if fn is None:
            _check(N.lib().llamas_sampler_set_filter(self._p(), N.FILTER_CALLBACK(), None))
            self._filter = None
            return

        def on_filter(logits, n_vocab, _user):
            if self._filter_error is not None:
                return 1
            try:
                view = memoryview(ctypes.cast(logits, ctypes.POINTER(c_float * n_vocab)).contents).cast("B").cast("f")
                return 1 if fn(view) is False else 0
            except BaseException as e:  # never unwind through C
                self._filter_error = e
                return 1

        cb = N.FILTER_CALLBACK(on_filter)
        _check(N.lib().llamas_sampler_set_filter(self._p(), cb, None))
        self._filter = cb

    def set_grammar(self, gbnf, root=None):
        """Constrains the choices to texts the GBNF grammar matches from rule `root` (None:
        "root"); gbnf None removes it. accept (and sample, generate) advance it, reset restarts
        it. A bad grammar raises LlamasInvalidArgumentError with the line and column."""
        _check(N.lib().llamas_sampler_set_grammar(self._p(), _opt(gbnf), _opt(root)))

    def set_grammar_lazy(self, gbnf, root=None, trigger_words=(), trigger_tokens=()):
        """A lazy grammar: choices are free until one of trigger_words appears in the accepted
        generated text or one of trigger_tokens is accepted; from then on the grammar applies."""
        words = [w.encode() for w in trigger_words]
        tokens = list(trigger_tokens)
        warr = (c_char_p * max(1, len(words)))(*words)
        tarr = (c_int32 * max(1, len(tokens)))(*tokens)
        _check(N.lib().llamas_sampler_set_grammar_lazy(self._p(), gbnf.encode(), _opt(root), warr, len(words),
                                                       tarr, len(tokens)))

    def set_grammar_lazy_patterns(self, gbnf, root=None, trigger_patterns=(), trigger_tokens=()):
        """A lazy grammar triggered by regular expressions (llama.cpp's trigger patterns: searched
        in all generated text, or matched whole when ^...$; the grammar starts at the first
        non-empty capture group) or by one of trigger_tokens."""
        patterns = [p.encode() for p in trigger_patterns]
        tokens = list(trigger_tokens)
        parr = (c_char_p * max(1, len(patterns)))(*patterns)
        tarr = (c_int32 * max(1, len(tokens)))(*tokens)
        _check(N.lib().llamas_sampler_set_grammar_lazy_patterns(self._p(), gbnf.encode(), _opt(root), parr,
                                                                len(patterns), tarr, len(tokens)))

    def set_tool_call_grammar(self, g):
        """Installs a chat_tool_call_grammar() result: set_grammar, or set_grammar_lazy with its
        triggers when it is lazy."""
        if g["lazy"]:
            self.set_grammar_lazy(g["grammar"], g["root"], trigger_words=g["triggers"])
        else:
            self.set_grammar(g["grammar"], g["root"])

    def accept_prompt(self, tokens):
        """Records prompt tokens in the penalty window only (a grammar is not advanced)."""
        tokens = list(tokens)
        arr = (c_int32 * max(1, len(tokens)))(*tokens)
        _check(N.lib().llamas_sampler_accept_prompt(self._p(), arr, len(tokens)))

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


class _Generation:
    """One llamas_generate running on a worker thread for a generate() iterator. It is
    registered with its context and sampler; closing either calls abort(), which makes the
    callback return "stop", cancels a prompt evaluation in progress, and waits for the worker to
    leave the library, so nothing is freed under a running call."""

    def __init__(self, context, sampler):
        self.context, self.sampler = context, sampler
        self.items = queue.Queue()
        self.resume = threading.Semaphore(0)
        self.stop = False
        self.aborted = False
        self.error = None
        self.done = threading.Event()
        self.worker = None

    def start(self, run):
        self.context._sessions.add(self)
        self.sampler._sessions.add(self)
        self.worker = threading.Thread(target=run, daemon=True, name="llamas-generate")
        self.worker.start()

    def finish(self):  # on the worker, when llamas_generate has returned
        self.done.set()
        self.items.put(_DONE)

    def abort(self, by_close=True):
        """Stops the generation and waits for the worker (from any thread but the worker's).
        by_close: the context or sampler is being closed (the iterator then raises)."""
        if self.done.is_set():
            return
        self.aborted = self.aborted or by_close
        self.stop = True
        if by_close and self.context._ptr:
            N.lib().llamas_context_cancel(self.context._ptr)  # a prompt being evaluated
        self.resume.release()  # a callback waiting for the consumer
        self.done.wait()
        self.worker.join()

    def close(self):
        self.context._sessions.discard(self)
        self.sampler._sessions.discard(self)


class Context(_Handle):
    """One conversation's state (KV cache). Use from one thread at a time."""

    _free_name = "llamas_context_free"

    def __init__(self, model, n_ctx=0, n_batch=None, n_threads=0, kv_type=None, n_seq_max=0):
        super().__init__()
        opts = N.options(N.ContextOptions, "llamas_context_options_init")
        opts.n_ctx = n_ctx
        opts.n_seq_max = n_seq_max
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

    n_seq_max = property(lambda self: N.lib().llamas_context_n_seq_max(self._p()))

    @property
    def finish_reason(self):
        """Why the last generate() ended (FinishReason)."""
        return FinishReason(N.lib().llamas_context_finish_reason(self._p()))

    def decode_batch(self, tokens, positions=None, seq_ids=None, want_logits=None):
        """Evaluates tokens of several sequences in one pass: tokens[i] goes to sequence
        seq_ids[i] (None: all to 0) at positions[i] (None: after what each sequence holds);
        want_logits[i] keeps token i's logits (None: the last token of each sequence). Read
        them with logits_ith(i)."""
        n = len(tokens)

        def arr(ctype, values):
            if values is None:
                return None
            if len(values) != n:
                raise ValueError("every per-token list must have len(tokens) entries")
            return (ctype * max(1, n))(*[int(v) for v in values])
        _check(N.lib().llamas_decode_batch(self._p(), arr(c_int32, tokens), arr(c_int32, positions),
                                           arr(c_int32, seq_ids), arr(c_int8, want_logits), n))

    def logits_ith(self, i):
        """The logits of token i of the last decode (i < 0 counts from the end), or None."""
        ptr = N.lib().llamas_logits_ith(self._p(), i)
        return ptr[:self.model.n_vocab] if ptr else None

    def logprobs(self, i=-1, token=None, n_top=0):
        """(logprob of token or None, [(token, logprob), ...] the n_top most likely) of row i."""
        lp = c_float(0)
        top = (N.TokenLogprob * max(1, n_top))()
        got = c_size_t(0)
        _check(N.lib().llamas_logprobs(self._p(), i, -1 if token is None else token, byref(lp),
                                       top if n_top else None, n_top, byref(got)))
        return (None if token is None else lp.value,
                [(top[k].token, top[k].logprob) for k in range(got.value if n_top else 0)])

    def seq_pos_min(self, seq):
        """The lowest position sequence seq holds, or -1 when it is empty."""
        return N.lib().llamas_seq_pos_min(self._p(), seq)

    def seq_pos_max(self, seq):
        """The highest position sequence seq holds, or -1 when it is empty."""
        return N.lib().llamas_seq_pos_max(self._p(), seq)

    def seq_remove(self, seq, p0=0, p1=-1, shift=False):
        """Drops positions [p0, p1) of seq (seq < 0: of all); shift closes the gap."""
        _check(N.lib().llamas_seq_remove(self._p(), seq, p0, p1, int(shift)))

    def seq_copy(self, src, dst, p1=-1):
        """Makes dst a copy of src's tokens below position p1 (-1: all)."""
        _check(N.lib().llamas_seq_copy(self._p(), src, dst, p1))

    def seq_keep(self, seq):
        """Empties every sequence but seq."""
        _check(N.lib().llamas_seq_keep(self._p(), seq))

    def seq_shift(self, seq, p0, p1, delta):
        """Adds delta to the positions [p0, p1) of seq."""
        _check(N.lib().llamas_seq_shift(self._p(), seq, p0, p1, delta))

    def state_save(self, seq=-1):
        """The context's state (seq < 0: every sequence; else one sequence) as bytes."""
        p, size = self._p(), c_size_t(0)
        _check(N.lib().llamas_state_size(p, seq, byref(size)))
        while True:
            buf = ctypes.create_string_buffer(max(1, size.value))
            status = N.lib().llamas_state_save(p, seq, buf, size.value, byref(size))
            if status == N.OK:
                return buf.raw[:size.value]
            if status != N.ERR_BUFFER_TOO_SMALL:
                raise _error(status)

    def state_load(self, data, seq=-1):
        """Restores a state from state_save (seq >= 0: a one-sequence state into seq)."""
        data = bytes(data)
        _check(N.lib().llamas_state_load(self._p(), seq, data, len(data)))

    def state_save_file(self, path, seq=-1):
        _check(N.lib().llamas_state_save_file(self._p(), seq, os.fsencode(path)))

    def state_load_file(self, path, seq=-1):
        _check(N.lib().llamas_state_load_file(self._p(), seq, os.fsencode(path)))

    def kv_clear(self):
        _check(N.lib().llamas_kv_clear(self._p()))

    def kv_remove(self, p0, p1=-1):
        _check(N.lib().llamas_kv_remove(self._p(), p0, p1))

    def kv_keep_shift(self, n_keep, n_discard):
        _check(N.lib().llamas_kv_keep_shift(self._p(), n_keep, n_discard))

    def cancel(self):
        """Makes the call running in this context return LLAMAS_ERR_CANCELLED; safe from any
        thread. A cancel while no call runs does nothing."""
        N.lib().llamas_context_cancel(self._p())

    def generate(self, prompt, max_tokens=256, sampler=None, parse_special=False,
                 skip_special=True, stop=None, on_token=None, n_probs=0, **sampling):
        """Yields generated pieces (Piece: a str with a .token id) as the library produces them.

        sampler: a Sampler to use; otherwise one is made from the keyword options
        (temperature=0 for greedy). stop: strings that end the generation (not yielded).
        on_token(TokenInfo): called per generated token with its log-probability and the n_probs
        most likely alternatives. Leaving the loop early stops the generation; finish_reason
        tells why it ended. Closing the context (or the sampler, or the model) while the
        iterator is suspended stops the generation first.
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
        stops = [s_.encode("utf-8") for s_ in (stop or [])]
        stop_arr = (c_char_p * max(1, len(stops)))(*stops)
        if stops:
            opts.stop = ctypes.cast(stop_arr, ctypes.POINTER(c_char_p))
            opts.n_stop = len(stops)
        ctx_p, sampler_p = self._p(), sampler._p()
        prompt_b = prompt.encode("utf-8")
        session = _Generation(self, sampler)
        raised = []

        def on_token_info(info_p, _user):
            if raised:
                return
            try:
                info = info_p.contents
                on_token(TokenInfo(info.token, info.logprob,
                                   [(info.top[k].token, info.top[k].logprob) for k in range(info.n_top)]))
            except BaseException as e:  # never unwind through C: stop, re-raise afterwards
                raised.append(e)
                session.stop = True
                N.lib().llamas_context_cancel(ctx_p)

        if on_token is not None:
            opts.token_callback = N.TOKEN_CALLBACK(on_token_info)
            opts.n_probs = n_probs

        def on_piece(piece, length, token, _user):
            if session.stop:
                return 1
            session.items.put(Piece(ctypes.string_at(piece, length).decode("utf-8", "replace"), token))
            session.resume.acquire()
            return 1 if session.stop else 0

        callback = N.PIECE_CALLBACK(on_piece)

        def run():
            try:
                status = N.lib().llamas_generate(ctx_p, sampler_p, prompt_b, byref(opts), callback,
                                                 None, None)
                if status != N.OK:
                    session.error = _error(status)  # last_error is per thread: read it here
            finally:
                session.finish()

        # The library drives generation with a callback; a worker thread runs it in lock-step
        # with this iterator, so nothing is generated ahead of what the caller consumed.
        session.start(run)
        finished = False
        try:
            while True:
                item = session.items.get()
                if item is _DONE:
                    finished = True
                    break
                if session.aborted:
                    raise ValueError("the context or sampler was closed during generation")
                yield item
                session.resume.release()
        finally:
            if not finished:  # the caller stopped early: let the callback return "stop"
                session.abort(by_close=False)
            session.close()
            if own_sampler:
                sampler.close()
        sampler._reraise()
        if raised:
            raise raised[0]
        if session.aborted:
            raise ValueError("the context or sampler was closed during generation")
        if session.error is not None:
            raise session.error

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
