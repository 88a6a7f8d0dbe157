// llamas-grammar-bench: the cost per token of grammar-constrained sampling on a vocabulary.
//   llamas-grammar-bench --vocab FILE.gguf (--grammar FILE.gbnf | --schema FILE.json) --text FILE
//                        [--reps N] [--save-grammar OUT.gbnf]
// --schema converts a JSON Schema with llamas_json_schema_to_grammar's converter first;
// --save-grammar writes the grammar used (to run another implementation on the same one).
// FILE.gguf is a model or a vocabulary-only GGUF. The text (which the grammar must accept) is
// tokenized and replayed: before each of its tokens the bench times, on random logits,
//   mask   : the full grammar mask (every token tested, through the token trie)
//   choose : a complete choose with the default chain (temperature 0.8, top-k 40, ...)
//   greedy : a greedy choose whose argmax the grammar refuses (the mask is needed)
//   greedy-hit: a greedy choose whose argmax the grammar accepts (one token checked)
// then accepts the text's token. Times are the calling thread's CPU time (a shared machine's
// other processes do not count), per token. "cold": best of --reps passes, each with a new
// grammar stage (its step cache and remembered masks empty, as for a grammar's first request);
// "warm": one more pass on a stage reset after the previous one (the caches kept, as for the
// next request). Each measurement runs on a stage of its own.
#include <time.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "gguf/gguf.h"
#include "grammar/gbnf.h"
#include "grammar/json_schema.h"
#include "sample/grammar_stage.h"
#include "sample/sampler.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

using namespace llamas;

namespace {

double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) fail(Status::io, "cannot read %s", path.c_str());
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

