// llamas-bench: prompt-processing and generation speed, measured the way llama.cpp's llama-bench
// measures it, so the two tools' numbers can be put side by side.
//
//   llamas-bench -m MODEL [-m MODEL ...] [-p 512] [-n 128] [-t 2] [-r 3] [-b 512] [-o md|json] [--embed]
//
// Each test gets a fresh context of n_prompt + n_gen positions (F16 KV cache), one warm-up run,
// then -r timed runs starting from an empty cache:
//   ppN: the N tokens in batches of at most -b tokens (one batch for the default pp512);
//   tgN: N single-token decodes, the first at position 0 (BOS), each next one a random token.
// Inputs are random token ids, like llama-bench's. Tokens/s of a run = tokens / wall time; the
// report gives their mean, sample standard deviation and every sample.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/context.h"
#include "engine/model.h"
#include "gguf/gguf.h"
#include "harness/embed_bench.h"
#include "quant/quant_policy.h"
#include "quant/types.h"
#include "util/error.h"

namespace {

const char* kUsage =
    "usage: llamas-bench -m MODEL [-m MODEL ...] [options]\n"
    "  -m, --model FILE     GGUF model (repeatable)\n"
    "  -p, --n-prompt N,..  prompt-processing test sizes (default 512; 0 = none)\n"
    "  -n, --n-gen N,..     generation test sizes (default 128; 0 = none)\n"
    "  -t, --threads N,..   threads (default: all cores)\n"
    "  -r, --repetitions N  timed runs per test (default 3)\n"
    "  -b, --batch-size N   most tokens per forward pass (default 512)\n"
    "  -o, --output FMT     md (default) or json\n"
    "      --embed          benchmark an embedding model (encoder pass instead of decoding)\n"
    "      --profile        after each test, one more run timed per kind of op and per thread:\n"
    "                       the share of the caller's time outside parallel runs (the serial\n"
    "                       fraction) and each thread's waiting inside them\n";

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(1);
}

struct Options {
    std::vector<std::string> models;
    std::vector<int> n_prompt{512};
    std::vector<int> n_gen{128};
    std::vector<int> threads;
    int reps = 3;
    int n_batch = 512;
    std::string output = "md";
    bool embed = false;
    bool profile = false;
};

int parse_int(const std::string& flag, const std::string& v, int lo, int hi) {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || n < lo || n > hi) {
        die(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
    }
    return static_cast<int>(n);
}

// "16,128" -> {16, 128}, like llama-bench's comma lists.
std::vector<int> parse_list(const std::string& flag, const std::string& v, int lo, int hi) {
    std::vector<int> out;
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) out.push_back(parse_int(flag, item, lo, hi));
    if (out.empty() || v.back() == ',') die(flag + " needs a comma-separated list of integers, got '" + v + "'");
    return out;
}

Options parse_args(int argc, char** argv) {
    Options o;
    bool threads_set = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "-m" || a == "--model") o.models.push_back(value());
        else if (a == "-p" || a == "--n-prompt") o.n_prompt = parse_list(a, value(), 0, 1 << 20);
        else if (a == "-n" || a == "--n-gen") o.n_gen = parse_list(a, value(), 0, 1 << 20);
        else if (a == "-t" || a == "--threads") { o.threads = parse_list(a, value(), 1, 1024); threads_set = true; }
        else if (a == "-r" || a == "--repetitions") o.reps = parse_int(a, value(), 1, 1000);
        else if (a == "-b" || a == "--batch-size") o.n_batch = parse_int(a, value(), 1, 1 << 20);
        else if (a == "-o" || a == "--output") {
            o.output = value();
            if (o.output != "md" && o.output != "json") die("-o must be md or json, got '" + o.output + "'");
        } else if (a == "--embed") o.embed = true;
        else if (a == "--profile") o.profile = true;
        else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else die("unknown argument '" + a + "'\n" + kUsage);
    }
    if (o.models.empty()) die(std::string("-m MODEL is required\n") + kUsage);
    if (!threads_set) o.threads = {static_cast<int>(std::max(1u, std::thread::hardware_concurrency()))};
    return o;
}

// A line of /proc/self/status ("VmRSS", "VmHWM") in MiB; -1 when unavailable.
double proc_status_mib(const char* field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::string prefix = std::string(field) + ":";
    while (std::getline(f, line)) {
        if (line.compare(0, prefix.size(), prefix) == 0) return std::atof(line.c_str() + prefix.size()) / 1024.0;
    }
    return -1;
}

