// Special-token partitioning: before a tokenizer algorithm sees the text, occurrences of special
// token texts are cut out as single tokens (control/unknown tokens only when parsing special text
// was asked for; user-defined tokens always, as the reference does).
#pragma once
#include <cstdint>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace llamas::tok {

struct Fragment {
    int32_t token;  // k_no_token for a piece of raw text
    uint32_t offset, length;  // the raw text piece
};

// `specials` are the candidate ids, longest text first (ties by id).
void partition_special(const Vocab& vocab, const std::vector<int32_t>& specials, std::string_view text,
                       bool parse_special, std::vector<Fragment>& out);

}  // namespace llamas::tok
