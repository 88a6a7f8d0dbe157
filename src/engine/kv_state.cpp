#include "engine/kv_state.h"

#include <cstring>
#include <string>
#include <vector>

#include "engine/context.h"
#include "util/error.h"
#include "util/hash.h"

namespace llamas {

namespace {

constexpr char kMagic[8] = {'L', 'L', 'A', 'M', 'A', 'S', 'S', 'T'};
constexpr uint32_t kVersion = 1;
constexpr uint32_t kWhole = 0, kOneSeq = 1;

// What binds a state to a model: its shape and a sample of its weights.
uint64_t model_fingerprint(const Model& m) {
    const HParams& hp = m.hparams();
    Hash64 h;
    h.update(hp.arch_name.data(), hp.arch_name.size());
    const int64_t dims[] = {hp.n_layer, hp.n_embd, hp.n_head, hp.n_head_kv, hp.head_dim_k, hp.n_ff, hp.n_vocab};
    h.update(dims, sizeof dims);
    const uint64_t file_size = m.file().file_size();
    h.update(&file_size, sizeof file_size);
    for (const WeightView* w : {&m.token_embd(), &m.output()}) {
        const size_t n = std::min<size_t>(4096, w->row_bytes * static_cast<size_t>(std::max<int64_t>(w->n_rows, 0)));
        if (w->data) h.update(w->data, n);
    }
    return h.digest();
}

// Bytes out, with the running checksum.
class Writer {
public:
    explicit Writer(const StateSink& sink) : sink_(sink) {}
    void bytes(const void* p, size_t n) {
        if (n == 0) return;
        hash_.update(p, n);
        sink_(p, n);
    }
    template <class T>
    void value(T v) { bytes(&v, sizeof v); }
    void finish() {
        const uint64_t sum = hash_.digest();
        sink_(&sum, sizeof sum);
    }

private:
    const StateSink& sink_;
    Hash64 hash_;
};

// Bytes in, every read bounds-checked.
class Reader {
public:
    Reader(const uint8_t* p, size_t n) : p_(p), n_(n) {}
    const uint8_t* bytes(size_t n, const char* what) {
        if (n > n_ - at_) fail(Status::bad_format, "the state is truncated (in %s)", what);
        const uint8_t* r = p_ + at_;
        at_ += n;
        return r;
    }
    template <class T>
    T value(const char* what) {
        T v;
        std::memcpy(&v, bytes(sizeof v, what), sizeof v);
        return v;
    }
    size_t left() const { return n_ - at_; }

private:
    const uint8_t* p_;
    size_t n_;
    size_t at_ = 0;
};

struct SeqRecord {
    int64_t id;
    int64_t n_rows;
    const int32_t* pos;      // unaligned in general: read through memcpy
    const uint8_t* layers;   // per layer: K rows then V rows
};

}  // namespace

void save_state(const Context& ctx, int64_t seq, const float* logits, const StateSink& sink) {
    const KvCache& kv = ctx.kv_cache();
    if (seq >= kv.n_seq())
        fail(Status::invalid_argument, "sequence id %lld is outside 0..%lld", (long long)seq, (long long)kv.n_seq() - 1);
    const bool whole = seq < 0;
    Writer w(sink);
    w.bytes(kMagic, sizeof kMagic);
    w.value<uint32_t>(kVersion);
    w.value<uint32_t>(whole ? kWhole : kOneSeq);
    w.value<uint64_t>(model_fingerprint(ctx.model()));
    w.value<uint32_t>(static_cast<uint32_t>(kv.type()));
    w.value<uint32_t>(static_cast<uint32_t>(kv.n_layer()));
    w.value<uint64_t>(kv.row_bytes());
    w.value<uint32_t>(static_cast<uint32_t>(ctx.n_vocab()));
    const int64_t s0 = whole ? 0 : seq, s1 = whole ? kv.n_seq() : seq + 1;
    uint32_t n_stored = 0;
    for (int64_t s = s0; s < s1; ++s) n_stored += kv.n_rows(s) > 0 || !whole;
    w.value<uint32_t>(n_stored);
    const bool has_logits = whole && logits;
    w.value<uint32_t>(has_logits);
    if (has_logits) w.bytes(logits, static_cast<size_t>(ctx.n_vocab()) * sizeof(float));
    for (int64_t s = s0; s < s1; ++s) {
        const int64_t n = kv.n_rows(s);
        if (whole && n == 0) continue;
        w.value<uint32_t>(static_cast<uint32_t>(s));
        w.value<uint32_t>(static_cast<uint32_t>(n));
        w.bytes(kv.positions(s), static_cast<size_t>(n) * sizeof(int32_t));
        for (int64_t il = 0; il < kv.n_layer(); ++il) {
            w.bytes(kv.k_row(il, s, 0), static_cast<size_t>(n) * kv.row_bytes());
            w.bytes(kv.v_row(il, s, 0), static_cast<size_t>(n) * kv.row_bytes());
        }
    }
    w.finish();
}

void load_state(Context& ctx, int64_t seq, const uint8_t* data, size_t size, const float** logits_out) {
    KvCache& kv = ctx.kv_cache();
    const HParams& hp = ctx.model().hparams();
    if (seq >= kv.n_seq())
        fail(Status::invalid_argument, "sequence id %lld is outside 0..%lld", (long long)seq, (long long)kv.n_seq() - 1);
    if (!data || size < sizeof kMagic + sizeof(uint64_t) || std::memcmp(data, kMagic, sizeof kMagic) != 0)
        fail(Status::bad_format, "not a llamas state (no LLAMASST header)");
    // The checksum first: a flipped byte anywhere is refused before any field is believed.
    Hash64 h;
    h.update(data, size - sizeof(uint64_t));
    uint64_t stored;
    std::memcpy(&stored, data + size - sizeof(uint64_t), sizeof stored);
    if (stored != h.digest()) fail(Status::bad_format, "the state's checksum does not match: it is truncated or altered");

    Reader r(data, size - sizeof(uint64_t));
    r.bytes(sizeof kMagic, "header");
    const uint32_t version = r.value<uint32_t>("header");
    if (version != kVersion)
        fail(Status::bad_format, "state format version %u; this llamas reads version %u", version, kVersion);
    const uint32_t kind = r.value<uint32_t>("header");
    if (kind != (seq < 0 ? kWhole : kOneSeq))
        fail(Status::bad_format, "a %s state cannot be loaded as %s", kind == kWhole ? "whole-context" : "one-sequence",
             seq < 0 ? "a whole context" : "one sequence");
    if (r.value<uint64_t>("header") != model_fingerprint(ctx.model()))
        fail(Status::bad_format, "the state was saved from another model");
    const uint32_t type = r.value<uint32_t>("header");
    const uint32_t n_layer = r.value<uint32_t>("header");
    const uint64_t row_bytes = r.value<uint64_t>("header");
    const uint32_t n_vocab = r.value<uint32_t>("header");
    if (type != static_cast<uint32_t>(kv.type()) || n_layer != kv.n_layer() || row_bytes != kv.row_bytes() ||
        n_vocab != ctx.n_vocab())
        fail(Status::bad_format, "the state's cache (type %u, %u layers, %llu-byte rows) differs from this context's",
             type, n_layer, (unsigned long long)row_bytes);
    const uint32_t n_seq = r.value<uint32_t>("header");
    if (n_seq > static_cast<uint64_t>(kv.n_seq()) || (seq >= 0 && n_seq != 1))
        fail(Status::bad_format, "the state holds %u sequences; this context holds at most %lld", n_seq,
             (long long)kv.n_seq());
    const uint32_t has_logits = r.value<uint32_t>("header");
    if (has_logits > 1) fail(Status::bad_format, "bad logits flag %u", has_logits);
    const uint8_t* logits = has_logits ? r.bytes(static_cast<size_t>(n_vocab) * sizeof(float), "logits") : nullptr;

    std::vector<SeqRecord> seqs;
    std::vector<bool> seen(static_cast<size_t>(kv.n_seq()), false);
    for (uint32_t i = 0; i < n_seq; ++i) {
        SeqRecord s;
        s.id = r.value<uint32_t>("sequence header");
        s.n_rows = r.value<uint32_t>("sequence header");
        if (seq < 0 && (s.id >= kv.n_seq() || seen[static_cast<size_t>(s.id)]))
            fail(Status::bad_format, "sequence id %lld in the state is repeated or outside this context",
                 (long long)s.id);
        if (seq < 0) seen[static_cast<size_t>(s.id)] = true;
        if (s.n_rows > kv.n_ctx())
            fail(Status::bad_format, "a sequence of %lld tokens does not fit this context's %lld", (long long)s.n_rows,
                 (long long)kv.n_ctx());
        s.pos = reinterpret_cast<const int32_t*>(r.bytes(static_cast<size_t>(s.n_rows) * sizeof(int32_t), "positions"));
        int32_t prev = -1;
        for (int64_t k = 0; k < s.n_rows; ++k) {
            int32_t p;
            std::memcpy(&p, reinterpret_cast<const uint8_t*>(s.pos) + k * sizeof(int32_t), sizeof p);
            if (p <= prev || p >= (1 << 30)) fail(Status::bad_format, "the state's positions are out of order");
            if (hp.n_swa > 0 && k > 0 && p != prev + 1)
                fail(Status::bad_format, "the state's positions have a gap a sliding-window model cannot hold");
            prev = p;
        }
        s.layers = r.bytes(static_cast<size_t>(s.n_rows) * kv.row_bytes() * 2 * static_cast<size_t>(n_layer), "rows");
        seqs.push_back(s);
    }
    if (r.left() != 0) fail(Status::bad_format, "%zu unexpected bytes after the state", r.left());

    // ---- everything checked: apply ----
    if (seq < 0) kv.clear();
    std::vector<int32_t> pos;
    for (const SeqRecord& s : seqs) {
        const int64_t dst = seq < 0 ? s.id : seq;
        const size_t bytes = static_cast<size_t>(s.n_rows) * kv.row_bytes();
        const uint8_t* src = s.layers;
        for (int64_t il = 0; il < kv.n_layer(); ++il) {
            if (bytes) std::memcpy(kv.k_row(il, dst, 0), src, bytes);
            src += bytes;
            if (bytes) std::memcpy(kv.v_row(il, dst, 0), src, bytes);
            src += bytes;
        }
        pos.resize(static_cast<size_t>(s.n_rows));
        if (s.n_rows) std::memcpy(pos.data(), s.pos, pos.size() * sizeof(int32_t));
        kv.set_rows(dst, 0, pos.data(), s.n_rows);
    }
    *logits_out = nullptr;
    if (logits) {
        std::vector<float> l(n_vocab);
        std::memcpy(l.data(), logits, l.size() * sizeof(float));
        ctx.set_single_output(l.data());
        *logits_out = ctx.last_output();
    }
}

}  // namespace llamas
