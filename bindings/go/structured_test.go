package llamas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// A tiny Hermes-like template: tool names in a header, calls in <tool_call> tags.
const hermesTemplate = `{%- if tools %}Tools:{% for tool in tools %} {{ tool.function.name }}{% endfor %}
Call one with <tool_call>{"name": ..., "arguments": ...}</tool_call>
{% endif %}{% for message in messages %}<|im_start|>{{ message.role }}
{{ message.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}`

const weatherTool = `[{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]`

const schemaA = `{"type":"object","properties":{"a":{"type":"integer"}},"required":["a"]}`

func TestJSONSchemaToGrammar(t *testing.T) {
	requires(t, "json_schema_to_grammar")
	g, err := JSONSchemaToGrammar([]byte(schemaA))
	mustNoErr(t, err)
	if !strings.Contains(g, "root ::=") {
		t.Fatalf("no root rule in %q", g)
	}
	g2, err := JSONSchemaValueToGrammar(map[string]any{
		"type": "object", "properties": map[string]any{"a": map[string]any{"type": "integer"}}, "required": []string{"a"}})
	mustNoErr(t, err)
	if g2 != g {
		t.Fatalf("value form differs:\n%s\n%s", g2, g)
	}
	for _, bad := range []string{`{"type": `, `{"type": "no-such-type"}`} {
		_, err = JSONSchemaToGrammar([]byte(bad))
		var e *Error
		if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("schema %s: got %v, want ErrInvalidArgument with a message", bad, err)
		}
	}
}

func TestChatTemplateWithTools(t *testing.T) {
	requires(t, "chat_apply_template_json", "chat_parse_reply", "chat_tool_format")
	tmpl := ChatTemplate{Text: hermesTemplate}
	msgs := `[{"role": "user", "content": "Weather in Paris?"}]`
	out, err := tmpl.ApplyJSON([]byte(msgs), []byte(weatherTool), true)
	mustNoErr(t, err)
	if !strings.Contains(out, "get_weather") || !strings.HasSuffix(out, "<|im_start|>assistant\n") {
		t.Fatalf("rendered %q", out)
	}
	// The value form (json.RawMessage passes through json.Marshal unchanged).
	out2, err := tmpl.Apply([]map[string]string{{"role": "user", "content": "Weather in Paris?"}}, json.RawMessage(weatherTool), true)
	mustNoErr(t, err)
	if out2 != out {
		t.Fatalf("Apply %q != ApplyJSON %q", out2, out)
	}
	noTools, err := tmpl.ApplyJSON([]byte(msgs), nil, false)
	mustNoErr(t, err)
	if strings.Contains(noTools, "get_weather") {
		t.Fatalf("tools rendered without tools: %q", noTools)
	}
	if _, err := tmpl.ApplyJSON([]byte(`[{"role": `), nil, true); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad messages JSON: %v", err)
	}

	f, err := tmpl.ToolFormat()
	mustNoErr(t, err)
	if f.Family != "hermes" || len(f.Triggers) == 0 || f.Triggers[0] != "<tool_call>" {
		t.Fatalf("tool format %+v", f)
	}

	r, err := tmpl.ParseReply(`<tool_call>{"name":"f","arguments":{"x":1}}</tool_call>`)
	mustNoErr(t, err)
	if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "f" {
		t.Fatalf("parsed %+v", r)
	}
	var args map[string]int
	mustNoErr(t, json.Unmarshal(r.ToolCalls[0].Arguments, &args))
	if args["x"] != 1 {
		t.Fatalf("arguments %s", r.ToolCalls[0].Arguments)
	}
	required, err := tmpl.ToolCallGrammar([]byte(weatherTool), ToolsRequired)
	mustNoErr(t, err)
	if required.Lazy || required.Root == "" || !strings.Contains(required.Grammar, required.Root+" ::=") {
		t.Fatalf("required tool-call grammar %+v", required)
	}
	optional, err := tmpl.ToolCallGrammar([]byte(weatherTool), 0)
	mustNoErr(t, err)
	if !optional.Lazy || len(optional.Triggers) != 1 || optional.Triggers[0] != "<tool_call>" {
		t.Fatalf("optional tool-call grammar %+v", optional)
	}
	if _, err := tmpl.ToolCallGrammarJSON([]byte(`[{"type": `), 0); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad tools JSON: %v", err)
	}

	plain, err := tmpl.ParseReply("just text")
	mustNoErr(t, err)
	if plain.Content != "just text" || len(plain.ToolCalls) != 0 {
		t.Fatalf("plain reply parsed as %+v", plain)
	}

	// The model's own template path (model set, no text) and a model with a given text.
	m := loadModel(t, kjvModel)
	defer m.Close()
	withModel, err := ChatTemplate{Model: m, Text: hermesTemplate}.ApplyJSON([]byte(msgs), []byte(weatherTool), true)
	mustNoErr(t, err)
	if withModel != out {
		t.Fatalf("with model %q != %q", withModel, out)
	}
}

