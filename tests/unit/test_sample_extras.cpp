// Stop strings over a token stream, log-softmax with its top-N selection, and the sampler's
// filter hook.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "sample/logprobs.h"
#include "sample/sampler.h"
#include "sample/stop_strings.h"
#include "util/error.h"

using llamas::LogSoftmax;
using llamas::Sampler;
using llamas::SamplerParams;
using llamas::StopStrings;
using llamas::TokenLogprob;

namespace {

struct Streamed {
    std::string out;
    bool matched = false;
};

// Pushes the pieces one by one (recording that no output ever contains a stop string), then
// flushes.
Streamed stream(const std::vector<std::string>& stops, const std::vector<std::string>& pieces) {
    StopStrings s(stops);
    Streamed r;
    for (const std::string& p : pieces) {
        r.out += s.push(p);
        if (s.matched()) break;
    }
    r.matched = s.matched();
    r.out += s.flush();
    return r;
}

}  // namespace

TEST_SUITE("sample") {

TEST_CASE("stop strings: spans, first piece, unfinished prefixes, several strings") {
    // Spanning three pieces; nothing of it (nor what follows) comes out.
    Streamed r = stream({"STOP"}, {"abc S", "T", "OP tail", "more"});
    CHECK(r.matched);
    CHECK(r.out == "abc ");
    // At the very first piece.
    r = stream({"ab"}, {"abc", "def"});
    CHECK(r.matched);
    CHECK(r.out.empty());
    // A prefix that does not complete is released, including at the very end.
    r = stream({"STOP"}, {"a ST", "x b", " ST"});
    CHECK(!r.matched);
    CHECK(r.out == "a STx b ST");
    // Several: the earliest occurrence wins, whatever the order of the list.
    r = stream({"later", "soon"}, {"it will be so", "on and later"});
    CHECK(r.matched);
    CHECK(r.out == "it will be ");
    // Overlapping candidates: "aab" must be found in "aaab".
    r = stream({"aab"}, {"a", "a", "a", "b!"});
    CHECK(r.matched);
    CHECK(r.out == "a");
    // Empty stop strings are ignored; none at all passes everything through.
    r = stream({""}, {"x", "y"});
    CHECK(!r.matched);
    CHECK(r.out == "xy");
}

TEST_CASE("stop strings: held text is released as soon as it cannot start a stop string") {
    StopStrings s({"<end>"});
    CHECK(s.push("hello <e") == "hello ");
    CHECK(s.push("n") == "");
    CHECK(s.push("x") == "<enx");
    CHECK(s.push("<") == "");
    CHECK(s.push("end> bye") == "");
    CHECK(s.matched());
    CHECK(s.push("after").empty());
    CHECK(s.flush().empty());
}

TEST_CASE("stop strings: cuts stay on UTF-8 character boundaries") {
    // The stop string starts with the continuation byte of "é" (an odd, but possible, stop
    // string): neither the partial character nor the stop string comes out.
    StopStrings s({"\xA9z"});
    const std::string out = s.push("caf\xC3\xA9z");
    CHECK(s.matched());
    CHECK(out == "caf");
    // A held prefix that begins inside a character holds the whole character.
    StopStrings t({"\xA9q"});
    CHECK(t.push("caf\xC3\xA9") == "caf");
    CHECK(t.push("!") == "\xC3\xA9!");
}

TEST_CASE("log-softmax: exact, stable for huge logits, top-N in order") {
    const std::vector<float> l = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, -std::numeric_limits<float>::infinity(),
                                  std::numeric_limits<float>::quiet_NaN()};
    const int n = static_cast<int>(l.size());
    const LogSoftmax ls(l.data(), n);
    double z = 0;
    for (int i = 0; i < 5; ++i) z += std::exp(static_cast<double>(l[static_cast<size_t>(i)]));
    for (int i = 0; i < 5; ++i) CHECK(ls.logprob(i) == doctest::Approx(l[static_cast<size_t>(i)] - std::log(z)).epsilon(1e-6));
    CHECK(ls.logprob(5) == -std::numeric_limits<float>::infinity());
    CHECK(ls.logprob(6) == -std::numeric_limits<float>::infinity());  // NaN counts as -inf
    CHECK_THROWS_AS(ls.logprob(7), llamas::Error);

    TokenLogprob top[10];
    REQUIRE(ls.top(top, 3) == 3);
    CHECK(top[0].token == 1);  // ties: smaller id first
    CHECK(top[1].token == 3);
    CHECK(top[2].token == 0);
    CHECK(top[0].logprob == ls.logprob(1));
    CHECK(ls.top(top, 10) == 7);
    CHECK(top[6].logprob == -std::numeric_limits<float>::infinity());
    CHECK(ls.top(top, 0) == 0);

    // Logits around 1e4 would overflow a naive exp; the max-subtracted form is exact.
    const std::vector<float> big = {10000.0f, 10000.0f};
    CHECK(LogSoftmax(big.data(), 2).logprob(0) == doctest::Approx(-std::log(2.0)));
    // A large vocabulary of tiny values sums in double: the probabilities add up to 1.
    std::vector<float> wide(200000);
    for (size_t i = 0; i < wide.size(); ++i) wide[i] = static_cast<float>((i * 7919) % 1000) * 0.01f;
    const LogSoftmax lw(wide.data(), static_cast<int32_t>(wide.size()));
    double total = 0;
    for (int32_t i = 0; i < static_cast<int32_t>(wide.size()); ++i) total += std::exp(static_cast<double>(lw.logprob(i)));
    CHECK(total == doctest::Approx(1.0).epsilon(1e-5));
    std::vector<TokenLogprob> t50(50);
    lw.top(t50.data(), 50);
    std::vector<float> sorted = wide;
    std::sort(sorted.begin(), sorted.end(), std::greater<float>());
    for (size_t k = 0; k < 50; ++k) CHECK(wide[static_cast<size_t>(t50[k].token)] == sorted[k]);

    const float none[2] = {-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
    CHECK_THROWS_AS(LogSoftmax(none, 2), llamas::Error);
    CHECK_THROWS_AS(LogSoftmax(nullptr, 2), llamas::Error);
}

TEST_CASE("sampler filter: after bias, before penalties, in place; false cancels") {
    SamplerParams p;
    p.greedy = true;
    p.presence_penalty = 10.0f;
    p.logit_bias = {{2, 1.0f}};
    Sampler s(p);
    const std::vector<float> l = {0.0f, 5.0f, 4.5f, 1.0f};
    s.accept(2);  // penalised after the filter ran
    std::vector<float> seen;
    const float* seen_ptr = nullptr;
    s.set_filter([&](float* w, int32_t n) {
        seen.assign(w, w + n);
        seen_ptr = w;
        w[1] = -std::numeric_limits<float>::infinity();
        return true;
    });
    const int32_t t = s.sample(l.data(), 4);
    CHECK(seen == std::vector<float>{0.0f, 5.0f, 5.5f, 1.0f});
    CHECK(seen_ptr != l.data());  // the sampler's own copy, the caller's logits stay
    CHECK(l[1] == 5.0f);
    CHECK(t == 3);  // 1 banned by the filter, 2 penalised to -4.5
    s.set_filter([](float*, int32_t) { return false; });
    try {
        s.sample(l.data(), 4);
        FAIL("expected a cancel");
    } catch (const llamas::Error& e) {
        CHECK(e.status() == llamas::Status::cancelled);
    }
    // A filter writing NaN cannot break the choice.
    s.set_filter([](float* w, int32_t) {
        w[0] = std::numeric_limits<float>::quiet_NaN();
        return true;
    });
    CHECK(s.sample(l.data(), 4) == 1);
    s.set_filter({});
    CHECK(s.sample(l.data(), 4) == 1);
}

}  // TEST_SUITE
