// Shared by the decoder tests: the reference outputs of ../shared/reference/outputs and the
// README's tolerances for comparing a run against them.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace llamas::test {

struct PromptRecord {
    std::string prompt;
    std::vector<int32_t> tokens;
    std::vector<std::vector<std::pair<int32_t, float>>> top;  // per token, largest first
    std::vector<float> last_logits;
    std::vector<int32_t> greedy;
};

// Reads DIR/STEM.jsonl and the logits files it names (relative to DIR).
std::vector<PromptRecord> read_records(const std::string& dir, const std::string& stem);

// The decoder model files of ../shared/models this issue covers (stems, without .gguf).
std::vector<std::string> decoder_model_stems();

// Compares `ours` with the reference records under the README's tolerances for this model file,
// reporting through doctest CHECKs. Returns a one-line summary (max logit error / range, top-1
// agreement, greedy matches) for the test log.
std::string check_against_reference(const std::string& stem, const std::vector<PromptRecord>& ref,
                                    const std::vector<PromptRecord>& ours, bool check_tokens);

}  // namespace llamas::test