// requiresGrammar fails the test when the library lacks the grammar functions.
func requiresGrammar(t *testing.T) {
	t.Helper()
	requires(t, "grammar_validate", "sampler_set_grammar", "sampler_set_grammar_lazy", "sampler_accept_prompt")
}

func TestGrammarConstrainsGeneration(t *testing.T) {
	requiresGrammar(t)
	requires(t, "json_schema_to_grammar")
	g, err := JSONSchemaToGrammar([]byte(schemaA))
	mustNoErr(t, err)
	mustNoErr(t, ValidateGrammar(g, ""))
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 256})
	defer c.Close()
	for seed := uint64(1); seed <= 5; seed++ {
		o := DefaultSamplerOptions()
		o.Temperature, o.Seed = 1, seed
		s, err := m.NewSampler(&o)
		mustNoErr(t, err)
		mustNoErr(t, s.SetGrammar(g, "root"))
		mustNoErr(t, c.ClearKV())
		text := genText(t, c, s, promptA, &GenerateOptions{MaxTokens: 128})
		var v map[string]json.RawMessage
		t.Logf("seed %d: %s", seed, text)
		if err := json.Unmarshal([]byte(text), &v); err != nil {
			t.Fatalf("seed %d: %q is not JSON: %v", seed, text, err)
		}
		var a int64
		if len(v) != 1 || json.Unmarshal(v["a"], &a) != nil || strings.ContainsAny(string(v["a"]), ".eE") {
			t.Fatalf("seed %d: %q is not {\"a\": integer}", seed, text)
		}
		if r := c.FinishReason(); r != FinishEOG {
			t.Fatalf("seed %d: finished by %v", seed, r)
		}
		mustNoErr(t, s.Close())
	}
}

// A forced tool call (the grammar of ToolCallGrammar with ToolsRequired) parses back as a call.
func TestToolCallGrammarForcesACall(t *testing.T) {
	requiresGrammar(t)
	requires(t, "chat_tool_call_grammar", "chat_parse_reply")
	tmpl := ChatTemplate{Text: hermesTemplate}
	tool := `[{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
		"properties": {"n": {"type": "integer"}}, "required": ["n"]}}}]`
	g, err := tmpl.ToolCallGrammar([]byte(tool), ToolsRequired)
	mustNoErr(t, err)
	m := loadModel(t, kjvModel)
	defer m.Close()
	c := newCtx(t, m, ContextOptions{NCtx: 640})
	defer c.Close()
	for seed := uint64(1); seed <= 3; seed++ {
		o := DefaultSamplerOptions()
		o.Temperature, o.Seed = 1, seed
		s, err := m.NewSampler(&o)
		mustNoErr(t, err)
		mustNoErr(t, s.SetToolCallGrammar(g))
		mustNoErr(t, c.ClearKV())
		// The grammar bounds the call to about 330 characters (whitespace included), so 512
		// tokens always reach its end, where only end-of-generation is allowed.
		text := genText(t, c, s, promptA, &GenerateOptions{MaxTokens: 512})
		if r := c.FinishReason(); r != FinishEOG {
			t.Fatalf("seed %d: finished by %v: %q", seed, r, text)
		}
		r, err := tmpl.ParseReply(text)
		mustNoErr(t, err)
		var args struct{ N *int64 }
		if len(r.ToolCalls) != 1 || r.ToolCalls[0].Name != "f" || json.Unmarshal(r.ToolCalls[0].Arguments, &args) != nil || args.N == nil {
			t.Fatalf("seed %d: %q parsed as %+v", seed, text, r)
		}
		mustNoErr(t, s.Close())
	}
}

