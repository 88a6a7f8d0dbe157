// A small Jinja interpreter for chat templates: parse once, render with a dict of variables.
// Built to survive hostile templates: nesting, output size, loop iterations and total work are
// bounded, and every failure is an Error (bad_format for broken or runaway templates,
// unsupported for constructs this interpreter does not implement, naming them,
// invalid_argument when the template itself calls raise_exception()).
#pragma once
#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "chat/jinja_ast.h"
#include "chat/jinja_value.h"

namespace llamas::jinja {

struct RenderOptions {
    size_t max_output = 16u << 20;        // bytes of output (and of any string built on the way)
    int max_depth = 200;                  // nested evaluation frames (expressions, blocks, macros)
    int64_t max_steps = 20'000'000;       // evaluation steps in total
    int64_t max_loop_iterations = 1'000'000;  // for-loop iterations in total, and range() length
    // Time strftime_now() formats, taken as UTC; unset: the current local time.
    std::optional<std::time_t> now;
};

std::string render(const Template& tmpl, const Value& variables, const RenderOptions& opts = {});

// parse + render.
std::string render(std::string_view source, const Value& variables, const RenderOptions& opts = {});

}  // namespace llamas::jinja
