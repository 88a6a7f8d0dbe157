//! Structured output and tool calling: JSON Schema to GBNF, chat templates with tools, reply
//! parsing, the tool-call format, and grammars in the sampler.
mod common;

use common::*;
use llamas::*;

const KJV: &str = "models/kjv-tiny-Q8_0.gguf";

/// A tiny Hermes-like template: tool names in a header, calls in <tool_call> tags.
const HERMES: &str = r#"{%- if tools %}Tools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}
Call one with <tool_call>{"name": ..., "arguments": ...}</tool_call>
{% endif %}{% for message in messages %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"#;

const WEATHER_TOOL: &str = r#"[{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]"#;

const SCHEMA_A: &str = r#"{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}"#;


/// Strict check of the shape {"a": integer} with JSON whitespace anywhere between tokens.
fn is_object_with_integer_a(text: &str) -> bool {
    let s = text.as_bytes();
    let mut i = 0;
    let ws = |i: &mut usize| {
        while *i < s.len() && matches!(s[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    let lit = |i: &mut usize, l: &[u8]| -> bool {
        if s[*i..].starts_with(l) {
            *i += l.len();
            true
        } else {
            false
        }
    };
    ws(&mut i);
    if !lit(&mut i, b"{") {
        return false;
    }
    ws(&mut i);
    if !lit(&mut i, b"\"a\"") {
        return false;
    }
    ws(&mut i);
    if !lit(&mut i, b":") {
        return false;
    }
    ws(&mut i);
    lit(&mut i, b"-");
    let start = i;
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    if i == start || (s[start] == b'0' && i - start > 1) {
        return false;
    }
    ws(&mut i);
    if !lit(&mut i, b"}") {
        return false;
    }
    ws(&mut i);
    i == s.len()
}

#[test]
fn json_schema_to_grammar_has_root_and_rejects_bad_schemas() {
    let g = json_schema_to_grammar(SCHEMA_A).unwrap();
    assert!(g.contains("root ::="), "{g}");
    for bad in [r#"{"type": "#, r#"{"type": "no-such-type"}"#] {
        let e = json_schema_to_grammar(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{bad}: {e}");
        assert!(!e.message().is_empty());
    }
}

#[test]
fn chat_template_with_tools_parse_reply_and_format() {
    let msgs = r#"[{"role": "user", "content": "Weather in Paris?"}]"#;
    let out = apply_chat_template_json(None, Some(HERMES), msgs, Some(WEATHER_TOOL), true).unwrap();
    assert!(out.contains("get_weather") && out.ends_with("<|im_start|>assistant\n"), "{out}");
    let no_tools = apply_chat_template_json(None, Some(HERMES), msgs, None, false).unwrap();
    assert!(!no_tools.contains("get_weather"), "{no_tools}");
    let e = apply_chat_template_json(None, Some(HERMES), r#"[{"role": "#, None, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);

    let model = Model::load(data_dir().join(KJV)).unwrap();
    assert_eq!(model.apply_chat_template_json(Some(HERMES), msgs, Some(WEATHER_TOOL), true).unwrap(), out);

    let format = parse_json(&chat_tool_format(None, Some(HERMES)).unwrap());
    assert_eq!(format.get("family").as_str(), "hermes");
    match format.get("triggers") {
        Json::Arr(t) => assert_eq!(t[0].as_str(), "<tool_call>"),
        other => panic!("triggers {other:?}"),
    }

    let reply = parse_json(&parse_chat_reply(None, Some(HERMES), r#"<tool_call>{"name":"f","arguments":{"x":1}}</tool_call>"#).unwrap());
    let calls = match reply.get("tool_calls") {
        Json::Arr(c) => c.clone(),
        other => panic!("tool_calls {other:?}"),
    };
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].get("name").as_str(), "f");
    assert!(matches!(calls[0].get("arguments").get("x"), Json::Num(x) if *x == 1.0));

    let required = parse_json(&chat_tool_call_grammar(None, Some(HERMES), WEATHER_TOOL, TOOLS_REQUIRED).unwrap());
    assert!(matches!(required.get("lazy"), Json::Bool(false)));
    let root = required.get("root").as_str().to_string();
    assert!(required.get("grammar").as_str().contains(&format!("{root} ::=")), "{required:?}");
    let optional = parse_json(&model.chat_tool_call_grammar(Some(HERMES), WEATHER_TOOL, 0).unwrap());
    assert!(matches!(optional.get("lazy"), Json::Bool(true)));
    assert!(matches!(optional.get("triggers"), Json::Arr(t) if t.len() == 1 && t[0].as_str() == "<tool_call>"));
    let e = chat_tool_call_grammar(None, Some(HERMES), r#"[{"type": "#, 0).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);

    let plain = parse_json(&model.parse_chat_reply(Some(HERMES), "just text").unwrap());
    assert_eq!(plain.get("content").as_str(), "just text");
    assert!(matches!(plain.get("tool_calls"), Json::Arr(c) if c.is_empty()));
}

#[test]
fn grammar_constrains_sampled_generation() {
    let grammar = json_schema_to_grammar(SCHEMA_A).unwrap();
    grammar_validate(&grammar, None).unwrap();
    let model = Model::load(data_dir().join(KJV)).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 256, ..Default::default() }).unwrap();
    for seed in 1..=5u64 {
        let mut sampler = model.new_sampler(&SamplerOptions { temperature: 1.0, seed, ..Default::default() }).unwrap();
        sampler.set_grammar(&grammar, Some("root")).unwrap();
        ctx.kv_clear().unwrap();
        let mut text = String::new();
        ctx.generate(&mut sampler, "In the beginning God created", &GenerateOptions { max_tokens: 128, ..Default::default() },
                     |piece, _| {
                         text.push_str(piece);
                         true
                     })
            .unwrap();
        assert!(is_object_with_integer_a(&text), "seed {seed}: {text:?}");
        assert_eq!(ctx.finish_reason(), FinishReason::Eog, "seed {seed}");
    }
}

/// A forced tool call (the grammar of chat_tool_call_grammar with TOOLS_REQUIRED) parses back.
#[test]
fn tool_call_grammar_forces_a_call() {
    let tool = r#"[{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
        "properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]"#;
    let g = parse_json(&chat_tool_call_grammar(None, Some(HERMES), tool, TOOLS_REQUIRED).unwrap());
    let model = Model::load(data_dir().join(KJV)).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 640, ..Default::default() }).unwrap();
    for seed in 1..=3u64 {
        let mut sampler = model.new_sampler(&SamplerOptions { temperature: 1.0, seed, ..Default::default() }).unwrap();
        sampler.set_grammar(g.get("grammar").as_str(), Some(g.get("root").as_str())).unwrap();
        ctx.kv_clear().unwrap();
        let mut text = String::new();
        // The grammar bounds the call to about 330 characters, so 512 tokens reach its end.
        ctx.generate(&mut sampler, "In the beginning God created", &GenerateOptions { max_tokens: 512, ..Default::default() },
                     |piece, _| {
                         text.push_str(piece);
                         true
                     })
            .unwrap();
        assert_eq!(ctx.finish_reason(), FinishReason::Eog, "seed {seed}: {text:?}");
        let reply = parse_json(&parse_chat_reply(None, Some(HERMES), &text).unwrap());
        match reply.get("tool_calls") {
            Json::Arr(c) if c.len() == 1 => {
                assert_eq!(c[0].get("name").as_str(), "f");
                assert!(matches!(c[0].get("arguments").get("n"), Json::Num(_)), "seed {seed}: {text:?}");
            }
            other => panic!("seed {seed}: {text:?} gave {other:?}"),
        }
    }
}

#[test]
fn grammar_errors_manual_loop_and_lazy() {
    let bad = "root ::= \"a\" |\nfoo ::= [a-";
    let e = grammar_validate(bad, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("line ") && e.message().contains("column"), "{e}");
    assert_eq!(grammar_validate("root ::= other", None).unwrap_err().kind(), ErrorKind::InvalidArgument);
    grammar_validate(r#"start ::= "yes" | "no""#, Some("start")).unwrap();

    let model = Model::load(data_dir().join(KJV)).unwrap();
    let mut sampler = model.new_sampler(&SamplerOptions::greedy()).unwrap();
    let e = sampler.set_grammar(bad, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert!(e.message().contains("line "), "{e}");

    // Manual loop: the prompt goes to accept_prompt (the grammar is not advanced), each kept
    // token to accept; the grammar forces "yes" or "no".
    sampler.set_grammar(r#"root ::= "yes" | "no""#, None).unwrap();
    let mut ctx = model.new_context(&ContextOptions { n_ctx: 128, ..Default::default() }).unwrap();
    let prompt = model.tokenize("In the beginning God created", true, false).unwrap();
    sampler.accept_prompt(&prompt).unwrap();
    ctx.decode(&prompt).unwrap();
    let mut out = Vec::new();
    for _ in 0..8 {
        let tok = sampler.choose(&ctx, -1).unwrap();
        if model.is_eog(tok) {
            break;
        }
        sampler.accept(&[tok]).unwrap();
        out.push(tok);
        ctx.decode(&[tok]).unwrap();
    }
    let text = model.detokenize(&out, true).unwrap();
    assert!(text == "yes" || text == "no", "{text:?}");

    sampler.clear_grammar().unwrap();
    sampler.set_grammar_lazy(r#"root ::= "<call>" [a-z]+ "</call>""#, None, &["<call>"], &[]).unwrap();
    sampler.set_grammar_lazy_patterns(r#"root ::= "<call>" [a-z]+ "</call>""#, None, &[r"^\s*(<call>)"], &[]).unwrap();
    let e = sampler.set_grammar_lazy_patterns(r#"root ::= "x""#, None, &["(unclosed"], &[]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    let e = sampler.set_grammar_lazy(bad, None, &["x"], &[model.eos().unwrap_or(0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
}
