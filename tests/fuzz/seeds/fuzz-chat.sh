#!/usr/bin/env bash
# Seeds for the chat-template target: the published templates the chat tests check (extracted
# from tests/unit/test_chat_real.cpp), the Phi-3 vocabulary's own template, and small templates
# using each Jinja construct the interpreter knows.
set -euo pipefail
data=$1; out=$2
here=$(cd "$(dirname "$0")/../../.." && pwd)
if command -v python3 >/dev/null; then
  python3 - "$here/tests/unit/test_chat_real.cpp" "$data/vocab/ggml-vocab-phi-3.gguf" "$out" <<'PY'
import ast, re, struct, sys, os
src, phi3, out = sys.argv[1:4]
seen = set()
# Template literals are the lines that start with a string literal opening a Jinja tag.
for line in open(src, encoding="utf-8"):
    m = re.match(r'\s+("(?:\{[{%#]).*"),\s*$', line)
    if m:
        try:
            seen.add(ast.literal_eval(m.group(1)))
        except Exception:
            pass
# tokenizer.chat_template of a GGUF file: walk the metadata to the key.
try:
    b = open(phi3, "rb").read()
    n_kv = struct.unpack_from("<Q", b, 16)[0]
    o = 24
    sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    def string(o):
        n = struct.unpack_from("<Q", b, o)[0]
        return b[o + 8:o + 8 + n], o + 8 + n
    for _ in range(n_kv):
        k, o = string(o)
        t = struct.unpack_from("<I", b, o)[0]; o += 4
        if t == 8:
            v, o = string(o)
            if k == b"tokenizer.chat_template":
                seen.add(v.decode("utf-8"))
        elif t == 9:
            at, n = struct.unpack_from("<IQ", b, o); o += 12
            if at == 8:
                for _ in range(n):
                    _, o = string(o)
            else:
                o += n * sizes[at]
        else:
            o += sizes[t]
except (OSError, struct.error, KeyError):
    pass
for i, t in enumerate(sorted(seen)):
    with open(os.path.join(out, "published-%02d.jinja" % i), "w", encoding="utf-8") as f:
        f.write(t)
PY
fi
n=0
seed() { n=$((n + 1)); printf '%s' "$1" > "$out/construct-$n.jinja"; }
seed "{% for m in messages %}<|im_start|>{{ m['role'] }}
{{ m.content | trim }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% endif %}"
seed "{%- set ns = namespace(sys='') -%}{%- for m in messages if m.role == 'system' -%}{%- set ns.sys = ns.sys + m.content -%}{%- endfor -%}{{ ns.sys | upper }}{{ loop is defined }}"
seed "{% macro fmt(m, sep='\n') %}{{ m.role|capitalize }}: {{ m.content }}{{ sep }}{% endmacro %}{% for m in messages[1:] %}{{ fmt(m) }}{% if loop.last %}[{{ loop.index }}/{{ loop.length }}]{% endif %}{% endfor %}"
seed "{{ bos_token }}{% for m in messages %}{% if (m.role == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('alternate') }}{% endif %}{{ m.content[::-1] ~ eos_token }}{% endfor %}"
seed "{{ messages | length }} {{ messages | map(attribute='role') | join(',') }} {{ messages | selectattr('role', 'equalto', 'user') | list | tojson }} {{ range(3) | list }} {{ 'a,b' .split(',') }} {{ strftime_now('%Y-%m-%d') }}"
seed "{% set x = {'a': [1, 2.5, none, true], 'b': 'c'} %}{{ x | tojson(indent=2) }}{{ x.items() | list }}{{ x.get('z', 'd') }}{{ 'x' * 3 }}{{ 7 // 2 }}{{ 7 % 3 }}{{ -1 ** 2 }}{{ 'abc' in 'xabcx' }}"
seed "{%- if messages[0]['role'] == 'system' -%}{%- set loop_messages = messages[1:] -%}{%- else -%}{%- set loop_messages = messages -%}{%- endif -%}{%- for message in loop_messages -%}{{ '[INST] ' + message['content'].strip() + ' [/INST]' if message['role'] == 'user' else message['content'] }}{%- endfor -%}"
seed "{# comment #}{% raw %}{{ not parsed }}{% endraw %}{% filter upper %}text{% endfilter %}{% set y %}block{% endset %}{{ y }}{{ messages[-1].content.startswith('\xff') }}"
