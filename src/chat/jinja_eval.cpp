// Evaluator for the Jinja subset: statements, expressions, and the filters, tests, methods
// and globals chat templates use. Python semantics where templates can observe them.
#include <algorithm>
#include <cstdint>
#include <cmath>
#include <cstring>
#include <ctime>

#include "chat/jinja.h"
#include "util/error.h"

namespace llamas::jinja {

namespace {

[[noreturn]] void type_error(int line, const std::string& what) {
    fail(Status::bad_format, "chat template: line %d: %s", line, what.c_str());
}
[[noreturn]] void unsupported(int line, const std::string& what) {
    fail(Status::unsupported, "chat template: line %d: unsupported Jinja construct: %s", line, what.c_str());
}

// UTF-8 helpers: Python indexes strings by code point.
std::vector<size_t> code_point_starts(const std::string& s) {
    std::vector<size_t> starts;
    for (size_t i = 0; i < s.size(); ++i) {
        if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
    }
    return starts;
}
size_t code_point_count(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
}

bool is_py_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

std::string strip_chars(const std::string& s, const Value* chars, bool left, bool right) {
    auto strip_this = [&](char c) {
        if (chars && chars->is_string()) return chars->str().find(c) != std::string::npos;
        return is_py_space(c);
    };
    size_t b = 0, e = s.size();
    if (left) {
        while (b < e && strip_this(s[b])) ++b;
    }
    if (right) {
        while (e > b && strip_this(s[e - 1])) --e;
    }
    return s.substr(b, e - b);
}

std::string to_upper(std::string s) {
    for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return s;
}
std::string to_lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}
std::string capitalize(std::string s) {
    s = to_lower(std::move(s));
    if (!s.empty()) s[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(s[0])));
    return s;
}
std::string title(std::string s) {
    bool start = true;
    for (char& c : s) {
        const bool alpha = std::isalpha(static_cast<unsigned char>(c));
        c = static_cast<char>(start ? std::toupper(static_cast<unsigned char>(c)) : std::tolower(static_cast<unsigned char>(c)));
        start = !alpha;
    }
    return s;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    std::string out;
    if (from.empty()) {
        // Python inserts `to` between every character (and at both ends).
        int64_t n = 0;
        for (size_t i = 0; i <= s.size(); ++i) {
            if (count < 0 || n < count) {
                out += to;
                ++n;
            }
            if (i < s.size()) out += s[i];
            check_string_size(out.size());
        }
        return out;
    }
    size_t pos = 0;
    int64_t n = 0;
    while (count < 0 || n < count) {
        const size_t f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        check_string_size(out.size());
        pos = f + from.size();
        ++n;
    }
    out.append(s, pos, std::string::npos);
    check_string_size(out.size());
    return out;
}

Value split(const std::string& s, const Value* sep, int64_t maxsplit, bool from_right) {
    List parts;
    if (!sep || sep->is_none() || sep->is_undefined()) {
        // Whitespace runs, no empty parts.
        std::vector<std::pair<size_t, size_t>> words;
        size_t i = 0;
        while (i < s.size()) {
            while (i < s.size() && is_py_space(s[i])) ++i;
            if (i >= s.size()) break;
            size_t j = i;
            while (j < s.size() && !is_py_space(s[j])) ++j;
            words.emplace_back(i, j);
            i = j;
        }
        if (maxsplit >= 0 && static_cast<int64_t>(words.size()) > maxsplit + 1) {
            if (!from_right) {
                const size_t keep = static_cast<size_t>(maxsplit);
                for (size_t k = 0; k < keep; ++k) parts.emplace_back(s.substr(words[k].first, words[k].second - words[k].first));
                parts.emplace_back(strip_chars(s.substr(words[keep].first), nullptr, false, true));
            } else {
                const size_t first_kept = words.size() - static_cast<size_t>(maxsplit);
                parts.emplace_back(strip_chars(s.substr(0, words[first_kept - 1].second), nullptr, true, false));
                for (size_t k = first_kept; k < words.size(); ++k) parts.emplace_back(s.substr(words[k].first, words[k].second - words[k].first));
            }
        } else {
            for (auto [a, b] : words) parts.emplace_back(s.substr(a, b - a));
        }
        return Value::list(std::move(parts));
    }
    if (!sep->is_string() || sep->str().empty()) fail(Status::bad_format, "chat template: split(): empty or non-string separator");
    const std::string& d = sep->str();
    std::vector<std::string> pieces;
    if (!from_right) {
        size_t pos = 0;
        int64_t n = 0;
        while (maxsplit < 0 || n < maxsplit) {
            const size_t f = s.find(d, pos);
            if (f == std::string::npos) break;
            pieces.push_back(s.substr(pos, f - pos));
            pos = f + d.size();
            ++n;
        }
        pieces.push_back(s.substr(pos));
    } else {
        size_t end = s.size();
        int64_t n = 0;
        std::vector<std::string> rev;
        while (maxsplit < 0 || n < maxsplit) {
            if (end < d.size()) break;
            const size_t f = s.rfind(d, end - d.size());
            if (f == std::string::npos) break;
            rev.push_back(s.substr(f + d.size(), end - f - d.size()));
            end = f;
            ++n;
        }
        rev.push_back(s.substr(0, end));
        pieces.assign(rev.rbegin(), rev.rend());
    }
    for (auto& p : pieces) parts.emplace_back(std::move(p));
    return Value::list(std::move(parts));
}

// Python's list/str slicing.
void slice_bounds(int64_t len, const Value& start, const Value& stop, const Value& step_v, int line,
                  std::vector<int64_t>& idx) {
    int64_t step = 1;
    if (!step_v.is_undefined() && !step_v.is_none()) {
        if (!step_v.is_int()) type_error(line, "slice step must be an integer");
        step = step_v.as_int();
        if (step == 0) type_error(line, "slice step cannot be zero");
    }
    auto norm = [&](const Value& v, int64_t dflt, int64_t lo, int64_t hi) {
        if (v.is_undefined() || v.is_none()) return dflt;
        if (!v.is_int()) type_error(line, "slice indices must be integers");
        int64_t i = v.as_int();
        if (i < 0) i += len;
        return std::clamp(i, lo, hi);
    };
    if (step > 0) {
        const int64_t b = norm(start, 0, 0, len), e = norm(stop, len, 0, len);
        for (int64_t i = b; i < e; i += step) idx.push_back(i);
    } else {
        const int64_t b = norm(start, len - 1, -1, len - 1), e = norm(stop, -1, -1, len - 1);
        for (int64_t i = b; i > e; i += step) idx.push_back(i);
    }
}

}  // namespace

