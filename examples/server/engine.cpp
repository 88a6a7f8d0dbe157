#include "engine.h"

#include <algorithm>
#include <stdexcept>

namespace server {

namespace {

void must(llamas_status s, const char* what) {
    if (s != LLAMAS_OK) throw std::runtime_error(std::string(what) + ": " + llamas_last_error());
}

size_t common_prefix(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    size_t n = 0;
    while (n < a.size() && n < b.size() && a[n] == b[n]) ++n;
    return n;
}

}  // namespace

Engine::Engine(llamas_model* model, const EngineOptions& o) : model_(model), options_(o) {
    llamas_context_options co;
    llamas_context_options_init(&co);
    co.n_ctx = o.n_ctx;
    co.n_batch = o.n_batch;
    co.n_threads = o.n_threads;
    co.n_seq_max = o.parallel;
    must(llamas_context_create(model, &co, &ctx_), "cannot create the context");
    options_.n_ctx = llamas_context_n_ctx(ctx_);
    slots_.resize(static_cast<size_t>(o.parallel));
    for (int32_t i = 0; i < o.parallel; ++i) slots_[static_cast<size_t>(i)].id = i;
    const size_t cap = static_cast<size_t>(o.n_batch) + static_cast<size_t>(o.parallel);
    tok_.reserve(cap);
    pos_.reserve(cap);
    seq_.reserve(cap);
    want_.reserve(cap);
    thread_ = std::thread([this] { loop(); });
}

Engine::~Engine() {
    {
        std::lock_guard<std::mutex> lock(m_);
        stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
    for (Slot& s : slots_) release(s);
    for (auto& t : queue_) {
        Event e;
        e.kind = Event::error;
        e.text = "the server is shutting down";
        e.http_status = 503;
        t->push(std::move(e));
    }
    llamas_context_free(ctx_);
}

void Engine::submit(std::shared_ptr<Task> task) {
    {
        std::lock_guard<std::mutex> lock(m_);
        queue_.push_back(std::move(task));
    }
    cv_.notify_all();
}

void Engine::counts(size_t* queued, size_t* busy) {
    std::lock_guard<std::mutex> lock(m_);
    *queued = queue_.size();
    *busy = busy_;
}

// The longest prefix of the new prompt already cached, in this slot or (copied over) in another
// slot's sequence. At least the prompt's last token is always decoded again: its logits start
// the generation.
size_t Engine::reuse_prefix(Slot& s) {
    const std::vector<int32_t>& p = s.task->prompt;
    size_t best = common_prefix(s.cached, p);
    int32_t from = s.id;
    for (const Slot& o : slots_) {
        if (o.id == s.id) continue;
        // A generating slot's cache may run ahead of `cached` by the token being decoded: only
        // count what is surely in its sequence.
        const size_t n = common_prefix(o.cached, p);
        if (n > best + 16) {  // copying costs a little: only worth it for a real gain
            best = n;
            from = o.id;
        }
    }
    best = std::min(best, p.empty() ? 0 : p.size() - 1);
    if (from != s.id) {
        must(llamas_seq_copy(ctx_, from, s.id, static_cast<int32_t>(best)), "seq_copy");
    } else {
        must(llamas_seq_remove(ctx_, s.id, static_cast<int32_t>(best), -1, 0), "seq_remove");
    }
    s.cached.assign(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(best));
    return best;
}

void Engine::start(Slot& s, std::shared_ptr<Task> t) {
    s.task = std::move(t);
    s.n_generated = 0;
    s.generating = false;
    s.pending.clear();
    s.text = std::make_unique<TextStream>(s.task->params.stop);
    llamas_sampler_options so;
    llamas_sampler_options_init(&so);
    const SamplingParams& p = s.task->params;
    so.temperature = p.temperature;
    so.top_p = p.top_p;
    so.top_k = p.top_k;
    so.min_p = p.min_p;
    so.presence_penalty = p.presence_penalty;
    so.frequency_penalty = p.frequency_penalty;
    so.seed = p.seed;
    must(llamas_sampler_create(model_, &so, &s.sampler), "sampler");
    if (!p.grammar.empty()) {
        std::vector<const char*> triggers;
        for (const std::string& t : p.grammar_triggers) triggers.push_back(t.c_str());
        must(p.grammar_lazy ? llamas_sampler_set_grammar_lazy(s.sampler, p.grammar.c_str(), p.grammar_root.c_str(),
                                                              triggers.data(), triggers.size(), nullptr, 0)
                            : llamas_sampler_set_grammar(s.sampler, p.grammar.c_str(), p.grammar_root.c_str()),
             "grammar");
    }
    s.n_reused = static_cast<int32_t>(reuse_prefix(s));
    s.n_fed = static_cast<size_t>(s.n_reused);
    must(llamas_sampler_accept_prompt(s.sampler, s.task->prompt.data(), s.task->prompt.size()), "sampler_accept_prompt");
}

void Engine::release(Slot& s) {
    llamas_sampler_free(s.sampler);
    s.sampler = nullptr;
    s.text.reset();
    if (s.task) {
        s.task.reset();
        std::lock_guard<std::mutex> lock(m_);
        --busy_;
    }
    s.generating = false;
    s.batch_index = -1;
}

void Engine::finish(Slot& s, const std::string& reason) {
    Event e;
    e.kind = Event::delta;
    e.text = s.text->flush();
    if (!e.text.empty()) s.task->push(e);
    Event d;
    d.kind = Event::done;
    d.finish_reason = reason;
    d.prompt_tokens = static_cast<int32_t>(s.task->prompt.size());
    d.completion_tokens = s.n_generated;
    d.cached_tokens = s.n_reused;
    s.task->push(d);
    release(s);
}

void Engine::fail(Slot& s, const std::string& message, int status) {
    Event e;
    e.kind = Event::error;
    e.text = message;
    e.http_status = status;
    s.task->push(e);
    // What the sequence holds no longer matches `cached` for sure: forget it.
    llamas_seq_remove(ctx_, s.id, 0, -1, 0);
    s.cached.clear();
    release(s);
}

std::string Engine::token_piece(int32_t tok) const {
    char buf[256];
    size_t len = 0;
    if (llamas_token_to_piece(model_, tok, 0, buf, sizeof buf, &len) != LLAMAS_OK) len = 0;
    return std::string(buf, std::min(len, sizeof buf));
}

// The chosen token's log-probability under the raw logits it came from, and the alternatives:
// read from the batch's row before the next decode replaces it.
TokenLogprob Engine::logprob_of(const Slot& s, int32_t tok, const std::string& piece) {
    TokenLogprob out;
    out.token = piece;
    const size_t n_top = static_cast<size_t>(s.task->params.top_logprobs);
    top_.resize(n_top);
    size_t got = 0;
    if (llamas_logprobs(ctx_, s.batch_index, tok, &out.logprob, top_.data(), n_top, &got) != LLAMAS_OK) return out;
    for (size_t i = 0; i < got; ++i) out.top.emplace_back(token_piece(top_[i].token), top_[i].logprob);
    return out;
}

// After a batch: a generating slot (or one whose prompt just ended) picks its next token.
void Engine::after_decode(Slot& s) {
    if (s.batch_index < 0) return;
    int32_t tok = -1;
    if (llamas_sampler_choose(s.sampler, ctx_, s.batch_index, &tok) != LLAMAS_OK) {
        fail(s, std::string("sampling failed: ") + llamas_last_error(), 500);
        return;
    }
    llamas_sampler_accept(s.sampler, &tok, 1);
    s.generating = true;
    if (llamas_model_is_eog(model_, tok)) {
        finish(s, "stop");
        return;
    }
    ++s.n_generated;
    const std::string piece = token_piece(tok);
    Event e;
    if (s.task->params.top_logprobs >= 0) e.logprobs.push_back(logprob_of(s, tok, piece));
    bool stopped = false;
    e.text = s.text->push(piece, &stopped);
    if (!e.text.empty() || !e.logprobs.empty()) s.task->push(std::move(e));
    if (stopped) {
        finish(s, "stop");
        return;
    }
    if (s.n_generated >= s.task->params.max_tokens || s.cached.size() + 1 >= static_cast<size_t>(options_.n_ctx)) {
        finish(s, "length");
        return;
    }
    s.last = tok;
}

void Engine::loop() {
    for (;;) {
        // Between steps: drop requests whose clients left, start queued ones in free slots.
        {
            std::unique_lock<std::mutex> lock(m_);
            cv_.wait(lock, [&] {
                if (stop_) return true;
                if (!queue_.empty() && busy_ < slots_.size()) return true;
                for (const Slot& s : slots_)
                    if (s.task) return true;
                return false;
            });
            if (stop_) return;
        }
        for (Slot& s : slots_)
            if (s.task && s.task->cancelled()) release(s);
        for (Slot& s : slots_) {
            if (s.task) continue;
            std::shared_ptr<Task> t;
            {
                std::lock_guard<std::mutex> lock(m_);
                while (!queue_.empty() && !t) {
                    t = std::move(queue_.front());
                    queue_.pop_front();
                    if (t->cancelled()) t.reset();
                }
                if (t) ++busy_;
            }
            if (!t) break;
            try {
                start(s, std::move(t));
            } catch (const std::exception& e) {
                fail(s, e.what(), 500);
            }
        }

        // One batch: every generating slot's next token, then prompt tokens while they fit.
        tok_.clear();
        pos_.clear();
        seq_.clear();
        want_.clear();
        auto add = [&](Slot& s, int32_t token, bool logits) {
            if (logits) s.batch_index = static_cast<int32_t>(tok_.size());
            tok_.push_back(token);
            pos_.push_back(static_cast<int32_t>(s.cached.size()));
            seq_.push_back(s.id);
            want_.push_back(logits ? 1 : 0);
            s.cached.push_back(token);
        };
        for (Slot& s : slots_) {
            s.batch_index = -1;
            if (s.task && s.generating) add(s, s.last, true);
        }
        size_t budget = static_cast<size_t>(options_.n_batch);
        for (Slot& s : slots_) {
            if (!s.task || s.generating) continue;
            const std::vector<int32_t>& p = s.task->prompt;
            while (s.n_fed < p.size() && tok_.size() < budget) {
                const bool last = s.n_fed + 1 == p.size();
                add(s, p[s.n_fed++], last);
            }
        }
        if (tok_.empty()) continue;
        if (llamas_decode_batch(ctx_, tok_.data(), pos_.data(), seq_.data(), want_.data(), tok_.size()) != LLAMAS_OK) {
            const std::string msg = llamas_last_error();
            for (Slot& s : slots_)
                if (s.task) fail(s, "decoding failed: " + msg, 500);
            continue;
        }
        for (Slot& s : slots_)
            if (s.task) after_decode(s);
    }
}

}  // namespace server
