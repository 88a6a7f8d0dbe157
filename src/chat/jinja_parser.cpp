// Lexer and recursive-descent parser for the Jinja subset. Precedence follows Jinja2's parser:
// conditional < or < and < not < comparison < + - < ~ < * / // % < ** < unary < filters/tests
// < postfix (.attr, [item], call).
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "chat/jinja_ast.h"
#include "util/error.h"
#include "util/utf8.h"

namespace llamas::jinja {

namespace {

enum class Tok { Text, ExprBegin, ExprEnd, StmtBegin, StmtEnd, Name, String, Int, Float, Op, Eof };

struct Token {
    Tok kind;
    std::string text;
    int64_t i = 0;
    double f = 0;
    int line = 0;
};

bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

class Lexer {
public:
    Lexer(std::string_view src, const ParseOptions& opts) : src_(src), opts_(opts) {}

    std::vector<Token> run() {
        size_t pos = 0;
        bool strip_next = false;    // previous tag ended with '-'
        bool after_block = false;   // previous tag was a block or comment (trim_blocks)
        while (pos < src_.size()) {
            const size_t tag = find_tag(pos);
            std::string_view raw = src_.substr(pos, tag - pos);
            std::string text(raw);
            if (strip_next) {
                size_t k = 0;
                while (k < text.size() && is_space(text[k])) ++k;
                text.erase(0, k);
            } else if (after_block && opts_.trim_blocks) {
                if (text.compare(0, 1, "\n") == 0) text.erase(0, 1);
                else if (text.compare(0, 2, "\r\n") == 0) text.erase(0, 2);
            }
            if (tag < src_.size()) {
                const char kind = src_[tag + 1];
                const char mod = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
                if (mod == '-') {
                    while (!text.empty() && is_space(text.back())) text.pop_back();
                } else if (kind != '{' && mod != '+' && opts_.lstrip_blocks) {
                    lstrip_line(text, raw, pos);
                }
            }
            count_lines(raw);
            if (!text.empty()) tokens_.push_back(Token{Tok::Text, std::move(text), 0, 0, line_at_text_});
            if (tag >= src_.size()) break;
            pos = lex_tag(tag, strip_next, after_block);
        }
        tokens_.push_back(Token{Tok::Eof, "", 0, 0, line_});
        return std::move(tokens_);
    }

private:
    size_t find_tag(size_t pos) const {
        while (true) {
            const size_t p = src_.find('{', pos);
            if (p == std::string_view::npos || p + 1 >= src_.size()) return src_.size();
            const char c = src_[p + 1];
            if (c == '{' || c == '%' || c == '#') return p;
            pos = p + 1;
        }
    }

    // lstrip_blocks: spaces and tabs between the start of a line and a block tag go away.
    void lstrip_line(std::string& text, std::string_view raw, size_t raw_pos) const {
        const size_t nl = raw.find_last_of('\n');
        const size_t from = nl == std::string_view::npos ? 0 : nl + 1;
        const bool at_line_start = nl != std::string_view::npos || raw_pos == 0 || src_[raw_pos - 1] == '\n';
        if (!at_line_start) return;
        for (size_t k = from; k < raw.size(); ++k) {
            if (raw[k] != ' ' && raw[k] != '\t') return;
        }
        const size_t n = raw.size() - from;
        if (text.size() >= n) text.erase(text.size() - n);
    }

    void count_lines(std::string_view s) {
        line_at_text_ = line_;
        for (char c : s) line_ += c == '\n';
    }

    [[noreturn]] void error(const char* what) const {
        fail(Status::bad_format, "chat template: line %d: %s", line_, what);
    }

