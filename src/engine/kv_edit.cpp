#include "engine/kv_edit.h"

#include <cstring>
#include <vector>

#include "engine/context.h"
#include "ops/rope.h"
#include "quant/dequantize.h"
#include "util/error.h"

namespace llamas {

namespace {

void check_seq(const KvCache& kv, int64_t seq, bool any_allowed) {
    if ((seq < 0 && !any_allowed) || seq >= kv.n_seq())
        fail(Status::invalid_argument, "sequence id %lld is outside 0..%lld", (long long)seq, (long long)kv.n_seq() - 1);
}

// Rotates the keys of rows [r0, r1) of seq by delta positions (an edit, not the decode loop: a
// temporary row buffer is fine here).
void rotate_keys(Context& ctx, int64_t seq, int64_t r0, int64_t r1, int64_t delta) {
    if (delta == 0 || r0 >= r1) return;
    KvCache& kv = ctx.kv_cache();
    const HParams& hp = ctx.model().hparams();
    RopeParams rp;
    rp.n_rot = hp.n_rot;
    rp.layout = hp.rope_layout;
    rp.freq_scale = hp.rope_freq_scale;
    rp.freq_factors = ctx.model().rope_freqs();
    RopeParams rp_swa = rp;
    rp.base = hp.rope_base;
    rp_swa.base = hp.rope_base_swa;
    std::vector<float> cs(static_cast<size_t>(hp.n_rot)), cs_swa(static_cast<size_t>(hp.n_rot)),
        row(static_cast<size_t>(kv.row_elems()));
    rope_cos_sin(rp, delta, cs.data());
    rope_cos_sin(rp_swa, delta, cs_swa.data());
    for (int64_t il = 0; il < kv.n_layer(); ++il) {
        const bool swa = hp.is_swa(il);
        for (int64_t r = r0; r < r1; ++r) {
            dequantize_row(kv.type(), kv.k_row(il, seq, r), row.data(), kv.row_elems());
            rope_apply(swa ? rp_swa : rp, swa ? cs_swa.data() : cs.data(), row.data(), hp.n_head_kv, hp.head_dim_k);
            kv.store_k(il, seq, r, row.data(), 1, kv.row_elems());
        }
    }
}

// Moves rows [from, from + n) of seq down to start at row `to` (to < from), K and V.
void move_rows(KvCache& kv, int64_t seq, int64_t from, int64_t to, int64_t n) {
    if (n <= 0 || from == to) return;
    const size_t bytes = static_cast<size_t>(n) * kv.row_bytes();
    for (int64_t il = 0; il < kv.n_layer(); ++il) {
        std::memmove(kv.k_row(il, seq, to), kv.k_row(il, seq, from), bytes);
        std::memmove(kv.v_row(il, seq, to), kv.v_row(il, seq, from), bytes);
    }
    int32_t* p = kv.positions(seq);
    std::memmove(p + to, p + from, static_cast<size_t>(n) * sizeof(int32_t));
}

void remove_one(Context& ctx, int64_t seq, int64_t p0, int64_t p1, bool shift) {
    KvCache& kv = ctx.kv_cache();
    const int64_t n = kv.n_rows(seq);
    const int64_t r0 = kv.row_of(seq, p0), r1 = p1 < 0 ? n : kv.row_of(seq, p1);
    if (r1 >= n) {  // nothing after the range: a truncation
        kv.truncate(seq, r0);
        return;
    }
    if (!shift && ctx.model().hparams().n_swa > 0 && r0 < r1)
        fail(Status::unsupported,
             "removing positions [%lld, %lld) of sequence %lld without shifting leaves a gap, which a model with "
             "sliding-window layers cannot attend across (shift the later positions, or remove to the end)",
             (long long)p0, (long long)p1, (long long)seq);
    const int64_t n_move = n - r1;
    move_rows(kv, seq, r1, r0, n_move);
    kv.truncate(seq, r0 + n_move);
    if (shift) {
        const int64_t delta = p0 - p1;
        rotate_keys(ctx, seq, r0, r0 + n_move, delta);
        int32_t* p = kv.positions(seq);
        for (int64_t r = r0; r < r0 + n_move; ++r) p[r] = static_cast<int32_t>(p[r] + delta);
    }
}

void check_shift(const Context& ctx, int64_t seq, int64_t p0, int64_t p1, int64_t delta) {
    const KvCache& kv = ctx.kv_cache();
    const int64_t n = kv.n_rows(seq);
    const int64_t r0 = kv.row_of(seq, p0), r1 = p1 < 0 ? n : kv.row_of(seq, p1);
    if (r0 >= r1 || delta == 0) return;
    const int64_t lo = int64_t{kv.pos(seq, r0)} + delta, hi = int64_t{kv.pos(seq, r1 - 1)} + delta;
    if (lo < 0 || hi >= (int64_t{1} << 30))
        fail(Status::invalid_argument, "shifting sequence %lld by %lld moves positions outside 0..2^30", (long long)seq,
             (long long)delta);
    if ((r0 > 0 && lo <= kv.pos(seq, r0 - 1)) || (r1 < n && hi >= kv.pos(seq, r1)))
        fail(Status::invalid_argument,
             "shifting positions [%lld, %lld) of sequence %lld by %lld would put them out of order with the "
             "positions around them",
             (long long)p0, (long long)p1, (long long)seq, (long long)delta);
    const bool gap_before = r0 > 0 && lo != int64_t{kv.pos(seq, r0 - 1)} + 1;
    const bool gap_after = r1 < n && hi + 1 != kv.pos(seq, r1);
    if (ctx.model().hparams().n_swa > 0 && (gap_before || gap_after))
        fail(Status::unsupported,
             "shifting positions [%lld, %lld) of sequence %lld by %lld leaves a gap, which a model with "
             "sliding-window layers cannot attend across",
             (long long)p0, (long long)p1, (long long)seq, (long long)delta);
}

void shift_one(Context& ctx, int64_t seq, int64_t p0, int64_t p1, int64_t delta) {
    KvCache& kv = ctx.kv_cache();
    const int64_t n = kv.n_rows(seq);
    const int64_t r0 = kv.row_of(seq, p0), r1 = p1 < 0 ? n : kv.row_of(seq, p1);
    if (r0 >= r1 || delta == 0) return;
    rotate_keys(ctx, seq, r0, r1, delta);
    int32_t* p = kv.positions(seq);
    for (int64_t r = r0; r < r1; ++r) p[r] = static_cast<int32_t>(p[r] + delta);
}

void check_range(int64_t p0, int64_t p1) {
    if (p0 < 0 || (p1 >= 0 && p1 < p0))
        fail(Status::invalid_argument, "position range [%lld, %lld) is not a range", (long long)p0, (long long)p1);
}

}  // namespace

void kv_remove(Context& ctx, int64_t seq, int64_t p0, int64_t p1, bool shift) {
    KvCache& kv = ctx.kv_cache();
    check_seq(kv, seq, true);
    check_range(p0, p1);
    const int64_t s0 = seq < 0 ? 0 : seq, s1 = seq < 0 ? kv.n_seq() : seq + 1;
    if (!shift && ctx.model().hparams().n_swa > 0) {  // refuse before changing any sequence
        for (int64_t s = s0; s < s1; ++s) {
            const int64_t r0 = kv.row_of(s, p0), r1 = p1 < 0 ? kv.n_rows(s) : kv.row_of(s, p1);
            if (r0 < r1 && r1 < kv.n_rows(s)) remove_one(ctx, s, p0, p1, false);  // throws
        }
    }
    for (int64_t s = s0; s < s1; ++s) remove_one(ctx, s, p0, p1, shift);
}

void kv_shift(Context& ctx, int64_t seq, int64_t p0, int64_t p1, int64_t delta) {
    KvCache& kv = ctx.kv_cache();
    check_seq(kv, seq, true);
    check_range(p0, p1);
    const int64_t s0 = seq < 0 ? 0 : seq, s1 = seq < 0 ? kv.n_seq() : seq + 1;
    for (int64_t s = s0; s < s1; ++s) check_shift(ctx, s, p0, p1, delta);
    for (int64_t s = s0; s < s1; ++s) shift_one(ctx, s, p0, p1, delta);
}

void kv_copy(Context& ctx, int64_t src, int64_t dst, int64_t p1) {
    KvCache& kv = ctx.kv_cache();
    check_seq(kv, src, false);
    check_seq(kv, dst, false);
    const int64_t n = p1 < 0 ? kv.n_rows(src) : kv.row_of(src, p1);
    if (src == dst) {
        kv.truncate(dst, n);
        return;
    }
    const size_t bytes = static_cast<size_t>(n) * kv.row_bytes();
    for (int64_t il = 0; il < kv.n_layer() && n > 0; ++il) {
        std::memcpy(kv.k_row(il, dst, 0), kv.k_row(il, src, 0), bytes);
        std::memcpy(kv.v_row(il, dst, 0), kv.v_row(il, src, 0), bytes);
    }
    kv.set_rows(dst, 0, kv.positions(src), n);
}

void kv_keep(Context& ctx, int64_t seq) {
    KvCache& kv = ctx.kv_cache();
    check_seq(kv, seq, false);
    for (int64_t s = 0; s < kv.n_seq(); ++s)
        if (s != seq) kv.truncate(s, 0);
}

}  // namespace llamas
