//! Structured output and tool calling (API 0.2): JSON Schema to GBNF, chat templates rendered
//! from OpenAI-format JSON with tools, replies split into content and tool calls, the template's
//! tool-call format, and GBNF grammars in the sampler. JSON goes in and out as text (`&str` /
//! `String`): the crate has no dependencies, so bring the JSON library you like.

use std::ffi::{c_char, c_int, CString};
use std::ptr;

use crate::{api, c_string, check, read_text, Error, ErrorKind, Model, Result, Sampler, Token};

fn opt_c_string(s: Option<&str>) -> Result<Option<CString>> {
    s.map(c_string).transpose()
}

fn opt_ptr(s: &Option<CString>) -> *const c_char {
    s.as_ref().map_or(ptr::null(), |c| c.as_ptr())
}

/// Converts a JSON Schema (JSON text) into a GBNF grammar (start rule `root`) that matches
/// exactly the JSON texts the schema describes. Text that is not JSON and schemas that are
/// unsupported, match nothing or exceed the converter's bounds are `ErrorKind::InvalidArgument`
/// with the reason.
pub fn json_schema_to_grammar(schema_json: &str) -> Result<String> {
    let api = api()?;
    let f = api02!(api, llamas_json_schema_to_grammar)?;
    let schema = c_string(schema_json)?;
    read_text(api, |buf, cap, len| unsafe { f(schema.as_ptr(), buf, cap, len) })
}

/// Checks a GBNF grammar without a model (`root` None: "root"). A bad grammar is
/// `ErrorKind::InvalidArgument` with "line L, column C: ..." in the message.
pub fn grammar_validate(gbnf: &str, root: Option<&str>) -> Result<()> {
    let api = api()?;
    let f = api02!(api, llamas_grammar_validate)?;
    let g = c_string(gbnf)?;
    let r = opt_c_string(root)?;
    unsafe { check(api, f(g.as_ptr(), opt_ptr(&r))) }
}

/// Renders an OpenAI-format conversation with tools. `model`: whose template (when `template` is
/// None) and BOS/EOS texts to use; `template`: a template text (then `model` may be None).
/// `messages_json` is an array of `{"role", "content", "tool_calls"?, "tool_call_id"?, "name"?}`,
/// `tools_json` None or an array of OpenAI tools. Invalid JSON, a wrong shape, or a conversation
/// the template rejects is `ErrorKind::InvalidArgument`.
pub fn apply_chat_template_json(
    model: Option<&Model>,
    template: Option<&str>,
    messages_json: &str,
    tools_json: Option<&str>,
    add_generation_prompt: bool,
) -> Result<String> {
    let api = api()?;
    let f = api02!(api, llamas_chat_apply_template_json)?;
    let t = opt_c_string(template)?;
    let msgs = c_string(messages_json)?;
    let tools = opt_c_string(tools_json)?;
    let m = model.map_or(ptr::null(), |m| m.raw());
    read_text(api, |buf, cap, len| unsafe {
        f(m, opt_ptr(&t), msgs.as_ptr(), opt_ptr(&tools), add_generation_prompt as c_int, buf, cap, len)
    })
}

/// Splits a finished assistant reply into content and tool calls, in the call format of the
/// template's family. Returns JSON: `{"content", "reasoning_content"?, "tool_calls": [{"name",
/// "arguments", "id"?}]}`. `model` / `template` as in [`apply_chat_template_json`].
pub fn parse_chat_reply(model: Option<&Model>, template: Option<&str>, reply: &str) -> Result<String> {
    let api = api()?;
    let f = api02!(api, llamas_chat_parse_reply)?;
    let t = opt_c_string(template)?;
    let r = c_string(reply)?;
    let m = model.map_or(ptr::null(), |m| m.raw());
    read_text(api, |buf, cap, len| unsafe { f(m, opt_ptr(&t), r.as_ptr(), buf, cap, len) })
}

/// The template family's tool-call format as JSON (`{"family", "lazy", "triggers", ...}`, see
/// `llamas_chat_tool_format` in llamas.h). `model` / `template` as in
/// [`apply_chat_template_json`].
pub fn chat_tool_format(model: Option<&Model>, template: Option<&str>) -> Result<String> {
    let api = api()?;
    let f = api02!(api, llamas_chat_tool_format)?;
    let t = opt_c_string(template)?;
    let m = model.map_or(ptr::null(), |m| m.raw());
    read_text(api, |buf, cap, len| unsafe { f(m, opt_ptr(&t), buf, cap, len) })
}

/// `chat_tool_call_grammar` flag: the reply must be a call (a grammar from the first token).
pub const TOOLS_REQUIRED: u32 = 1;
/// `chat_tool_call_grammar` flag: several calls in one reply, where the format allows it.
pub const TOOLS_PARALLEL: u32 = 2;

