"""Structured output and tool calling: JSON Schema to GBNF, chat templates with tools, reply
parsing, the tool-call format, and grammars in the sampler."""

import json

import pytest

import llamas
from llamas import _native as N

KJV = "models/kjv-tiny-Q8_0.gguf"

# A tiny Hermes-like template: tool names in a header, calls in <tool_call> tags.
HERMES = """{%- if tools %}Tools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}
Call one with <tool_call>{"name": ..., "arguments": ...}</tool_call>
{% endif %}{% for message in messages %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"""

WEATHER_TOOL = [{"type": "function", "function": {
    "name": "get_weather", "description": "Weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]

SCHEMA_A = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}




def test_json_schema_to_grammar():
    g = llamas.json_schema_to_grammar(SCHEMA_A)
    assert "root ::=" in g
    assert llamas.json_schema_to_grammar(json.dumps(SCHEMA_A)) == g  # JSON text works too
    for bad in ('{"type": ', {"type": "no-such-type"}):
        with pytest.raises(llamas.LlamasInvalidArgumentError) as e:
            llamas.json_schema_to_grammar(bad)
        assert e.value.status == N.ERR_INVALID_ARGUMENT and e.value.message
        assert isinstance(e.value, ValueError)


def test_chat_template_with_tools(data):
    msgs = [{"role": "user", "content": "Weather in Paris?"}]
    out = llamas.apply_chat_template_json(msgs, WEATHER_TOOL, template=HERMES)
    assert "get_weather" in out and out.endswith("<|im_start|>assistant\n")
    assert "get_weather" not in llamas.apply_chat_template_json(msgs, template=HERMES, add_generation_prompt=False)
    with pytest.raises(llamas.LlamasInvalidArgumentError):
        llamas.apply_chat_template_json('[{"role": ', template=HERMES)

    fmt = llamas.chat_tool_format(template=HERMES)
    assert fmt["family"] == "hermes" and fmt["triggers"][0] == "<tool_call>"

    reply = llamas.parse_chat_reply('<tool_call>{"name":"f","arguments":{"x":1}}</tool_call>', template=HERMES)
    assert len(reply["tool_calls"]) == 1
    assert reply["tool_calls"][0]["name"] == "f" and reply["tool_calls"][0]["arguments"] == {"x": 1}

    required = llamas.chat_tool_call_grammar(WEATHER_TOOL, required=True, template=HERMES)
    assert required["lazy"] is False and required["root"] + " ::=" in required["grammar"]
    with pytest.raises(llamas.LlamasInvalidArgumentError):
        llamas.chat_tool_call_grammar('[{"type": ', template=HERMES)

    with llamas.Model(data / KJV) as model:
        optional = model.chat_tool_call_grammar(WEATHER_TOOL, template=HERMES)
        assert optional["lazy"] is True and optional["triggers"] == ["<tool_call>"]
        assert model.apply_chat_template_json(msgs, WEATHER_TOOL, template=HERMES) == out
        plain = model.parse_chat_reply("just text", template=HERMES)
        assert plain["content"] == "just text" and plain["tool_calls"] == []


def test_grammar_constrains_sampled_generation(data):
    grammar = llamas.json_schema_to_grammar(SCHEMA_A)
    llamas.validate_grammar(grammar)
    with llamas.Model(data / KJV) as model, model.context(n_ctx=256) as ctx:
        for seed in range(1, 6):
            with model.sampler(temperature=1.0, seed=seed) as sampler:
                sampler.set_grammar(grammar, "root")
                ctx.kv_clear()
                text = "".join(ctx.generate("In the beginning God created", max_tokens=128, sampler=sampler))
                value = json.loads(text)
                assert isinstance(value, dict) and list(value) == ["a"], (seed, text)
                assert type(value["a"]) is int, (seed, text)
                assert ctx.finish_reason == llamas.FinishReason.EOG, (seed, text)


def test_tool_call_grammar_forces_a_call(data):
    tool = [{"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]
    g = llamas.chat_tool_call_grammar(tool, required=True, template=HERMES)
    with llamas.Model(data / KJV) as model, model.context(n_ctx=640) as ctx:
        for seed in range(1, 4):
            with model.sampler(temperature=1.0, seed=seed) as sampler:
                sampler.set_tool_call_grammar(g)
                ctx.kv_clear()
                # The grammar bounds the call to about 330 characters: 512 tokens reach its end.
                text = "".join(ctx.generate("In the beginning God created", max_tokens=512, sampler=sampler))
                assert ctx.finish_reason == llamas.FinishReason.EOG, (seed, text)
                calls = llamas.parse_chat_reply(text, template=HERMES)["tool_calls"]
                assert len(calls) == 1 and calls[0]["name"] == "f", (seed, text)
                assert type(calls[0]["arguments"]["n"]) is int, (seed, text)


def test_grammar_errors_manual_loop_and_lazy(data):
    bad = 'root ::= "a" |\nfoo ::= [a-'
    with pytest.raises(llamas.LlamasInvalidArgumentError) as e:
        llamas.validate_grammar(bad)
    assert "line " in e.value.message and "column" in e.value.message
    with pytest.raises(llamas.LlamasInvalidArgumentError):
        llamas.validate_grammar("root ::= other")
    llamas.validate_grammar('start ::= "yes" | "no"', "start")

    with llamas.Model(data / KJV) as model, model.sampler(temperature=0) as sampler:
        with pytest.raises(llamas.LlamasInvalidArgumentError) as e:
            sampler.set_grammar(bad)
        assert "line " in e.value.message
        # Manual loop: prompt tokens to accept_prompt (the grammar is not advanced), kept tokens
        # to accept; the grammar forces "yes" or "no".
        sampler.set_grammar('root ::= "yes" | "no"')
        with model.context(n_ctx=128) as ctx:
            prompt = model.tokenize("In the beginning God created")
            sampler.accept_prompt(prompt)
            ctx.decode(prompt)
            out = []
            for _ in range(8):
                tok = sampler.choose(ctx)
                if model.is_eog(tok):
                    break
                sampler.accept([tok])
                out.append(tok)
                ctx.decode([tok])
            assert model.detokenize(out, skip_special=True) in ("yes", "no")
        sampler.set_grammar(None)
        sampler.set_grammar_lazy('root ::= "<call>" [a-z]+ "</call>"', trigger_words=["<call>"])
        sampler.set_grammar_lazy_patterns('root ::= "<call>" [a-z]+ "</call>"', trigger_patterns=[r"^\s*(<call>)"])
        with pytest.raises(llamas.LlamasInvalidArgumentError):
            sampler.set_grammar_lazy_patterns('root ::= "x"', trigger_patterns=["(unclosed"])
        # a lazy tool-call grammar goes in through set_grammar_lazy
        sampler.set_tool_call_grammar(llamas.chat_tool_call_grammar(WEATHER_TOOL, template=HERMES))
        with pytest.raises(llamas.LlamasInvalidArgumentError):
            sampler.set_grammar_lazy(bad, trigger_words=["x"], trigger_tokens=[0])
