// A vocabulary as a prefix tree over the code points of its tokens' text, built once per
// vocabulary so that a grammar tests each shared prefix once (token_mask.h walks it).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "grammar/utf8_stream.h"

namespace llamas::grammar {

class TokenTrie {
public:
    // pieces[id]: the bytes token id stands for; eog[id] != 0 for end-of-generation tokens,
    // which the grammar allows only where it can end and which are kept out of the tree.
    TokenTrie(std::vector<std::string> pieces, const std::vector<char>& eog);

    struct Node {
        uint32_t cp;                        // the code point leading here from the parent
        uint32_t kids_begin, kids_end;      // into kids()
        uint32_t toks_begin, toks_end;      // tokens whose text ends exactly here
        uint32_t partial_begin, partial_end;  // tokens that end here plus an unfinished character
    };
    struct PartialToken {
        int32_t token;
        PartialUtf8 partial;
    };

    int32_t n_tokens() const { return static_cast<int32_t>(pieces_.size()); }
    const std::string& piece(int32_t id) const { return pieces_[static_cast<size_t>(id)]; }
    bool is_eog(int32_t id) const { return eog_flag_[static_cast<size_t>(id)] != 0; }

    const std::vector<Node>& nodes() const { return nodes_; }
    const std::vector<uint32_t>& kids() const { return kids_; }
    const std::vector<int32_t>& tokens() const { return toks_; }
    const std::vector<PartialToken>& partial_tokens() const { return partial_; }
    const std::vector<int32_t>& eog_tokens() const { return eog_; }
    // Tokens that start inside a character: possible only after a token that left one unfinished.
    const std::vector<int32_t>& continuation_tokens() const { return continuation_; }

private:
    std::vector<std::string> pieces_;
    std::vector<char> eog_flag_;
    std::vector<Node> nodes_;  // nodes_[0] is the root
    std::vector<uint32_t> kids_;
    std::vector<int32_t> toks_;
    std::vector<PartialToken> partial_;
    std::vector<int32_t> eog_;
    std::vector<int32_t> continuation_;
};

}  // namespace llamas::grammar
