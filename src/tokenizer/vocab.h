// The token table every tokenizer algorithm reads: texts, scores, attributes and a text -> id map.
// Internal to src/tokenizer.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace llamas::tok {

// Token attributes as bit flags (the reference runtime's llama_token_attr values), so the
// auto-detection of control-looking tokens can add `control` to a normal token.
enum TokenAttr : uint32_t {
    attr_undefined = 0,
    attr_unknown = 1 << 0,
    attr_unused = 1 << 1,
    attr_normal = 1 << 2,
    attr_control = 1 << 3,
    attr_user_defined = 1 << 4,
    attr_byte = 1 << 5,
    attr_lstrip = 1 << 7,
    attr_rstrip = 1 << 8,
};

constexpr int32_t k_no_token = -1;

struct Vocab {
    std::vector<std::string> text;  // owned copies: the Tokenizer does not need the GGUF file afterwards
    std::vector<float> score;
    std::vector<uint32_t> attr;
    std::unordered_map<std::string_view, int32_t> ids;  // views into `text`
    size_t max_token_len = 0;

    int32_t size() const { return static_cast<int32_t>(text.size()); }
    int32_t find(std::string_view s) const {
        auto it = ids.find(s);
        return it == ids.end() ? k_no_token : it->second;
    }
    bool has_attr(int32_t id, uint32_t a) const { return (attr[static_cast<size_t>(id)] & a) != 0; }
};

}  // namespace llamas::tok