class Renderer {
public:
    Renderer(const RenderOptions& opts, const Value& variables) : opts_(opts) {
        frames_.emplace_back();
        install_globals();
        frames_.emplace_back();
        if (variables.is_dict()) {
            for (const auto& [k, v] : variables.entries()) frames_.back().emplace_back(k, v);
        }
    }

    std::string run(const Template& t) {
        set_work_budget(opts_.max_steps, opts_.max_output);
        struct Restore {
            ~Restore() { set_work_budget(INT64_MAX, SIZE_MAX); }
        } restore;
        std::string out;
        const Flow f = exec(t.body, out);
        if (f != Flow::Normal) fail(Status::bad_format, "chat template: break/continue outside a loop");
        return out;
    }

private:
    enum class Flow { Normal, Break, Continue };
    using Frame = std::vector<std::pair<std::string, Value>>;

    struct Depth {
        Renderer& r;
        Depth(Renderer& renderer, int line) : r(renderer) {
            if (++r.depth_ > r.opts_.max_depth) {
                fail(Status::bad_format, "chat template: line %d: nesting or recursion too deep", line);
            }
        }
        ~Depth() { --r.depth_; }
    };

    // Variables ------------------------------------------------------------------------------

    const Value* lookup(const std::string& name) const {
        for (auto f = frames_.rbegin(); f != frames_.rend(); ++f) {
            for (const auto& [k, v] : *f) {
                if (k == name) return &v;
            }
        }
        return nullptr;
    }

    void assign(const std::string& name, Value v) {
        Frame& f = frames_.back();
        for (auto& [k, old] : f) {
            if (k == name) {
                old = std::move(v);
                return;
            }
        }
        f.emplace_back(name, std::move(v));
    }

