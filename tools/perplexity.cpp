// llamas-perplexity: the perplexity of a model over a text file, computed the way llama.cpp's
// llama-perplexity computes it by default, so the two tools' numbers can be put side by side.
//
//   llamas-perplexity -m MODEL -f TEXT [--ctx 512] [--batch 2048] [--threads N] [--chunks N]
//
// The whole text is tokenized (with BOS when the model adds one) and cut into chunks of n_ctx
// tokens; the tail that fills no whole chunk is not used. Each chunk is evaluated from an empty
// cache with its first token replaced by BOS (when the model adds BOS), and only its second half
// is scored: the logits at positions first = n_ctx/2 .. n_ctx-2 predict the tokens after them.
// NLL = -log_softmax(logits)[next token], accumulated in double. After each chunk the running
// perplexity exp(mean NLL) is printed as "[i]x.xxxx,"; at the end
// "Final estimate: PPL = x +/- y", y being the standard error of the mean NLL times the PPL.
//
// Like llama-perplexity, when n_batch >= 2 * n_ctx the chunks are evaluated n_batch / n_ctx at a
// time, one sequence each, in one batch (one read of the weights for all of them); when
// n_batch < n_ctx each chunk is evaluated in n_batch-sized pieces.
//
// Uses only the public C API (include/llamas.h).
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "llamas.h"

namespace {

const char* kUsage =
    "usage: llamas-perplexity -m MODEL -f TEXT [options]\n"
    "  -m, --model FILE     GGUF model\n"
    "  -f, --file FILE      text to score\n"
    "  -c, --ctx N          tokens per chunk (default 512)\n"
    "  -b, --batch N        most tokens per forward pass (default 2048); n_batch / n_ctx chunks\n"
    "                       are evaluated together\n"
    "  -t, --threads N      threads (default: all cores)\n"
    "      --chunks N       score at most N chunks (default: all)\n";

[[noreturn]] void die(const std::string& msg) {
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    std::exit(1);
}

[[noreturn]] void die_api(const std::string& what, llamas_status st) {
    die(what + ": " + llamas_status_string(st) + " (" + llamas_last_error() + ")");
}

int parse_int(const std::string& flag, const std::string& v, int lo, int hi) {
    char* end = nullptr;
    errno = 0;
    const long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || errno || n < lo || n > hi) {
        die(flag + " needs an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got '" + v + "'");
    }
    return static_cast<int>(n);
}

struct Options {
    std::string model;
    std::string file;
    int n_ctx = 512;
    int n_batch = 2048;
    int n_threads = 0;
    int n_chunks = -1;
};

Options parse_args(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) die(a + " needs a value");
            return argv[++i];
        };
        if (a == "-m" || a == "--model") o.model = value();
        else if (a == "-f" || a == "--file") o.file = value();
        else if (a == "-c" || a == "--ctx" || a == "--ctx-size") o.n_ctx = parse_int(a, value(), 2, 1 << 20);
        else if (a == "-b" || a == "--batch" || a == "--batch-size") o.n_batch = parse_int(a, value(), 1, 1 << 20);
        else if (a == "-t" || a == "--threads") o.n_threads = parse_int(a, value(), 1, 1024);
        else if (a == "--chunks") o.n_chunks = parse_int(a, value(), 1, 1 << 30);
        else if (a == "-h" || a == "--help") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else die("unknown argument '" + a + "'\n" + kUsage);
    }
    if (o.model.empty()) die(std::string("-m MODEL is required\n") + kUsage);
    if (o.file.empty()) die(std::string("-f TEXT is required\n") + kUsage);
    return o;
}

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) die("cannot open '" + path + "'");
    std::stringstream ss;
    ss << f.rdbuf();
    if (f.bad()) die("cannot read '" + path + "'");
    return ss.str();
}

std::vector<int32_t> tokenize(const llamas_model* model, const std::string& text, int flags) {
    size_t n = 0;
    llamas_status st = llamas_tokenize(model, text.data(), text.size(), flags, nullptr, 0, &n);
    if (st != LLAMAS_OK && st != LLAMAS_ERR_BUFFER_TOO_SMALL) die_api("tokenize", st);
    std::vector<int32_t> out(n);
    if (n > 0) {
        st = llamas_tokenize(model, text.data(), text.size(), flags, out.data(), out.size(), &n);
        if (st != LLAMAS_OK) die_api("tokenize", st);
        out.resize(n);
    }
    return out;
}

