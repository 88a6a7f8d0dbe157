#include "sample/grammar_stage.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "tokenizer/tokenizer.h"
#include "util/error.h"

namespace llamas {

std::shared_ptr<const grammar::TokenTrie> build_token_trie(const Tokenizer& tok) {
    const int32_t n = tok.n_vocab();
    std::vector<std::string> pieces(static_cast<size_t>(n));
    std::vector<char> eog(static_cast<size_t>(n), 0);
    for (int32_t id = 0; id < n; ++id) {
        pieces[static_cast<size_t>(id)] = tok.token_to_piece(id, false);
        eog[static_cast<size_t>(id)] = tok.is_eog(id) ? 1 : 0;
    }
    return std::make_shared<const grammar::TokenTrie>(std::move(pieces), eog);
}

GrammarStage::GrammarStage(std::shared_ptr<const grammar::TokenTrie> trie, grammar::Grammar g, bool lazy,
                           LazyTriggers triggers)
    : trie_(std::move(trie)), g_(std::move(g)), m_(g_), masker_(*trie_, m_), triggers_(std::move(triggers)),
      patterns_(triggers_.patterns) {
    for (const grammar::Elem& e : g_.elems)
        if (grammar::is_token_op(e.op) && e.value >= static_cast<uint32_t>(trie_->n_tokens()))
            fail(Status::invalid_argument, "the grammar refers to token %u, outside the vocabulary of %d tokens", e.value,
                 trie_->n_tokens());
    m_.start(initial_.stacks);
    initial_.awaiting = lazy;
    for (const auto& w : triggers_.words) longest_word_ = std::max(longest_word_, w.size());
    state_ = initial_;
}

const std::vector<uint8_t>& GrammarStage::allowed() {
    masker_.compute(state_.stacks, state_.partial, allowed_);
    return allowed_;
}

bool GrammarStage::allows(int32_t token) {
    if (state_.awaiting) return true;
    return masker_.allows(state_.stacks, state_.partial, token);
}

void GrammarStage::mask(float* logits, int32_t n_vocab) {
    if (state_.awaiting) return;
    masker_.compute(state_.stacks, state_.partial, allowed_);
    const int32_t n = std::min(n_vocab, trie_->n_tokens());
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    for (int32_t i = 0; i < n; ++i)
        if (!allowed_[static_cast<size_t>(i)]) logits[i] = kNegInf;
    for (int32_t i = n; i < n_vocab; ++i) logits[i] = kNegInf;
}

void GrammarStage::accept(const int32_t* tokens, size_t n) {
    State s = state_;
    for (size_t i = 0; i < n; ++i) step(s, tokens[i]);
    state_ = std::move(s);
}

void GrammarStage::step(State& s, int32_t token) {
    if (token < 0 || token >= trie_->n_tokens()) fail(Status::invalid_argument, "token %d is out of range", token);
    const std::string& piece = trie_->piece(token);
    if (s.awaiting) {
        const auto& tt = triggers_.tokens;
        if (std::find(tt.begin(), tt.end(), token) != tt.end()) {
            s.awaiting = false;
            s.pending.clear();
            s.text.clear();
            if (!m_.accept_token(s.stacks, s.partial, token, piece))
                fail(Status::invalid_argument, "the grammar does not accept its trigger token %d", token);
            return;
        }
        s.pending += piece;
        size_t at = std::string::npos;
        for (const auto& w : triggers_.words)
            if (!w.empty()) at = std::min(at, s.pending.find(w));
        std::string text;
        if (at != std::string::npos) {
            text = s.pending.substr(at);
        } else if (!patterns_.empty() && s.text.size() <= TriggerPatterns::kMaxText) {
            s.text.append(piece, 0, TriggerPatterns::kMaxText + 1 - s.text.size());
            at = patterns_.find(s.text);
            if (at != std::string::npos) text = s.text.substr(at);
        }
        if (at == std::string::npos) {
            // Keep only what could still be the start of a trigger word.
            const size_t keep = longest_word_ > 0 ? longest_word_ - 1 : 0;
            if (s.pending.size() > keep) s.pending.erase(0, s.pending.size() - keep);
            return;
        }
        s.awaiting = false;
        s.pending.clear();
        s.text.clear();
        if (!m_.accept_text(s.stacks, s.partial, text))
            fail(Status::invalid_argument, "the grammar does not accept the text from its trigger on: \"%s\"",
                 text.c_str());
        return;
    }
    if (trie_->is_eog(token)) {
        if (s.partial.n_remain != 0 || !grammar::Matcher::can_end(s.stacks))
            fail(Status::invalid_argument, "end-of-generation token %d before the grammar is complete", token);
        return;
    }
    grammar::StackSet stacks = s.stacks;
    grammar::PartialUtf8 partial = s.partial;
    if (piece.empty() || !m_.accept_token(stacks, partial, token, piece))
        fail(Status::invalid_argument, "token %d (\"%s\") is not allowed by the grammar here", token, piece.c_str());
    s.stacks = std::move(stacks);
    s.partial = partial;
}

}  // namespace llamas
