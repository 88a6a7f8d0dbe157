// libFuzzer target: every tokenizer of ../shared/vocab on arbitrary bytes.
// Input: byte 0 picks the vocabulary, byte 1 the mode (bit 0 add_special, bit 1 parse_special,
// bit 2: the rest is a list of token ids to decode instead of text to encode), the rest is the
// text. Invalid UTF-8 must never throw; decoding an id out of range must throw
// Error(invalid_argument); anything else escaping, a crash or a sanitizer report is a bug.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <dirent.h>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_paths.h"
#include "gguf/gguf.h"
#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace {

std::vector<std::unique_ptr<llamas::Tokenizer>> load_vocabs() {
    const std::string dir = llamas::fuzz::data_dir() + "/vocab";
    std::vector<std::string> names;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            const std::string n = e->d_name;
            if (n.size() > 5 && n.compare(n.size() - 5, 5, ".gguf") == 0) names.push_back(n);
        }
        closedir(d);
    }
    std::sort(names.begin(), names.end());  // stable vocabulary numbering across runs
    std::vector<std::unique_ptr<llamas::Tokenizer>> out;
    for (const std::string& n : names) out.push_back(std::make_unique<llamas::Tokenizer>(*llamas::gguf::File::open(dir + "/" + n)));
    if (out.empty()) llamas::fuzz::missing_data(dir + "/*.gguf");
    return out;
}

const std::vector<std::unique_ptr<llamas::Tokenizer>>& vocabs() {
    static const auto v = load_vocabs();
    return v;
}

void check(bool ok) {
    if (!ok) __builtin_trap();
}

void encode_decode(const llamas::Tokenizer& tok, std::string_view text, bool add_special, bool parse_special) {
    const std::vector<int32_t> ids = tok.encode(text, add_special, parse_special);
    for (int32_t id : ids) check(id >= 0 && id < tok.n_vocab());
    (void)tok.decode(ids);
    (void)tok.decode(ids, /*skip_special=*/true, /*clean_spaces=*/true);
    llamas::Detokenizer stream(tok, /*skip_special=*/(text.size() & 1) != 0);
    for (int32_t id : ids) (void)stream.push(id);
    (void)stream.flush();
}

void decode_ids(const llamas::Tokenizer& tok, const uint8_t* p, size_t n) {
    std::vector<int32_t> ids(n / 4);
    if (!ids.empty()) std::memcpy(ids.data(), p, ids.size() * 4);
    bool in_range = true;
    for (int32_t& id : ids) {
        // Mostly valid ids, with the occasional out-of-range or negative one.
        if (id >= 0 && id % 64 != 0) id %= tok.n_vocab();
        if (id < 0 || id >= tok.n_vocab()) in_range = false;
    }
    try {
        (void)tok.decode(ids, (n & 1) != 0);
        check(in_range);
        for (int32_t id : ids) {
            (void)tok.token_to_piece(id);
            (void)tok.is_eog(id);
        }
    } catch (const llamas::Error& e) {
        check(!in_range && e.status() == llamas::Status::invalid_argument);
    }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    (void)vocabs();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 2) return 0;
    const auto& all = vocabs();
    const llamas::Tokenizer& tok = *all[data[0] % all.size()];
    const uint8_t mode = data[1];
    if (mode & 4) {
        decode_ids(tok, data + 2, size - 2);
    } else {
        // A copy of exactly the text bytes, so reading past the end is caught by ASan.
        const std::string text(reinterpret_cast<const char*>(data + 2), size - 2);
        encode_decode(tok, text, (mode & 1) != 0, (mode & 2) != 0);
    }
    return 0;
}