/// A GBNF grammar that makes the reply a tool call in the template's format, with each call's
/// arguments following its tool's `parameters` (`tools_json`: an array of OpenAI tools; one
/// tool forces that tool). `flags`: [`TOOLS_REQUIRED`], [`TOOLS_PARALLEL`]. Returns JSON
/// `{"grammar", "root", "lazy", "triggers"}`: give it to [`Sampler::set_grammar`], or when lazy
/// to [`Sampler::set_grammar_lazy`] with the triggers. `model` / `template` as in
/// [`apply_chat_template_json`].
pub fn chat_tool_call_grammar(model: Option<&Model>, template: Option<&str>, tools_json: &str, flags: u32) -> Result<String> {
    let api = api()?;
    let f = api02!(api, llamas_chat_tool_call_grammar)?;
    let t = opt_c_string(template)?;
    let tools = c_string(tools_json)?;
    let m = model.map_or(ptr::null(), |m| m.raw());
    read_text(api, |buf, cap, len| unsafe { f(m, opt_ptr(&t), tools.as_ptr(), flags as c_int, buf, cap, len) })
}

impl Model {
    /// [`chat_tool_call_grammar`] with this model's template (or `template`).
    pub fn chat_tool_call_grammar(&self, template: Option<&str>, tools_json: &str, flags: u32) -> Result<String> {
        chat_tool_call_grammar(Some(self), template, tools_json, flags)
    }

    /// [`apply_chat_template_json`] with this model's template (or `template`).
    pub fn apply_chat_template_json(
        &self,
        template: Option<&str>,
        messages_json: &str,
        tools_json: Option<&str>,
        add_generation_prompt: bool,
    ) -> Result<String> {
        apply_chat_template_json(Some(self), template, messages_json, tools_json, add_generation_prompt)
    }
    /// [`parse_chat_reply`] with this model's template (or `template`).
    pub fn parse_chat_reply(&self, template: Option<&str>, reply: &str) -> Result<String> {
        parse_chat_reply(Some(self), template, reply)
    }
    /// [`chat_tool_format`] of this model's template (or `template`).
    pub fn chat_tool_format(&self, template: Option<&str>) -> Result<String> {
        chat_tool_format(Some(self), template)
    }
}

impl Sampler<'_> {
    /// Constrains the choices to texts the GBNF grammar matches from rule `root` (None: "root").
    /// `accept` (and `sample`, `generate`) advance it, `reset` restarts it. A bad grammar is
    /// `ErrorKind::InvalidArgument` with the line and column; a choose where no token is allowed
    /// fails with `ErrorKind::InvalidArgument`.
    pub fn set_grammar(&mut self, gbnf: &str, root: Option<&str>) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_set_grammar)?;
        let g = c_string(gbnf)?;
        let r = opt_c_string(root)?;
        unsafe { check(self.api, f(self.ptr.as_ptr(), g.as_ptr(), opt_ptr(&r))) }
    }

    /// Removes the grammar.
    pub fn clear_grammar(&mut self) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_set_grammar)?;
        unsafe { check(self.api, f(self.ptr.as_ptr(), ptr::null(), ptr::null())) }
    }

    /// A lazy grammar: choices are free until one of `trigger_words` appears in the accepted
    /// generated text or one of `trigger_tokens` is accepted; from then on the grammar applies.
    pub fn set_grammar_lazy(
        &mut self,
        gbnf: &str,
        root: Option<&str>,
        trigger_words: &[&str],
        trigger_tokens: &[Token],
    ) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_set_grammar_lazy)?;
        let g = c_string(gbnf)?;
        let r = opt_c_string(root)?;
        let words = trigger_words.iter().map(|w| c_string(w)).collect::<Result<Vec<_>>>()?;
        let word_ptrs: Vec<*const c_char> = words.iter().map(|w| w.as_ptr()).collect();
        unsafe {
            check(
                self.api,
                f(
                    self.ptr.as_ptr(),
                    g.as_ptr(),
                    opt_ptr(&r),
                    word_ptrs.as_ptr(),
                    word_ptrs.len(),
                    trigger_tokens.as_ptr(),
                    trigger_tokens.len(),
                ),
            )
        }
    }

    /// A lazy grammar triggered by regular expressions (llama.cpp's trigger patterns: searched in
    /// all generated text, or matched whole when `^...$`; the grammar starts at the first
    /// non-empty capture group) or by one of `trigger_tokens`.
    pub fn set_grammar_lazy_patterns(
        &mut self,
        gbnf: &str,
        root: Option<&str>,
        trigger_patterns: &[&str],
        trigger_tokens: &[Token],
    ) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_set_grammar_lazy_patterns)?;
        let g = c_string(gbnf)?;
        let r = opt_c_string(root)?;
        let patterns = trigger_patterns.iter().map(|p| c_string(p)).collect::<Result<Vec<_>>>()?;
        let pattern_ptrs: Vec<*const c_char> = patterns.iter().map(|p| p.as_ptr()).collect();
        unsafe {
            check(
                self.api,
                f(
                    self.ptr.as_ptr(),
                    g.as_ptr(),
                    opt_ptr(&r),
                    pattern_ptrs.as_ptr(),
                    pattern_ptrs.len(),
                    trigger_tokens.as_ptr(),
                    trigger_tokens.len(),
                ),
            )
        }
    }

    /// Records prompt tokens in the penalty window only (a grammar is not advanced).
    pub fn accept_prompt(&mut self, tokens: &[Token]) -> Result<()> {
        let f = api02!(self.api, llamas_sampler_accept_prompt)?;
        unsafe { check(self.api, f(self.ptr.as_ptr(), tokens.as_ptr(), tokens.len())) }
    }
}