// What llama-bench shows about a model, read from the GGUF file itself.
struct ModelInfo {
    std::string path, filename, arch, ftype;
    uint64_t size_bytes = 0;  // all tensor data
    uint64_t n_params = 0;
    uint64_t bytes_per_token = 0;  // weight bytes one decoded token reads (every matrix once)
    double rss_after_load_mib = 0;
    double load_ms = 0;  // Model::load: mapping, checks, weight repacking
};

// Architectures whose models produce embeddings rather than next-token logits.
bool is_embedding_model(const llamas::gguf::File& f) {
    const std::string arch(f.get_string("general.architecture", ""));
    if (arch == "bert" || arch == "nomic-bert" || arch == "jina-bert-v2" || arch == "gemma-embedding" ||
        arch == "modern-bert" || arch == "t5encoder") {
        return true;
    }
    return f.has(arch + ".pooling_type");
}

std::string ftype_label(const llamas::gguf::File& f) {
    const auto* kv = f.find("general.file_type");
    if (kv) {
        const char* name = llamas::file_type_name(static_cast<llamas::FileType>(f.get_u32("general.file_type")));
        if (name) return name;
    }
    // No (known) file type: name the type of the biggest tensor.
    const llamas::gguf::TensorInfo* big = nullptr;
    for (const auto& t : f.tensors()) {
        if (!big || t.n_bytes > big->n_bytes) big = &t;
    }
    return big ? llamas::type_info(big->type).name : "?";
}

std::string human_size(uint64_t bytes) {
    char buf[32];
    if (bytes < (1ull << 30)) std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / 1048576.0);
    else std::snprintf(buf, sizeof buf, "%.2f GiB", bytes / 1073741824.0);
    return buf;
}

std::string human_params(uint64_t n) {
    char buf[32];
    if (n < 1000000000ull) std::snprintf(buf, sizeof buf, "%.2f M", n / 1e6);
    else std::snprintf(buf, sizeof buf, "%.2f B", n / 1e9);
    return buf;
}

struct TestResult {
    const ModelInfo* model;
    int n_prompt, n_gen, n_threads, n_batch;
    std::vector<double> samples_ns, samples_ts;
    double avg_ts = 0, stddev_ts = 0, avg_ns = 0;
    std::string test_time;
    std::string profile_md;    // --profile: the breakdown as markdown lines
    nlohmann::json profile_json;
};

double mean(const std::vector<double>& v) {
    double s = 0;
    for (double x : v) s += x;
    return v.empty() ? 0 : s / static_cast<double>(v.size());
}

// Sample standard deviation (n - 1), as llama-bench reports it.
double stddev(const std::vector<double>& v) {
    if (v.size() < 2) return 0;
    const double m = mean(v);
    double s = 0;
    for (double x : v) s += (x - m) * (x - m);
    return std::sqrt(s / static_cast<double>(v.size() - 1));
}

std::string now_iso8601() {
    const std::time_t t = std::time(nullptr);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
    return buf;
}

class Bench {
public:
    Bench(const llamas::Model& model, std::mt19937& rng) : model_(model), rng_(rng) {}

    // n tokens in batches of at most n_batch, into an empty cache.
    void prompt(llamas::Context& ctx, int n) {
        std::vector<int32_t> tokens;
        for (int done = 0; done < n;) {
            const int m = std::min(n - done, static_cast<int>(ctx.params().n_batch));
            tokens.resize(static_cast<size_t>(m));
            for (int i = 0; i < m; ++i) tokens[static_cast<size_t>(i)] = (done == 0 && i == 0) ? first_token() : random_token();
            ctx.decode(tokens.data(), m, done);
            done += m;
        }
    }

    // n single-token decodes at positions pos0.. (from an empty cache when pos0 is 0, starting with
    // BOS like llama-bench; after a prompt when pos0 > 0).
    void generate(llamas::Context& ctx, int n, int pos0) {
        int32_t token = pos0 == 0 ? first_token() : random_token();
        for (int i = 0; i < n; ++i) {
            ctx.decode(&token, 1, pos0 + i);
            token = random_token();
        }
    }

private:
    int32_t random_token() {
        return static_cast<int32_t>(rng_() % static_cast<uint32_t>(model_.hparams().n_vocab));
    }
    int32_t first_token() {
        const auto& tok = model_.tokenizer();
        return tok.add_bos() && tok.bos() >= 0 ? tok.bos() : random_token();
    }

