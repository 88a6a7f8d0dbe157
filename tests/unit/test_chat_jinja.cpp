// The Jinja interpreter on its own: expression and statement semantics against Python jinja2
// (expected strings rendered by jinja2 3.1 with Hugging Face's settings), then the error paths
// and limits a hostile template runs into.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "chat/jinja.h"
#include "util/error.h"

namespace jinja = llamas::jinja;
using llamas::Status;

namespace {

struct Semantics {
    const char* tmpl;
    const char* expected;
};

const Semantics kSemantics[] = {
    {"{{ [1,2,3][1:] }}|{{ 'abcdef'[::-2] }}|{{ [1,2,3][-1] }}",
     "[2, 3]|fdb|3"},
    {"{{ 'a,b,,c'.split(',') }}|{{ ' x  y '.split() }}|{{ 'a b c'.rsplit(' ', 1) }}",
     "['a', 'b', '', 'c']|['x', 'y']|['a b', 'c']"},
    {"{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 2 ** 10 }} {{ 7 / 2 }} {{ 1.0 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1.5e-7 }}",
     "3 -4 -2 1024 3.5 1.0 0.30000000000000004 1e+20 1.5e-07"},
    {"{{ {'a': 1, 'b': [true, none, 'x\"y']} | tojson }}|{{ {'a': {'b': 2}} | tojson(indent=2) }}",
     "{\"a\": 1, \"b\": [true, null, \"x\\\"y\"]}|{\n  \"a\": {\n    \"b\": 2\n  }\n}"},
    {"{{ none }} {{ true }} {{ [1, 'a', none] }} {{ {'k': 'v'} }} {{ undefined_thing }}.",
     "None True [1, 'a', None] {'k': 'v'} ."},
    {"{% for x in ['a','b','c'] %}{{ loop.index }}{{ loop.index0 }}{{ loop.first }}{{ loop.last }}{{ loop.revindex }}{{ x }};{% endfor %}",
     "10TrueFalse3a;21FalseFalse2b;32FalseTrue1c;"},
    {"{% for x in [1,2,3,4,5] if x is odd %}{{ x }}{% if loop.last %}!{% endif %}{% endfor %}{% for x in [] %}no{% else %}empty{% endfor %}",
     "135!empty"},
    {"{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}={{ v }},{% endfor %}{% for i in range(10) %}{% if i == 3 %}{% break %}{% endif %}{% if i == 1 %}{% continue %}{% endif %}{{ i }}{% endfor %}",
     "a=1,b=2,02"},
    {"a\n  {% if true %}\nb\n  {% endif %}\nc\n{# comment #}\nd  {%- if true -%}  e  {%- endif -%}  f",
     "a\nb\nc\ndef"},
    {"{% set ns = namespace(n=0) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }}|{% set x = 1 %}{% for i in range(2) %}{% set x = 5 %}{% endfor %}{{ x }}",
     "10|1"},
    {"{{ 'Hello' ~ 1 ~ none }}|{{ 'abc' | upper }}|{{ '  pad  ' | trim }}|{{ 'x' if false else 'y' }}|{{ 'x' if false }}|{{ [3,1,2] | sort | join(',') }}|{{ ['a','b'] | length }}|{{ 'h\xc3""\xa9""llo' | length }}",
     "Hello1None|ABC|pad|y||1,2,3|2|5"},
    {"{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bob') }} {{ greet('Al', punct='?') }}",
     "Hi Bob! Hi Al?"},
    {"{{ [{'r': 'u', 'c': 1}, {'r': 'a', 'c': 2}, {'r': 'u', 'c': 3}] | selectattr('r', 'equalto', 'u') | map(attribute='c') | list }}|{{ [1,0,2] | select | list }}|{{ 'abc' is string }}{{ 3 is divisibleby 3 }}{{ x is defined }}{{ none is none }}",
     "[1, 3]|[1, 2]|TrueTrueFalseTrue"},
    {"{{ 'a' in 'cat' }}{{ 2 in [1,2] }}{{ 'k' in {'k': 1} }}{{ 'z' not in 'cat' }}{{ 1 < 2 < 3 }}{{ 'b' > 'a' }}{{ not 0 }}{{ 0 or 'd' }}{{ 1 and 2 }}",
     "TrueTrueTrueTrueTrueTrueTrued2"},
    {"{{ 'x'.startswith(('a','x')) }}{{ 'hello world'.title() }}{{ 'a-b-c'.replace('-', '+') }}{{ 'aXb'.lower() }}{{ '..x..'.strip('.') }}{{ ','.join(['1','2']) }}",
     "TrueHello Worlda+b+caxbx1,2"},
    {"{{ \"it's\" }}|{{ ['it\\'s'] }}|{{ 'tab\\there' }}|{{ '\\u00e9' }}",
     "it's|[\"it's\"]|tab\there|\xc3""\xa9"""},
    {"{% set a %}inner {{ 1 + 1 }}{% endset %}[{{ a }}]{% raw %}{{ not evaluated }}{% endraw %}",
     "[inner 2]{{ not evaluated }}"},
    {"{{ [1,2] + [3] }}{{ 'ab' * 3 }}{{ messages[0].content }}{{ messages[0]['role'] }}{{ messages|length }}",
     "[1, 2, 3]abababSsystem2"},
    {"{%- for m in messages -%}\n  {{- m.role }}\n{%- endfor %}\n  text {{ '{{' }} {{ messages[-1].content | default('none') }}",
     "systemuser  text {{ U"},
    {"{% set l = [0, 2, 4] %}{{ l | last }}{{ l | first }}{{ l | reverse | list }}{{ (l | sum) }}{{ l[5] is defined }}{{ messages | map(attribute='role') | join('/') }}",
     "40[4, 2, 0]6Falsesystem/user"},
};

jinja::Value chat_vars() {
    return jinja::Value::dict({
        {"messages", jinja::Value::list({
                         jinja::Value::dict({{"role", jinja::Value("system")}, {"content", jinja::Value("S")}}),
                         jinja::Value::dict({{"role", jinja::Value("user")}, {"content", jinja::Value("U")}}),
                     })},
    });
}

// Renders and returns the status of the Error it must throw (ok if it did not throw).
Status failure(const std::string& tmpl, const jinja::RenderOptions& opts = {}, std::string* what = nullptr) {
    try {
        jinja::render(tmpl, chat_vars(), opts);
    } catch (const llamas::Error& e) {
        if (what) *what = e.what();
        return e.status();
    }
    return Status::ok;
}

}  // namespace