    // Lexes one {{ }}, {% %} or {# #} starting at `tag`; returns the position after it.
    size_t lex_tag(size_t tag, bool& strip_next, bool& after_block) {
        const char kind = src_[tag + 1];
        size_t pos = tag + 2;
        if (pos < src_.size() && (src_[pos] == '-' || src_[pos] == '+')) ++pos;
        if (kind == '#') {
            const size_t end = src_.find("#}", pos);
            if (end == std::string_view::npos) error("unterminated comment");
            count_lines(src_.substr(tag, end - tag));
            strip_next = end > pos && src_[end - 1] == '-';
            after_block = true;
            return end + 2;
        }
        const bool is_expr = kind == '{';
        tokens_.push_back(Token{is_expr ? Tok::ExprBegin : Tok::StmtBegin, "", 0, 0, line_});
        const size_t first_token = tokens_.size();
        int brackets = 0;
        while (true) {
            while (pos < src_.size() && is_space(src_[pos])) {
                line_ += src_[pos] == '\n';
                ++pos;
            }
            if (pos >= src_.size()) error(is_expr ? "unterminated {{" : "unterminated {%");
            // Closing delimiter, optionally with '-' or '+'; like Jinja's lexer, only outside
            // open brackets, so {'a': {'b': 1}} inside {{ }} works.
            const char* closer = is_expr ? "}}" : "%}";
            if (brackets == 0 && (src_[pos] == '-' || src_[pos] == '+') && src_.compare(pos + 1, 2, closer) == 0) {
                strip_next = src_[pos] == '-';
                pos += 3;
                break;
            }
            if (brackets == 0 && src_.compare(pos, 2, closer) == 0) {
                strip_next = false;
                pos += 2;
                break;
            }
            pos = lex_token(pos);
            const Token& last = tokens_.back();
            if (last.kind == Tok::Op) {
                if (last.text == "(" || last.text == "[" || last.text == "{") ++brackets;
                if ((last.text == ")" || last.text == "]" || last.text == "}") && brackets > 0) --brackets;
            }
        }
        tokens_.push_back(Token{is_expr ? Tok::ExprEnd : Tok::StmtEnd, "", 0, 0, line_});
        after_block = !is_expr;
        // {% raw %} ... {% endraw %}: the text in between is literal.
        if (!is_expr && tokens_.size() == first_token + 2 && tokens_[first_token].kind == Tok::Name &&
            tokens_[first_token].text == "raw") {
            tokens_.resize(first_token - 1);
            size_t search = pos;
            while (true) {
                const size_t p = src_.find("{%", search);
                if (p == std::string_view::npos) error("unterminated {% raw %}");
                size_t q = p + 2;
                if (q < src_.size() && (src_[q] == '-' || src_[q] == '+')) ++q;
                while (q < src_.size() && is_space(src_[q])) ++q;
                if (src_.compare(q, 6, "endraw") == 0) {
                    std::string text(src_.substr(pos, p - pos));
                    if (strip_next) {
                        size_t k = 0;
                        while (k < text.size() && is_space(text[k])) ++k;
                        text.erase(0, k);
                    }
                    if (src_[p + 2] == '-') {
                        while (!text.empty() && is_space(text.back())) text.pop_back();
                    }
                    count_lines(text);
                    if (!text.empty()) tokens_.push_back(Token{Tok::Text, text, 0, 0, line_});
                    const size_t end = src_.find("%}", q);
                    if (end == std::string_view::npos) error("unterminated {% endraw %}");
                    strip_next = src_[end - 1] == '-';
                    return end + 2;
                }
                search = p + 2;
            }
        }
        return pos;
    }

    size_t lex_token(size_t pos) {
        const char c = src_[pos];
        if (is_name_start(c)) {
            size_t e = pos;
            while (e < src_.size() && is_name_char(src_[e])) ++e;
            tokens_.push_back(Token{Tok::Name, std::string(src_.substr(pos, e - pos)), 0, 0, line_});
            return e;
        }
        if (std::isdigit(static_cast<unsigned char>(c))) return lex_number(pos);
        if (c == '\'' || c == '"') return lex_string(pos);
        static const char* const two[] = {"**", "//", "==", "!=", "<=", ">="};
        for (const char* op : two) {
            if (src_.compare(pos, 2, op) == 0) {
                tokens_.push_back(Token{Tok::Op, op, 0, 0, line_});
                return pos + 2;
            }
        }
        if (std::strchr("+-*/%~<>=()[]{},.:|", c)) {
            tokens_.push_back(Token{Tok::Op, std::string(1, c), 0, 0, line_});
            return pos + 1;
        }
        char msg[64];
        std::snprintf(msg, sizeof msg, "unexpected character '%c' in a tag", c);
        error(msg);
    }