int usage() {
    std::fprintf(stderr,
                 "usage: llamas-grammar-bench --vocab FILE.gguf (--grammar FILE.gbnf | --schema FILE.json) --text FILE\n"
                 "                            [--reps N] [--save-grammar OUT.gbnf]\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::string vocab_path, grammar_path, schema_path, text_path, save_path;
    int reps = 3;
    for (int i = 1; i < argc; i += 2) {  // every flag takes a value
        const std::string a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
        if (!v) return usage();
        if (a == "--vocab") vocab_path = v;
        else if (a == "--grammar") grammar_path = v;
        else if (a == "--schema") schema_path = v;
        else if (a == "--save-grammar") save_path = v;
        else if (a == "--text") text_path = v;
        else if (a == "--reps") reps = std::max(1, std::atoi(v));
        else return usage();
    }
    if (vocab_path.empty() || grammar_path.empty() == schema_path.empty() || text_path.empty()) return usage();
    try {
        const auto file = gguf::File::open(vocab_path);
        const Tokenizer tok(*file);
        const int32_t n_vocab = tok.n_vocab();
        const std::string gbnf = schema_path.empty()
                                     ? read_file(grammar_path)
                                     : json_schema_to_gbnf(nlohmann::ordered_json::parse(read_file(schema_path)));
        if (!save_path.empty()) {
            std::ofstream out(save_path, std::ios::binary);
            out << gbnf;
            if (!out) fail(Status::io, "cannot write %s", save_path.c_str());
        }
        std::string text = read_file(text_path);
        while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        const std::vector<int32_t> ids = tok.encode(text, false);

        double t0 = cpu_seconds();
        const auto trie = build_token_trie(tok);
        const double t_trie = cpu_seconds() - t0;
        t0 = cpu_seconds();
        const grammar::Grammar parsed = grammar::parse(gbnf);
        const double t_parse = cpu_seconds() - t0;

        std::mt19937 rng(42);
        std::normal_distribution<float> normal(0.0f, 3.0f);
        std::vector<float> logits(static_cast<size_t>(n_vocab));
        for (float& l : logits) l = normal(rng);
        std::vector<float> work(logits.size());

        SamplerParams chain;  // the defaults: temperature 0.8, top-k 40, top-p 0.95, min-p 0.05
        SamplerParams greedy;
        greedy.greedy = true;
        size_t n_allowed_sum = 0;
        // One pass over the text; adds each measurement's time to sum[0..3]. Each measurement
        // has a grammar stage of its own (st[k], all advanced alike), so that none of them finds
        // the state's mask already remembered by another one at the same step.
        using Stages = std::array<std::shared_ptr<GrammarStage>, 4>;
        auto pass = [&](const Stages& st, double* sum) {
            for (const auto& x : st) x->reset();
            Sampler s_chain(chain), s_greedy(greedy), s_hit(greedy);
            s_chain.set_constraint(st[1]);
            s_greedy.set_constraint(st[2]);
            s_hit.set_constraint(st[3]);
            n_allowed_sum = 0;
            for (size_t i = 0; i < ids.size(); ++i) {
                const int32_t target = ids[i];
                work = logits;
                double t = cpu_seconds();
                st[0]->mask(work.data(), n_vocab);
                sum[0] += cpu_seconds() - t;
                for (float l : work) n_allowed_sum += l > -std::numeric_limits<float>::infinity();

                t = cpu_seconds();
                (void)s_chain.sample(logits.data(), n_vocab);
                sum[1] += cpu_seconds() - t;

                // Greedy with a refused argmax: the best logit on a token the grammar forbids.
                work = logits;
                const std::vector<uint8_t>& allowed = st[0]->allowed();
                int32_t refused = -1;
                for (int32_t k = 0; k < n_vocab && refused < 0; ++k)
                    if (!allowed[static_cast<size_t>(k)]) refused = k;
                if (refused >= 0) work[static_cast<size_t>(refused)] = 100.0f;
                t = cpu_seconds();
                (void)s_greedy.sample(work.data(), n_vocab);
                sum[2] += cpu_seconds() - t;

                // Greedy whose argmax is the text's token (what a model following the grammar gives).
                work = logits;
                work[static_cast<size_t>(target)] = 100.0f;
                t = cpu_seconds();
                const int32_t got = s_hit.sample(work.data(), n_vocab);
                sum[3] += cpu_seconds() - t;
                if (got != target) fail(Status::internal, "greedy hit chose %d, not %d", got, target);

                for (const auto& x : st) x->accept(&target, 1);
            }
        };
        double cold[4] = {1e30, 1e30, 1e30, 1e30}, warm[4] = {0, 0, 0, 0};
        Stages stages;
        for (int r = 0; r < reps; ++r) {
            for (auto& x : stages) x = std::make_shared<GrammarStage>(trie, parsed);
            double sum[4] = {0, 0, 0, 0};
            pass(stages, sum);
            for (int k = 0; k < 4; ++k) cold[k] = std::min(cold[k], sum[k]);
        }
        pass(stages, warm);
        const double n = static_cast<double>(ids.size());
        std::printf("vocabulary: %s (%d tokens), trie %zu nodes built in %.1f ms\n", vocab_path.c_str(), n_vocab,
                    trie->nodes().size(), t_trie * 1e3);
        std::printf("grammar: %s (parsed in %.2f ms); text: %zu tokens; %.0f tokens allowed per step on average\n",
                    (schema_path.empty() ? grammar_path : schema_path).c_str(), t_parse * 1e3, ids.size(), static_cast<double>(n_allowed_sum) / n);
        const char* names[2] = {"cold", "warm"};
        const double* v[2] = {cold, warm};
        for (int k = 0; k < 2; ++k)
            std::printf("per token, %s: mask %.3f ms | choose %.3f ms | greedy %.3f ms | greedy-hit %.4f ms\n", names[k],
                        v[k][0] / n * 1e3, v[k][1] / n * 1e3, v[k][2] / n * 1e3, v[k][3] / n * 1e3);
    } catch (const std::exception& e) {  // Error, and a schema that is not JSON
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}
