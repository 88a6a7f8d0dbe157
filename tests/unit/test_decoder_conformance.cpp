// Reference records and the README's tolerances (see test_decoder_conformance.h).
#include "test_decoder_conformance.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "test_data.h"

namespace llamas::test {

std::vector<PromptRecord> read_records(const std::string& dir, const std::string& stem) {
    std::vector<PromptRecord> out;
    std::ifstream in(dir + "/" + stem + ".jsonl");
    if (!in) return out;
    std::string line;
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        const nlohmann::json j = nlohmann::json::parse(line);
        PromptRecord r;
        r.prompt = j.at("prompt").get<std::string>();
        r.tokens = j.at("tokens").get<std::vector<int32_t>>();
        for (const auto& pos : j.at("top8")) {
            std::vector<std::pair<int32_t, float>> top;
            for (const auto& e : pos) top.emplace_back(e.at(0).get<int32_t>(), e.at(1).get<float>());
            r.top.push_back(std::move(top));
        }
        r.greedy = j.at("greedy").get<std::vector<int32_t>>();
        const std::string logits = read_text(dir + "/" + j.at("logits_file").get<std::string>());
        r.last_logits.resize(logits.size() / sizeof(float));
        std::memcpy(r.last_logits.data(), logits.data(), r.last_logits.size() * sizeof(float));
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<std::string> decoder_model_stems() {
    return {"llama-F32",    "llama-F16",    "llama-BF16",    "llama-Q8_0",    "llama-Q4_0",  "llama-Q4_1",
            "llama-Q5_0",   "llama-Q5_1",   "llama-Q2_K",    "llama-Q3_K_M",  "llama-Q4_K_M", "llama-Q5_K_M",
            "llama-Q6_K",   "llama-IQ4_NL", "qwen2-F16",     "qwen2-Q8_0",    "qwen2-Q4_K_M", "qwen3-F16",
            "qwen3-Q4_K_M", "gemma2-F16",   "gemma2-Q4_K_M", "gemma3-F16",    "gemma3-Q8_0", "gemma3-Q4_K_M",
            "phi3-F16",     "phi3-Q4_K_M",  "kjv-tiny-F16",  "kjv-tiny-Q8_0", "kjv-tiny-Q4_K_M"};
}

namespace {

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

// README: logits after the last token within this fraction of the reference's range.
double logit_tolerance(const std::string& stem) {
    if (stem.find("-F32") != std::string::npos) return 0.002;
    if (stem.find("-F16") != std::string::npos || stem.find("-BF16") != std::string::npos) return 0.01;
    return 0.03;
}

}  // namespace

std::string check_against_reference(const std::string& stem, const std::vector<PromptRecord>& ref,
                                    const std::vector<PromptRecord>& ours, bool check_tokens) {
    REQUIRE_MESSAGE(ours.size() == ref.size(), stem << ": prompt count differs");
    const double tol = logit_tolerance(stem);
    const bool greedy_required = starts_with(stem, "qwen2") || starts_with(stem, "qwen3") ||
                                 starts_with(stem, "gemma2") || starts_with(stem, "gemma3");
    const double min_agree = starts_with(stem, "llama") || starts_with(stem, "phi3") ? 0.95 : 0.98;

    double worst = 0;
    int64_t n_pos = 0, n_agree = 0;
    int greedy_same = 0;
    for (size_t p = 0; p < ref.size(); ++p) {
        const PromptRecord& r = ref[p];
        const PromptRecord& o = ours[p];
        INFO(stem << " prompt " << p << ": " << r.prompt);
        if (check_tokens) CHECK(o.tokens == r.tokens);
        REQUIRE(o.last_logits.size() == r.last_logits.size());
        const auto [mn, mx] = std::minmax_element(r.last_logits.begin(), r.last_logits.end());
        const double range = *mx - *mn;
        double err = 0;
        for (size_t i = 0; i < r.last_logits.size(); ++i) err = std::max(err, std::fabs(double(o.last_logits[i]) - r.last_logits[i]));
        worst = std::max(worst, err / range);
        CHECK_MESSAGE(err <= tol * range, "max logit error " << err << " > " << tol << " x range " << range);

        // Top-1 after every token: must match where the reference's lead is clear (> 3% of the
        // range; the last token's range stands in for the others, whose full logits are not kept).
        REQUIRE(o.top.size() == r.top.size());
        for (size_t i = 0; i < r.top.size(); ++i) {
            ++n_pos;
            const bool same = o.top[i][0].first == r.top[i][0].first;
            n_agree += same;
            const double lead = r.top[i][0].second - r.top[i][1].second;
            if (lead > 0.03 * range) {
                CHECK_MESSAGE(same, "top-1 after token " << i << ": ours " << o.top[i][0].first << ", reference "
                                                         << r.top[i][0].first << " (lead " << lead << ")");
            }
        }
        const bool greedy_ok = o.greedy == r.greedy;
        greedy_same += greedy_ok;
        if (greedy_required) CHECK_MESSAGE(greedy_ok, "greedy continuation differs");
    }
    const double agree = double(n_agree) / double(n_pos);
    CHECK_MESSAGE(agree >= min_agree, stem << ": top-1 agreement " << agree << " < " << min_agree);
    char buf[200];
    std::snprintf(buf, sizeof buf, "%-16s max|err|/range %.2e (tol %.0e)  top-1 %.3f  greedy %d/%zu", stem.c_str(), worst,
                  tol, agree, greedy_same, ref.size());
    return buf;
}

}  // namespace llamas::test
