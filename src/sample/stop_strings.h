// Stop strings over a stream of generated text.
//
// Text is pushed as it is detokenized; push() returns the bytes that can no longer be part of a
// stop string, holding back the longest tail that could still begin one. When a stop string
// appears, push() returns the text before it and the stream is over: no byte of a stop string,
// nor of a prefix of one that later completes, is ever returned. Held bytes are released as
// soon as they turn out not to start a stop string, and by flush() at the end.
//
// Work is on bytes; the cut points are moved back to UTF-8 character boundaries, so complete
// characters in give complete characters out.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace llamas {

class StopStrings {
public:
    // Empty strings are ignored (they would match before any text).
    explicit StopStrings(std::vector<std::string> stops);

    std::string push(std::string_view text);
    // What is still held back (nothing after a match).
    std::string flush();

    bool matched() const { return matched_; }
    bool empty() const { return stops_.empty(); }

private:
    std::vector<std::string> stops_;
    std::string held_;
    bool matched_ = false;
};

}  // namespace llamas