TEST_SUITE("chat") {

TEST_CASE("Jinja semantics match Python jinja2") {
    for (const Semantics& s : kSemantics) {
        const std::string tmpl = s.tmpl;
        CAPTURE(tmpl);
        std::string out;
        try {
            out = jinja::render(s.tmpl, chat_vars());
        } catch (const llamas::Error& e) {
            FAIL_CHECK(tmpl, ": ", e.what());
            continue;
        }
        CHECK(out == s.expected);
    }
    // Beyond Hugging Face's immutable sandbox, list.append works as in Python.
    CHECK(jinja::render("{% set l = [] %}{% for i in range(3) %}{% set _ = l.append(i * 2) %}{% endfor %}{{ l }}",
                        chat_vars()) == "[0, 2, 4]");
}

TEST_CASE("syntax errors are bad_format, unknown constructs are unsupported and named") {
    std::string what;
    CHECK(failure("{% if x %}never closed", {}, &what) == Status::bad_format);
    CHECK(what.find("endif") != std::string::npos);
    CHECK(failure("{{ 1 + }}") == Status::bad_format);
    CHECK(failure("{% endfor %}") == Status::bad_format);
    CHECK(failure("{{ 'unterminated }}") == Status::bad_format);
    CHECK(failure("{{ x") == Status::bad_format);
    CHECK(failure("{# open comment") == Status::bad_format);
    CHECK(failure("{{ 1 $ 2 }}") == Status::bad_format);

    CHECK(failure("{% call foo() %}x{% endcall %}", {}, &what) == Status::unsupported);
    CHECK(what.find("call") != std::string::npos);
    CHECK(failure("{{ 'x' | frobnicate }}", {}, &what) == Status::unsupported);
    CHECK(what.find("frobnicate") != std::string::npos);
    CHECK(failure("{{ mystery_function(1) }}", {}, &what) == Status::unsupported);
    CHECK(what.find("mystery_function") != std::string::npos);
    CHECK(failure("{{ 'x'.zfill(3) }}", {}, &what) == Status::unsupported);
    CHECK(what.find("zfill") != std::string::npos);
    CHECK(failure("{{ 1 is prime }}") == Status::unsupported);
    CHECK(failure("{% for x in y recursive %}{% endfor %}") == Status::unsupported);

    CHECK(failure("{{ raise_exception('no system role') }}", {}, &what) == Status::invalid_argument);
    CHECK(what.find("no system role") != std::string::npos);
    CHECK(failure("{{ 1 / 0 }}") == Status::bad_format);
    CHECK(failure("{{ 'a' + 1 }}") == Status::bad_format);
    CHECK(failure("{{ 9223372036854775807 + 1 }}") == Status::bad_format);
}

TEST_CASE("hostile templates hit a limit instead of crashing or hanging") {
    jinja::RenderOptions small;
    small.max_output = 1 << 20;
    // Unbounded recursion.
    CHECK(failure("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}") == Status::bad_format);
    // Deep nesting, in the parser and in long left-leaning chains.
    CHECK(failure("{{ " + std::string(20000, '(') + "1" + std::string(20000, ')') + " }}") == Status::bad_format);
    std::string chain = "{{ 1";
    for (int i = 0; i < 100000; ++i) chain += "+1";
    CHECK(failure(chain + " }}") == Status::bad_format);
    std::string attrs = "{{ x";
    for (int i = 0; i < 100000; ++i) attrs += ".a";
    CHECK(failure(attrs + " }}") == Status::bad_format);
    std::string ifs;
    for (int i = 0; i < 10000; ++i) ifs += "{% if true %}";
    CHECK(failure(ifs) == Status::bad_format);
    // Output, string and list sizes.
    CHECK(failure("{% for i in range(1000000) %}xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}", small) == Status::bad_format);
    CHECK(failure("{{ 'a' * 1000000000 }}", small) == Status::bad_format);
    CHECK(failure("{{ ([1] * 100000000) | length }}") == Status::bad_format);
    CHECK(failure("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}"
                  "{{ ns.s | length }}",
                  small) == Status::bad_format);
    // Loops and ranges.
    CHECK(failure("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}") == Status::bad_format);
    CHECK(failure("{{ range(1000000000000) | length }}") == Status::bad_format);
    // Containers holding themselves, and exponentially shared structures.
    CHECK(failure("{% set a = [] %}{% set _ = a.append(a) %}{{ a }}") == Status::bad_format);
    CHECK(failure("{% set ns = namespace() %}{% set ns.self = ns %}{{ ns | tojson }}") == Status::bad_format);
    CHECK(failure("{% set ns = namespace(a=[1]) %}{% for i in range(64) %}{% set ns.a = [ns.a, ns.a] %}{% endfor %}"
                  "{{ ns.a | tojson }}") == Status::bad_format);
    CHECK(failure("{% set ns = namespace(a=[1], b=[1]) %}{% for i in range(64) %}{% set ns.a = [ns.a, ns.a] %}"
                  "{% set ns.b = [ns.b, ns.b] %}{% endfor %}{{ ns.a == ns.b }}") == Status::bad_format);
    // After a failed render the next one starts with a fresh budget.
    CHECK(jinja::render("{{ 1 + 1 }}", chat_vars()) == "2");
}

TEST_CASE("ChatML stays available when a template fails") {
    const std::vector<llamas::ChatMessage> msgs = {{"user", "hi"}};
    CHECK_THROWS_AS(llamas::apply_chat_template("{% call x() %}{% endcall %}", msgs, true, "", ""), llamas::Error);
    CHECK(llamas::chatml_fallback(msgs) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n");
}

}  // TEST_SUITE