    const llamas::Model& model_;
    std::mt19937& rng_;
};

std::string test_name(const TestResult& r) {
    if (r.n_gen == 0) return "pp" + std::to_string(r.n_prompt);
    if (r.n_prompt == 0) return "tg" + std::to_string(r.n_gen);
    return "pp" + std::to_string(r.n_prompt) + "+tg" + std::to_string(r.n_gen);
}

// The breakdown of one profiled run (see util/profile.h) over n_tokens tokens.
void describe_profile(const llamas::Profile& p, int n_tokens, TestResult& r) {
    const double total = static_cast<double>(p.total_ns());
    const double serial = total - static_cast<double>(p.pool_ns);
    char line[256];
    std::string md;
    std::snprintf(line, sizeof line,
                  "### %s, %s, %d threads: %.3f ms per token, %.1f parallel runs per token, serial (caller alone) %.2f%%\n\n",
                  r.model->filename.c_str(), test_name(r).c_str(), static_cast<int>(p.busy_ns.size()), total / 1e6 / n_tokens,
                  static_cast<double>(p.pool_runs) / n_tokens, 100.0 * serial / total);
    md += line;
    md += "| op | ms per token | share |\n| --- | ---: | ---: |\n";
    nlohmann::json ops = nlohmann::json::object();
    for (int i = 0; i < static_cast<int>(llamas::Op::count); ++i) {
        const double ns = static_cast<double>(p.op_ns[i]);
        if (ns == 0) continue;
        const char* name = llamas::op_name(static_cast<llamas::Op>(i));
        std::snprintf(line, sizeof line, "| %s | %.4f | %.1f%% |\n", name, ns / 1e6 / n_tokens, 100.0 * ns / total);
        md += line;
        ops[name] = ns / 1e6 / n_tokens;
    }
    md += "\n| thread | busy in parallel runs | waiting in them |\n| --- | ---: | ---: |\n";
    nlohmann::json threads = nlohmann::json::array();
    const double in_pool = std::max(1.0, static_cast<double>(p.pool_ns));
    for (size_t t = 0; t < p.busy_ns.size(); ++t) {
        const double busy = static_cast<double>(p.busy_ns[t]);
        std::snprintf(line, sizeof line, "| %zu | %.1f%% | %.1f%% |\n", t, 100.0 * busy / in_pool, 100.0 * (in_pool - busy) / in_pool);
        md += line;
        threads.push_back({{"busy_share", busy / in_pool}});
    }
    r.profile_md = md;
    r.profile_json = {{"ms_per_token", total / 1e6 / n_tokens}, {"serial_share", serial / total},
                      {"parallel_runs_per_token", static_cast<double>(p.pool_runs) / n_tokens},
                      {"op_ms_per_token", ops}, {"threads", threads}};
}

TestResult run_test(const llamas::Model& model, const ModelInfo& info, int n_prompt, int n_gen, int n_threads,
                    const Options& o, std::mt19937& rng) {
    TestResult r{&info, n_prompt, n_gen, n_threads, std::min(o.n_batch, std::max(1, n_prompt + n_gen)), {}, {}, 0, 0, 0, now_iso8601(), {}, {}};
    llamas::ContextParams cp;
    cp.n_ctx = n_prompt + n_gen;
    cp.n_batch = r.n_batch;
    cp.n_threads = n_threads;
    cp.kv_type = llamas::GgmlType::F16;
    llamas::Context ctx(model, cp);
    Bench bench(model, rng);

    // Warm-up, as llama-bench: a whole prompt run, one generated token.
    if (n_prompt > 0) bench.prompt(ctx, n_prompt);
    if (n_gen > 0) bench.generate(ctx, 1, 0);

    for (int rep = 0; rep < o.reps; ++rep) {
        const auto t0 = std::chrono::steady_clock::now();
        if (n_prompt > 0) bench.prompt(ctx, n_prompt);  // decode at position 0 empties the cache
        if (n_gen > 0) bench.generate(ctx, n_gen, n_prompt);
        const double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
        r.samples_ns.push_back(ns);
        r.samples_ts.push_back(1e9 * (n_prompt + n_gen) / ns);
    }
    r.avg_ts = mean(r.samples_ts);
    r.stddev_ts = stddev(r.samples_ts);
    r.avg_ns = mean(r.samples_ns);
    if (o.profile) {
        llamas::Profile prof(n_threads);
        ctx.set_profile(&prof);
        if (n_prompt > 0) bench.prompt(ctx, n_prompt);
        if (n_gen > 0) bench.generate(ctx, n_gen, n_prompt);
        ctx.set_profile(nullptr);
        describe_profile(prof, n_prompt + n_gen, r);
    }
    return r;
}