    void install_globals() {
        Frame& g = frames_.back();
        g.emplace_back("raise_exception", Value::func([](CallArgs& a) -> Value {
            const std::string msg = a.pos.empty() ? std::string("(no message)") : a.pos[0].to_output();
            fail(Status::invalid_argument, "chat template rejected the conversation: %s", msg.c_str());
        }));
        g.emplace_back("range", Value::func([this](CallArgs& a) -> Value {
            int64_t start = 0, stop = 0, step = 1;
            for (const auto& v : a.pos) {
                if (!v.is_int()) fail(Status::bad_format, "chat template: range() takes integers");
            }
            if (a.pos.size() == 1) {
                stop = a.pos[0].as_int();
            } else if (a.pos.size() == 2 || a.pos.size() == 3) {
                start = a.pos[0].as_int();
                stop = a.pos[1].as_int();
                if (a.pos.size() == 3) step = a.pos[2].as_int();
            } else {
                fail(Status::bad_format, "chat template: range() takes 1 to 3 arguments");
            }
            if (step == 0) fail(Status::bad_format, "chat template: range() step is zero");
            List out;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (static_cast<int64_t>(out.size()) >= opts_.max_loop_iterations) {
                    fail(Status::bad_format, "chat template: range() longer than the loop limit");
                }
                out.emplace_back(i);
            }
            return Value::list(std::move(out));
        }));
        auto make_dict = [](CallArgs& a) -> Value {
            Value d = Value::dict();
            for (auto& [k, v] : a.kw) d.set(k, v);
            return d;
        };
        g.emplace_back("namespace", Value::func(make_dict));
        g.emplace_back("dict", Value::func(make_dict));
        g.emplace_back("strftime_now", Value::func([this](CallArgs& a) -> Value {
            if (a.pos.empty() || !a.pos[0].is_string()) fail(Status::bad_format, "chat template: strftime_now() needs a format");
            // A fixed time (tests, reproducible prompts) is read as UTC; the current one as local.
            const std::time_t t = opts_.now ? *opts_.now : std::time(nullptr);
            std::tm tm{};
            if (opts_.now) {
                gmtime_r(&t, &tm);
            } else {
                localtime_r(&t, &tm);
            }
            char buf[256];
            const size_t n = std::strftime(buf, sizeof buf, a.pos[0].str().c_str(), &tm);
            return Value(std::string(buf, n));
        }));
    }

    // Statements -----------------------------------------------------------------------------

    void emit(std::string& out, const std::string& s) {
        out += s;
        if (out.size() > opts_.max_output) {
            fail(Status::bad_format, "chat template: output longer than the limit (%zu bytes)", opts_.max_output);
        }
    }

    Flow exec(const Body& body, std::string& out) {
        for (const auto& s : body) {
            const Flow f = exec_stmt(*s, out);
            if (f != Flow::Normal) return f;
        }
        return Flow::Normal;
    }

    Flow exec_stmt(const Stmt& s, std::string& out) {
        Depth guard(*this, s.line);
        spend_work();
        switch (s.kind) {
            case Stmt::Kind::Text: emit(out, s.text); return Flow::Normal;
            case Stmt::Kind::Output: emit(out, eval(*s.expr).to_output()); return Flow::Normal;
            case Stmt::Kind::If:
                for (const auto& [cond, body] : s.branches) {
                    if (eval(*cond).truthy()) return exec(body, out);
                }
                return exec(s.else_body, out);
            case Stmt::Kind::For: return exec_for(s, out);
            case Stmt::Kind::Set: {
                Value v = eval(*s.expr);
                if (!s.attr.empty()) {
                    const Value* ns = lookup(s.targets[0]);
                    if (!ns || !ns->is_dict()) type_error(s.line, "cannot set attribute '" + s.attr + "' of '" + s.targets[0] + "' (not a namespace)");
                    ns->set(s.attr, std::move(v));
                } else {
                    assign_targets(s.targets, std::move(v), s.line);
                }
                return Flow::Normal;
            }
            case Stmt::Kind::SetBlock: {
                std::string captured;
                if (exec(s.body, captured) != Flow::Normal) type_error(s.line, "break/continue inside {% set %}");
                assign(s.targets[0], s.expr ? filter_block(s, std::move(captured)) : Value(std::move(captured)));
                return Flow::Normal;
            }
            case Stmt::Kind::Filter: {
                std::string captured;
                const Flow flow = exec(s.body, captured);
                out += filter_block(s, std::move(captured)).to_output();
                check_string_size(out.size());
                return flow;
            }
            case Stmt::Kind::Macro: assign(s.name, make_macro(s)); return Flow::Normal;
            case Stmt::Kind::Break: return Flow::Break;
            case Stmt::Kind::Continue: return Flow::Continue;
            case Stmt::Kind::Block: return exec(s.body, out);
        }
        return Flow::Normal;
    }

    // Applies a block statement's filters (s.expr, written over kBlockVariable) to its text.
    Value filter_block(const Stmt& s, std::string captured) {
        assign(kBlockVariable, Value(std::move(captured)));
        return eval(*s.expr);
    }

    void assign_targets(const std::vector<std::string>& targets, Value v, int line) {
        if (targets.size() == 1) {
            assign(targets[0], std::move(v));
            return;
        }
        if (!v.is_list() || v.items().size() != targets.size()) {
            type_error(line, "cannot unpack " + std::string(v.type_name()) + " into " + std::to_string(targets.size()) + " names");
        }
        for (size_t i = 0; i < targets.size(); ++i) assign(targets[i], v.items()[i]);
    }

    List iterate(const Value& v, int line) {
        switch (v.type()) {
            case Value::Type::Undefined: return {};
            case Value::Type::List: return v.items();
            case Value::Type::Dict: {
                List keys;
                for (const auto& kv : v.entries()) keys.emplace_back(kv.first);
                return keys;
            }
            case Value::Type::String: {
                List chars;
                const auto starts = code_point_starts(v.str());
                for (size_t i = 0; i < starts.size(); ++i) {
                    const size_t end = i + 1 < starts.size() ? starts[i + 1] : v.str().size();
                    chars.emplace_back(v.str().substr(starts[i], end - starts[i]));
                }
                return chars;
            }
            default: type_error(line, std::string("cannot iterate over ") + v.type_name());
        }
    }

    void count_iteration(int line) {
        if (++loop_iterations_ > opts_.max_loop_iterations) {
            fail(Status::bad_format, "chat template: line %d: too many loop iterations", line);
        }
    }

    Flow exec_for(const Stmt& s, std::string& out) {
        List items = iterate(eval(*s.expr), s.line);
        frames_.emplace_back();
        struct Pop {
            std::vector<Frame>& f;
            ~Pop() { f.pop_back(); }
        } pop{frames_};
        if (s.filter) {
            List kept;
            for (auto& item : items) {
                count_iteration(s.line);
                assign_targets(s.targets, item, s.line);
                if (eval(*s.filter).truthy()) kept.push_back(std::move(item));
            }
            items = std::move(kept);
        }
        if (items.empty()) return exec(s.else_body, out);
        const int64_t n = static_cast<int64_t>(items.size());
        for (int64_t i = 0; i < n; ++i) {
            count_iteration(s.line);
            assign_targets(s.targets, items[static_cast<size_t>(i)], s.line);
            Value loop = Value::dict({
                {"index", Value(i + 1)},
                {"index0", Value(i)},
                {"revindex", Value(n - i)},
                {"revindex0", Value(n - i - 1)},
                {"first", Value(i == 0)},
                {"last", Value(i == n - 1)},
                {"length", Value(n)},
                {"previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value()},
                {"nextitem", i + 1 < n ? items[static_cast<size_t>(i + 1)] : Value()},
            });
            loop.set("cycle", Value::func([i](CallArgs& a) -> Value {
                if (a.pos.empty()) return Value();
                return a.pos[static_cast<size_t>(i % static_cast<int64_t>(a.pos.size()))];
            }));
            assign("loop", std::move(loop));
            const Flow f = exec(s.body, out);
            if (f == Flow::Break) break;
        }
        return Flow::Normal;
    }

    Value make_macro(const Stmt& s) {
        const Stmt* def = &s;
        return Value::func([this, def](CallArgs& a) -> Value {
            Depth guard(*this, def->line);
            frames_.emplace_back();
            struct Pop {
                std::vector<Frame>& f;
                ~Pop() { f.pop_back(); }
            } pop{frames_};
            for (size_t i = 0; i < def->params.size(); ++i) {
                const std::string& pname = def->params[i].first;
                Value v;
                if (i < a.pos.size()) {
                    v = a.pos[i];
                } else if (const Value* kw = a.kwarg(pname)) {
                    v = *kw;
                } else if (def->params[i].second) {
                    v = eval(*def->params[i].second);
                }
                assign(pname, std::move(v));
            }
            std::string out;
            if (exec(def->body, out) != Flow::Normal) type_error(def->line, "break/continue outside a loop");
            return Value(std::move(out));
        });
    }

    // Expressions ----------------------------------------------------------------------------

    CallArgs eval_args(const Expr& e, size_t first) {
        CallArgs a;
        for (size_t i = first; i < e.args.size(); ++i) a.pos.push_back(eval(*e.args[i]));
        for (const auto& [k, v] : e.kwargs) a.kw.emplace_back(k, eval(*v));
        return a;
    }

    Value eval(const Expr& e) {
        Depth guard(*this, e.line);
        spend_work();
        switch (e.kind) {
            case Expr::Kind::Literal: return e.literal;
            case Expr::Kind::Name: {
                const Value* v = lookup(e.name);
                return v ? *v : Value();
            }
            case Expr::Kind::Attr: return get_attr(eval(*e.args[0]), e.name);
            case Expr::Kind::Item: return get_item(eval(*e.args[0]), eval(*e.args[1]), e.line);
            case Expr::Kind::Slice: {
                Value obj = eval(*e.args[0]);
                Value parts[3];
                for (int i = 0; i < 3; ++i) {
                    if (e.args[static_cast<size_t>(i) + 1]) parts[i] = eval(*e.args[static_cast<size_t>(i) + 1]);
                }
                std::vector<int64_t> idx;
                if (obj.is_list()) {
                    slice_bounds(static_cast<int64_t>(obj.items().size()), parts[0], parts[1], parts[2], e.line, idx);
                    List out;
                    for (int64_t i : idx) out.push_back(obj.items()[static_cast<size_t>(i)]);
                    return Value::list(std::move(out));
                }
                if (obj.is_string()) {
                    const auto starts = code_point_starts(obj.str());
                    slice_bounds(static_cast<int64_t>(starts.size()), parts[0], parts[1], parts[2], e.line, idx);
                    std::string out;
                    for (int64_t i : idx) {
                        const size_t b = starts[static_cast<size_t>(i)];
                        const size_t end = static_cast<size_t>(i) + 1 < starts.size() ? starts[static_cast<size_t>(i) + 1] : obj.str().size();
                        out.append(obj.str(), b, end - b);
                    }
                    return Value(std::move(out));
                }
                if (obj.is_undefined()) return Value();
                type_error(e.line, std::string("cannot slice ") + obj.type_name());
            }
            case Expr::Kind::Call: return eval_call(e);
            case Expr::Kind::Filter: {
                Value subject = eval(*e.args[0]);
                CallArgs a = eval_args(e, 1);
                return apply_filter(e.name, std::move(subject), a, e.line);
            }
            case Expr::Kind::Test: {
                Value subject = eval(*e.args[0]);
                CallArgs a = eval_args(e, 1);
                const bool r = apply_test(e.name, subject, a, e.line);
                return Value(e.negated ? !r : r);
            }
            case Expr::Kind::Neg: {
                Value v = eval(*e.args[0]);
                if (v.is_int()) {
                    if (v.as_int() == INT64_MIN) type_error(e.line, "integer overflow");
                    return Value(-v.as_int());
                }
                if (v.is_float()) return Value(-v.as_number());
                type_error(e.line, std::string("bad operand for unary -: ") + v.type_name());
            }
            case Expr::Kind::Pos: {
                Value v = eval(*e.args[0]);
                if (!v.is_number()) type_error(e.line, std::string("bad operand for unary +: ") + v.type_name());
                return v;
            }
            case Expr::Kind::Not: return Value(!eval(*e.args[0]).truthy());
            case Expr::Kind::And: {
                Value a = eval(*e.args[0]);
                return a.truthy() ? eval(*e.args[1]) : a;
            }
            case Expr::Kind::Or: {
                Value a = eval(*e.args[0]);
                return a.truthy() ? a : eval(*e.args[1]);
            }
            case Expr::Kind::Binary: return binary(e.name, eval(*e.args[0]), eval(*e.args[1]), e.line);
            case Expr::Kind::Compare: {
                Value left = eval(*e.args[0]);
                for (size_t i = 0; i < e.ops.size(); ++i) {
                    Value right = eval(*e.args[i + 1]);
                    if (!compare(e.ops[i], left, right, e.line)) return Value(false);
                    left = std::move(right);
                }
                return Value(true);
            }
            case Expr::Kind::Cond:
                if (eval(*e.args[0]).truthy()) return eval(*e.args[1]);
                return e.args[2] ? eval(*e.args[2]) : Value();
            case Expr::Kind::List:
            case Expr::Kind::Tuple: {
                List items;
                for (const auto& a : e.args) items.push_back(eval(*a));
                return Value::list(std::move(items));
            }
            case Expr::Kind::Dict: {
                Value d = Value::dict();
                for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
                    Value k = eval(*e.args[i]);
                    if (!k.is_string()) unsupported(e.line, std::string("dict keys of type ") + k.type_name());
                    d.set(k.str(), eval(*e.args[i + 1]));
                }
                return d;
            }
        }
        return Value();
    }

    static Value get_attr(const Value& obj, const std::string& name) {
        if (const Value* v = obj.find(name)) return *v;
        return Value();  // like Jinja's Undefined: falsy, prints as nothing, "is defined" is false
    }

    Value get_item(const Value& obj, const Value& key, int line) {
        if (obj.is_dict()) {
            if (key.is_string()) return get_attr(obj, key.str());
            return Value();
        }
        if (obj.is_list() || obj.is_string()) {
            if (!key.is_int()) {
                if (key.is_string() || key.is_undefined()) return Value();
                type_error(line, std::string("indices must be integers, not ") + key.type_name());
            }
            if (obj.is_list()) {
                const int64_t n = static_cast<int64_t>(obj.items().size());
                int64_t i = key.as_int();
                if (i < 0) i += n;
                if (i < 0 || i >= n) return Value();
                return obj.items()[static_cast<size_t>(i)];
            }
            const auto starts = code_point_starts(obj.str());
            const int64_t n = static_cast<int64_t>(starts.size());
            int64_t i = key.as_int();
            if (i < 0) i += n;
            if (i < 0 || i >= n) return Value();
            const size_t b = starts[static_cast<size_t>(i)];
            const size_t end = i + 1 < n ? starts[static_cast<size_t>(i) + 1] : obj.str().size();
            return Value(obj.str().substr(b, end - b));
        }
        return Value();
    }

    Value eval_call(const Expr& e) {
        const Expr& callee = *e.args[0];
        if (callee.kind == Expr::Kind::Attr) {
            Value obj = eval(*callee.args[0]);
            if (const Value* f = obj.find(callee.name); f && f->is_func()) {
                CallArgs a = eval_args(e, 1);
                return f->function()(a);
            }
            CallArgs a = eval_args(e, 1);
            return call_method(obj, callee.name, a, e.line);
        }
        Value f = eval(callee);
        if (!f.is_func()) {
            if (callee.kind == Expr::Kind::Name) unsupported(e.line, "unknown function '" + callee.name + "'");
            type_error(e.line, std::string("calling a ") + f.type_name());
        }
        CallArgs a = eval_args(e, 1);
        return f.function()(a);
    }

    static const Value* arg(const CallArgs& a, size_t i, const char* name) {
        if (i < a.pos.size()) return &a.pos[i];
        return a.kwarg(name);
    }

    // Python's str.format for the fields chat templates use: {}, {0}, {name}, and {{ }}.
    // Format specs (`{:>8}`) are not implemented.
    static std::string str_format(const std::string& f, const CallArgs& a, int line) {
        std::string out;
        size_t next_auto = 0;
        for (size_t i = 0; i < f.size(); ++i) {
            const char c = f[i];
            if ((c == '{' || c == '}') && i + 1 < f.size() && f[i + 1] == c) {
                out += c;
                ++i;
                continue;
            }
            if (c == '}') type_error(line, "single '}' in a format string");
            if (c != '{') {
                out += c;
                continue;
            }
            const size_t close = f.find('}', i);
            if (close == std::string::npos) type_error(line, "single '{' in a format string");
            const std::string field = f.substr(i + 1, close - i - 1);
            if (field.find_first_of(":!.[") != std::string::npos) unsupported(line, "str.format field '{" + field + "}'");
            const Value* v = nullptr;
            if (field.empty()) {
                if (next_auto < a.pos.size()) v = &a.pos[next_auto++];
            } else if (field.find_first_not_of("0123456789") == std::string::npos) {
                if (field.size() < 6 && std::stoul(field) < a.pos.size()) v = &a.pos[std::stoul(field)];
            } else {
                v = a.kwarg(field);
            }
            if (!v) type_error(line, "str.format: no argument for '{" + field + "}'");
            out += v->to_output();
            check_string_size(out.size());
            i = close;
        }
        return out;
    }

    Value call_method(const Value& obj, const std::string& name, CallArgs& a, int line) {
        if (obj.is_string()) {
            const std::string& s = obj.str();
            if (name == "strip") return Value(strip_chars(s, arg(a, 0, "chars"), true, true));
            if (name == "lstrip") return Value(strip_chars(s, arg(a, 0, "chars"), true, false));
            if (name == "rstrip") return Value(strip_chars(s, arg(a, 0, "chars"), false, true));
            if (name == "upper") return Value(to_upper(s));
            if (name == "lower") return Value(to_lower(s));
            if (name == "format") return Value(str_format(s, a, line));
            if (name == "title") return Value(title(s));
            if (name == "capitalize") return Value(capitalize(s));
            if (name == "startswith" || name == "endswith") {
                const Value* p = arg(a, 0, "prefix");
                if (!p) type_error(line, name + "() needs an argument");
                List options = p->is_list() ? p->items() : List{*p};
                for (const auto& o : options) {
                    if (!o.is_string()) type_error(line, name + "() takes strings");
                    const std::string& x = o.str();
                    if (x.size() > s.size()) continue;
                    if (name == "startswith" ? s.compare(0, x.size(), x) == 0 : s.compare(s.size() - x.size(), x.size(), x) == 0) {
                        return Value(true);
                    }
                }
                return Value(false);
            }
            if (name == "split" || name == "rsplit") {
                const Value* m = arg(a, 1, "maxsplit");
                return split(s, arg(a, 0, "sep"), m && m->is_int() ? m->as_int() : -1, name == "rsplit");
            }
            if (name == "replace") {
                if (a.pos.size() < 2 || !a.pos[0].is_string() || !a.pos[1].is_string()) type_error(line, "replace() takes two strings");
                const int64_t count = a.pos.size() > 2 && a.pos[2].is_int() ? a.pos[2].as_int() : -1;
                return Value(replace_all(s, a.pos[0].str(), a.pos[1].str(), count));
            }
            if (name == "find") {
                if (a.pos.empty() || !a.pos[0].is_string()) type_error(line, "find() takes a string");
                const size_t f = s.find(a.pos[0].str());
                return Value(f == std::string::npos ? int64_t{-1} : static_cast<int64_t>(code_point_count(s.substr(0, f))));
            }
            if (name == "count") {
                if (a.pos.empty() || !a.pos[0].is_string() || a.pos[0].str().empty()) type_error(line, "count() takes a non-empty string");
                int64_t n = 0;
                for (size_t f = s.find(a.pos[0].str()); f != std::string::npos; f = s.find(a.pos[0].str(), f + a.pos[0].str().size())) ++n;
                return Value(n);
            }
            if (name == "join") {
                if (a.pos.empty()) type_error(line, "join() needs an iterable");
                return Value(join(iterate(a.pos[0], line), s));
            }
            if (name == "isdigit" || name == "isalpha" || name == "isspace") {
                if (s.empty()) return Value(false);
                for (unsigned char c : s) {
                    const bool ok = name == "isdigit" ? std::isdigit(c) : name == "isalpha" ? std::isalpha(c) : is_py_space(static_cast<char>(c));
                    if (!ok) return Value(false);
                }
                return Value(true);
            }
        } else if (obj.is_list()) {
            if (name == "append") {
                if (a.pos.size() != 1) type_error(line, "append() takes one argument");
                if (obj.items().size() >= static_cast<size_t>(opts_.max_loop_iterations)) type_error(line, "list too long");
                obj.items().push_back(a.pos[0]);
                return Value::none();
            }
            if (name == "extend") {
                if (a.pos.size() != 1) type_error(line, "extend() takes one argument");
                List more = iterate(a.pos[0], line);
                if (obj.items().size() + more.size() > static_cast<size_t>(opts_.max_loop_iterations)) type_error(line, "list too long");
                for (auto& v : more) obj.items().push_back(std::move(v));
                return Value::none();
            }
            if (name == "pop") {
                auto& items = obj.items();
                if (items.empty()) type_error(line, "pop from an empty list");
                int64_t i = a.pos.empty() ? -1 : (a.pos[0].is_int() ? a.pos[0].as_int() : 0);
                if (i < 0) i += static_cast<int64_t>(items.size());
                if (i < 0 || i >= static_cast<int64_t>(items.size())) type_error(line, "pop index out of range");
                Value v = items[static_cast<size_t>(i)];
                items.erase(items.begin() + i);
                return v;
            }
            if (name == "index") {
                if (a.pos.empty()) type_error(line, "index() needs a value");
                for (size_t i = 0; i < obj.items().size(); ++i) {
                    if (equals(obj.items()[i], a.pos[0])) return Value(static_cast<int64_t>(i));
                }
                type_error(line, "index(): value not in list");
            }
        } else if (obj.is_dict()) {
            if (name == "items") {
                List out;
                for (const auto& [k, v] : obj.entries()) out.push_back(Value::list({Value(k), v}));
                return Value::list(std::move(out));
            }
            if (name == "keys") {
                List out;
                for (const auto& kv : obj.entries()) out.emplace_back(kv.first);
                return Value::list(std::move(out));
            }
            if (name == "values") {
                List out;
                for (const auto& kv : obj.entries()) out.push_back(kv.second);
                return Value::list(std::move(out));
            }
            if (name == "get") {
                if (a.pos.empty() || !a.pos[0].is_string()) return a.pos.size() > 1 ? a.pos[1] : Value::none();
                if (const Value* v = obj.find(a.pos[0].str())) return *v;
                return a.pos.size() > 1 ? a.pos[1] : Value::none();
            }
            if (name == "update") {
                for (const auto& v : a.pos) {
                    if (v.is_dict()) {
                        for (const auto& [k, x] : v.entries()) obj.set(k, x);
                    }
                }
                for (const auto& [k, x] : a.kw) obj.set(k, x);
                return Value::none();
            }
        }
        unsupported(line, std::string("method '") + name + "' of " + obj.type_name());
    }

    std::string join(const List& items, const std::string& sep) {
        std::string out;
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += sep;
            out += items[i].to_output();
            check_string_size(out.size());
        }
        return out;
    }

    static bool is_int_like(const Value& v) { return v.is_int() || v.is_bool(); }
    static int64_t int_of(const Value& v) { return v.is_bool() ? (v.as_bool() ? 1 : 0) : v.as_int(); }

    Value binary(const std::string& op, const Value& a, const Value& b, int line) {
        if (op == "~") {
            std::string s = a.to_output();
            s += b.to_output();
            check_string_size(s.size());
            return Value(std::move(s));
        }
        if (op == "+") {
            if (a.is_string() && b.is_string()) {
                check_string_size(a.str().size() + b.str().size());
                return Value(a.str() + b.str());
            }
            if (a.is_list() && b.is_list()) {
                List out = a.items();
                if (out.size() + b.items().size() > static_cast<size_t>(opts_.max_loop_iterations)) type_error(line, "list too long");
                out.insert(out.end(), b.items().begin(), b.items().end());
                return Value::list(std::move(out));
            }
        }
        if (op == "*") {
            const Value* str = a.is_string() || a.is_list() ? &a : b.is_string() || b.is_list() ? &b : nullptr;
            const Value* n = str == &a ? &b : &a;
            if (str && is_int_like(*n)) {
                const int64_t times = std::max<int64_t>(0, int_of(*n));
                if (str->is_string()) {
                    if (times > 0 && str->str().size() > opts_.max_output / static_cast<size_t>(times)) check_string_size(SIZE_MAX);
                    std::string out;
                    for (int64_t i = 0; i < times; ++i) out += str->str();
                    return Value(std::move(out));
                }
                if (times > 0 && str->items().size() > static_cast<size_t>(opts_.max_loop_iterations / times)) type_error(line, "list too long");
                List out;
                for (int64_t i = 0; i < times; ++i) out.insert(out.end(), str->items().begin(), str->items().end());
                return Value::list(std::move(out));
            }
        }
        if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
            if (is_int_like(a) && is_int_like(b) && op != "/") {
                const int64_t x = int_of(a), y = int_of(b);
                int64_t r = 0;
                if (op == "+") {
                    if (__builtin_add_overflow(x, y, &r)) type_error(line, "integer overflow");
                    return Value(r);
                }
                if (op == "-") {
                    if (__builtin_sub_overflow(x, y, &r)) type_error(line, "integer overflow");
                    return Value(r);
                }
                if (op == "*") {
                    if (__builtin_mul_overflow(x, y, &r)) type_error(line, "integer overflow");
                    return Value(r);
                }
                if (op == "//" || op == "%") {
                    if (y == 0) type_error(line, "integer division or modulo by zero");
                    if (x == INT64_MIN && y == -1) type_error(line, "integer overflow");
                    int64_t q = x / y, m = x % y;
                    if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors
                        --q;
                        m += y;
                    }
                    return Value(op == "//" ? q : m);
                }
                if (op == "**") {
                    if (y < 0) return Value(std::pow(static_cast<double>(x), static_cast<double>(y)));
                    int64_t result = 1;
                    for (int64_t i = 0; i < y; ++i) {
                        if (__builtin_mul_overflow(result, x, &result)) type_error(line, "integer overflow");
                        if (result == 0 || result == 1) break;
                    }
                    return Value(result);
                }
            }
            const double x = a.is_bool() ? int_of(a) : a.as_number();
            const double y = b.is_bool() ? int_of(b) : b.as_number();
            if (op == "+") return Value(x + y);
            if (op == "-") return Value(x - y);
            if (op == "*") return Value(x * y);
            if (op == "/") {
                if (y == 0) type_error(line, "division by zero");
                return Value(x / y);
            }
            if (op == "//") {
                if (y == 0) type_error(line, "division by zero");
                return Value(std::floor(x / y));
            }
            if (op == "%") {
                if (y == 0) type_error(line, "modulo by zero");
                double m = std::fmod(x, y);
                if (m != 0 && ((m < 0) != (y < 0))) m += y;
                return Value(m);
            }
            if (op == "**") return Value(std::pow(x, y));
        }
        if (op == "%" && a.is_string()) unsupported(line, "'%' string formatting");
        type_error(line, "unsupported operand types for " + op + ": " + a.type_name() + " and " + b.type_name());
    }

    bool compare(const std::string& op, const Value& a, const Value& b, int line) {
        if (op == "==") return equals(a, b);
        if (op == "!=") return !equals(a, b);
        if (op == "in" || op == "notin") {
            bool found = false;
            if (b.is_string()) {
                if (!a.is_string()) type_error(line, std::string("'in <string>' needs a string, not ") + a.type_name());
                found = b.str().find(a.str()) != std::string::npos;
            } else if (b.is_list()) {
                for (const auto& x : b.items()) {
                    if (equals(a, x)) {
                        found = true;
                        break;
                    }
                }
            } else if (b.is_dict()) {
                found = a.is_string() && b.find(a.str()) != nullptr;
            } else if (!b.is_undefined() && !b.is_none()) {
                type_error(line, std::string("'in' needs a container, not ") + b.type_name());
            }
            return op == "in" ? found : !found;
        }
        int c = 0;
        if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
            const double x = a.is_bool() ? int_of(a) : a.as_number();
            const double y = b.is_bool() ? int_of(b) : b.as_number();
            if (is_int_like(a) && is_int_like(b)) {
                c = int_of(a) < int_of(b) ? -1 : int_of(a) > int_of(b) ? 1 : 0;
            } else {
                c = x < y ? -1 : x > y ? 1 : 0;
            }
        } else if (a.is_string() && b.is_string()) {
            c = a.str().compare(b.str());
        } else {
            type_error(line, "cannot order " + std::string(a.type_name()) + " and " + b.type_name());
        }
        if (op == "<") return c < 0;
        if (op == ">") return c > 0;
        if (op == "<=") return c <= 0;
        return c >= 0;
    }

    bool apply_test(const std::string& name, const Value& v, const CallArgs& a, int line) {
        using T = Value::Type;
        if (name == "defined") return !v.is_undefined();
        if (name == "undefined") return v.is_undefined();
        if (name == "none") return v.is_none();
        if (name == "string") return v.is_string();
        if (name == "number") return v.is_number();
        if (name == "integer") return v.is_int();
        if (name == "float") return v.is_float();
        if (name == "boolean") return v.is_bool();
        if (name == "true") return v.is_bool() && v.as_bool();
        if (name == "false") return v.is_bool() && !v.as_bool();
        if (name == "mapping") return v.is_dict();
        if (name == "iterable") return v.is_list() || v.is_dict() || v.is_string();
        if (name == "sequence") return v.is_list() || v.is_dict() || v.is_string();
        if (name == "callable") return v.is_func();
        if (name == "lower") return v.is_string() && to_lower(v.str()) == v.str();
        if (name == "upper") return v.is_string() && to_upper(v.str()) == v.str();
        if (name == "odd" || name == "even") {
            if (!v.is_int()) type_error(line, "'" + name + "' test needs an integer");
            return (v.as_int() % 2 != 0) == (name == "odd");
        }
        if (a.pos.empty()) unsupported(line, "test '" + name + "'");
        const Value& x = a.pos[0];
        if (name == "equalto" || name == "eq" || name == "==") return equals(v, x);
        if (name == "ne" || name == "!=") return !equals(v, x);
        if (name == "sameas") {
            if (v.type() != x.type()) return false;
            if (v.type() == T::List) return &v.items() == &x.items();
            if (v.type() == T::Dict) return &v.entries() == &x.entries();
            return equals(v, x);
        }
        if (name == "in") return compare("in", v, x, line);
        if (name == "divisibleby") {
            if (!v.is_int() || !x.is_int() || x.as_int() == 0) type_error(line, "'divisibleby' needs non-zero integers");
            return v.as_int() % x.as_int() == 0;
        }
        if (name == "gt" || name == "greaterthan" || name == ">") return compare(">", v, x, line);
        if (name == "ge" || name == ">=") return compare(">=", v, x, line);
        if (name == "lt" || name == "lessthan" || name == "<") return compare("<", v, x, line);
        if (name == "le" || name == "<=") return compare("<=", v, x, line);
        unsupported(line, "test '" + name + "'");
    }

    // selectattr/rejectattr/select/reject: keep items whose value passes the test.
    Value select(const Value& seq, const CallArgs& a, bool by_attr, bool keep_passing, int line) {
        size_t k = 0;
        std::string attr;
        if (by_attr) {
            if (a.pos.empty() || !a.pos[0].is_string()) type_error(line, "selectattr() needs an attribute name");
            attr = a.pos[0].str();
            k = 1;
        }
        std::string test;
        CallArgs test_args;
        if (k < a.pos.size()) {
            if (!a.pos[k].is_string()) type_error(line, "select(): test name must be a string");
            test = a.pos[k].str();
            test_args.pos.assign(a.pos.begin() + static_cast<std::ptrdiff_t>(k) + 1, a.pos.end());
        }
        List out;
        for (const auto& item : iterate(seq, line)) {
            spend_work();
            const Value subject = by_attr ? get_attr(item, attr) : item;
            const bool pass = test.empty() ? subject.truthy() : apply_test(test, subject, test_args, line);
            if (pass == keep_passing) out.push_back(item);
        }
        return Value::list(std::move(out));
    }

    Value apply_filter(const std::string& name, Value v, const CallArgs& a, int line) {
        if (name == "trim") {
            if (!v.is_string()) v = Value(v.to_output());
            return Value(strip_chars(v.str(), arg(a, 0, "chars"), true, true));
        }
        if (name == "upper") return Value(to_upper(v.to_output()));
        if (name == "lower") return Value(to_lower(v.to_output()));
        if (name == "capitalize") return Value(capitalize(v.to_output()));
        if (name == "title") return Value(title(v.to_output()));
        if (name == "string") return Value(v.to_output());
        if (name == "safe" || name == "e" || name == "escape") {
            if (name == "safe") return v;
            std::string out;
            for (char c : v.to_output()) {
                switch (c) {
                    case '&': out += "&amp;"; break;
                    case '<': out += "&lt;"; break;
                    case '>': out += "&gt;"; break;
                    case '"': out += "&#34;"; break;
                    case '\'': out += "&#39;"; break;
                    default: out += c;
                }
            }
            check_string_size(out.size());
            return Value(std::move(out));
        }
        if (name == "length" || name == "count") {
            if (v.is_string()) return Value(static_cast<int64_t>(code_point_count(v.str())));
            if (v.is_list()) return Value(static_cast<int64_t>(v.items().size()));
            if (v.is_dict()) return Value(static_cast<int64_t>(v.entries().size()));
            if (v.is_undefined()) return Value(int64_t{0});
            type_error(line, std::string("length of ") + v.type_name());
        }
        if (name == "tojson") {
            const Value* ind = arg(a, 0, "indent");
            std::string s = v.to_json(ind && ind->is_int() ? static_cast<int>(std::clamp<int64_t>(ind->as_int(), 0, 64)) : -1);
            return Value(std::move(s));
        }
        if (name == "default" || name == "d") {
            const Value* dflt = arg(a, 0, "default_value");
            const Value* boolean = arg(a, 1, "boolean");
            const bool use = v.is_undefined() || (boolean && boolean->truthy() && !v.truthy());
            return use ? (dflt ? *dflt : Value(std::string())) : v;
        }
        if (name == "list") return Value::list(iterate(v, line));
        if (name == "first" || name == "last") {
            List items = iterate(v, line);
            if (items.empty()) return Value();
            return name == "first" ? items.front() : items.back();
        }
        if (name == "reverse") {
            if (v.is_string()) {
                List chars = iterate(v, line);
                std::string out;
                for (auto it = chars.rbegin(); it != chars.rend(); ++it) out += it->str();
                return Value(std::move(out));
            }
            List items = iterate(v, line);
            std::reverse(items.begin(), items.end());
            return Value::list(std::move(items));
        }
        if (name == "join") {
            const Value* sep = arg(a, 0, "d");
            const Value* attr = arg(a, 1, "attribute");
            List items = iterate(v, line);
            if (attr && attr->is_string()) {
                for (auto& it : items) it = get_attr(it, attr->str());
            }
            return Value(join(items, sep ? sep->to_output() : std::string()));
        }
        if (name == "items") {
            if (!v.is_dict()) type_error(line, "items of a non-dict");
            CallArgs none;
            return call_method(v, "items", none, line);
        }
        if (name == "selectattr" || name == "rejectattr") return select(v, a, true, name == "selectattr", line);
        if (name == "select" || name == "reject") return select(v, a, false, name == "select", line);
        if (name == "map") {
            List items = iterate(v, line);
            if (const Value* attr = a.kwarg("attribute")) {
                const Value* dflt = a.kwarg("default");
                for (auto& it : items) {
                    Value x = attr->is_string() ? get_attr(it, attr->str()) : get_item(it, *attr, line);
                    it = x.is_undefined() && dflt ? *dflt : x;
                }
                return Value::list(std::move(items));
            }
            if (a.pos.empty() || !a.pos[0].is_string()) type_error(line, "map() needs a filter name or attribute=");
            CallArgs rest;
            rest.pos.assign(a.pos.begin() + 1, a.pos.end());
            for (auto& it : items) {
                spend_work();
                it = apply_filter(a.pos[0].str(), it, rest, line);
            }
            return Value::list(std::move(items));
        }
        if (name == "unique") {
            List out;
            for (const auto& it : iterate(v, line)) {
                bool seen = false;
                for (const auto& o : out) {
                    spend_work();
                    if (equals(o, it)) {
                        seen = true;
                        break;
                    }
                }
                if (!seen) out.push_back(it);
            }
            return Value::list(std::move(out));
        }
        if (name == "sort") {
            List items = iterate(v, line);
            const Value* rev = a.kwarg("reverse");
            const Value* attr = a.kwarg("attribute");
            std::vector<std::pair<Value, size_t>> keyed;
            for (size_t i = 0; i < items.size(); ++i) {
                keyed.emplace_back(attr && attr->is_string() ? get_attr(items[i], attr->str()) : items[i], i);
            }
            std::stable_sort(keyed.begin(), keyed.end(), [&](const auto& x, const auto& y) {
                spend_work();
                return compare("<", x.first, y.first, line);
            });
            List out;
            for (const auto& [k, i] : keyed) out.push_back(items[i]);
            if (rev && rev->truthy()) std::reverse(out.begin(), out.end());
            return Value::list(std::move(out));
        }
        if (name == "replace") {
            if (a.pos.size() < 2) type_error(line, "replace needs two arguments");
            const int64_t count = a.pos.size() > 2 && a.pos[2].is_int() ? a.pos[2].as_int() : -1;
            return Value(replace_all(v.to_output(), a.pos[0].to_output(), a.pos[1].to_output(), count));
        }
        if (name == "indent") {
            const Value* w = arg(a, 0, "width");
            const Value* first = arg(a, 1, "first");
            const Value* blank = arg(a, 2, "blank");
            const std::string pad = w && w->is_string() ? w->str() : std::string(static_cast<size_t>(std::clamp<int64_t>(w && w->is_int() ? w->as_int() : 4, 0, 256)), ' ');
            const std::string s = v.to_output();
            std::string out;
            size_t start = 0;
            bool first_line = true;
            while (start <= s.size()) {
                size_t nl = s.find('\n', start);
                const bool last = nl == std::string::npos;
                if (last) nl = s.size();
                const std::string ln = s.substr(start, nl - start);
                const bool do_pad = (!first_line || (first && first->truthy())) && (!ln.empty() || (blank && blank->truthy()));
                if (do_pad) out += pad;
                out += ln;
                if (!last) out += '\n';
                check_string_size(out.size());
                first_line = false;
                if (last) break;
                start = nl + 1;
            }
            return Value(std::move(out));
        }
        if (name == "int") {
            if (v.is_int()) return v;
            if (v.is_float()) {
                const double f = v.as_number();
                if (!(std::fabs(f) < 9.2e18)) type_error(line, "int(): out of range");
                return Value(static_cast<int64_t>(f));
            }
            if (v.is_bool()) return Value(int_of(v));
            if (v.is_string()) {
                char* end = nullptr;
                const long long x = std::strtoll(v.str().c_str(), &end, 10);
                return Value(static_cast<int64_t>(end && *end == '\0' && !v.str().empty() ? x : 0));
            }
            return Value(int64_t{0});
        }
        if (name == "float") {
            if (v.is_number()) return Value(v.as_number());
            if (v.is_string()) return Value(std::strtod(v.str().c_str(), nullptr));
            return Value(0.0);
        }
        if (name == "abs") {
            if (v.is_int()) {
                if (v.as_int() == INT64_MIN) type_error(line, "integer overflow");
                return Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
            }
            if (v.is_float()) return Value(std::fabs(v.as_number()));
            type_error(line, "abs of a non-number");
        }
        if (name == "round") {
            if (!v.is_number()) type_error(line, "round of a non-number");
            const Value* p = arg(a, 0, "precision");
            const double scale = std::pow(10.0, static_cast<double>(std::clamp<int64_t>(p && p->is_int() ? p->as_int() : 0, 0, 15)));
            return Value(std::round(v.as_number() * scale) / scale);
        }
        if (name == "attr") {
            if (a.pos.empty() || !a.pos[0].is_string()) type_error(line, "attr() needs a name");
            return get_attr(v, a.pos[0].str());
        }
        if (name == "min" || name == "max" || name == "sum") {
            List items = iterate(v, line);
            if (name == "sum") {
                Value acc(int64_t{0});
                for (const auto& it : items) acc = binary("+", acc, it, line);
                return acc;
            }
            if (items.empty()) return Value();
            Value best = items[0];
            for (const auto& it : items) {
                if (compare(name == "min" ? "<" : ">", it, best, line)) best = it;
            }
            return best;
        }
        if (name == "dictsort") {
            if (!v.is_dict()) type_error(line, "dictsort of a non-dict");
            Dict entries = v.entries();
            std::stable_sort(entries.begin(), entries.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
            List out;
            for (auto& [k, x] : entries) out.push_back(Value::list({Value(k), x}));
            return Value::list(std::move(out));
        }
        unsupported(line, "filter '" + name + "'");
    }

    const RenderOptions& opts_;
    std::vector<Frame> frames_;
    int depth_ = 0;
    int64_t loop_iterations_ = 0;
};

std::string render(const Template& tmpl, const Value& variables, const RenderOptions& opts) {
    ContainerArena arena;  // outlives the renderer: breaks the cycles a template may have built
    Renderer r(opts, variables);
    return r.run(tmpl);
}

std::string render(std::string_view source, const Value& variables, const RenderOptions& opts) {
    ParseOptions po;
    const auto tmpl = parse(source, po);
    return render(*tmpl, variables, opts);
}

}  // namespace llamas::jinja
