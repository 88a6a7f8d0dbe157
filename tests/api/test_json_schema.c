/* llamas_json_schema_to_grammar through the shared library: buffer rules and errors. */
#include <stdio.h>
#include <string.h>

#include "llamas.h"

static int failures = 0;
#define EXPECT(cond)                                                         \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                                      \
        }                                                                    \
    } while (0)

int main(void) {
    const char* schema = "{\"type\": \"object\", \"properties\": {\"b\": {\"type\": \"integer\"}, \"a\": {\"type\": \"string\"}},"
                         " \"required\": [\"b\", \"a\"]}";
    size_t length = 0;
    char small[8];
    char buffer[4096];
    /* Size query, then a too-small buffer (truncated, NUL-terminated), then the full text. */
    EXPECT(llamas_json_schema_to_grammar(schema, NULL, 0, &length) == LLAMAS_ERR_BUFFER_TOO_SMALL);
    EXPECT(length > 0 && length < sizeof buffer);
    EXPECT(llamas_json_schema_to_grammar(schema, small, sizeof small, NULL) == LLAMAS_ERR_BUFFER_TOO_SMALL);
    EXPECT(small[sizeof small - 1] == '\0');
    EXPECT(llamas_json_schema_to_grammar(schema, buffer, sizeof buffer, &length) == LLAMAS_OK);
    EXPECT(strlen(buffer) == length);
    EXPECT(strstr(buffer, "root ::= \"{\" space b-kv \",\" space a-kv space \"}\"") != NULL);
    EXPECT(strstr(buffer, "space ::= ") != NULL);

    /* Bad JSON, unsupported schemas, NULL: invalid argument with a message. */
    EXPECT(llamas_json_schema_to_grammar("{\"type\": ", buffer, sizeof buffer, NULL) == LLAMAS_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(llamas_last_error(), "not valid JSON") != NULL);
    EXPECT(llamas_json_schema_to_grammar("{\"type\": \"kaboom\"}", buffer, sizeof buffer, NULL) == LLAMAS_ERR_INVALID_ARGUMENT);
    EXPECT(strstr(llamas_last_error(), "kaboom") != NULL);
    EXPECT(llamas_json_schema_to_grammar("{\"$ref\": \"#\"}", buffer, sizeof buffer, NULL) == LLAMAS_ERR_INVALID_ARGUMENT);
    EXPECT(llamas_json_schema_to_grammar(NULL, buffer, sizeof buffer, NULL) == LLAMAS_ERR_INVALID_ARGUMENT);
    {
        static char deep[20000];
        size_t i;
        for (i = 0; i < 9000; ++i) deep[i] = '[';
        deep[i] = '\0';
        EXPECT(llamas_json_schema_to_grammar(deep, buffer, sizeof buffer, NULL) == LLAMAS_ERR_INVALID_ARGUMENT);
    }
    if (failures == 0) printf("json schema API: ok\n");
    return failures == 0 ? 0 : 1;
}
