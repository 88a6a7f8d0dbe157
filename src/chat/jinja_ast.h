// Syntax tree of a parsed Jinja template (the subset chat templates use).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "chat/jinja_value.h"

namespace llamas::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
    enum class Kind {
        Literal,  // literal
        Name,     // name
        Attr,     // args[0].name
        Item,     // args[0][args[1]]
        Slice,    // args[0][args[1]:args[2]:args[3]] (missing parts are null)
        Call,     // args[0](args[1..], kwargs)
        Filter,   // args[0] | name(args[1..], kwargs)
        Test,     // args[0] is [not] name(args[1..])
        Neg, Pos, Not,  // unary on args[0]
        Binary,   // args[0] name args[1]; name in + - * / // % ** ~
        And, Or,  // args[0], args[1]
        Compare,  // args[0] ops[0] args[1] ops[1] args[2] ...; ops in == != < > <= >= in notin
        Cond,     // args[1] if args[0] else args[2] (args[2] may be null)
        List, Tuple,
        Dict,     // args = key0, value0, key1, value1, ...
    };
    Kind kind;
    int line = 0;
    Value literal;
    std::string name;
    std::vector<ExprPtr> args;
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    std::vector<std::string> ops;
    bool negated = false;
    int depth = 1;  // height of this subtree (bounded by ParseOptions::max_depth)
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Stmt {
    enum class Kind {
        Text,      // text
        Output,    // {{ expr }}
        If,        // branches (cond, body); else_body
        For,       // for targets in expr [if filter]: body [else: else_body]
        Set,       // set targets = expr, or set targets[0].attr = expr
        SetBlock,  // {% set targets[0] [| filters] %}body{% endset %}; expr: the filters, or null
        Macro,     // macro name(params): body
        Break,
        Continue,
        Block,     // a body run in place ({% generation %}, ...)
        Filter,    // {% filter f %}body{% endfilter %}: expr applies filters to kBlockVariable
    };
    Kind kind;
    int line = 0;
    std::string text;
    ExprPtr expr;
    std::vector<std::pair<ExprPtr, Body>> branches;
    Body body, else_body;
    std::vector<std::string> targets;
    std::string attr;  // Set: the attribute of targets[0] being assigned, if any
    ExprPtr filter;
    std::string name;
    std::vector<std::pair<std::string, ExprPtr>> params;
};

// The variable that holds a captured block's text while a {% filter %} or a filtered
// {% set x | f %} block applies its filters (a name no template can write).
inline constexpr const char* kBlockVariable = "\x01block";

struct Template {
    Body body;
};

struct ParseOptions {
    bool trim_blocks = true;    // as Hugging Face renders chat templates
    bool lstrip_blocks = true;
    int max_depth = 100;        // nesting of blocks and expressions
};

// Throws Error(bad_format) on syntax errors, Error(unsupported) on constructs this
// interpreter does not implement, naming them.
std::unique_ptr<Template> parse(std::string_view source, const ParseOptions& opts = {});

}  // namespace llamas::jinja
