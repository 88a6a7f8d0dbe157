"""The 0.2 surface: sequences and batches, logprobs, state, vocabulary, typed metadata, sampler
choose/accept/filter, stop strings, token callbacks, finish reasons, load progress."""
import ctypes
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import llamas
from llamas import FinishReason, Special

KJV = "models/kjv-tiny-Q8_0.gguf"
PROMPT_A = "In the beginning God created"
PROMPT_B = "And the LORD said unto Moses,"


@pytest.fixture(scope="module")
def kjv(data):
    with llamas.Model(data / KJV) as model:
        yield model


def argmax(v):
    return max(range(len(v)), key=v.__getitem__)


def assert_close(a, b):
    """The library is deterministic: a row of a batch equals the single-sequence row bit for bit."""
    assert len(a) == len(b)
    worst = max(abs(x - y) for x, y in zip(a, b))
    assert a == b, worst


def greedy_continue(ctx, seq, first_logits, n):
    """n greedy tokens of sequence seq, starting from first_logits."""
    out, logits = [], first_logits
    for _ in range(n):
        t = argmax(logits)
        out.append(t)
        ctx.decode_batch([t], seq_ids=[seq])
        logits = ctx.logits_ith(-1)
    return out


def test_version_is_0_2():
    assert llamas.version().startswith("0.2")


def test_batch_of_two_interleaved_sequences_equals_single_runs(kjv):
    a, b = kjv.tokenize(PROMPT_A), kjv.tokenize(PROMPT_B)
    with kjv.context(n_ctx=128) as single:
        single.decode(a)
        la = single.logits()
        single.kv_clear()
        single.decode(b)
        lb = single.logits()
    # interleave: a0 b0 a1 b1 ... then the rest of the longer one
    tokens, seqs, pos = [], [], []
    for i in range(max(len(a), len(b))):
        for s, toks in ((0, a), (1, b)):
            if i < len(toks):
                tokens.append(toks[i]), seqs.append(s), pos.append(i)
    last_a = max(k for k in range(len(tokens)) if seqs[k] == 0)
    last_b = max(k for k in range(len(tokens)) if seqs[k] == 1)
    with kjv.context(n_ctx=128, n_seq_max=2) as ctx:
        assert ctx.n_seq_max == 2
        ctx.decode_batch(tokens, positions=pos, seq_ids=seqs)  # default: last of each sequence
        assert_close(ctx.logits_ith(last_a), la)
        assert_close(ctx.logits_ith(last_b), lb)
        assert ctx.logits_ith(0) is None  # not kept
        assert ctx.seq_pos_min(0) == 0 and ctx.seq_pos_max(0) == len(a) - 1
        assert ctx.seq_pos_max(1) == len(b) - 1
        # the same again without explicit positions, keeping every row
        ctx.kv_clear()
        ctx.decode_batch(tokens, seq_ids=seqs, want_logits=[1] * len(tokens))
        assert_close(ctx.logits_ith(last_a), la)
        assert_close(ctx.logits_ith(last_b), lb)
        assert ctx.logits_ith(-1) == ctx.logits_ith(len(tokens) - 1)


def test_seq_copy_then_greedy_equals_recomputing(kjv):
    a = kjv.tokenize(PROMPT_A)
    with kjv.context(n_ctx=128) as ref:
        ref.decode(a)
        expected = greedy_continue(ref, 0, ref.logits(), 8)
    with kjv.context(n_ctx=128, n_seq_max=3) as ctx:
        ctx.decode_batch(a)
        first = ctx.logits_ith(-1)
        ctx.seq_copy(0, 2)
        assert ctx.seq_pos_max(2) == len(a) - 1
        assert greedy_continue(ctx, 2, first, 8) == expected
        # sequence 0 is untouched; keeping only 2 empties it
        assert ctx.seq_pos_max(0) == len(a) - 1
        ctx.seq_keep(2)
        assert ctx.seq_pos_max(0) == -1 and ctx.seq_pos_min(0) == -1
        assert ctx.seq_pos_max(2) == len(a) - 1 + 8
        # drop the generated tail and regenerate it
        ctx.seq_remove(2, len(a), -1)
        assert ctx.seq_pos_max(2) == len(a) - 1
        ctx.decode_batch([a[-1]], positions=[len(a) - 1], seq_ids=[2])
        assert greedy_continue(ctx, 2, ctx.logits_ith(-1), 8) == expected