// -log_softmax(logits)[tok] exactly as llama-perplexity computes it: the maximum in float, the
// sum of expf(logit - max) in double, the log in double.
double nll_of(const float* logits, int n_vocab, int32_t tok) {
    float max_logit = logits[0];
    for (int i = 1; i < n_vocab; ++i) max_logit = std::max(max_logit, logits[i]);
    double sum_exp = 0.0;
    for (int i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
    return -(logits[tok] - max_logit - std::log(sum_exp));
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse_args(argc, argv);
    const std::string text = read_file(o.file);

    llamas_model_options mopt;
    llamas_model_options_init(&mopt);
    mopt.n_threads = o.n_threads;
    llamas_model* model = nullptr;
    llamas_status st = llamas_model_load(o.model.c_str(), &mopt, &model);
    if (st != LLAMAS_OK) die_api("cannot load '" + o.model + "'", st);

    // What the tokenizer adds around a text: BOS in front (replaced into every chunk), and EOS,
    // which perplexity over running text cannot have (llama-perplexity refuses such models too).
    const std::vector<int32_t> specials = tokenize(model, "", LLAMAS_TOKENIZE_ADD_SPECIAL);
    const int32_t bos = llamas_model_bos(model);
    const bool add_bos = !specials.empty() && bos >= 0 && specials.front() == bos;
    if (specials.size() > (add_bos ? 1u : 0u)) die("the model's tokenizer adds an end-of-sequence token to a text");

    const auto t_tok = std::chrono::steady_clock::now();
    std::fprintf(stderr, "perplexity: tokenizing the input ..\n");
    std::vector<int32_t> tokens = tokenize(model, text, LLAMAS_TOKENIZE_ADD_SPECIAL);
    std::fprintf(stderr, "perplexity: tokenization took %g ms\n", seconds_since(t_tok) * 1e3);

    const int n_ctx = o.n_ctx;
    if (tokens.size() < 2 * size_t(n_ctx)) {
        die("you need at least " + std::to_string(2 * n_ctx) + " tokens to evaluate perplexity with a context of " +
            std::to_string(n_ctx) + "; the text tokenizes to only " + std::to_string(tokens.size()) + " tokens");
    }
    const int n_ctx_train = llamas_model_n_ctx_train(model);
    if (n_ctx_train > 0 && n_ctx > n_ctx_train) {
        std::fprintf(stderr, "perplexity: warning: the model was trained on only %d context tokens (%d specified)\n",
                     n_ctx_train, n_ctx);
    }

    // llama-perplexity's arrangement: n_seq chunks side by side when the batch holds several.
    const int n_seq = std::max(1, o.n_batch / n_ctx);
    const int n_batch = std::min(o.n_batch, n_seq * n_ctx);
    const int num_batches = (n_ctx + n_batch - 1) / n_batch;
    const int n_chunk_max = int(tokens.size() / size_t(n_ctx));
    const int n_chunk = o.n_chunks < 0 ? n_chunk_max : std::min(o.n_chunks, n_chunk_max);
    const int first = n_ctx / 2;
    const int n_vocab = llamas_model_n_vocab(model);

    llamas_context_options copt;
    llamas_context_options_init(&copt);
    copt.n_ctx = n_ctx;
    copt.n_batch = n_batch;
    copt.n_threads = o.n_threads;
    copt.n_seq_max = n_seq;
    copt.kv_type = LLAMAS_KV_F16;
    llamas_context* ctx = nullptr;
    st = llamas_context_create(model, &copt, &ctx);
    if (st != LLAMAS_OK) die_api("cannot create a context", st);

    std::fprintf(stderr, "perplexity: calculating perplexity over %d chunks, n_ctx=%d, batch_size=%d, n_seq=%d\n",
                 n_chunk, n_ctx, n_batch, n_seq);

    std::vector<int32_t> b_tok, b_pos, b_seq;
    std::vector<int8_t> b_want;
    b_tok.reserve(size_t(n_batch));
    b_pos.reserve(size_t(n_batch));
    b_seq.reserve(size_t(n_batch));
    b_want.reserve(size_t(n_batch));

    int count = 0;
    double nll = 0.0, nll2 = 0.0;
    std::vector<double> seq_nll(static_cast<size_t>(n_seq)), seq_nll2(static_cast<size_t>(n_seq));

    for (int i = 0; i < n_chunk; i += n_seq) {
        const int start = i * n_ctx;
        const int n_seq_batch = std::min(n_seq, n_chunk - i);
        const auto t_start = std::chrono::steady_clock::now();

        st = llamas_kv_clear(ctx);
        if (st != LLAMAS_OK) die_api("kv_clear", st);
        std::fill(seq_nll.begin(), seq_nll.end(), 0.0);
        std::fill(seq_nll2.begin(), seq_nll2.end(), 0.0);

        for (int j = 0; j < num_batches; ++j) {
            const int batch_size = std::min(n_ctx - j * n_batch, n_batch);
            b_tok.clear();
            b_pos.clear();
            b_seq.clear();
            b_want.clear();
            for (int seq = 0; seq < n_seq_batch; ++seq) {
                const int seq_start = start + seq * n_ctx + j * n_batch;
                for (int k = 0; k < batch_size; ++k) {
                    const int pos = j * n_batch + k;
                    // The first token of each chunk is BOS, as the chunk were a text of its own.
                    b_tok.push_back(add_bos && pos == 0 ? bos : tokens[size_t(seq_start + k)]);
                    b_pos.push_back(pos);
                    b_seq.push_back(seq);
                    b_want.push_back(pos >= first ? 1 : 0);
                }
            }
            st = llamas_decode_batch(ctx, b_tok.data(), b_pos.data(), b_seq.data(), b_want.data(), b_tok.size());
            if (st != LLAMAS_OK) die_api("decode", st);

            // The logits at position p predict the chunk's token p + 1; the last position's
            // predict nothing in the chunk.
            for (size_t idx = 0; idx < b_tok.size(); ++idx) {
                const int pos = b_pos[idx];
                if (!b_want[idx] || pos > n_ctx - 2) continue;
                const int seq = b_seq[idx];
                const float* logits = llamas_logits_ith(ctx, int32_t(idx));
                if (!logits) die(std::string("no logits for a batch token: ") + llamas_last_error());
                const int32_t next = tokens[size_t(start + seq * n_ctx + pos + 1)];
                const double v = nll_of(logits, n_vocab, next);
                seq_nll[size_t(seq)] += v;
                seq_nll2[size_t(seq)] += v * v;
            }
        }

        if (i == 0) {
            const double t_total = seconds_since(t_start);
            int total_seconds = int(t_total * n_chunk / n_seq);
            std::fprintf(stderr, "perplexity: %.2f seconds per pass - ETA ", t_total);
            if (total_seconds >= 60 * 60) {
                std::fprintf(stderr, "%d hours ", total_seconds / (60 * 60));
                total_seconds = total_seconds % (60 * 60);
            }
            std::fprintf(stderr, "%.2f minutes\n", total_seconds / 60.0);
        }

        for (int seq = 0; seq < n_seq_batch; ++seq) {
            nll += seq_nll[size_t(seq)];
            nll2 += seq_nll2[size_t(seq)];
            count += n_ctx - first - 1;
            std::printf("[%d]%.4lf,", i + seq + 1, std::exp(nll / count));
        }
        std::fflush(stdout);
    }
    std::printf("\n");

    nll2 /= count;
    nll /= count;
    const double ppl = std::exp(nll);
    nll2 -= nll * nll;
    int rc = 0;
    if (nll2 > 0) {
        nll2 = std::sqrt(nll2 / (count - 1));
        std::printf("Final estimate: PPL = %.4lf +/- %.5lf\n", ppl, nll2 * ppl);
    } else {
        std::fprintf(stderr, "error: unexpected negative standard deviation of log(prob)\n");
        rc = 1;
    }

    llamas_context_free(ctx);
    llamas_model_free(model);
    return rc;
}
