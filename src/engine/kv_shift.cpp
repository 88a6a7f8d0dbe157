#include "engine/kv_shift.h"

#include <cstring>
#include <vector>

#include "engine/context.h"
#include "ops/rope.h"
#include "quant/dequantize.h"
#include "util/error.h"

namespace llamas {

void kv_remove_range(Context& ctx, int64_t p0, int64_t p1) {
    KvCache& kv = ctx.kv_cache();
    const int64_t n_past = kv.n_past();
    if (p1 < 0 || p1 > n_past) p1 = n_past;
    if (p0 < 0 || p0 > p1)
        fail(Status::invalid_argument, "KV range [%lld, %lld) is not inside [0, %lld]", (long long)p0, (long long)p1,
             (long long)n_past);
    if (p0 == p1) return;
    if (p1 == n_past) {
        kv.remove_from(p0);
        return;
    }
    const HParams& hp = ctx.model().hparams();
    const int64_t delta = p1 - p0;
    const int64_t n_move = n_past - p1;
    RopeParams rp;
    rp.n_rot = hp.n_rot;
    rp.layout = hp.rope_layout;
    rp.freq_scale = hp.rope_freq_scale;
    rp.freq_factors = ctx.model().rope_freqs();
    RopeParams rp_swa = rp;
    rp.base = hp.rope_base;
    rp_swa.base = hp.rope_base_swa;
    // Rotation by -delta positions, one table per base (this is an edit, not the decode loop:
    // a temporary row buffer is fine here).
    std::vector<float> cs(hp.n_rot), cs_swa(hp.n_rot), row(kv.row_elems());
    rope_cos_sin(rp, -delta, cs.data());
    rope_cos_sin(rp_swa, -delta, cs_swa.data());
    for (int64_t il = 0; il < kv.n_layer(); ++il) {
        const bool swa = hp.is_swa(il);
        for (int64_t i = 0; i < n_move; ++i) {
            const int64_t from = p1 + i, to = p0 + i;
            dequantize_row(kv.type(), kv.k_row(il, from), row.data(), kv.row_elems());
            rope_apply(swa ? rp_swa : rp, swa ? cs_swa.data() : cs.data(), row.data(), hp.n_head_kv, hp.head_dim_k);
            kv.store_k(il, to, row.data(), 1, kv.row_elems());
            std::memmove(kv.v_row(il, to), kv.v_row(il, from), kv.row_bytes());
        }
    }
    kv.set_n_past(n_past - delta);
}

}  // namespace llamas