def test_seq_shift(kjv):
    a = kjv.tokenize(PROMPT_A)
    with kjv.context(n_ctx=128, n_seq_max=2) as ctx:
        ctx.decode_batch(a, seq_ids=[1] * len(a))
        ctx.seq_shift(1, 0, -1, 10)
        assert (ctx.seq_pos_min(1), ctx.seq_pos_max(1)) == (10, len(a) - 1 + 10)
        ctx.seq_remove(1, 10, 12, shift=True)
        assert ctx.seq_pos_max(1) == len(a) - 1 + 8
        with pytest.raises(llamas.LlamasError):
            ctx.seq_copy(0, 5)  # no sequence 5


def test_logprobs(kjv):
    with kjv.context(n_ctx=64) as ctx:
        ctx.decode(kjv.tokenize(PROMPT_A))
        logits = ctx.logits()
        best = argmax(logits)
        lp, top = ctx.logprobs(-1, token=best, n_top=5)
        assert len(top) == 5 and top[0][0] == best
        assert abs(top[0][1] - lp) < 1e-6 and lp <= 0
        assert all(top[k][1] >= top[k + 1][1] for k in range(4))
        assert ctx.logprobs(-1)[0] is None


def test_state_round_trip_bytes_and_file(kjv, tmp_path):
    a = kjv.tokenize(PROMPT_A)
    with kjv.context(n_ctx=128) as ctx:
        ctx.decode(a)
        state = ctx.state_save()
        ctx.state_save_file(tmp_path / "state.bin")
        expected = greedy_continue(ctx, 0, ctx.logits(), 8)
    assert (tmp_path / "state.bin").read_bytes() == state
    with kjv.context(n_ctx=128) as ctx:
        ctx.state_load(state)
        assert ctx.n_past == len(a)
        assert greedy_continue(ctx, 0, ctx.logits(), 8) == expected
    with kjv.context(n_ctx=128) as ctx:
        ctx.state_load_file(tmp_path / "state.bin")
        assert greedy_continue(ctx, 0, ctx.logits(), 8) == expected
        bad = bytearray(state)
        bad[len(bad) // 2] ^= 0x5A
        with pytest.raises(llamas.LlamasError) as info:
            ctx.state_load(bytes(bad))
        assert info.value.status in (3, 10)  # BAD_FORMAT / NOT_FOUND
        with pytest.raises(llamas.LlamasError):
            ctx.state_load(state[: len(state) // 3])
        with pytest.raises(llamas.LlamasIOError):
            ctx.state_load_file(tmp_path / "missing.bin")


def test_one_sequence_state_into_another_sequence(kjv):
    a = kjv.tokenize(PROMPT_A)
    with kjv.context(n_ctx=128, n_seq_max=2) as ctx:
        ctx.decode_batch(a)
        one = ctx.state_save(seq=0)
        ctx.kv_clear()
        ctx.state_load(one, seq=1)
        assert ctx.seq_pos_max(1) == len(a) - 1 and ctx.seq_pos_max(0) == -1


def test_stop_string_and_finish_reason(kjv):
    with kjv.context(n_ctx=128) as ctx:
        full = "".join(ctx.generate(PROMPT_A, max_tokens=24, temperature=0))
        assert ctx.finish_reason in (FinishReason.MAX_TOKENS, FinishReason.EOG)
        # stop on a piece of text from the middle of the greedy output
        cut = len(full) // 2
        stop = full[cut:cut + 3]
        assert stop.strip()
        ctx.kv_clear()
        got = "".join(ctx.generate(PROMPT_A, max_tokens=24, temperature=0, stop=[stop, "\x01never"]))
        assert ctx.finish_reason == FinishReason.STOP_STRING
        assert got == full[:full.index(stop)]
        ctx.kv_clear()
        assert len(list(ctx.generate(PROMPT_A, max_tokens=3, temperature=0))) == 3
        assert ctx.finish_reason == FinishReason.MAX_TOKENS
        ctx.kv_clear()
        for _ in ctx.generate(PROMPT_A, max_tokens=10, temperature=0):
            break  # leaving the loop stops the generation through the callback
        assert ctx.finish_reason == FinishReason.CALLBACK


def test_token_callback_with_probs(kjv):
    with kjv.context(n_ctx=128) as ctx:
        infos = []
        pieces = list(ctx.generate(PROMPT_A, max_tokens=6, temperature=0, on_token=infos.append,
                                   n_probs=3))
        assert [i.token for i in infos][:len(pieces)] == [p.token for p in pieces if p.token >= 0]
        for info in infos:
            assert len(info.top) == 3 and info.top[0][0] == info.token  # greedy: the top one
            assert abs(info.top[0][1] - info.logprob) < 1e-5

        def boom(_info):
            raise KeyError("from the callback")
        ctx.kv_clear()
        with pytest.raises(KeyError):
            list(ctx.generate(PROMPT_A, max_tokens=6, temperature=0, on_token=boom))
        ctx.kv_clear()  # usable afterwards
        assert len(list(ctx.generate(PROMPT_A, max_tokens=2, temperature=0))) == 2


def test_sampler_choose_accept_filter(kjv):
    with kjv.context(n_ctx=64) as ctx, kjv.sampler(temperature=0) as s:
        a = kjv.tokenize(PROMPT_A)
        ctx.decode(a)
        s.accept(a)
        best = s.choose(ctx)
        assert best == argmax(ctx.logits())
        s.set_filter(lambda logits: logits.__setitem__(best, float("-inf")))
        second = s.choose(ctx, -1)
        assert second != best
        s.set_filter(lambda logits: False)
        with pytest.raises(llamas.LlamasError) as info:
            s.choose(ctx)
        assert info.value.status == 7  # CANCELLED

        def boom(_logits):
            raise RuntimeError("filter failed")
        s.set_filter(boom)
        with pytest.raises(RuntimeError):
            s.sample(ctx)
        s.set_filter(None)
        assert s.choose(ctx) == best


def test_vocabulary(kjv):
    bos = kjv.special_token(Special.BOS)
    assert bos == kjv.bos
    if bos is not None:
        assert kjv.token_attr(bos) & llamas.TOKEN_ATTR_CONTROL
        assert kjv.token_text(bos)
        assert kjv.token_to_piece(bos) == b""
        assert kjv.token_to_piece(bos, special=True) == kjv.token_text(bos).encode()
    text = "In the beginning God created the heaven and the earth."
    toks = kjv.tokenize(text, add_special=False)
    pieces = b"".join(kjv.token_to_piece(t, lstrip=(k == 0)) for k, t in enumerate(toks))
    assert pieces.decode() == kjv.detokenize(toks) == text
    assert all(isinstance(kjv.token_score(t), float) for t in toks)
    with pytest.raises(IndexError):
        kjv.token_text(kjv.n_vocab)
    with pytest.raises(llamas.LlamasError):
        kjv.token_to_piece(kjv.n_vocab)


def test_metadata_enumeration(kjv, data):
    keys = kjv.meta_keys()
    assert "general.architecture" in keys and len(set(keys)) == len(keys)
    meta = kjv.metadata()  # every key, every array element
    assert meta["general.architecture"] == kjv.architecture
    for k in keys:
        info = kjv.meta_info(k)
        if info.type == llamas.MetaType.ARRAY:
            assert len(meta[k]) == info.count
    assert len(meta["tokenizer.ggml.tokens"]) == kjv.n_vocab
    with pytest.raises(llamas.LlamasNotFoundError) as info:
        kjv.meta_value("no.such.key")
    assert isinstance(info.value, LookupError) and info.value.status == 10
    with pytest.raises(llamas.LlamasError) as info:  # a string read as a number
        kjv.meta_info("general.architecture") and kjv._meta_elem("general.architecture", llamas.MetaType.I32, 0)
    assert info.value.status == 1
    assert kjv.n_params > 0
    assert 0 < kjv.tensor_bytes <= kjv.file_size == os.path.getsize(data / KJV)
    assert kjv.description


def test_load_progress_and_cancel(data):
    seen = []
    with llamas.Model(data / KJV, progress=seen.append):
        pass
    assert seen[0] == 0 and seen[-1] == 1 and seen == sorted(seen)
    with pytest.raises(llamas.LlamasError) as info:
        llamas.Model(data / KJV, progress=lambda f: False)
    assert info.value.status == 7  # CANCELLED

    def boom(_f):
        raise ZeroDivisionError()
    with pytest.raises(ZeroDivisionError):
        llamas.Model(data / KJV, progress=boom)


CLOSE_DURING_GENERATION = textwrap.dedent("""
    import sys, threading
    sys.path.insert(0, sys.argv[1])
    import llamas

    def workers():
        return [t for t in threading.enumerate() if t.name == "llamas-generate"]

    model = llamas.Model(sys.argv[2])
    for what in ("context", "sampler", "model"):
        if model.closed:
            model = llamas.Model(sys.argv[2])
        ctx = model.context(n_ctx=128)
        sampler = model.sampler(temperature=0)
        g = ctx.generate("In the beginning", max_tokens=50, sampler=sampler)
        next(g)  # the worker is now inside llamas_generate, waiting in the callback
        {"context": ctx, "sampler": sampler, "model": model}[what].close()
        # the handle is freed only after the generation left the library
        assert not workers(), what
        try:
            next(g)
            raise SystemExit("a closed context kept generating")
        except ValueError:
            pass
        g.close()
        ctx.close(); sampler.close()
    # a generator closed after its context, without being resumed
    model = llamas.Model(sys.argv[2])
    ctx = model.context(n_ctx=128)
    g = ctx.generate("In the beginning", max_tokens=50, temperature=0)
    next(g)
    ctx.close()
    g.close()
    assert not workers()
    model.close()
    print("ok")
""")


def test_closing_during_a_suspended_generation_waits_for_it(data):
    """Used to free the context while the worker was still inside llamas_generate."""
    env = dict(os.environ, MALLOC_CHECK_="3", MALLOC_PERTURB_="165")
    root = str(Path(__file__).resolve().parents[1])
    r = subprocess.run([sys.executable, "-X", "dev", "-c", CLOSE_DURING_GENERATION, root, str(data / KJV)],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and r.stdout.strip() == "ok", (r.returncode, r.stdout, r.stderr)
    assert "Error" not in r.stderr, r.stderr


def test_option_structs_match_the_library():
    from llamas import _native as N
    sizes = {N.ModelOptions: 32, N.ContextOptions: 32, N.SamplerOptions: 56, N.GenerateOptions: 64,
             N.EmbedOptions: 24}
    for struct, size in sizes.items():
        name = {N.ModelOptions: "model", N.ContextOptions: "context", N.SamplerOptions: "sampler",
                N.GenerateOptions: "generate", N.EmbedOptions: "embed"}[struct]
        opts = N.options(struct, "llamas_%s_options_init" % name)
        assert ctypes.sizeof(struct) == size == opts.struct_size, name
    assert N.GenerateOptions.n_probs.offset == 56 and N.SamplerOptions.seed.offset == 48
    assert ctypes.sizeof(N.TokenInfo) == 24
