// llamas-tokenize: print the token ids of a text as the model's tokenizer produces them.
//
//   llamas-tokenize [--raw] [--special] [--pieces] MODEL.gguf [TEXTFILE]
//
// Reads the whole TEXTFILE (or stdin) and prints the ids on one line separated by spaces.
//   --raw      add no BOS/EOS (or CLS/SEP)
//   --special  parse special-token text such as <|im_start|> into single tokens
//   --pieces   print "id<TAB>piece" lines instead (control bytes and broken UTF-8 escaped)
//   --time     also report on stderr the CPU time tokenizing took (model loading excluded), in MB/s
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>

#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

int usage() {
    std::fprintf(stderr, "usage: llamas-tokenize [--raw] [--special] [--pieces] [--time] MODEL.gguf [TEXTFILE]\n");
    return 2;
}

bool utf8_ok(const std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n = c < 0x80 ? 1 : (c >= 0xC2 && c <= 0xDF) ? 2 : (c >= 0xE0 && c <= 0xEF) ? 3 : (c >= 0xF0 && c <= 0xF4) ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
        i += n;
    }
    return true;
}

std::string printable(const std::string& piece) {
    const bool valid = utf8_ok(piece);
    std::string out;
    char buf[8];
    for (char ch : piece) {
        const unsigned char c = static_cast<unsigned char>(ch);
        if (c == '\n') out += "\\n";
        else if (c == '\t') out += "\\t";
        else if (c == '\r') out += "\\r";
        else if (c == '\\') out += "\\\\";
        else if (c < 0x20 || c == 0x7F || (c >= 0x80 && !valid)) {
            std::snprintf(buf, sizeof buf, "\\x%02X", c);
            out += buf;
        } else {
            out.push_back(ch);
        }
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    bool raw = false, special = false, pieces = false, timing = false;
    const char* model = nullptr;
    const char* textfile = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--raw")) raw = true;
        else if (!std::strcmp(argv[i], "--special")) special = true;
        else if (!std::strcmp(argv[i], "--pieces")) pieces = true;
        else if (!std::strcmp(argv[i], "--time")) timing = true;
        else if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) return usage(), 0;
        else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            std::fprintf(stderr, "error: unknown option '%s'\n", argv[i]);
            return usage();
        } else if (!model) model = argv[i];
        else if (!textfile) textfile = argv[i];
        else return usage();
    }
    if (!model) return usage();

    try {
        std::string text;
        if (textfile && std::strcmp(textfile, "-") != 0) {
            std::ifstream in(textfile, std::ios::binary);
            if (!in) {
                std::fprintf(stderr, "error: cannot open '%s': %s\n", textfile, std::strerror(errno));
                return 1;
            }
            std::ostringstream ss;
            ss << in.rdbuf();
            text = ss.str();
        } else {
            text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
        }

        const auto file = llamas::gguf::File::open(model);
        const llamas::Tokenizer tok(*file);
        // CPU time of this thread: steadier than wall time on a busy machine.
        auto cpu_now = [] {
            timespec ts{};
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
            return static_cast<double>(ts.tv_sec) + ts.tv_nsec * 1e-9;
        };
        const double t0 = cpu_now();
        const std::vector<int32_t> ids = tok.encode(text, !raw, special);
        const double secs = cpu_now() - t0;
        if (timing)
            std::fprintf(stderr, "%zu bytes -> %zu tokens in %.3f s CPU: %.2f MB/s\n", text.size(), ids.size(), secs,
                         secs > 0 ? text.size() / 1e6 / secs : 0.0);

        std::string out;
        if (pieces) {
            for (int32_t id : ids) out += std::to_string(id) + "\t" + printable(tok.token_to_piece(id)) + "\n";
        } else {
            for (size_t i = 0; i < ids.size(); ++i) {
                if (i) out.push_back(' ');
                out += std::to_string(ids[i]);
            }
            out.push_back('\n');
        }
        std::fwrite(out.data(), 1, out.size(), stdout);
        return 0;
    } catch (const llamas::Error& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
