// llamas-server: an OpenAI-compatible HTTP server on the public C API.
//
//   llamas-server -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] [--ctx N]
//                 [--threads N] [--api-key KEY] [--alias NAME] [--max-body BYTES] [--timeout S]
//                 [--http-threads N] [--batch N]
//
// POST /v1/chat/completions, POST /v1/completions (streamed as server-sent events with
// "stream": true), POST /v1/embeddings (embedding models), GET /v1/models, GET /health.
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "engine.h"
#include "openai.h"

using namespace server;

namespace {

struct Options {
    std::string model, host = "127.0.0.1", api_key, alias;
    int port = 8080, parallel = 4, ctx = 2048, threads = 0, batch = 512, timeout = 30, http_threads = 0;
    size_t max_body = 1 << 20;
};

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr,
                 "llamas-server: %s\nusage: llamas-server -m MODEL [--host 127.0.0.1] [--port 8080] [--parallel N] "
                 "[--ctx N] [--threads N] [--api-key KEY] [--alias NAME] [--max-body BYTES] [--timeout S] [--http-threads N] "
                 "[--batch N]\n",
                 msg.c_str());
    std::exit(2);
}

int to_int(const std::string& flag, const std::string& v, int lo, int hi) {
    char* end = nullptr;
    const long x = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || x < lo || x > hi)
        usage_error(flag + " needs a number in " + std::to_string(lo) + ".." + std::to_string(hi));
    return static_cast<int>(x);
}

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage_error(a + " needs a value");
            return argv[++i];
        };
        if (a == "-m" || a == "--model") o.model = value();
        else if (a == "--host") o.host = value();
        else if (a == "--port") o.port = to_int(a, value(), 0, 65535);
        else if (a == "--parallel" || a == "-np") o.parallel = to_int(a, value(), 1, 256);
        else if (a == "--ctx" || a == "-c") o.ctx = to_int(a, value(), 16, 1 << 20);
        else if (a == "--threads" || a == "-t") o.threads = to_int(a, value(), 1, 512);
        else if (a == "--batch" || a == "-b") o.batch = to_int(a, value(), 1, 1 << 16);
        else if (a == "--api-key") o.api_key = value();
        else if (a == "--alias") o.alias = value();
        else if (a == "--max-body") o.max_body = static_cast<size_t>(to_int(a, value(), 1024, 1 << 30));
        else if (a == "--timeout") o.timeout = to_int(a, value(), 1, 3600);
        else if (a == "--http-threads") o.http_threads = to_int(a, value(), 1, 4096);
        else if (a == "-h" || a == "--help") usage_error("help");
        else usage_error("unknown argument '" + a + "'");
    }
    if (o.model.empty()) usage_error("-m MODEL is required");
    return o;
}

long now_seconds() {
    return static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count());
}

std::string new_id(const char* prefix) {
    static std::atomic<uint64_t> counter{0};
    return std::string(prefix) + std::to_string(now_seconds()) + "-" + std::to_string(counter.fetch_add(1));
}

void send_error(httplib::Response& res, int status, const std::string& type, const std::string& code,
                const std::string& message) {
    res.status = status;
    res.set_content(to_text(error_body(status, type, code, message)), "application/json");
}

bool is_embedding_model(llamas_model* m) {
    const std::string arch = llamas_model_architecture(m);
    return arch == "bert" || arch == "nomic-bert" || arch == "gemma-embedding";
}

// The float32 bytes (little-endian) of an embedding, as OpenAI's "base64" encoding sends them.
std::string base64(const uint8_t* p, size_t n) {
    static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((n + 2) / 3 * 4);
    for (size_t i = 0; i < n; i += 3) {
        const uint32_t v = uint32_t{p[i]} << 16 | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        out += abc[v >> 18 & 63];
        out += abc[v >> 12 & 63];
        out += i + 1 < n ? abc[v >> 6 & 63] : '=';
        out += i + 2 < n ? abc[v & 63] : '=';
    }
    return out;
}

