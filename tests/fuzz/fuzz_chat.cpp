// libFuzzer target: the Jinja chat-template interpreter on arbitrary templates, over a fixed
// conversation. Broken or runaway templates must end in a llamas::Error (bad_format,
// unsupported, invalid_argument); a crash, a hang, a sanitizer report or another exception is a
// bug. The limits are tighter than the defaults so that one input runs in milliseconds; the
// defaults only scale them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "chat/chat_template.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::vector<llamas::ChatMessage> conversation = {
        {"system", "You are a helpful assistant"},
        {"user", "Hello {{ 1 }} <|im_start|>"},
        {"assistant", "Hi \xe2\x80\x94 there\n"},
        {"user", "\xff\xfe not UTF-8"},
    };
    llamas::ChatTemplateOptions opts;
    opts.render.max_output = 1u << 20;
    opts.render.max_steps = 200'000;
    opts.render.max_loop_iterations = 20'000;
    opts.render.max_depth = 100;
    opts.render.now = 1741964966;  // fixed time: strftime_now() must not make runs differ
    const std::string tmpl(reinterpret_cast<const char*>(data), size);
    for (bool add_generation_prompt : {true, false}) {
        try {
            (void)llamas::apply_chat_template(tmpl, conversation, add_generation_prompt, "<s>", "</s>", opts);
        } catch (const llamas::Error&) {
            return 0;  // the expected outcome for most inputs; the second render would fail alike
        }
    }
    return 0;
}
