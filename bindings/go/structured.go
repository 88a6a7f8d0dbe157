package llamas

// Structured output and tool calling (API 0.2): JSON Schema to GBNF, chat templates rendered
// from OpenAI-format JSON with tools, replies split into content and tool calls, the template's
// tool-call format, and GBNF grammars in the sampler. Like the rest of api02.go, each call checks
// that the loaded library has its function (ErrUnsupported naming the symbol otherwise).

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"encoding/json"
	"unsafe"
)

// ---- JSON Schema --------------------------------------------------------------------------

// JSONSchemaToGrammar converts a JSON Schema (JSON text) into a GBNF grammar (start rule
// "root") matching exactly the JSON texts the schema describes. A schema that is not JSON, is
// unsupported, matches nothing or exceeds the converter's bounds is ErrInvalidArgument with the
// reason.
func JSONSchemaToGrammar(schema []byte) (string, error) {
	if err := need("llamas_json_schema_to_grammar"); err != nil {
		return "", err
	}
	cschema := C.CString(string(schema))
	defer C.free(unsafe.Pointer(cschema))
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_json_schema_to_grammar(cschema, buf, capacity, length)
	})
}

// JSONSchemaValueToGrammar is JSONSchemaToGrammar of json.Marshal(schema) (a map, a struct
// with json tags, a json.RawMessage, ...).
func JSONSchemaValueToGrammar(schema any) (string, error) {
	b, err := json.Marshal(schema)
	if err != nil {
		return "", err
	}
	return JSONSchemaToGrammar(b)
}

// ---- chat with tools ----------------------------------------------------------------------

// ChatTemplate picks the template the chat-with-tools calls use: the Model's own template when
// Text is empty, else Text (rendered with the Model's BOS/EOS texts when Model is set, with
// empty ones when it is nil).
type ChatTemplate struct {
	Model *Model
	Text  string
}

// ToolCall is one call of a parsed reply. Arguments is the JSON object of the arguments.
type ToolCall struct {
	Name      string          `json:"name"`
	Arguments json.RawMessage `json:"arguments"`
	ID        string          `json:"id,omitempty"`
}

// ChatReply is a finished assistant reply split into content and tool calls.
type ChatReply struct {
	Content          string     `json:"content"`
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls"`
}

// ToolFormat describes a template family's tool-call format (see llamas_chat_tool_format).
type ToolFormat struct {
	Family         string   `json:"family"` // "hermes", "llama3", "mistral_nemo", "mistral", "generic"
	Lazy           bool     `json:"lazy"`
	Triggers       []string `json:"triggers"`
	TriggerAtStart bool     `json:"trigger_at_start"`
	CallPrefix     string   `json:"call_prefix"`
	CallSuffix     string   `json:"call_suffix"`
	CallSeparator  string   `json:"call_separator"`
	Body           string   `json:"body"` // "object" or "name_args"
	ArgumentsKey   string   `json:"arguments_key"`
	ArgsMarker     string   `json:"args_marker"`
	IDKey          string   `json:"id_key"`
	IDPattern      string   `json:"id_pattern"`
	Parallel       bool     `json:"parallel"`
	Thinking       bool     `json:"thinking"`
}

// args returns the C model (or NULL) and template text (or NULL; free it with the function).
func (t ChatTemplate) args() (*C.llamas_model, *C.char, func()) {
	var m *C.llamas_model
	if t.Model != nil {
		m = t.Model.handle()
	}
	if t.Text == "" {
		return m, nil, func() {}
	}
	text := C.CString(t.Text)
	return m, text, func() { C.free(unsafe.Pointer(text)) }
}

// ApplyJSON renders an OpenAI-format conversation: messagesJSON is an array of {"role",
// "content", "tool_calls"?, "tool_call_id"?, "name"?}, toolsJSON nil or an array of OpenAI tools.
// Invalid JSON, a wrong shape, or a conversation the template rejects is ErrInvalidArgument.
func (t ChatTemplate) ApplyJSON(messagesJSON, toolsJSON []byte, addGenerationPrompt bool) (string, error) {
	if err := need("llamas_chat_apply_template_json"); err != nil {
		return "", err
	}
	m, text, free := t.args()
	defer free()
	msgs := C.CString(string(messagesJSON))
	defer C.free(unsafe.Pointer(msgs))
	var tools *C.char
	if toolsJSON != nil {
		tools = C.CString(string(toolsJSON))
		defer C.free(unsafe.Pointer(tools))
	}
	return readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_apply_template_json(m, text, msgs, tools, cBool(addGenerationPrompt), buf, capacity, length)
	})
}

