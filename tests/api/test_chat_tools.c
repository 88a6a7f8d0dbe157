/* Chat with tools through the C API: OpenAI-format JSON in, the template's tool-call format
 * out, replies parsed back; template_text given, so no model is needed. */
#include "llamas.h"

#include "check.h"

static const char* const kTemplate =
    "{% if tools %}<tools>{% for t in tools %}{{ t | tojson }}{% endfor %}</tools>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% for c in m.tool_calls | default([]) %}<tool_call>\n{{ {'name': c.function.name, 'arguments': "
    "c.function.arguments} | tojson }}\n</tool_call>{% endfor %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

int main(void) {
    char buf[4096];
    size_t len = 0;
    const char* tools = "[{\"type\": \"function\", \"function\": {\"name\": \"add\", \"parameters\": {\"type\": \"object\"}}}]";
    const char* msgs =
        "[{\"role\": \"user\", \"content\": \"1+2?\"}, {\"role\": \"assistant\", \"content\": null, \"tool_calls\": "
        "[{\"type\": \"function\", \"function\": {\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1, \\\"b\\\": 2}\"}}]}]";

    CHECK_OK(llamas_chat_apply_template_json(NULL, kTemplate, msgs, tools, 1, buf, sizeof buf, &len));
    CHECK(len == strlen(buf));
    CHECK(strstr(buf, "<tools>{\"type\": \"function\"") == buf);
    CHECK(strstr(buf, "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>") != NULL);
    CHECK(strstr(buf, "<|im_start|>assistant\n") != NULL);
    CHECK_FAILS(llamas_chat_apply_template_json(NULL, kTemplate, msgs, tools, 1, buf, 8, &len),
                LLAMAS_ERR_BUFFER_TOO_SMALL);
    CHECK_FAILS(llamas_chat_apply_template_json(NULL, kTemplate, "[{\"role\": ", NULL, 1, buf, sizeof buf, &len),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_template_json(NULL, kTemplate, "[]", "{}", 1, buf, sizeof buf, &len),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_template_json(NULL, NULL, "[]", NULL, 1, buf, sizeof buf, &len),
                LLAMAS_ERR_INVALID_ARGUMENT);
    CHECK_FAILS(llamas_chat_apply_template_json(NULL, kTemplate, NULL, NULL, 1, buf, sizeof buf, &len),
                LLAMAS_ERR_INVALID_ARGUMENT);

    CHECK_OK(llamas_chat_tool_format(NULL, kTemplate, buf, sizeof buf, &len));
    CHECK(strstr(buf, "\"family\": \"hermes\"") != NULL);
    CHECK(strstr(buf, "\"triggers\": [\"<tool_call>\"]") != NULL);
    CHECK_OK(llamas_chat_tool_format(NULL, NULL, buf, sizeof buf, &len));
    CHECK(strstr(buf, "\"family\": \"generic\"") != NULL);

    CHECK_OK(llamas_chat_parse_reply(NULL, kTemplate,
                                     "On it.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>",
                                     buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"content\": \"On it.\", \"tool_calls\": [{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}]}") == 0);
    CHECK_OK(llamas_chat_parse_reply(NULL, kTemplate, "<tool_call>{\"name\": ", buf, sizeof buf, &len));
    CHECK(strcmp(buf, "{\"content\": \"<tool_call>{\\\"name\\\": \", \"tool_calls\": []}") == 0);
    CHECK_FAILS(llamas_chat_parse_reply(NULL, kTemplate, NULL, buf, sizeof buf, &len), LLAMAS_ERR_INVALID_ARGUMENT);
    return finish("c-chat-tools");
}
