// Renames every rule of a GBNF text by prefixing its name, so that grammars made separately
// (one JSON Schema conversion per tool, each with its own `root`, `space`, ...) can live in one
// grammar without clashing. Only names change: string literals, character classes, repetition
// counts, token references and comments are copied as they are.
#include "grammar/gbnf.h"

namespace llamas::grammar {

namespace {

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'; }

// Copies text[i] up to and including the unescaped `close`; returns the index after it.
size_t copy_quoted(const std::string& text, size_t i, char close, std::string& out) {
    out += text[i++];
    while (i < text.size() && text[i] != close) {
        if (text[i] == '\\' && i + 1 < text.size()) out += text[i++];
        out += text[i++];
    }
    if (i < text.size()) out += text[i++];
    return i;
}

}  // namespace

std::string prefix_rule_names(const std::string& text, const std::string& prefix) {
    std::string out;
    out.reserve(text.size() + text.size() / 8);
    size_t i = 0;
    while (i < text.size()) {
        const char c = text[i];
        if (c == '"') {
            i = copy_quoted(text, i, '"', out);
        } else if (c == '[') {
            i = copy_quoted(text, i, ']', out);
        } else if (c == '<') {  // a token reference: <[id]> or <text>
            i = copy_quoted(text, i, '>', out);
        } else if (c == '{') {  // {m,n}: digits, not names
            while (i < text.size() && text[i] != '}') out += text[i++];
        } else if (c == '#') {
            while (i < text.size() && text[i] != '\n') out += text[i++];
        } else if (is_name_char(c)) {
            out += prefix;
            while (i < text.size() && is_name_char(text[i])) out += text[i++];
        } else {
            out += text[i++];
        }
    }
    return out;
}

}  // namespace llamas::grammar