httplib::Server* g_server = nullptr;
void on_signal(int) {
    if (g_server) g_server->stop();
}

// Sends a task's events as a chunked response. on_event(event, sink) writes what an event means
// and returns false to end the response. While no event comes for a second, `keepalive` (bytes
// the client ignores) is written: a client that left is noticed that way and its task cancelled,
// which frees its slot. An exception, or the response ending early, cancels the task too.
template <class OnEvent>
void stream_task_events(httplib::Response& res, const char* content_type, std::shared_ptr<Task> task,
                        std::string keepalive, OnEvent on_event) {
    res.set_chunked_content_provider(
        content_type,
        [task, keepalive = std::move(keepalive), on_event = std::move(on_event)](
            size_t, httplib::DataSink& sink) mutable {
            try {
                Event e;
                if (!task->pop(e, std::chrono::milliseconds(1000))) {
                    if (!sink.write(keepalive.data(), keepalive.size())) task->cancel();
                    return !task->cancelled();
                }
                return on_event(e, sink);
            } catch (...) {
                task->cancel();
                return false;
            }
        },
        [task](bool) { task->cancel(); });
}

}  // namespace

int main(int argc, char** argv) {
    const Options o = parse(argc, argv);
    llamas_model* model = nullptr;
    if (llamas_model_load(o.model.c_str(), nullptr, &model) != LLAMAS_OK) {
        std::fprintf(stderr, "llamas-server: cannot load '%s': %s\n", o.model.c_str(), llamas_last_error());
        return 1;
    }
    std::string model_id = o.alias;
    if (model_id.empty()) {
        model_id = o.model.substr(o.model.find_last_of('/') + 1);
        if (model_id.size() > 5 && model_id.compare(model_id.size() - 5, 5, ".gguf") == 0) model_id.resize(model_id.size() - 5);
    }
    const bool embedder = is_embedding_model(model);

    std::unique_ptr<Engine> engine;
    llamas_context* embed_ctx = nullptr;
    std::mutex embed_mutex;
    try {
        if (embedder) {
            llamas_context_options co;
            llamas_context_options_init(&co);
            co.n_ctx = o.ctx;
            co.n_threads = o.threads;
            if (llamas_context_create(model, &co, &embed_ctx) != LLAMAS_OK) throw std::runtime_error(llamas_last_error());
        } else {
            EngineOptions eo;
            eo.parallel = o.parallel;
            eo.n_ctx = o.ctx;
            eo.n_threads = o.threads;
            eo.n_batch = o.batch;
            engine = std::make_unique<Engine>(model, eo);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "llamas-server: %s\n", e.what());
        llamas_model_free(model);
        return 1;
    }
    const int32_t n_ctx = engine ? engine->n_ctx() : llamas_context_n_ctx(embed_ctx);

    httplib::Server http;
    g_server = &http;
    // Each open connection holds a thread (while it streams, and while it idles between
    // keep-alive requests), so the pool is sized for many more clients than slots.
    const int http_threads = o.http_threads > 0 ? o.http_threads : std::max(128, 8 * o.parallel);
    http.new_task_queue = [http_threads] { return new httplib::ThreadPool(static_cast<size_t>(http_threads)); };
    http.set_payload_max_length(o.max_body);
    http.set_read_timeout(o.timeout, 0);  // a client that stops sending (slow loris) is dropped
    http.set_write_timeout(o.timeout, 0);
    // Longer than clients keep idle sockets (Node's agents: 4-5 s), so that a client never reuses a
    // connection the server has just closed.
    http.set_keep_alive_timeout(10);
    http.set_keep_alive_max_count(1000);

    // Authorization and body parsing for every /v1 route.
    http.set_pre_routing_handler([&](const httplib::Request& req, httplib::Response& res) {
        if (!o.api_key.empty() && req.path.rfind("/v1/", 0) == 0 &&
            req.get_header_value("Authorization") != "Bearer " + o.api_key) {
            send_error(res, 401, "invalid_request_error", "invalid_api_key", "Incorrect or missing API key");
            return httplib::Server::HandlerResponse::Handled;
        }
        return httplib::Server::HandlerResponse::Unhandled;
    });
    http.set_error_handler([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return;
        const int s = res.status;
        send_error(res, s, s == 404 ? "invalid_request_error" : "server_error", s == 413 ? "body_too_large" : "http_error",
                   s == 404 ? "No such endpoint" : s == 413 ? "The request body is too large" : "HTTP error");
        res.status = s;
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "internal error";
        try {
            std::rethrow_exception(ep);
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        send_error(res, 500, "server_error", "internal_error", what);
    });

    auto parse_body = [](const httplib::Request& req) {
        try {
            return json::parse(req.body);
        } catch (const std::exception& e) {
            throw ApiError(400, "invalid_request_error", "invalid_json", std::string("the body is not JSON: ") + e.what());
        }
    };

    http.Get("/health", [&](const httplib::Request&, httplib::Response& res) {
        size_t queued = 0, busy = 0;
        if (engine) engine->counts(&queued, &busy);
        res.set_content(to_text(json{{"status", "ok"}, {"slots_busy", busy}, {"queued", queued}}), "application/json");
    });
    http.Get("/v1/models", [&](const httplib::Request&, httplib::Response& res) {
        json m = {{"id", model_id}, {"object", "model"}, {"created", now_seconds()}, {"owned_by", "llamas"},
                  {"meta", {{"n_ctx", n_ctx}, {"architecture", llamas_model_architecture(model)}}}};
        res.set_content(to_text(json{{"object", "list"}, {"data", json::array({m})}}), "application/json");
    });

    auto completions = [&](bool chat) {
        return [&, chat](const httplib::Request& req, httplib::Response& res) {
            try {
                if (!engine)
                    throw ApiError(400, "invalid_request_error", "model_not_supported",
                                   "'" + model_id + "' is an embedding model: use /v1/embeddings");
                const json body = parse_body(req);
                Completion c = parse_completion(body, chat, model, n_ctx, model_id);
                if (!c.params.grammar.empty() &&
                    llamas_grammar_validate(c.params.grammar.c_str(), c.params.grammar_root.c_str()) != LLAMAS_OK)
                    throw ApiError(400, "invalid_request_error", "invalid_value",
                                   std::string("the schema's grammar is not usable: ") + llamas_last_error());
                auto task = std::make_shared<Task>();
                task->prompt = std::move(c.prompt);
                task->params = c.params;
                const std::string id = new_id(chat ? "chatcmpl-" : "cmpl-");
                const long created = now_seconds();
                engine->submit(task);
                if (!c.stream) {
                    // One JSON body, sent when the generation ends. It goes out chunked so that,
                    // while waiting, a space (JSON allows leading whitespace) every second finds
                    // out whether the client is still there: one that left frees its slot.
                    stream_task_events(
                        res, "application/json", task, " ",
                        [chat, id, model_id, created, model, c, text = std::string(),
                         lps = std::vector<TokenLogprob>()](const Event& e, httplib::DataSink& sink) mutable {
                            if (e.kind == Event::delta) {
                                text += e.text;
                                lps.insert(lps.end(), e.logprobs.begin(), e.logprobs.end());
                                return true;
                            }
                            const json lp = logprobs_json(chat, lps);
                            const json* lpp = c.params.top_logprobs >= 0 ? &lp : nullptr;
                            json body;
                            if (e.kind == Event::error) {
                                body = error_body(e.http_status, "server_error", "generation_failed", e.text);
                            } else if (c.tools) {  // content and tool calls, parsed from the reply
                                bool calls = false;
                                const json msg = reply_message(model, c, text, &calls);
                                body = completion_response(chat, id, model_id, created, text, e, &msg,
                                                           calls ? "tool_calls" : nullptr, lpp);
                            } else {
                                body = completion_response(chat, id, model_id, created, text, e, nullptr, nullptr, lpp);
                            }
                            const std::string out = to_text(body);
                            sink.write(out.data(), out.size());
                            sink.done();
                            return true;
                        });
                    return;
                }
                const bool include_usage = c.include_usage;
                res.set_header("Cache-Control", "no-cache");
                // An SSE comment, which clients ignore, tells whether the client is still there.
                stream_task_events(
                    res, "text/event-stream", task, ": ping\n\n",
                    [task, chat, id, model_id, created, include_usage, model, c, first = true,
                     held = std::string()](const Event& e, httplib::DataSink& sink) mutable {
                        auto send = [&](const json& j) {
                            const std::string line = "data: " + to_text(j) + "\n\n";
                            return sink.write(line.data(), line.size());
                        };
                        if (e.kind == Event::delta && c.tools) {  // a reply with tools is parsed when it ends
                            held += e.text;
                            return true;
                        }
                        if (e.kind == Event::delta) {
                            json chunk = completion_chunk(chat, id, model_id, created, e.text, nullptr, first);
                            if (c.params.top_logprobs >= 0) chunk["choices"][0]["logprobs"] = logprobs_json(chat, e.logprobs);
                            const bool ok = send(chunk);
                            first = false;
                            if (!ok) task->cancel();
                            return ok;
                        }
                        if (e.kind == Event::error) {
                            send(error_body(e.http_status, "server_error", "generation_failed", e.text));
                        } else {
                            // The last chunk carries the usage counts always (clients that did not
                            // ask for them ignore the field); with include_usage OpenAI's separate
                            // usage chunk, with no choices, follows.
                            std::string reason = e.finish_reason;
                            if (c.tools) {  // the parsed reply as one content delta and one tool_calls delta
                                bool calls = false;
                                const json msg = reply_message(model, c, held, &calls);
                                json chunk = completion_chunk(chat, id, model_id, created, "", nullptr, first);
                                json& delta = chunk["choices"][0]["delta"];
                                delta["content"] = msg["content"];
                                if (calls) {
                                    json tc = msg["tool_calls"];
                                    for (size_t i = 0; i < tc.size(); ++i) tc[i]["index"] = i;
                                    delta["tool_calls"] = tc;
                                    reason = "tool_calls";
                                }
                                send(chunk);
                                first = false;
                            }
                            json last = completion_chunk(chat, id, model_id, created, "", &reason, first);
                            last["usage"] = usage_of(e);
                            send(last);
                            if (include_usage) {
                                json u = completion_chunk(chat, id, model_id, created, "", nullptr, false);
                                u["choices"] = json::array();
                                u["usage"] = usage_of(e);
                                send(u);
                            }
                        }
                        const std::string end = "data: [DONE]\n\n";
                        sink.write(end.data(), end.size());
                        sink.done();
                        return true;
                    });
            } catch (const ApiError& e) {
                send_error(res, e.status, e.type, e.code, e.what());
            }
        };
    };
    http.Post("/v1/chat/completions", completions(true));
    http.Post("/v1/completions", completions(false));

    http.Post("/v1/embeddings", [&](const httplib::Request& req, httplib::Response& res) {
        try {
            if (!embed_ctx)
                throw ApiError(400, "invalid_request_error", "model_not_supported",
                               "'" + model_id + "' is not an embedding model");
            const json body = parse_body(req);
            if (!body.is_object()) throw ApiError(400, "invalid_request_error", "invalid_value", "the body must be an object");
            check_model(body, model_id);
            std::vector<std::string> texts;
            auto in = body.find("input");
            if (in == body.end()) throw ApiError(400, "invalid_request_error", "invalid_value", "'input' is required");
            if (in->is_string()) texts.push_back(*in);
            else if (in->is_array() && !in->empty() && in->size() <= 2048) {
                for (const json& t : *in) {
                    if (!t.is_string()) throw ApiError(400, "invalid_request_error", "invalid_value", "'input' must hold strings");
                    texts.push_back(t);
                }
            } else {
                throw ApiError(400, "invalid_request_error", "invalid_value", "'input' must be a string or 1..2048 strings");
            }
            llamas_embed_options eo;
            llamas_embed_options_init(&eo);
            if (body.contains("dimensions")) {
                if (!body["dimensions"].is_number_integer())
                    throw ApiError(400, "invalid_request_error", "invalid_value", "'dimensions' must be an integer");
                eo.dims = body["dimensions"].get<int32_t>();
            }
            const int32_t full = llamas_model_n_embd_out(model);
            if (eo.dims < 0 || eo.dims > full)
                throw ApiError(400, "invalid_request_error", "invalid_value",
                               "'dimensions' must be in 1.." + std::to_string(full));
            const size_t width = static_cast<size_t>(eo.dims > 0 ? eo.dims : full);
            std::string format = "float";
            if (body.contains("encoding_format") && !body["encoding_format"].is_null()) {
                if (!body["encoding_format"].is_string()) throw ApiError(400, "invalid_request_error", "invalid_value", "'encoding_format' must be a string");
                format = body["encoding_format"];
                if (format != "float" && format != "base64")
                    throw ApiError(400, "invalid_request_error", "invalid_value", "'encoding_format' must be 'float' or 'base64'");
            }
            std::vector<const char*> ptrs;
            size_t n_tokens = 0;
            for (const std::string& t : texts) {
                ptrs.push_back(t.c_str());
                size_t n = 0;
                llamas_tokenize(model, t.data(), t.size(), LLAMAS_TOKENIZE_ADD_SPECIAL, nullptr, 0, &n);
                n_tokens += n;
            }
            std::vector<float> out(width * texts.size());
            {
                std::lock_guard<std::mutex> lock(embed_mutex);
                const llamas_status s = llamas_embed(embed_ctx, ptrs.data(), ptrs.size(), &eo, out.data(), out.size());
                if (s == LLAMAS_ERR_CONTEXT_FULL)
                    throw ApiError(400, "invalid_request_error", "context_length_exceeded", llamas_last_error());
                if (s != LLAMAS_OK) throw ApiError(400, "invalid_request_error", "invalid_value", llamas_last_error());
            }
            json data = json::array();
            for (size_t i = 0; i < texts.size(); ++i) {
                json vec = format == "base64"
                               ? json(base64(reinterpret_cast<const uint8_t*>(out.data() + i * width), width * sizeof(float)))
                               : json(std::vector<float>(out.begin() + i * width, out.begin() + (i + 1) * width));
                data.push_back({{"object", "embedding"}, {"index", i}, {"embedding", std::move(vec)}});
            }
            res.set_content(to_text(json{{"object", "list"},
                                         {"data", data},
                                         {"model", model_id},
                                         {"usage", {{"prompt_tokens", n_tokens}, {"total_tokens", n_tokens}}}}),
                            "application/json");
        } catch (const ApiError& e) {
            send_error(res, e.status, e.type, e.code, e.what());
        }
    });

    std::signal(SIGPIPE, SIG_IGN);  // a client that leaves mid-write is a failed write, not a signal
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int port = o.port;
    if (port == 0) {
        port = http.bind_to_any_port(o.host);
        if (port < 0) {
            std::fprintf(stderr, "llamas-server: cannot bind %s\n", o.host.c_str());
            return 1;
        }
    } else if (!http.bind_to_port(o.host, port)) {
        std::fprintf(stderr, "llamas-server: cannot listen on %s:%d\n", o.host.c_str(), port);
        return 1;
    }
    std::printf("llamas-server: %s (%s) on http://%s:%d, %d slots of %d tokens\n", model_id.c_str(),
                llamas_model_architecture(model), o.host.c_str(), port, engine ? o.parallel : 1, n_ctx);
    std::fflush(stdout);
    http.listen_after_bind();
    engine.reset();
    llamas_context_free(embed_ctx);
    llamas_model_free(model);
    return 0;
}
