#include "tokenizer/tokenizer.h"

namespace llamas {

namespace {

// Length of the longest suffix of `s` that is the start of a well-formed multi-byte UTF-8
// character still missing bytes (0 when the text ends on a complete character or on bytes that
// can never become one).
size_t incomplete_tail(const std::string& s) {
    const size_t n = s.size();
    for (size_t back = 1; back <= 3 && back <= n; ++back) {
        const unsigned char c = static_cast<unsigned char>(s[n - back]);
        if ((c & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
        size_t need = 0;
        if (c >= 0xC2 && c <= 0xDF) need = 2;
        else if (c >= 0xE0 && c <= 0xEF) need = 3;
        else if (c >= 0xF0 && c <= 0xF4) need = 4;
        return need > back ? back : 0;
    }
    return 0;
}

}  // namespace

Detokenizer::Detokenizer(const Tokenizer& tokenizer, bool skip_special) : tok_(tokenizer), skip_special_(skip_special) {}

std::string Detokenizer::push(int32_t id) {
    pending_ += tok_.token_to_piece(id, skip_special_);
    const size_t hold = incomplete_tail(pending_);
    std::string ready = pending_.substr(0, pending_.size() - hold);
    pending_.erase(0, pending_.size() - hold);
    return ready;
}

std::string Detokenizer::flush() {
    std::string rest;
    rest.swap(pending_);
    return rest;
}

void Detokenizer::reset() { pending_.clear(); }

}  // namespace llamas
