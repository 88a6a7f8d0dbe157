import math
import os
import threading

import pytest

import llamas
from conftest import read_jsonl


def rss_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cosine(a, b):
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def unescape(line):
    return line.replace("\\n", "\n").replace("\\t", "\t")


def test_version():
    assert llamas.version().count(".") == 2


def test_greedy_generation_matches_reference(data):
    ref = read_jsonl(data / "reference/outputs/qwen2-Q8_0.jsonl")[0]
    expected = ref["greedy"][:16]
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model:
        assert model.tokenize(ref["prompt"]) == ref["tokens"]
        with model.context(n_ctx=256) as ctx:
            pieces = list(ctx.generate(ref["prompt"], max_tokens=16, temperature=0))
        assert [p.token for p in pieces] == expected
        assert "".join(pieces) == model.detokenize(expected, skip_special=True)


def test_greedy_by_argmax_over_logits(data):
    ref = read_jsonl(data / "reference/outputs/qwen2-Q8_0.jsonl")[0]
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model, model.context(n_ctx=256) as ctx:
        assert ctx.logits() is None
        ctx.decode(model.tokenize(ref["prompt"]))
        got = []
        for _ in range(16):
            logits = ctx.logits()
            assert len(logits) == model.n_vocab
            tok = max(range(len(logits)), key=logits.__getitem__)
            got.append(tok)
            ctx.decode([tok])
        assert got == ref["greedy"][:16]
        assert ctx.n_past == len(ref["tokens"]) + 16


def test_stopping_generation_early(data):
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model, model.context(n_ctx=256) as ctx:
        gen = ctx.generate("Once upon a time", max_tokens=50, temperature=0)
        first = next(gen)
        gen.close()
        assert isinstance(first, str)
        # the context is usable again afterwards
        assert len(list(ctx.generate(" and", max_tokens=3, temperature=0))) == 3


def test_embeddings_match_reference(data):
    refs = read_jsonl(data / "reference/outputs/bert-F16.jsonl")
    with open(data / "reference/embed_prompts.txt", encoding="utf-8") as f:
        prompts = [unescape(line.rstrip("\n")) for line in f if line.strip()]
    by_prompt = {r["prompt"]: r["embedding"] for r in refs}
    assert len(prompts) >= 5
    with llamas.Model(data / "models/bert-F16.gguf") as model:
        vectors = model.embed(prompts)
        assert len(vectors) == len(prompts)
        for prompt, vec in zip(prompts, vectors):
            ref = by_prompt[prompt]
            assert len(vec) == len(ref)
            assert abs(math.sqrt(sum(x * x for x in vec)) - 1) < 1e-3  # normalized by default
            assert cosine(vec, ref) >= 0.999, prompt
        with model.context() as ctx:
            raw = ctx.embed(prompts[:1], normalize=False)[0]
            assert cosine(raw, by_prompt[prompts[0]]) >= 0.999


def test_missing_model_raises_with_library_message(data):
    path = data / "models/does-not-exist.gguf"
    with pytest.raises(llamas.LlamasError) as info:
        llamas.Model(path)
    assert info.value.status == 2  # LLAMAS_ERR_IO
    assert isinstance(info.value, OSError)
    assert "does-not-exist.gguf" in str(info.value)


def test_errors_carry_messages(data):
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model:
        with pytest.raises(llamas.LlamasNotFoundError) as info:  # since 0.2 (was INVALID_ARGUMENT)
            model.meta("no.such.key")
        assert str(info.value) and info.value.status == 10
        assert model.meta("general.architecture") == "qwen2"
        with model.context(n_ctx=64) as ctx, pytest.raises(llamas.LlamasError) as info:
            ctx.decode([model.n_vocab + 5])
        assert info.value.status == 1  # invalid argument
    with pytest.raises(ValueError):
        model.n_vocab  # closed


def test_closing_model_closes_its_contexts(data):
    model = llamas.Model(data / "models/qwen2-Q8_0.gguf")
    ctx = model.context(n_ctx=32)
    model.close()
    assert ctx.closed and model.closed
    model.close()  # twice is fine


def test_load_free_100_times_does_not_grow(data):
    path = data / "models/qwen2-Q8_0.gguf"
    for _ in range(3):  # warm up allocator pools
        with llamas.Model(path) as m, m.context(n_ctx=64):
            pass
    before = rss_kib()
    for _ in range(100):
        with llamas.Model(path) as m:
            with m.context(n_ctx=64) as ctx:
                ctx.decode([1, 2, 3])
    after = rss_kib()
    assert after - before < 8 * 1024, (before, after)


def test_model_is_shareable_across_threads(data):
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model:
        results = []

        def work():
            results.append(model.tokenize("Once upon a time"))

        threads = [threading.Thread(target=work) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 4 and all(r == results[0] for r in results)


def test_cancel_from_another_thread(data):
    with llamas.Model(data / "models/qwen2-Q8_0.gguf") as model, model.context(n_ctx=256) as ctx:
        got = []
        with pytest.raises(llamas.LlamasError) as info:
            for piece in ctx.generate("Once upon a time", max_tokens=200, temperature=0):
                got.append(piece)
                if len(got) == 2:
                    ctx.cancel()  # generation runs on the iterator's worker thread
        assert info.value.status == 7  # LLAMAS_ERR_CANCELLED
        assert 2 <= len(got) < 200
        # the flag cleared: the context generates again
        assert len(list(ctx.generate(" and", max_tokens=2, temperature=0))) == 2