// Apply is ApplyJSON of json.Marshal(messages) and json.Marshal(tools) (tools nil: none).
func (t ChatTemplate) Apply(messages, tools any, addGenerationPrompt bool) (string, error) {
	mj, err := json.Marshal(messages)
	if err != nil {
		return "", err
	}
	var tj []byte
	if tools != nil {
		if tj, err = json.Marshal(tools); err != nil {
			return "", err
		}
	}
	return t.ApplyJSON(mj, tj, addGenerationPrompt)
}

// ParseReplyJSON splits a finished reply into content and tool calls, as the library's JSON:
// {"content", "reasoning_content"?, "tool_calls": [{"name", "arguments", "id"?}]}.
func (t ChatTemplate) ParseReplyJSON(reply string) ([]byte, error) {
	if err := need("llamas_chat_parse_reply"); err != nil {
		return nil, err
	}
	m, text, free := t.args()
	defer free()
	creply := C.CString(reply)
	defer C.free(unsafe.Pointer(creply))
	out, err := readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_parse_reply(m, text, creply, buf, capacity, length)
	})
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// ParseReply is ParseReplyJSON decoded into a ChatReply.
func (t ChatTemplate) ParseReply(reply string) (*ChatReply, error) {
	b, err := t.ParseReplyJSON(reply)
	if err != nil {
		return nil, err
	}
	var r ChatReply
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// ToolFormatJSON describes the template's tool-call format as the library's JSON.
func (t ChatTemplate) ToolFormatJSON() ([]byte, error) {
	if err := need("llamas_chat_tool_format"); err != nil {
		return nil, err
	}
	m, text, free := t.args()
	defer free()
	out, err := readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_tool_format(m, text, buf, capacity, length)
	})
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// ToolFormat is ToolFormatJSON decoded into a ToolFormat.
func (t ChatTemplate) ToolFormat() (*ToolFormat, error) {
	b, err := t.ToolFormatJSON()
	if err != nil {
		return nil, err
	}
	var f ToolFormat
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// ToolsFlags are the flags of ToolCallGrammar.
type ToolsFlags int

const (
	// ToolsRequired: the reply must be a call (a grammar from the first token).
	ToolsRequired ToolsFlags = C.LLAMAS_TOOLS_REQUIRED
	// ToolsParallel: several calls in one reply, where the format allows it.
	ToolsParallel ToolsFlags = C.LLAMAS_TOOLS_PARALLEL
)

// ToolCallGrammar is a grammar that makes the reply a tool call in the template's format: give
// it to Sampler.SetToolCallGrammar (SetGrammar, or SetGrammarLazy with the triggers when Lazy).
type ToolCallGrammar struct {
	Grammar  string   `json:"grammar"`
	Root     string   `json:"root"`
	Lazy     bool     `json:"lazy"`
	Triggers []string `json:"triggers"`
}

// ToolCallGrammarJSON builds, for toolsJSON (an array of OpenAI tools; one tool forces that
// tool), the library's JSON {"grammar", "root", "lazy", "triggers"}.
func (t ChatTemplate) ToolCallGrammarJSON(toolsJSON []byte, flags ToolsFlags) ([]byte, error) {
	if err := need("llamas_chat_tool_call_grammar"); err != nil {
		return nil, err
	}
	m, text, free := t.args()
	defer free()
	tools := C.CString(string(toolsJSON))
	defer C.free(unsafe.Pointer(tools))
	out, err := readText(func(buf *C.char, capacity C.size_t, length *C.size_t) C.llamas_status {
		return C.lgo_chat_tool_call_grammar(m, text, tools, C.int(flags), buf, capacity, length)
	})
	if err != nil {
		return nil, err
	}
	return []byte(out), nil
}

// ToolCallGrammar is ToolCallGrammarJSON decoded.
func (t ChatTemplate) ToolCallGrammar(toolsJSON []byte, flags ToolsFlags) (*ToolCallGrammar, error) {
	b, err := t.ToolCallGrammarJSON(toolsJSON, flags)
	if err != nil {
		return nil, err
	}
	var g ToolCallGrammar
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, err
	}
	return &g, nil
}

// SetToolCallGrammar installs g: SetGrammar, or SetGrammarLazy with its triggers when g.Lazy.
func (s *Sampler) SetToolCallGrammar(g *ToolCallGrammar) error {
	if g.Lazy {
		return s.SetGrammarLazy(g.Grammar, g.Root, g.Triggers, nil)
	}
	return s.SetGrammar(g.Grammar, g.Root)
}

