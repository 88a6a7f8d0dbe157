// Special token ids as the reference's vocab loader finds them: the tokenizer.ggml.*_token_id
// keys (and the deprecated FIM key names), else end-of-turn and fill-in-the-middle markers
// recognised by their text, which then become control tokens; the newline token.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "gguf/gguf.h"
#include "test_data.h"
#include "tokenizer/tokenizer.h"

namespace {

using llamas::Tokenizer;

std::unique_ptr<Tokenizer> load(const std::string& name) {
    auto file = llamas::gguf::File::open(llamas::test::data_path("vocab/ggml-vocab-" + name + ".gguf"));
    return std::make_unique<Tokenizer>(*file);
}

constexpr uint32_t k_control = 1u << 3;

}  // namespace

TEST_SUITE("tokenizer") {

TEST_CASE("special ids: FIM markers by text become control tokens") {
    // DeepSeek Coder: <｜fim▁begin｜> / <｜fim▁hole｜> / <｜fim▁end｜> (no keys in the file).
    const auto ds = load("deepseek-coder");
    CHECK(ds->fim_pre() == 32016);
    CHECK(ds->fim_suf() == 32015);
    CHECK(ds->fim_mid() == 32017);
    CHECK(ds->token_text(32016) == "<\xEF\xBD\x9C" "fim\xE2\x96\x81" "begin\xEF\xBD\x9C>");
    // StarCoder and Refact: <fim_prefix> 1, <fim_middle> 2, <fim_suffix> 3; EOT <|endoftext|> 0.
    for (const char* name : {"starcoder", "refact"}) {
        CAPTURE(name);
        const auto t = load(name);
        CHECK(t->fim_pre() == 1);
        CHECK(t->fim_suf() == 3);
        CHECK(t->fim_mid() == 2);
        CHECK(t->token_text(t->fim_pre()) == "<fim_prefix>");
        CHECK(t->eot() == 0);
        for (int32_t id : {t->fim_pre(), t->fim_suf(), t->fim_mid(), t->eot()})
            CHECK(t->token_attr(id) == k_control);  // replaced, as the reference does
    }
}

TEST_CASE("special ids: none where the vocabulary has no such token; newline as linefeed_id") {
    const auto spm = load("llama-spm");
    CHECK(spm->fim_pre() == Tokenizer::no_token);
    CHECK(spm->eot() == Tokenizer::no_token);
    CHECK(spm->newline() == spm->find_token("<0x0A>"));
    const auto gpt2 = load("gpt-2");
    CHECK(gpt2->fim_mid() == Tokenizer::no_token);
    CHECK(gpt2->newline() == gpt2->encode("\n", false).at(0));
    const auto bert = load("bert-bge");
    CHECK(bert->newline() == bert->pad());  // WordPiece: the reference uses PAD
    CHECK((bert->token_attr(bert->sep()) & k_control) != 0);
}

}  // TEST_SUITE