func TestGrammarErrorsAndManualLoop(t *testing.T) {
	requiresGrammar(t)
	bad := "root ::= \"a\" |\nfoo ::= [a-"
	err := ValidateGrammar(bad, "")
	var e *Error
	if !errors.Is(err, ErrInvalidArgument) || !errors.As(err, &e) || !strings.Contains(e.Message, "line ") || !strings.Contains(e.Message, "column") {
		t.Fatalf("bad grammar: %v", err)
	}
	if err := ValidateGrammar(`root ::= other`, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("undefined rule: %v", err)
	}
	mustNoErr(t, ValidateGrammar(`start ::= "yes" | "no"`, "start"))

	m := loadModel(t, kjvModel)
	defer m.Close()
	s, err := m.GreedySampler()
	mustNoErr(t, err)
	defer s.Close()
	if err := s.SetGrammar(bad, ""); !errors.Is(err, ErrInvalidArgument) || !strings.Contains(err.Error(), "line ") {
		t.Fatalf("SetGrammar(bad): %v", err)
	}
	// A manual loop: prompt tokens go to AcceptPrompt (the grammar is not advanced), each
	// chosen token to Accept; the grammar forces "yes" or "no".
	mustNoErr(t, s.SetGrammar(`root ::= "yes" | "no"`, ""))
	c := newCtx(t, m, ContextOptions{NCtx: 128})
	defer c.Close()
	prompt := tokenize(t, m, promptA)
	mustNoErr(t, s.AcceptPrompt(prompt))
	mustNoErr(t, c.Decode(prompt))
	var out []int32
	for i := 0; i < 8; i++ {
		tok, err := s.Choose(c, -1)
		mustNoErr(t, err)
		if m.IsEOG(tok) {
			break
		}
		mustNoErr(t, s.Accept([]int32{tok}))
		out = append(out, tok)
		mustNoErr(t, c.Decode([]int32{tok}))
	}
	text, err := m.Detokenize(out, true)
	mustNoErr(t, err)
	if text != "yes" && text != "no" {
		t.Fatalf("grammar yes|no gave %q", text)
	}
	// Lazy: free text until the trigger; then the grammar applies from the trigger on.
	mustNoErr(t, s.ClearGrammar())
	mustNoErr(t, s.SetGrammarLazy(`root ::= "<call>" [a-z]+ "</call>"`, "", []string{"<call>"}, nil))
	requires(t, "sampler_set_grammar_lazy_patterns")
	mustNoErr(t, s.SetGrammarLazyPatterns(`root ::= "<call>" [a-z]+ "</call>"`, "", []string{`^\s*(<call>)`}, nil))
	if err := s.SetGrammarLazyPatterns(`root ::= "x"`, "", []string{"(unclosed"}, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("bad pattern: %v", err)
	}
	// A lazy tool-call grammar goes in through SetGrammarLazy.
	requires(t, "chat_tool_call_grammar")
	g, err := ChatTemplate{Text: hermesTemplate}.ToolCallGrammar([]byte(weatherTool), 0)
	mustNoErr(t, err)
	mustNoErr(t, s.SetToolCallGrammar(g))
	if err := s.SetGrammarLazy(bad, "", []string{"x"}, []int32{m.EOS()}); !errors.Is(err, ErrInvalidArgument) {
		t.Fatalf("SetGrammarLazy(bad): %v", err)
	}
}