// ---- grammars -----------------------------------------------------------------------------

// cOptString is NULL for "" (the library's default), else a C copy; free it with C.free.
func cOptString(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// ValidateGrammar checks a GBNF grammar without a model (root "": "root"). A bad grammar is
// ErrInvalidArgument with "line L, column C: ..." in the message.
func ValidateGrammar(gbnf, root string) error {
	if err := need("llamas_grammar_validate"); err != nil {
		return err
	}
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	cr := cOptString(root)
	defer C.free(unsafe.Pointer(cr))
	return call(func() C.llamas_status { return C.lgo_grammar_validate(cg, cr) })
}

// SetGrammar constrains the sampler's choices to texts the GBNF grammar matches from rule root
// ("": "root"). Accept (and Sample, Generate) advance it, Reset restarts it. A bad grammar is
// ErrInvalidArgument with the line and column; a choose where no token is allowed fails with
// ErrInvalidArgument.
func (s *Sampler) SetGrammar(gbnf, root string) error {
	if err := need("llamas_sampler_set_grammar"); err != nil {
		return err
	}
	if s.ptr == nil {
		return ErrClosed
	}
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	cr := cOptString(root)
	defer C.free(unsafe.Pointer(cr))
	return call(func() C.llamas_status { return C.lgo_sampler_set_grammar(s.ptr, cg, cr) })
}

// ClearGrammar removes the sampler's grammar.
func (s *Sampler) ClearGrammar() error {
	if err := need("llamas_sampler_set_grammar"); err != nil {
		return err
	}
	if s.ptr == nil {
		return ErrClosed
	}
	return call(func() C.llamas_status { return C.lgo_sampler_set_grammar(s.ptr, nil, nil) })
}

// SetGrammarLazy sets a grammar that applies only once one of triggerWords appears in the
// accepted generated text or one of triggerTokens is accepted (from the trigger on).
func (s *Sampler) SetGrammarLazy(gbnf, root string, triggerWords []string, triggerTokens []int32) error {
	if err := need("llamas_sampler_set_grammar_lazy"); err != nil {
		return err
	}
	if s.ptr == nil {
		return ErrClosed
	}
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	cr := cOptString(root)
	defer C.free(unsafe.Pointer(cr))
	words, freeWords := cStrings(triggerWords)
	defer freeWords()
	toks := cTokens(triggerTokens)
	defer C.free(unsafe.Pointer(toks))
	return call(func() C.llamas_status {
		return C.lgo_sampler_set_grammar_lazy(s.ptr, cg, cr, words, C.size_t(len(triggerWords)), toks, C.size_t(len(triggerTokens)))
	})
}

// SetGrammarLazyPatterns sets a lazy grammar triggered by regular expressions (llama.cpp's
// trigger patterns: searched in all generated text, or matched whole when ^...$; the grammar
// starts at the first non-empty capture group) or by one of triggerTokens.
func (s *Sampler) SetGrammarLazyPatterns(gbnf, root string, triggerPatterns []string, triggerTokens []int32) error {
	if err := need("llamas_sampler_set_grammar_lazy_patterns"); err != nil {
		return err
	}
	if s.ptr == nil {
		return ErrClosed
	}
	cg := C.CString(gbnf)
	defer C.free(unsafe.Pointer(cg))
	cr := cOptString(root)
	defer C.free(unsafe.Pointer(cr))
	patterns, freePatterns := cStrings(triggerPatterns)
	defer freePatterns()
	toks := cTokens(triggerTokens)
	defer C.free(unsafe.Pointer(toks))
	return call(func() C.llamas_status {
		return C.lgo_sampler_set_grammar_lazy_patterns(s.ptr, cg, cr, patterns, C.size_t(len(triggerPatterns)), toks, C.size_t(len(triggerTokens)))
	})
}

// AcceptPrompt records prompt tokens in the penalty window only (a grammar is not advanced).
func (s *Sampler) AcceptPrompt(tokens []int32) error {
	if err := need("llamas_sampler_accept_prompt"); err != nil {
		return err
	}
	ctoks := cTokens(tokens)
	defer C.free(unsafe.Pointer(ctoks))
	return call(func() C.llamas_status { return C.lgo_sampler_accept_prompt(s.ptr, ctoks, C.size_t(len(tokens))) })
}
