#include "chat/jinja_value.h"

#include "util/error.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <string>

namespace llamas::jinja {

const Value* CallArgs::kwarg(std::string_view name) const {
    for (const auto& [k, v] : kw) {
        if (k == name) return &v;
    }
    return nullptr;
}

namespace {
thread_local ContainerArena* t_arena = nullptr;
}  // namespace

ContainerArena::ContainerArena() : previous_(t_arena) { t_arena = this; }

ContainerArena::~ContainerArena() {
    t_arena = previous_;
    // Emptying every container breaks any cycle among them; the storage itself is then freed by
    // the last shared_ptr going away.
    for (auto& w : lists)
        if (auto p = w.lock()) List().swap(*p);
    for (auto& w : dicts)
        if (auto p = w.lock()) Dict().swap(*p);
    for (auto& w : funcs)
        if (auto p = w.lock()) *p = Func();
}

Value Value::list(List items) {
    Value v;
    v.type_ = Type::List;
    v.list_ = std::make_shared<List>(std::move(items));
    if (t_arena) t_arena->lists.push_back(v.list_);
    return v;
}

Value Value::dict(Dict items) {
    Value v;
    v.type_ = Type::Dict;
    v.dict_ = std::make_shared<Dict>(std::move(items));
    if (t_arena) t_arena->dicts.push_back(v.dict_);
    return v;
}

Value Value::func(Func f) {
    Value v;
    v.type_ = Type::Func;
    v.func_ = std::make_shared<Func>(std::move(f));
    if (t_arena) t_arena->funcs.push_back(v.func_);
    return v;
}

const Value* Value::find(std::string_view key) const {
    if (type_ != Type::Dict) return nullptr;
    for (const auto& [k, v] : *dict_) {
        if (k == key) return &v;
    }
    return nullptr;
}

void Value::set(const std::string& key, Value v) const {
    for (auto& [k, old] : *dict_) {
        if (k == key) {
            old = std::move(v);
            return;
        }
    }
    dict_->emplace_back(key, std::move(v));
}

bool Value::truthy() const {
    switch (type_) {
        case Type::Undefined:
        case Type::None: return false;
        case Type::Bool: return b_;
        case Type::Int: return i_ != 0;
        case Type::Float: return f_ != 0.0;
        case Type::String: return !s_.empty();
        case Type::List: return !list_->empty();
        case Type::Dict: return !dict_->empty();
        case Type::Func: return true;
    }
    return false;
}

const char* Value::type_name() const {
    switch (type_) {
        case Type::Undefined: return "undefined";
        case Type::None: return "none";
        case Type::Bool: return "bool";
        case Type::Int: return "int";
        case Type::Float: return "float";
        case Type::String: return "string";
        case Type::List: return "list";
        case Type::Dict: return "dict";
        case Type::Func: return "function";
    }
    return "?";
}

std::string format_float(double f) {
    if (std::isnan(f)) return "nan";
    if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
    // Shortest digits that read back exactly, laid out the way Python's repr does.
    char buf[64];
    int prec = 1;
    for (; prec <= 17; ++prec) {
        std::snprintf(buf, sizeof buf, "%.*e", prec - 1, f);
        if (std::strtod(buf, nullptr) == f) break;
    }
    std::string s(buf);
    const size_t e = s.find('e');
    const int exp10 = std::atoi(s.c_str() + e + 1);
    std::string mant = s.substr(0, e);
    const bool neg = mant[0] == '-';
    if (neg) mant.erase(0, 1);
    std::string digits;
    for (char c : mant) {
        if (c != '.') digits += c;
    }
    while (digits.size() > 1 && digits.back() == '0') digits.pop_back();
    std::string out = neg ? "-" : "";
    if (exp10 >= -5 + 1 && exp10 < 16) {
        if (exp10 >= 0) {
            std::string ip = digits.substr(0, std::min(digits.size(), static_cast<size_t>(exp10) + 1));
            while (ip.size() < static_cast<size_t>(exp10) + 1) ip += '0';
            std::string fp = digits.size() > static_cast<size_t>(exp10) + 1 ? digits.substr(static_cast<size_t>(exp10) + 1) : "0";
            out += ip + "." + fp;
        } else {
            out += "0." + std::string(static_cast<size_t>(-exp10 - 1), '0') + digits;
        }
    } else {
        out += digits.substr(0, 1);
        if (digits.size() > 1) out += "." + digits.substr(1);
        char eb[16];
        std::snprintf(eb, sizeof eb, "e%c%02d", exp10 < 0 ? '-' : '+', std::abs(exp10));
        out += eb;
    }
    return out;
}

static std::string quote_python(const std::string& s) {
    // Python prefers single quotes unless the text contains one and no double quote.
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        switch (c) {
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c == static_cast<unsigned char>(q)) {
                    out += '\\';
                    out += static_cast<char>(c);
                } else if (c < 0x20 || c == 0x7f) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\x%02x", c);
                    out += b;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += q;
    return out;
}

namespace {
thread_local int64_t g_work_budget = INT64_MAX;
thread_local size_t g_max_string = SIZE_MAX;
}

void set_work_budget(int64_t units, size_t max_string_bytes) {
    g_work_budget = units;
    g_max_string = max_string_bytes;
}

void check_string_size(size_t bytes) {
    if (bytes > g_max_string) fail(Status::bad_format, "chat template: string longer than the output limit (%zu bytes)", g_max_string);
}

void spend_work(int64_t units) {
    g_work_budget -= units;
    if (g_work_budget < 0) fail(Status::bad_format, "chat template: too much work (step limit reached)");
}

static void check_depth(int depth) {
    spend_work();
    if (depth > kMaxValueDepth) fail(Status::bad_format, "chat template: value nested too deeply (a container holding itself?)");
}

std::string Value::repr(int depth) const {
    check_depth(depth);
    switch (type_) {
        case Type::Undefined: return "";
        case Type::None: return "None";
        case Type::Bool: return b_ ? "True" : "False";
        case Type::Int: return std::to_string(i_);
        case Type::Float: return format_float(f_);
        case Type::String: return quote_python(s_);
        case Type::List: {
            std::string out = "[";
            for (size_t i = 0; i < list_->size(); ++i) {
                if (i) out += ", ";
                out += (*list_)[i].repr(depth + 1);
                check_string_size(out.size());
            }
            return out + "]";
        }
        case Type::Dict: {
            std::string out = "{";
            for (size_t i = 0; i < dict_->size(); ++i) {
                if (i) out += ", ";
                out += quote_python((*dict_)[i].first) + ": " + (*dict_)[i].second.repr(depth + 1);
                check_string_size(out.size());
            }
            return out + "}";
        }
        case Type::Func: return "<function>";
    }
    return "";
}

std::string Value::to_output() const {
    if (type_ == Type::String) return s_;
    return repr();
}

static void json_string(std::string& out, const std::string& s) {
    out += '"';
    for (unsigned char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) {
                    char b[8];
                    std::snprintf(b, sizeof b, "\\u%04x", c);
                    out += b;
                } else {
                    out += static_cast<char>(c);
                }
        }
    }
    out += '"';
}