    size_t lex_number(size_t pos) {
        std::string digits;
        bool is_float = false;
        size_t e = pos;
        auto take_digits = [&] {
            while (e < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[e])) || src_[e] == '_')) {
                if (src_[e] != '_') digits += src_[e];
                ++e;
            }
        };
        take_digits();
        if (e + 1 < src_.size() && src_[e] == '.' && std::isdigit(static_cast<unsigned char>(src_[e + 1]))) {
            is_float = true;
            digits += '.';
            ++e;
            take_digits();
        }
        if (e < src_.size() && (src_[e] == 'e' || src_[e] == 'E')) {
            size_t k = e + 1;
            if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
            if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
                is_float = true;
                digits += src_.substr(e, k - e);
                e = k;
                take_digits();
            }
        }
        Token t{is_float ? Tok::Float : Tok::Int, digits, 0, 0, line_};
        if (is_float) {
            t.f = std::strtod(digits.c_str(), nullptr);
        } else {
            errno = 0;
            t.i = static_cast<int64_t>(std::strtoll(digits.c_str(), nullptr, 10));
            if (errno == ERANGE) error("integer literal out of range");
        }
        tokens_.push_back(std::move(t));
        return e;
    }

    size_t lex_string(size_t pos) {
        const char q = src_[pos];
        std::string out;
        size_t e = pos + 1;
        while (true) {
            if (e >= src_.size()) error("unterminated string literal");
            const char c = src_[e];
            if (c == q) break;
            if (c == '\n') ++line_;
            if (c != '\\' || e + 1 >= src_.size()) {
                out += c;
                ++e;
                continue;
            }
            const char n = src_[e + 1];
            e += 2;
            switch (n) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'v': out += '\v'; break;
                case '0': out += '\0'; break;
                case '\\': out += '\\'; break;
                case '\'': out += '\''; break;
                case '"': out += '"'; break;
                case '\n': break;  // line continuation
                case 'x':
                case 'u':
                case 'U': {
                    const size_t len = n == 'x' ? 2 : n == 'u' ? 4 : 8;
                    if (e + len > src_.size()) error("truncated escape in string literal");
                    uint32_t cp = 0;
                    for (size_t k = 0; k < len; ++k) {
                        const char h = src_[e + k];
                        if (!std::isxdigit(static_cast<unsigned char>(h))) error("bad hex escape in string literal");
                        cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h)) ? h - '0' : (std::tolower(h) - 'a' + 10));
                    }
                    if (cp > 0x10FFFF) error("escape beyond U+10FFFF");
                    append_utf8(out, cp);
                    e += len;
                    break;
                }
                default:
                    out += '\\';
                    out += n;
            }
        }
        tokens_.push_back(Token{Tok::String, std::move(out), 0, 0, line_});
        return e + 1;
    }

    std::string_view src_;
    const ParseOptions& opts_;
    std::vector<Token> tokens_;
    int line_ = 1;
    int line_at_text_ = 1;
};

class Parser {
public:
    Parser(std::vector<Token> toks, const ParseOptions& opts) : t_(std::move(toks)), opts_(opts) {}

    std::unique_ptr<Template> run() {
        auto tmpl = std::make_unique<Template>();
        std::string end;
        tmpl->body = parse_body({}, end);
        return tmpl;
    }

private:
    struct DepthGuard {
        Parser& p;
        explicit DepthGuard(Parser& parser) : p(parser) {
            if (++p.depth_ > p.opts_.max_depth) p.error("template nested too deeply");
        }
        ~DepthGuard() { --p.depth_; }
    };

    const Token& peek(size_t ahead = 0) const { return t_[std::min(pos_ + ahead, t_.size() - 1)]; }
    const Token& next() {
        const Token& t = t_[pos_];
        if (pos_ + 1 < t_.size()) ++pos_;
        return t;
    }
    bool is_op(const char* op, size_t ahead = 0) const {
        const Token& t = peek(ahead);
        return t.kind == Tok::Op && t.text == op;
    }
    bool is_name(const char* name, size_t ahead = 0) const {
        const Token& t = peek(ahead);
        return t.kind == Tok::Name && t.text == name;
    }
    bool accept_op(const char* op) {
        if (!is_op(op)) return false;
        next();
        return true;
    }
    bool accept_name(const char* name) {
        if (!is_name(name)) return false;
        next();
        return true;
    }
    void expect_op(const char* op) {
        if (!accept_op(op)) {
            std::string msg = std::string("expected '") + op + "'" + found();
            error(msg.c_str());
        }
    }
    void expect(Tok kind, const char* what) {
        if (peek().kind != kind) {
            std::string msg = std::string("expected ") + what + found();
            error(msg.c_str());
        }
        next();
    }
    std::string expect_name() {
        if (peek().kind != Tok::Name) {
            std::string msg = "expected a name" + found();
            error(msg.c_str());
        }
        return next().text;
    }
    std::string found() const {
        const Token& t = peek();
        switch (t.kind) {
            case Tok::Eof: return ", found the end of the template";
            case Tok::ExprEnd: return ", found '}}'";
            case Tok::StmtEnd: return ", found '%}'";
            case Tok::Text: return ", found text";
            default: return ", found '" + t.text + "'";
        }
    }
    [[noreturn]] void error(const char* what) const {
        fail(Status::bad_format, "chat template: line %d: %s", peek().line, what);
    }
    [[noreturn]] void unsupported(const std::string& what) const {
        fail(Status::unsupported, "chat template: line %d: unsupported Jinja construct: %s", peek().line, what.c_str());
    }

