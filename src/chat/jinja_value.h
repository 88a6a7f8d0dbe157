// Values of the small Jinja interpreter used for chat templates: Python-like semantics for the
// subset chat templates use (None/undefined, bool, int, float, str, list, dict, callables).
// Lists and dicts have reference semantics, as in Python (namespace() objects and
// list.append() rely on it).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace llamas::jinja {

class Value;
using List = std::vector<Value>;
using Dict = std::vector<std::pair<std::string, Value>>;  // insertion-ordered, string keys

struct CallArgs {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    const Value* kwarg(std::string_view name) const;
};
using Func = std::function<Value(CallArgs&)>;

class Value {
public:
    enum class Type { Undefined, None, Bool, Int, Float, String, List, Dict, Func };

    Value() = default;  // undefined
    static Value none() { Value v; v.type_ = Type::None; return v; }
    Value(bool b) : type_(Type::Bool), b_(b) {}
    Value(int64_t i) : type_(Type::Int), i_(i) {}
    Value(int i) : type_(Type::Int), i_(i) {}
    Value(double f) : type_(Type::Float), f_(f) {}
    Value(std::string s) : type_(Type::String), s_(std::move(s)) {}
    Value(const char* s) : type_(Type::String), s_(s) {}
    Value(std::string_view s) : type_(Type::String), s_(s) {}
    static Value list(List items = {});
    static Value dict(Dict items = {});
    static Value func(Func f);

    Type type() const { return type_; }
    bool is_undefined() const { return type_ == Type::Undefined; }
    bool is_none() const { return type_ == Type::None; }
    bool is_bool() const { return type_ == Type::Bool; }
    bool is_int() const { return type_ == Type::Int; }
    bool is_float() const { return type_ == Type::Float; }
    bool is_number() const { return type_ == Type::Int || type_ == Type::Float; }
    bool is_string() const { return type_ == Type::String; }
    bool is_list() const { return type_ == Type::List; }
    bool is_dict() const { return type_ == Type::Dict; }
    bool is_func() const { return type_ == Type::Func; }

    bool as_bool() const { return b_; }
    int64_t as_int() const { return i_; }
    double as_number() const { return type_ == Type::Int ? static_cast<double>(i_) : f_; }
    const std::string& str() const { return s_; }
    List& items() const { return *list_; }
    Dict& entries() const { return *dict_; }
    const Func& function() const { return *func_; }

    // Dict lookup; nullptr when absent (or not a dict).
    const Value* find(std::string_view key) const;
    void set(const std::string& key, Value v) const;  // dict only

    bool truthy() const;
    // What {{ v }} prints: strings raw, None as "None", True/False, lists/dicts as Python repr.
    std::string to_output() const;
    // Python repr (strings quoted).
    std::string repr(int depth = 0) const;
    // JSON text as Python's json.dumps(ensure_ascii=False) writes it; indent < 0: one line.
    std::string to_json(int indent = -1) const;
    const char* type_name() const;

private:
    Type type_ = Type::Undefined;
    bool b_ = false;
    int64_t i_ = 0;
    double f_ = 0;
    std::string s_;
    std::shared_ptr<List> list_;
    std::shared_ptr<Dict> dict_;
    std::shared_ptr<Func> func_;
};

// Python == between values (1 == 1.0, lists and dicts element-wise).
bool equals(const Value& a, const Value& b, int depth = 0);

// Containers can hold themselves (a.append(a)); walks over values stop at this depth.
constexpr int kMaxValueDepth = 128;

// Work budget shared by one render on this thread: every value node visited by repr, to_json
// and equals, and every evaluation step, spends one unit; running out is an error. Stops
// hostile templates that build exponentially shared structures.
// Strings built by repr/to_json (and by the evaluator) may not exceed max_string_bytes.
void set_work_budget(int64_t units, size_t max_string_bytes);
void spend_work(int64_t units = 1);
void check_string_size(size_t bytes);
// Python repr of a float ("1.0", "0.1", "1e+20").
std::string format_float(double f);

// While one is alive on this thread, every list, dict and function Value created is recorded,
// and its contents are dropped when the arena ends. Templates can build containers that hold
// themselves (`{% set _ = a.append(a) %}`); shared ownership alone would leak such cycles.
// Values created before the arena (the caller's variables) are not touched.
class ContainerArena {
public:
    ContainerArena();
    ~ContainerArena();
    ContainerArena(const ContainerArena&) = delete;
    ContainerArena& operator=(const ContainerArena&) = delete;

    std::vector<std::weak_ptr<List>> lists;
    std::vector<std::weak_ptr<Dict>> dicts;
    std::vector<std::weak_ptr<Func>> funcs;

private:
    ContainerArena* previous_;
};

}  // namespace llamas::jinja