static void json_write(std::string& out, const Value& v, int indent, int depth) {
    check_depth(depth);
    check_string_size(out.size());
    auto newline = [&](int d) {
        out += '\n';
        out.append(static_cast<size_t>(indent) * static_cast<size_t>(d), ' ');
    };
    switch (v.type()) {
        case Value::Type::Undefined:
        case Value::Type::None:
        case Value::Type::Func: out += "null"; return;
        case Value::Type::Bool: out += v.as_bool() ? "true" : "false"; return;
        case Value::Type::Int: out += std::to_string(v.as_int()); return;
        case Value::Type::Float: {
            const double f = v.as_number();
            out += std::isnan(f) ? "NaN" : std::isinf(f) ? (f > 0 ? "Infinity" : "-Infinity") : format_float(f);
            return;
        }
        case Value::Type::String: json_string(out, v.str()); return;
        case Value::Type::List: {
            const auto& items = v.items();
            if (items.empty()) {
                out += "[]";
                return;
            }
            out += '[';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += indent >= 0 ? "," : ", ";
                if (indent >= 0) newline(depth + 1);
                json_write(out, items[i], indent, depth + 1);
            }
            if (indent >= 0) newline(depth);
            out += ']';
            return;
        }
        case Value::Type::Dict: {
            const auto& entries = v.entries();
            if (entries.empty()) {
                out += "{}";
                return;
            }
            out += '{';
            for (size_t i = 0; i < entries.size(); ++i) {
                if (i) out += indent >= 0 ? "," : ", ";
                if (indent >= 0) newline(depth + 1);
                json_string(out, entries[i].first);
                out += ": ";
                json_write(out, entries[i].second, indent, depth + 1);
            }
            if (indent >= 0) newline(depth);
            out += '}';
            return;
        }
    }
}

std::string Value::to_json(int indent) const {
    std::string out;
    json_write(out, *this, indent, 0);
    return out;
}

bool equals(const Value& a, const Value& b, int depth) {
    check_depth(depth);
    using T = Value::Type;
    if ((a.is_number() || a.is_bool()) && (b.is_number() || b.is_bool())) {
        // Python: True == 1, 1 == 1.0
        const double x = a.is_bool() ? (a.as_bool() ? 1.0 : 0.0) : a.as_number();
        const double y = b.is_bool() ? (b.as_bool() ? 1.0 : 0.0) : b.as_number();
        if (a.is_int() && b.is_int()) return a.as_int() == b.as_int();
        return x == y;
    }
    if (a.type() != b.type()) return false;
    switch (a.type()) {
        case T::Undefined:
        case T::None: return true;
        case T::String: return a.str() == b.str();
        case T::List: {
            if (a.items().size() != b.items().size()) return false;
            for (size_t i = 0; i < a.items().size(); ++i) {
                if (!equals(a.items()[i], b.items()[i], depth + 1)) return false;
            }
            return true;
        }
        case T::Dict: {
            if (a.entries().size() != b.entries().size()) return false;
            for (const auto& [k, v] : a.entries()) {
                const Value* o = b.find(k);
                if (!o || !equals(v, *o, depth + 1)) return false;
            }
            return true;
        }
        case T::Func: return &a.function() == &b.function();
        default: return false;
    }
}

}  // namespace llamas::jinja