    ExprPtr make(Expr::Kind k) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = peek().line;
        return e;
    }

    // Long operator or postfix chains (a+b+c+..., x.a.b.c...) build deep trees without deep
    // parser recursion; their depth is tracked here so evaluation stays within bounds too.
    ExprPtr deepen(ExprPtr e) {
        int d = 0;
        for (const auto& a : e->args) {
            if (a) d = std::max(d, a->depth);
        }
        for (const auto& kv : e->kwargs) d = std::max(d, kv.second->depth);
        e->depth = d + 1;
        if (e->depth > opts_.max_depth) error("expression nested too deeply");
        return e;
    }

    // Parses statements until a {% tag %} whose name is in `ends` (consumed up to the name;
    // the name is stored in `end`). At top level (ends empty) runs to the end of input.
    Body parse_body(const std::vector<const char*>& ends, std::string& end) {
        DepthGuard guard(*this);
        Body body;
        while (true) {
            const Token& t = peek();
            if (t.kind == Tok::Eof) {
                if (!ends.empty()) {
                    std::string msg = std::string("missing {% ") + ends.back() + " %}";
                    error(msg.c_str());
                }
                return body;
            }
            if (t.kind == Tok::Text) {
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Text;
                s->line = t.line;
                s->text = t.text;
                next();
                body.push_back(std::move(s));
                continue;
            }
            if (t.kind == Tok::ExprBegin) {
                next();
                auto s = std::make_unique<Stmt>();
                s->kind = Stmt::Kind::Output;
                s->line = peek().line;
                s->expr = parse_expr();
                expect(Tok::ExprEnd, "'}}'");
                body.push_back(std::move(s));
                continue;
            }
            if (t.kind != Tok::StmtBegin) error("unexpected token");
            next();
            const std::string name = expect_name();
            for (const char* e : ends) {
                if (name == e) {
                    end = name;
                    return body;
                }
            }
            body.push_back(parse_statement(name));
        }
    }

    StmtPtr parse_statement(const std::string& name) {
        auto s = std::make_unique<Stmt>();
        s->line = peek().line;
        std::string end;
        if (name == "if") {
            s->kind = Stmt::Kind::If;
            ExprPtr cond = parse_expr();
            expect(Tok::StmtEnd, "'%}'");
            while (true) {
                Body b = parse_body({"elif", "else", "endif"}, end);
                s->branches.emplace_back(std::move(cond), std::move(b));
                if (end == "elif") {
                    cond = parse_expr();
                    expect(Tok::StmtEnd, "'%}'");
                    continue;
                }
                if (end == "else") {
                    expect(Tok::StmtEnd, "'%}'");
                    s->else_body = parse_body({"endif"}, end);
                }
                break;
            }
        } else if (name == "for") {
            s->kind = Stmt::Kind::For;
            do {
                s->targets.push_back(expect_name());
            } while (accept_op(","));
            if (!accept_name("in")) error("expected 'in' in a for loop");
            s->expr = parse_or_expr_with_cond(/*allow_cond=*/false);
            if (accept_name("if")) s->filter = parse_or();
            if (accept_name("recursive")) unsupported("recursive for loops");
            expect(Tok::StmtEnd, "'%}'");
            s->body = parse_body({"else", "endfor"}, end);
            if (end == "else") {
                expect(Tok::StmtEnd, "'%}'");
                s->else_body = parse_body({"endfor"}, end);
            }
        } else if (name == "set") {
            s->targets.push_back(expect_name());
            if (accept_op(".")) {
                s->attr = expect_name();
            } else {
                while (accept_op(",")) s->targets.push_back(expect_name());
            }
            if (accept_op("=")) {
                s->kind = Stmt::Kind::Set;
                s->expr = parse_tuple_or_expr();
            } else {
                if (!s->attr.empty() || s->targets.size() != 1) error("expected '=' in set");
                if (is_op("|")) s->expr = parse_filters_and_tests(block_variable());
                s->kind = Stmt::Kind::SetBlock;
                expect(Tok::StmtEnd, "'%}'");
                s->body = parse_body({"endset"}, end);
            }
        } else if (name == "macro") {
            s->kind = Stmt::Kind::Macro;
            s->name = expect_name();
            expect_op("(");
            while (!accept_op(")")) {
                std::string param = expect_name();
                ExprPtr def;
                if (accept_op("=")) def = parse_expr();
                s->params.emplace_back(std::move(param), std::move(def));
                if (!is_op(")")) expect_op(",");
            }
            expect(Tok::StmtEnd, "'%}'");
            s->body = parse_body({"endmacro"}, end);
        } else if (name == "break" || name == "continue") {
            s->kind = name == "break" ? Stmt::Kind::Break : Stmt::Kind::Continue;
        } else if (name == "filter") {
            s->kind = Stmt::Kind::Filter;
            auto f = make(Expr::Kind::Filter);
            f->name = expect_name();
            f->args.push_back(block_variable());
            if (is_op("(")) parse_args(*f);
            s->expr = parse_filters_and_tests(deepen(std::move(f)));
            expect(Tok::StmtEnd, "'%}'");
            s->body = parse_body({"endfilter"}, end);
        } else if (name == "generation") {
            // Hugging Face's marker for assistant spans: renders its body unchanged.
            s->kind = Stmt::Kind::Block;
            expect(Tok::StmtEnd, "'%}'");
            s->body = parse_body({"endgeneration"}, end);
        } else if (name.compare(0, 3, "end") == 0 || name == "elif" || name == "else") {
            std::string msg = "unexpected {% " + name + " %}";
            error(msg.c_str());
        } else {
            unsupported("{% " + name + " %}");
        }
        // Closing tags ({% endif %} etc.) and one-line statements end with '%}'.
        expect(Tok::StmtEnd, "'%}'");
        return s;
    }

    // Expressions ------------------------------------------------------------------------

    ExprPtr parse_expr() { return parse_or_expr_with_cond(true); }

    ExprPtr parse_tuple_or_expr() {
        ExprPtr first = parse_expr();
        if (!is_op(",")) return first;
        auto t = make(Expr::Kind::Tuple);
        t->args.push_back(std::move(first));
        while (accept_op(",")) {
            if (peek().kind == Tok::StmtEnd) break;
            t->args.push_back(parse_expr());
        }
        return t;
    }

    ExprPtr parse_or_expr_with_cond(bool allow_cond) {
        DepthGuard guard(*this);
        ExprPtr e = parse_or();
        if (allow_cond && is_name("if")) {
            next();
            auto c = make(Expr::Kind::Cond);
            ExprPtr cond = parse_or();
            ExprPtr otherwise;
            if (accept_name("else")) otherwise = parse_or_expr_with_cond(true);
            c->args.push_back(std::move(cond));
            c->args.push_back(std::move(e));
            c->args.push_back(std::move(otherwise));
            return deepen(std::move(c));
        }
        return e;
    }

    ExprPtr binary(Expr::Kind k, ExprPtr a, ExprPtr b, const std::string& op = {}) {
        auto e = make(k);
        e->name = op;
        e->args.push_back(std::move(a));
        e->args.push_back(std::move(b));
        return deepen(std::move(e));
    }

    ExprPtr parse_or() {
        ExprPtr e = parse_and();
        while (accept_name("or")) e = binary(Expr::Kind::Or, std::move(e), parse_and());
        return e;
    }

    ExprPtr parse_and() {
        ExprPtr e = parse_not();
        while (accept_name("and")) e = binary(Expr::Kind::And, std::move(e), parse_not());
        return e;
    }

    ExprPtr parse_not() {
        if (is_name("not")) {
            DepthGuard guard(*this);
            next();
            auto e = make(Expr::Kind::Not);
            e->args.push_back(parse_not());
            return deepen(std::move(e));
        }
        return parse_compare();
    }

    ExprPtr parse_compare() {
        ExprPtr first = parse_math1();
        ExprPtr cmp;
        while (true) {
            std::string op;
            const Token& t = peek();
            if (t.kind == Tok::Op && (t.text == "==" || t.text == "!=" || t.text == "<" || t.text == ">" ||
                                      t.text == "<=" || t.text == ">=")) {
                op = t.text;
                next();
            } else if (is_name("in")) {
                op = "in";
                next();
            } else if (is_name("not") && is_name("in", 1)) {
                op = "notin";
                next();
                next();
            } else {
                break;
            }
            if (!cmp) {
                cmp = make(Expr::Kind::Compare);
                cmp->args.push_back(std::move(first));
            }
            cmp->ops.push_back(op);
            cmp->args.push_back(parse_math1());
        }
        return cmp ? deepen(std::move(cmp)) : std::move(first);
    }

    ExprPtr parse_math1() {
        ExprPtr e = parse_concat();
        while (is_op("+") || is_op("-")) {
            const std::string op = next().text;
            e = binary(Expr::Kind::Binary, std::move(e), parse_concat(), op);
        }
        return e;
    }

    ExprPtr parse_concat() {
        ExprPtr e = parse_math2();
        while (accept_op("~")) e = binary(Expr::Kind::Binary, std::move(e), parse_math2(), "~");
        return e;
    }

    ExprPtr parse_math2() {
        ExprPtr e = parse_pow();
        while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
            const std::string op = next().text;
            e = binary(Expr::Kind::Binary, std::move(e), parse_pow(), op);
        }
        return e;
    }

    ExprPtr parse_pow() {
        ExprPtr e = parse_unary(true);
        while (accept_op("**")) e = binary(Expr::Kind::Binary, std::move(e), parse_unary(true), "**");
        return e;
    }

    ExprPtr parse_unary(bool with_filter) {
        DepthGuard guard(*this);
        ExprPtr e;
        if (is_op("-") || is_op("+")) {
            const bool neg = next().text == "-";
            e = make(neg ? Expr::Kind::Neg : Expr::Kind::Pos);
            e->args.push_back(parse_unary(false));
            e = deepen(std::move(e));
        } else {
            e = parse_primary();
        }
        e = parse_postfix(std::move(e));
        if (with_filter) e = parse_filters_and_tests(std::move(e));
        return e;
    }

    ExprPtr parse_primary() {
        const Token& t = peek();
        switch (t.kind) {
            case Tok::Name: {
                const std::string name = next().text;
                auto e = make(Expr::Kind::Literal);
                if (name == "true" || name == "True") {
                    e->literal = Value(true);
                } else if (name == "false" || name == "False") {
                    e->literal = Value(false);
                } else if (name == "none" || name == "None") {
                    e->literal = Value::none();
                } else {
                    e->kind = Expr::Kind::Name;
                    e->name = name;
                }
                return e;
            }
            case Tok::String: {
                std::string s = next().text;
                while (peek().kind == Tok::String) s += next().text;  // "a" "b" concatenates
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(std::move(s));
                return e;
            }
            case Tok::Int: {
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(next().i);
                return e;
            }
            case Tok::Float: {
                auto e = make(Expr::Kind::Literal);
                e->literal = Value(next().f);
                return e;
            }
            case Tok::Op: {
                if (accept_op("(")) {
                    if (accept_op(")")) return make(Expr::Kind::Tuple);
                    ExprPtr first = parse_expr();
                    if (accept_op(")")) return first;
                    auto tup = make(Expr::Kind::Tuple);
                    tup->args.push_back(std::move(first));
                    while (accept_op(",")) {
                        if (is_op(")")) break;
                        tup->args.push_back(parse_expr());
                    }
                    expect_op(")");
                    return deepen(std::move(tup));
                }
                if (accept_op("[")) {
                    auto list = make(Expr::Kind::List);
                    while (!accept_op("]")) {
                        list->args.push_back(parse_expr());
                        if (!is_op("]")) expect_op(",");
                    }
                    return deepen(std::move(list));
                }
                if (accept_op("{")) {
                    auto dict = make(Expr::Kind::Dict);
                    while (!accept_op("}")) {
                        dict->args.push_back(parse_expr());
                        expect_op(":");
                        dict->args.push_back(parse_expr());
                        if (!is_op("}")) expect_op(",");
                    }
                    return deepen(std::move(dict));
                }
                break;
            }
            default: break;
        }
        std::string msg = "expected an expression" + found();
        error(msg.c_str());
    }

    ExprPtr parse_postfix(ExprPtr e) {
        while (true) {
            if (accept_op(".")) {
                auto a = make(Expr::Kind::Attr);
                if (peek().kind == Tok::Int) {  // foo.0 is foo[0] in Jinja
                    a->kind = Expr::Kind::Item;
                    a->args.push_back(std::move(e));
                    auto idx = make(Expr::Kind::Literal);
                    idx->literal = Value(next().i);
                    a->args.push_back(std::move(idx));
                } else {
                    a->name = expect_name();
                    a->args.push_back(std::move(e));
                }
                e = deepen(std::move(a));
            } else if (accept_op("[")) {
                e = parse_subscript(std::move(e));
            } else if (is_op("(")) {
                e = parse_call(std::move(e));
            } else {
                return e;
            }
        }
    }

    ExprPtr parse_subscript(ExprPtr obj) {
        ExprPtr parts[3];
        int n_colons = 0;
        if (!is_op(":")) parts[0] = parse_expr();
        while (n_colons < 2 && accept_op(":")) {
            ++n_colons;
            if (!is_op(":") && !is_op("]")) parts[n_colons] = parse_expr();
        }
        expect_op("]");
        if (n_colons == 0) {
            if (!parts[0]) error("empty subscript");
            auto e = make(Expr::Kind::Item);
            e->args.push_back(std::move(obj));
            e->args.push_back(std::move(parts[0]));
            return deepen(std::move(e));
        }
        auto e = make(Expr::Kind::Slice);
        e->args.push_back(std::move(obj));
        for (auto& p : parts) e->args.push_back(std::move(p));
        return deepen(std::move(e));
    }

    // Arguments of a call, filter or test: positional then keyword.
    void parse_args(Expr& e) {
        expect_op("(");
        while (!accept_op(")")) {
            if (peek().kind == Tok::Name && is_op("=", 1)) {
                std::string key = next().text;
                next();
                e.kwargs.emplace_back(std::move(key), parse_expr());
            } else {
                if (!e.kwargs.empty()) error("positional argument after a keyword argument");
                e.args.push_back(parse_expr());
            }
            if (!is_op(")")) expect_op(",");
        }
    }

    ExprPtr block_variable() {
        auto v = make(Expr::Kind::Name);
        v->name = kBlockVariable;
        return v;
    }

    ExprPtr parse_call(ExprPtr callee) {
        auto e = make(Expr::Kind::Call);
        e->args.push_back(std::move(callee));
        parse_args(*e);
        return deepen(std::move(e));
    }

    ExprPtr parse_filters_and_tests(ExprPtr e) {
        while (true) {
            if (accept_op("|")) {
                auto f = make(Expr::Kind::Filter);
                f->name = expect_name();
                f->args.push_back(std::move(e));
                if (is_op("(")) parse_args(*f);
                e = deepen(std::move(f));
            } else if (is_name("is")) {
                next();
                auto t = make(Expr::Kind::Test);
                t->negated = accept_name("not");
                t->name = expect_name();
                t->args.push_back(std::move(e));
                if (is_op("(")) {
                    parse_args(*t);
                } else {
                    // `is divisibleby 3`, `is sameas false`: one bare argument.
                    const Token& n = peek();
                    const bool arg_follows =
                        n.kind == Tok::String || n.kind == Tok::Int || n.kind == Tok::Float ||
                        (n.kind == Tok::Name && n.text != "else" && n.text != "or" && n.text != "and" &&
                         n.text != "if" && n.text != "is" && n.text != "in" && n.text != "not");
                    if (arg_follows) t->args.push_back(parse_postfix(parse_primary()));
                }
                e = deepen(std::move(t));
            } else {
                return e;
            }
        }
    }

    std::vector<Token> t_;
    const ParseOptions& opts_;
    size_t pos_ = 0;
    int depth_ = 0;
};

}  // namespace

std::unique_ptr<Template> parse(std::string_view source, const ParseOptions& opts) {
    Lexer lexer(source, opts);
    Parser parser(lexer.run(), opts);
    return parser.run();
}

}  // namespace llamas::jinja
