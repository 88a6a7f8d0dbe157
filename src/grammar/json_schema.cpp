// JSON Schema → GBNF: the schema walk. One rule per sub-schema, named after its path as
// llama.cpp's converter names them (root, root-item, name-kv, ref-defs-x, ...), so grammars read
// the same; the primitive rules (string, number, ...) are shared. See json_schema.h.
#include "grammar/json_schema.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

#include "grammar/json_schema_internal.h"
#include "util/error.h"

namespace llamas {
namespace {

using json = nlohmann::ordered_json;
using namespace json_schema_detail;

// Bounded whitespace between tokens: none, one space, or one or two line breaks and an indent.
const char* const kSpaceRule = R"(| " " | "\n"{1,2} [ \t]{0,20})";

struct Primitive {
    const char* body;
    std::vector<const char*> deps;
};

const std::map<std::string, Primitive>& primitives() {
    static const std::map<std::string, Primitive> rules = {
        {"boolean", {R"(("true" | "false"))", {}}},
        {"decimal-part", {"[0-9]{1,16}", {}}},
        {"integral-part", {"[0] | [1-9] [0-9]{0,15}", {}}},
        {"number", {R"(("-"? integral-part) ("." decimal-part)? ([eE] [-+]? integral-part)?)", {"integral-part", "decimal-part"}}},
        {"integer", {R"(("-"? integral-part))", {"integral-part"}}},
        {"value", {"object | array | string | number | boolean | null", {"object", "array", "string", "number", "boolean", "null"}}},
        {"object", {R"("{" space ( string ":" space value ("," space string ":" space value)* )? space "}")", {"string", "value"}}},
        {"array", {R"("[" space ( value ("," space value)* )? space "]")", {"value"}}},
        {"uuid", {R"("\"" [0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12} "\"")", {}}},
        {"char", {kCharRule, {}}},
        {"string", {R"("\"" char* "\"")", {"char"}}},
        {"null", {R"("null")", {}}},
        // String formats.
        {"date", {R"([0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [1-2] [0-9] | "3" [0-1] ))", {}}},
        {"time", {R"(([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{3} )? ( "Z" | ( "+" | "-" ) ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))", {}}},
        {"date-time", {R"(date "T" time)", {"date", "time"}}},
        {"date-string", {R"("\"" date "\"")", {"date"}}},
        {"time-string", {R"("\"" time "\"")", {"time"}}},
        {"date-time-string", {R"("\"" date-time "\"")", {"date-time"}}},
    };
    return rules;
}

bool is_json_type(const std::string& t) {
    return t == "object" || t == "array" || t == "string" || t == "number" || t == "integer" || t == "boolean" ||
           t == "null";
}

// Rule names are [a-zA-Z0-9-]: every run of other characters becomes one '-'.
std::string rule_name_of(const std::string& s) {
    std::string out;
    bool in_run = false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        if (ok) out += c;
        else if (!in_run) out += '-';
        in_run = !ok;
    }
    return out;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
    return out;
}

std::string dump(const json& v) {
    return v.dump(-1, ' ', false, nlohmann::detail::error_handler_t::strict);
}

// minItems, maxLength, ...: a non-negative integer within kMaxRepeat, or `fallback` if absent.
int64_t count_of(const json& s, const char* key, int64_t fallback) {
    auto it = s.find(key);
    if (it == s.end()) return fallback;
    double v = 0;
    if (it->is_number_unsigned()) v = static_cast<double>(it->get<uint64_t>());
    else if (it->is_number()) v = it->get<double>();
    else fail(Status::invalid_argument, "'%s' must be a number", key);
    if (v < 0 || v != std::floor(v)) fail(Status::invalid_argument, "'%s' must be a non-negative integer", key);
    if (v > static_cast<double>(kMaxRepeat))
        fail(Status::invalid_argument, "'%s' is %.0f: at most %lld is supported", key, v, static_cast<long long>(kMaxRepeat));
    return static_cast<int64_t>(v);
}

// An integer bound: min rounds up, max rounds down; magnitudes up to 1e18.
bool bound_of(const json& s, const char* key, bool up, int64_t& out) {
    auto it = s.find(key);
    if (it == s.end() || it->is_boolean()) return false;
    if (!it->is_number()) fail(Status::invalid_argument, "'%s' must be a number", key);
    const double v = it->is_number_integer() ? 0 : it->get<double>();
    if (it->is_number_unsigned()) {
        if (it->get<uint64_t>() > 1000000000000000000ull) fail(Status::invalid_argument, "'%s' is too large", key);
        out = static_cast<int64_t>(it->get<uint64_t>());
    } else if (it->is_number_integer()) {
        out = it->get<int64_t>();
        if (out < -1000000000000000000ll || out > 1000000000000000000ll) fail(Status::invalid_argument, "'%s' is too large", key);
    } else {
        if (!(std::fabs(v) <= 1e18)) fail(Status::invalid_argument, "'%s' is too large", key);
        out = static_cast<int64_t>(up ? std::ceil(v) : std::floor(v));
    }
    return true;
}

// Deepest nesting of the JSON document, without recursion.
int document_depth(const json& doc) {
    int deepest = 0;
    std::vector<std::pair<const json*, int>> stack{{&doc, 1}};
    while (!stack.empty()) {
        auto [v, d] = stack.back();
        stack.pop_back();
        deepest = std::max(deepest, d);
        if (d > kMaxDocumentDepth) break;
        if (v->is_structured())
            for (const auto& child : *v) stack.push_back({&child, d + 1});
    }
    return deepest;
}

class Converter {
public:
    explicit Converter(const json& doc) : doc_(doc) { add_rule("space", kSpaceRule); }

    std::string run() {
        if (document_depth(doc_) > kMaxDocumentDepth)
            fail(Status::invalid_argument, "the schema is nested more than %d levels deep", kMaxDocumentDepth);
        visit(doc_, "", 0);
        std::string out;
        for (const auto& [name, body] : rules_) out += name + " ::= " + body + "\n";
        json_schema_check_gbnf(out);
        return out;
    }

private:
    std::string add_rule(const std::string& name, const std::string& body) {
        const std::string base = rule_name_of(name);
        std::string key = base;
        for (int i = 0;; ++i) {
            auto it = rules_.find(key);
            if (it == rules_.end()) break;
            if (it->second == body) return key;
            key = base + std::to_string(i);
        }
        bytes_ += key.size() + body.size() + 6;
        if (bytes_ > kMaxGrammarBytes)
            fail(Status::invalid_argument, "the schema's grammar would exceed %zu bytes", kMaxGrammarBytes);
        rules_[key] = body;
        return key;
    }

    std::string add_primitive(const std::string& name, const std::string& primitive) {
        const Primitive& p = primitives().at(primitive);
        const std::string used = add_rule(name, p.body);
        for (const char* dep : p.deps)
            if (!rules_.count(dep)) add_primitive(dep, dep);
        return used;
    }

    static std::string sub(const std::string& name, const std::string& part) {
        return name + (name.empty() ? "" : "-") + part;
    }

    std::string visit(const json& s, const std::string& name, int depth, const json* type_override = nullptr) {
        if (++visits_ > kMaxVisits)
            fail(Status::invalid_argument, "the schema is too complex (more than %zu sub-schemas to expand)", kMaxVisits);
        if (depth > kMaxDepth) fail(Status::invalid_argument, "the schema nests more than %d levels deep", kMaxDepth);
        const bool reserved = name == "root" || primitives().count(name);
        const std::string rule_name = reserved ? name + "-" : name.empty() ? "root" : name;
        if (s.is_boolean()) {
            if (!s.get<bool>()) fail(Status::invalid_argument, "the schema 'false' at '%s' matches nothing", rule_name.c_str());
            return add_rule(rule_name, add_primitive("value", "value"));
        }
        if (!s.is_object()) fail(Status::invalid_argument, "a schema must be an object or a boolean: %.100s", dump(s).c_str());
        static const json kNull;
        const json& type = type_override ? *type_override : (s.contains("type") ? s["type"] : kNull);
        const bool untyped = type.is_null();
        auto typed = [&](const char* t) { return type.is_string() && type.get_ref<const std::string&>() == t; };
        std::string format;
        if (s.contains("format") && s["format"].is_string()) format = s["format"].get<std::string>();

        if (s.contains("$ref")) {
            if (!s["$ref"].is_string()) fail(Status::invalid_argument, "'$ref' must be a string");
            return add_rule(rule_name, resolve_ref(s["$ref"].get<std::string>(), depth));
        }
        if (s.contains("oneOf") || s.contains("anyOf")) {
            const json& alts = s.contains("oneOf") ? s["oneOf"] : s["anyOf"];
            if (!alts.is_array() || alts.empty()) fail(Status::invalid_argument, "anyOf / oneOf must be a non-empty array");
            std::vector<std::string> rules;
            for (size_t i = 0; i < alts.size(); ++i)
                rules.push_back(visit(alts[i], name + (name.empty() ? "alternative-" : "-") + std::to_string(i), depth + 1));
            return add_rule(rule_name, join(rules, " | "));
        }
        if (type.is_array()) {
            if (type.empty()) fail(Status::invalid_argument, "'type' is an empty array");
            std::vector<std::string> rules;
            for (size_t i = 0; i < type.size(); ++i)
                rules.push_back(visit(s, name + (name.empty() ? "alternative-" : "-") + std::to_string(i), depth + 1, &type[i]));
            return add_rule(rule_name, join(rules, " | "));
        }
        if (!untyped && (!type.is_string() || !is_json_type(type.get<std::string>())))
            fail(Status::invalid_argument, "unsupported type: %.100s", dump(type).c_str());
        if (s.contains("const")) return add_rule(rule_name, gbnf_literal(dump(s["const"])));
        if (s.contains("enum")) {
            const json& values = s["enum"];
            if (!values.is_array() || values.empty()) fail(Status::invalid_argument, "'enum' must be a non-empty array");
            std::vector<std::string> literals;
            for (const auto& v : values) literals.push_back(gbnf_literal(dump(v)));
            return add_rule(rule_name, "(" + join(literals, " | ") + ")");
        }
        if ((untyped || typed("object")) &&
            (s.contains("properties") || (s.contains("additionalProperties") && s["additionalProperties"] != true))) {
            std::vector<std::pair<std::string, const json*>> props;
            if (s.contains("properties")) {
                if (!s["properties"].is_object()) fail(Status::invalid_argument, "'properties' must be an object");
                for (const auto& [k, v] : s["properties"].items()) props.push_back({k, &v});
            }
            std::set<std::string> required;
            if (s.contains("required") && s["required"].is_array())
                for (const auto& r : s["required"])
                    if (r.is_string()) required.insert(r.get<std::string>());
            return add_rule(rule_name, object_rule(props, required, name, s.contains("additionalProperties") ? &s["additionalProperties"] : nullptr, depth));
        }
        if ((untyped || typed("object") || typed("string")) && s.contains("allOf")) return all_of(s, name, rule_name, depth);
        if ((untyped || typed("array")) && (s.contains("items") || s.contains("prefixItems"))) return array_rule(s, name, rule_name, depth);
        if ((untyped || typed("string")) && s.contains("pattern")) {
            if (!s["pattern"].is_string()) fail(Status::invalid_argument, "'pattern' must be a string");
            const AddRule add = [this](const std::string& n, const std::string& b) {
                return n == "char" ? add_primitive("char", "char") : add_rule(n, b);
            };
            const std::string body = pattern_to_gbnf(s["pattern"].get<std::string>(), rule_name, add);
            return add_rule(rule_name, body);
        }
        if (untyped || typed("string")) {
            const bool uuid = format == "uuid" || (format.size() == 5 && format.compare(0, 4, "uuid") == 0 && format[4] >= '1' && format[4] <= '5');
            if (uuid) return add_primitive(rule_name == "root" ? "root" : format, "uuid");
            if (format == "date" || format == "time" || format == "date-time")
                return add_rule(rule_name, add_primitive(format + "-string", format + "-string"));
        }
        if (typed("string") && (s.contains("minLength") || s.contains("maxLength"))) {
            const int64_t min = count_of(s, "minLength", 0), max = count_of(s, "maxLength", kNoMax);
            if (max != kNoMax && max < min) fail(Status::invalid_argument, "maxLength is below minLength");
            const std::string c = add_primitive("char", "char");
            return add_rule(rule_name, "\"\\\"\" " + repetition(c, min, max) + " \"\\\"\"");
        }
        if (typed("integer") && (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") || s.contains("exclusiveMaximum")))
            return add_rule(rule_name, integer_rule(s));
        if (typed("object") || s.empty()) return add_rule(rule_name, add_primitive("object", "object"));
        if (untyped) return add_rule(rule_name, add_primitive("value", "value"));  // only annotations
        const std::string t = type.get<std::string>();
        return add_primitive(rule_name == "root" ? "root" : t, t);
    }

    std::string integer_rule(const json& s) {
        int64_t min = 0, max = 0, v = 0;
        bool has_min = bound_of(s, "minimum", true, min);
        bool has_max = bound_of(s, "maximum", false, max);
        // exclusiveMinimum: a number (draft 6+) or, beside minimum, `true` (draft 4).
        if (s.contains("exclusiveMinimum") && s["exclusiveMinimum"].is_boolean()) {
            if (s["exclusiveMinimum"].get<bool>() && has_min && s["minimum"].get<double>() == static_cast<double>(min)) ++min;
        } else if (bound_of(s, "exclusiveMinimum", false, v)) {
            min = has_min ? std::max(min, v + 1) : v + 1;
            has_min = true;
        }
        if (s.contains("exclusiveMaximum") && s["exclusiveMaximum"].is_boolean()) {
            if (s["exclusiveMaximum"].get<bool>() && has_max && s["maximum"].get<double>() == static_cast<double>(max)) --max;
        } else if (bound_of(s, "exclusiveMaximum", true, v)) {
            max = has_max ? std::min(max, v - 1) : v - 1;
            has_max = true;
        }
        if (has_min && has_max && min > max) fail(Status::invalid_argument, "the integer range is empty (minimum > maximum)");
        std::string out = "(";
        integer_range(has_min, min, has_max, max, out);
        return out + ")";
    }

    // Required properties in schema order, then the optional ones (and additional properties, "*")
    // in any suffix order: `( a-kv a-rest | b-kv b-rest | ... )?` where x-rest allows the ones after x.
    std::string object_rule(const std::vector<std::pair<std::string, const json*>>& props,
                            const std::set<std::string>& required, const std::string& name,
                            const json* additional, int depth) {
        std::map<std::string, std::string> kv;
        std::vector<std::string> req, opt, names;
        for (const auto& [prop, schema] : props) {
            const std::string value = visit(*schema, sub(name, prop), depth + 1);
            kv[prop] = add_rule(sub(name, prop + "-kv"), gbnf_literal(dump(json(prop))) + " space \":\" space " + value);
            (required.count(prop) ? req : opt).push_back(prop);
            names.push_back(prop);
        }
        if (additional && (additional->is_object() || (additional->is_boolean() && additional->get<bool>()))) {
            const std::string base = sub(name, "additional");
            const std::string value = additional->is_object() ? visit(*additional, base + "-value", depth + 1)
                                                              : add_primitive("value", "value");
            const std::string key = names.empty() ? add_primitive("string", "string") : add_rule(base + "-k", not_strings(names));
            kv["*"] = add_rule(base + "-kv", key + " \":\" space " + value);
            opt.push_back("*");
        }
        std::string rule = "\"{\" space ";
        for (size_t i = 0; i < req.size(); ++i) rule += (i ? " \",\" space " : "") + kv[req[i]];
        if (!opt.empty()) {
            // rest[i]: what may follow optional property i (built back to front: linear size).
            const size_t n = opt.size();
            std::vector<std::string> rest(n);
            for (size_t i = n - 1; i-- > 0;) {
                const std::string& k = opt[i + 1];
                std::string body = "( \",\" space " + kv[k] + " )" + (k == "*" ? "*" : "?");
                if (i + 1 < n - 1) body += " " + rest[i + 1];
                rest[i] = add_rule(sub(name, opt[i] + "-rest"), body);
            }
            std::vector<std::string> alts;
            for (size_t i = 0; i < n; ++i) {
                std::string alt = kv[opt[i]];
                if (opt[i] == "*") alt += " ( \",\" space " + kv[opt[i]] + " )*";
                if (i < n - 1) alt += " " + rest[i];
                alts.push_back(alt);
            }
            rule += " (";
            if (!req.empty()) rule += " \",\" space ( ";
            rule += join(alts, " | ");
            if (!req.empty()) rule += " )";
            rule += " )?";
        }
        return rule + " space \"}\"";
    }

    // A JSON string that is none of `names` (keys for additionalProperties): a trie walk that
    // leaves each name's path as soon as the key differs from it, over the JSON-encoded keys.
    std::string not_strings(const std::vector<std::string>& names) {
        struct Node {
            std::map<uint32_t, Node> children;
            bool end = false;
        };
        Node trie;
        for (const std::string& raw : names) {
            const std::string enc = dump(json(raw));
            Node* node = &trie;
            for (size_t i = 1; i + 1 < enc.size();) {  // between the quotes, one code point at a time
                const unsigned char lead = static_cast<unsigned char>(enc[i]);
                const size_t len = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
                uint32_t cp = len == 1 ? lead : len == 2 ? lead & 0x1F : len == 3 ? lead & 0x0F : lead & 0x07;
                for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(enc[i + k]) & 0x3F);
                i += len;
                node = &node->children[cp];
            }
            node->end = true;
        }
        const std::string c = add_primitive("char", "char");
        std::string out = "[\"] ( ";
        // Recursion depth is a key's length, which the grammar size bound keeps finite; walk it
        // with an explicit stack anyway to be safe against very long keys.
        struct Frame {
            const Node* node;
            std::map<uint32_t, Node>::const_iterator it;
            std::string rejects;
            bool first;
        };
        std::vector<Frame> stack{{&trie, trie.children.begin(), "", true}};
        while (!stack.empty()) {
            Frame& f = stack.back();
            if (f.it != f.node->children.end()) {
                const uint32_t cp = f.it->first;
                const Node& child = f.it->second;
                ++f.it;
                f.rejects += gbnf_class_char(cp);
                if (!f.first) out += " | ";
                f.first = false;
                out += "[" + gbnf_class_char(cp) + "]";
                if (!child.children.empty()) {
                    out += " (";
                    stack.push_back({&child, child.children.begin(), "", true});
                } else if (child.end) {
                    out += " " + c + "+";
                }
                continue;
            }
            if (!f.node->children.empty())
                out += std::string(f.first ? "" : " | ") + "[^\"" + f.rejects + "\\x5C\\x7F\\x00-\\x1F] " + c + "*";
            const bool was_end = f.node->end;
            stack.pop_back();
            if (!stack.empty()) out += std::string(")") + (was_end ? "" : "?");
        }
        out += " )";
        if (!trie.end) out += "?";
        return out + " [\"]";
    }

    std::string array_rule(const json& s, const std::string& name, const std::string& rule_name, int depth) {
        const json* tuple = nullptr;
        const json* rest = nullptr;
        const json* items = s.contains("items") ? &s["items"] : nullptr;
        if (s.contains("prefixItems") && s["prefixItems"].is_array()) {
            tuple = &s["prefixItems"];
            rest = items;
        } else if (items && items->is_array()) {
            tuple = items;
        } else {
            rest = items ? items : &s["prefixItems"];
        }
        if (rest && !rest->is_object() && !rest->is_boolean()) fail(Status::invalid_argument, "'items' must be a schema");
        if (tuple) {
            std::string rule = "\"[\" space ";
            for (size_t i = 0; i < tuple->size(); ++i)
                rule += (i ? " \",\" space " : "") + visit((*tuple)[i], sub(name, "tuple-" + std::to_string(i)), depth + 1);
            if (rest && *rest != false) rule += " ( \",\" space " + visit(*rest, sub(name, "item"), depth + 1) + " )*";
            return add_rule(rule_name, rule + " space \"]\"");
        }
        const int64_t min = count_of(s, "minItems", 0);
        int64_t max = count_of(s, "maxItems", kNoMax);
        if (max != kNoMax && max < min) fail(Status::invalid_argument, "maxItems is below minItems");
        if (*rest == false) {
            if (min > 0) fail(Status::invalid_argument, "'items: false' with minItems > 0 matches nothing");
            max = 0;
        }
        const std::string item = max == 0 ? "" : visit(*rest, sub(name, "item"), depth + 1);
        return add_rule(rule_name, "\"[\" space " + repetition(item, min, max, "\",\" space") + " space \"]\"");
    }

    // allOf: the properties of every component (a $ref followed) are merged into one object, all
    // required except those under a nested anyOf; enums intersect.
    std::string all_of(const json& s, const std::string& name, const std::string& rule_name, int depth) {
        const json& parts = s["allOf"];
        if (!parts.is_array() || parts.empty()) fail(Status::invalid_argument, "'allOf' must be a non-empty array");
        std::vector<std::pair<std::string, const json*>> props;
        std::set<std::string> seen, required;
        std::map<std::string, size_t> enum_counts;
        std::vector<std::string> enum_order;
        std::function<void(const json&, bool, int)> add = [&](const json& c, bool is_required, int d) {
            if (++visits_ > kMaxVisits) fail(Status::invalid_argument, "the schema is too complex");
            if (d > kMaxDepth) fail(Status::invalid_argument, "allOf / $ref nests more than %d levels deep", kMaxDepth);
            if (!c.is_object()) return;
            if (c.contains("$ref") && c["$ref"].is_string()) {
                add(pointer(c["$ref"].get<std::string>()), is_required, d + 1);
            } else if (c.contains("properties") && c["properties"].is_object()) {
                for (const auto& [k, v] : c["properties"].items()) {
                    if (seen.insert(k).second) props.push_back({k, &v});
                    if (is_required) required.insert(k);
                }
            } else if (c.contains("enum") && c["enum"].is_array()) {
                for (const auto& v : c["enum"]) {
                    const std::string lit = gbnf_literal(dump(v));
                    if (enum_counts[lit]++ == 0) enum_order.push_back(lit);
                }
            }
        };
        for (const auto& part : parts) {
            if (part.is_object() && part.contains("anyOf") && part["anyOf"].is_array())
                for (const auto& alt : part["anyOf"]) add(alt, false, depth + 1);
            else add(part, true, depth + 1);
        }
        std::vector<std::string> common;
        for (const auto& lit : enum_order)
            if (enum_counts[lit] == parts.size()) common.push_back(lit);
        if (!common.empty()) return add_rule(rule_name, "(" + join(common, " | ") + ")");
        return add_rule(rule_name, object_rule(props, required, name, nullptr, depth));
    }

    // The sub-schema a local $ref ("#", "#/definitions/x", "#/$defs/x", any JSON pointer) names.
    const json& pointer(const std::string& ref) const {
        if (ref.empty() || ref[0] != '#')
            fail(Status::invalid_argument, "unsupported $ref '%.200s' (only references within the document, '#/...')", ref.c_str());
        const json* at = &doc_;
        size_t pos = 1;
        if (pos < ref.size() && ref[pos] != '/') fail(Status::invalid_argument, "unsupported $ref '%.200s'", ref.c_str());
        while (pos < ref.size()) {
            size_t next = ref.find('/', pos + 1);
            if (next == std::string::npos) next = ref.size();
            std::string token;
            for (size_t i = pos + 1; i < next; ++i) {
                if (ref[i] == '~' && i + 1 < next && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
                    token += ref[i + 1] == '0' ? '~' : '/';
                    ++i;
                } else {
                    token += ref[i];
                }
            }
            pos = next;
            if (at->is_object() && at->contains(token)) {
                at = &(*at)[token];
            } else if (at->is_array() && !token.empty() && token.size() < 10 &&
                       token.find_first_not_of("0123456789") == std::string::npos && std::stoul(token) < at->size()) {
                at = &(*at)[std::stoul(token)];
            } else {
                fail(Status::invalid_argument, "$ref '%.200s' does not resolve ('%.100s' not found)", ref.c_str(), token.c_str());
            }
        }
        return *at;
    }

    // One rule per reference, made once; a reference met again while its target is being
    // converted refers to that rule by name, so recursive schemas become recursive rules.
    std::string resolve_ref(const std::string& ref, int depth) {
        const std::string frag = ref.substr(std::min<size_t>(1, ref.size()));
        std::string rule = "ref" + rule_name_of(frag);
        if (rules_.count(rule) || resolving_.count(ref)) return rule;
        const json& target = pointer(ref);
        resolving_.insert(ref);
        rule = visit(target, rule, depth + 1);
        resolving_.erase(ref);
        return rule;
    }

    const json& doc_;
    std::map<std::string, std::string> rules_;
    std::set<std::string> resolving_;
    size_t visits_ = 0;
    size_t bytes_ = 0;
};

}  // namespace

std::string json_schema_to_gbnf(const nlohmann::ordered_json& schema) {
    try {
        return Converter(schema).run();
    } catch (const nlohmann::json::exception& e) {
        // A value of the wrong type where the converter asked for one, or text that is not UTF-8.
        fail(Status::invalid_argument, "unsupported schema: %s", e.what());
    }
}

std::string json_schema_to_gbnf(const nlohmann::json& schema) {
    return json_schema_to_gbnf(nlohmann::ordered_json(schema));
}

}  // namespace llamas
