/* host_shim.c: exposes the helpers of boa_int.h and boa_coder.h to Rust (tests
 * compare them with the Rust reference bit for bit). Plain C11, no CUDA. */
#include "boa_coder.h"
#include "boa_int.h"

_Static_assert(sizeof(boa_enc_t) == 56, "boa_enc_t layout (docs/CUDA.md)");
_Static_assert(sizeof(boa_dec_t) == 40, "boa_dec_t layout (docs/CUDA.md)");

int64_t boa_shim_asr64(int64_t v, uint32_t s) { return boa_asr64(v, s); }
int64_t boa_shim_rshift_round(int64_t v, uint32_t s) { return boa_rshift_round(v, s); }
int64_t boa_shim_requant(int64_t acc, int32_t m, uint32_t s) { return boa_requant(acc, m, s); }
int8_t boa_shim_clamp_q8(int64_t v) { return boa_clamp_q8(v); }
int16_t boa_shim_clamp_q16(int64_t v) { return boa_clamp_q16(v); }
int32_t boa_shim_clamp_logit(int64_t v) { return boa_clamp_logit(v); }
uint64_t boa_shim_isqrt_u64(uint64_t n) { return boa_isqrt_u64(n); }
int64_t boa_shim_floor_div(int64_t n, int64_t d) { return boa_floor_div(n, d); }
uint32_t boa_shim_decay(uint32_t dt, uint32_t a_rate, uint32_t a_shift, uint32_t min_v,
                        const uint16_t *table) {
    return boa_decay(dt, a_rate, a_shift, min_v, table);
}
int64_t boa_shim_scan_channel(int32_t *h, uint32_t dt, int8_t xc, const int8_t *b, const int8_t *c,
                              const uint16_t *a_rate, uint32_t a_shift, uint32_t inc_shift,
                              uint32_t min_v, int64_t inc_max, int32_t d_skip,
                              const uint16_t *decay_table) {
    return boa_scan_channel(h, dt, xc, b, c, a_rate, a_shift, inc_shift, min_v, inc_max, d_skip,
                            decay_table);
}
void boa_shim_layer_norm(const int16_t *x, uint32_t d, const int16_t *gamma, const int32_t *beta,
                         uint32_t shift, uint64_t eps, int8_t *out) {
    boa_layer_norm(x, d, gamma, beta, shift, eps, out);
}
void boa_shim_logits_to_freqs(const int32_t *logits, const uint32_t *exp2, uint32_t *out) {
    boa_logits_to_freqs(logits, exp2, out);
}

/* Encode n symbols, symbol i with table freqs[i * 256 ..]; returns the byte
 * count (which may exceed cap: then only cap bytes were written). stats (4
 * entries) receives: bad_table, the number of carries, the longest run of
 * queued 0xFF bytes a carry went through (cache_size - 1 when the carry was
 * raised), and the longest queue of 0xFF bytes seen between symbols. */
uint64_t boa_shim_encode(const uint8_t *syms, const uint32_t *freqs, uint64_t n, uint8_t *out, uint64_t cap,
                         uint64_t *stats) {
    boa_enc_t e;
    boa_enc_init(&e);
    uint64_t carries = 0, ripple = 0, queue = 0;
    for (uint64_t i = 0; i < n; i++) {
        const uint32_t *f = freqs + i * 256;
        const uint32_t sym = syms[i];
        const uint64_t cum = boa_cum_of(f, sym);
        const uint32_t had_carry = e.carry;
        if (cum > (uint64_t)BOA_FREQ_TOTAL) {
            e.bad_table = 1;
            continue;
        }
        if (!boa_enc_narrow(&e, (uint32_t)cum, f[sym])) {
            continue;
        }
        if (e.carry && !had_carry) {
            carries += 1;
            if (e.cache_size - 1 > ripple) {
                ripple = e.cache_size - 1;
            }
        }
        boa_enc_normalize(&e, out, cap);
        if (e.cache_size - 1 > queue) {
            queue = e.cache_size - 1;
        }
    }
    boa_enc_finish(&e, out, cap);
    stats[0] = e.bad_table;
    stats[1] = carries;
    stats[2] = ripple;
    stats[3] = queue;
    return e.pos;
}

/* Decode n symbols into syms (as u16; 256 after an error), stopping at the
 * first error, then apply boa_dec_finish. Returns the status (BOA_DEC_*);
 * *err_pos receives d.err_pos and *decoded the number of symbols decoded. */
uint32_t boa_shim_decode(const uint8_t *in, uint64_t len, const uint32_t *freqs, uint64_t n, uint16_t *syms,
                         uint64_t *err_pos, uint64_t *decoded) {
    boa_dec_t d;
    boa_dec_init(&d, in, len);
    uint64_t i = 0;
    while (i < n && d.error == BOA_DEC_OK) {
        const uint32_t s = boa_dec_symbol(&d, freqs + i * 256, in, len);
        syms[i] = (uint16_t)s;
        if (s < 256u) {
            i += 1;
        }
    }
    const uint32_t status = boa_dec_finish(&d, len);
    *err_pos = d.err_pos;
    *decoded = i;
    return status;
}