void print_md_header() {
    std::printf("| %-28s | %-14s | %10s | %8s | %7s | %10s | %8s | %18s |\n", "model", "type", "size", "params",
                "threads", "rss (load)", "test", "t/s");
    std::printf("| %s | %s | %s: | %s: | %s: | %s: | %s: | %s: |\n", std::string(28, '-').c_str(),
                std::string(14, '-').c_str(), std::string(9, '-').c_str(), std::string(7, '-').c_str(),
                std::string(6, '-').c_str(), std::string(9, '-').c_str(), std::string(7, '-').c_str(),
                std::string(17, '-').c_str());
}

void print_md_row(const TestResult& r) {
    const ModelInfo& m = *r.model;
    char ts[64], rss[32];
    std::snprintf(ts, sizeof ts, "%.2f ± %.2f", r.avg_ts, r.stddev_ts);
    std::snprintf(rss, sizeof rss, "%.1f MiB", m.rss_after_load_mib);
    // The ± is two bytes of UTF-8 but one column.
    std::printf("| %-28s | %-14s | %10s | %8s | %7d | %10s | %8s | %19s |\n", m.filename.c_str(),
                (m.arch + " " + m.ftype).c_str(), human_size(m.size_bytes).c_str(), human_params(m.n_params).c_str(),
                r.n_threads, rss, test_name(r).c_str(), ts);
    std::fflush(stdout);
}

nlohmann::json to_json(const TestResult& r) {
    const ModelInfo& m = *r.model;
    return {
        {"model", m.path},
        {"model_filename", m.filename},
        {"model_type", m.arch + " " + m.ftype},
        {"model_size", m.size_bytes},
        {"model_n_params", m.n_params},
        {"weight_bytes_per_token", m.bytes_per_token},
        {"rss_after_load_mb", m.rss_after_load_mib},
        {"load_ms", m.load_ms},
        {"rss_peak_mb", proc_status_mib("VmHWM")},
        {"n_batch", r.n_batch},
        {"n_threads", r.n_threads},
        {"type_k", "f16"},
        {"type_v", "f16"},
        {"n_prompt", r.n_prompt},
        {"n_gen", r.n_gen},
        {"test", test_name(r)},
        {"test_time", r.test_time},
        {"avg_ns", r.avg_ns},
        {"stddev_ns", stddev(r.samples_ns)},
        {"avg_ts", r.avg_ts},
        {"stddev_ts", r.stddev_ts},
        {"samples_ns", r.samples_ns},
        {"samples_ts", r.samples_ts},
    };
}

ModelInfo describe(const std::string& path, const llamas::gguf::File& f) {
    ModelInfo m;
    m.path = path;
    const size_t slash = path.find_last_of('/');
    m.filename = slash == std::string::npos ? path : path.substr(slash + 1);
    m.arch = std::string(f.get_string("general.architecture", "?"));
    m.ftype = ftype_label(f);
    for (const auto& t : f.tensors()) {
        m.size_bytes += t.n_bytes;
        m.n_params += t.n_elements;
    }
    return m;
}

// --embed: documents of n_prompt tokens, as many per call as fill -b tokens (one packed pass),
// t/s over all their tokens; also the latency of one document embedded alone (harness/embed_bench).
TestResult run_embed_test(const llamas::Model& model, const ModelInfo& info, int n_prompt, int n_threads,
                          const Options& o, llamas::EmbedBenchResult* detail) {
    llamas::EmbedBenchParams p;
    p.n_tokens = n_prompt;
    p.n_batch = std::max(o.n_batch, n_prompt);
    p.n_threads = n_threads;
    p.reps = o.reps;
    *detail = llamas::run_embed_bench(model, p);
    TestResult r{&info, n_prompt, 0, n_threads, p.n_batch, detail->samples_ns, detail->samples_ts, 0, 0, 0, now_iso8601(), {}, {}};
    r.avg_ts = mean(r.samples_ts);
    r.stddev_ts = stddev(r.samples_ts);
    r.avg_ns = mean(r.samples_ns);
    return r;
}

uint64_t weight_bytes_per_token(const llamas::Model& model) {
    uint64_t bytes = 0;
    for (const llamas::WeightView* w : model.matrices()) {
        if (w == &model.token_embd() && !model.tied_output()) continue;  // only a row lookup
        bytes += static_cast<uint64_t>(w->row_bytes) * static_cast<uint64_t>(w->n_rows);
    }
    return bytes;
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_args(argc, argv);
    std::mt19937 rng(1234);
    nlohmann::json results = nlohmann::json::array();
    bool header_printed = false;
    std::string footer;  // md: RSS lines after the table
    std::string profiles;  // md: the --profile breakdowns after that
    auto report = [&](const TestResult& r) {
        if (o.output == "md") {
            print_md_row(r);
            if (!r.profile_md.empty()) profiles += "\n" + r.profile_md;
        } else {
            nlohmann::json j = to_json(r);
            if (!r.profile_md.empty()) j["profile"] = r.profile_json;
            results.push_back(j);
        }
    };
    try {
        for (const std::string& path : o.models) {
            // Check the kind of model before loading it as a decoder.
            {
                auto f = llamas::gguf::File::open(path);
                const bool embedding = is_embedding_model(*f);
                const std::string arch(f->get_string("general.architecture", "?"));
                if (o.embed && !embedding) {
                    die("--embed needs an embedding model; '" + path + "' is a '" + arch + "' decoder");
                }
                if (embedding && !o.embed) die("'" + path + "' is an embedding model (architecture '" + arch + "'); use --embed");
            }
            const auto t_load = std::chrono::steady_clock::now();
            std::unique_ptr<llamas::Model> model = llamas::Model::load(path);
            const double load_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_load).count();
            ModelInfo info = describe(path, model->file());
            info.load_ms = load_ms;
            info.rss_after_load_mib = proc_status_mib("VmRSS");
            info.bytes_per_token = weight_bytes_per_token(*model);
            if (o.output == "md") {
                std::fprintf(stderr, "%s: %s, %s, %s params, %.1f MiB of weights read per token, loaded in %.0f ms, RSS after load %.1f MiB\n",
                             info.filename.c_str(), (info.arch + " " + info.ftype).c_str(), human_size(info.size_bytes).c_str(),
                             human_params(info.n_params).c_str(), info.bytes_per_token / 1048576.0, info.load_ms, info.rss_after_load_mib);
                if (!header_printed) print_md_header();
                header_printed = true;
            }
            for (int t : o.threads) {
                for (int p : o.n_prompt) {
                    if (p == 0) continue;
                    if (o.embed) {
                        llamas::EmbedBenchResult d;
                        TestResult r = run_embed_test(*model, info, p, t, o, &d);
                        const double p50 = d.latency_percentile_ns(50) / 1e6, p99 = d.latency_percentile_ns(99) / 1e6;
                        if (o.output == "md") {
                            print_md_row(r);
                            std::fprintf(stderr, "  embd pp%d: %d documents per call; one document alone: P50 %.2f ms, P99 %.2f ms\n",
                                         p, d.n_docs, p50, p99);
                        } else {
                            nlohmann::json j = to_json(r);
                            j["embeddings"] = true;
                            j["n_docs"] = d.n_docs;
                            j["latency_p50_ms"] = p50;
                            j["latency_p99_ms"] = p99;
                            results.push_back(j);
                        }
                        continue;
                    }
                    TestResult r = run_test(*model, info, p, 0, t, o, rng);
                    report(r);
                }
                for (int n : o.n_gen) {
                    if (n == 0 || o.embed) continue;  // an embedding model generates nothing
                    TestResult r = run_test(*model, info, 0, n, t, o, rng);
                    report(r);
                }
            }
            char line[512];
            std::snprintf(line, sizeof line, "%s: loaded in %.0f ms, RSS after load %.1f MiB, peak RSS of the process so far %.1f MiB\n",
                          info.filename.c_str(), info.load_ms, info.rss_after_load_mib, proc_status_mib("VmHWM"));
            footer += line;
        }
    } catch (const llamas::Error& e) {
        die(e.what());
    } catch (const std::exception& e) {
        die(e.what());
    }
    if (o.output == "json") std::printf("%s\n", results.dump(2).c_str());
    else std::printf("\n%s%s", footer.c_str(), profiles.c_str());
    return 0;
}
