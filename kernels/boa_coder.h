/*
 * boa_coder.h: the range coder of docs/FORMAT.md section 9 (format v1:
 * frequencies summing to 2^24, 64-bit range, one carry bit), one stream per
 * thread on the device, the same code on the host (shim, tests). Integer
 * only; all arithmetic unsigned, so nothing can overflow with undefined
 * behaviour. Byte-identical to src/coder (tests/kernel_helpers.rs).
 *
 * Encoder: low u64 (0), carry (0), range u64 (2^64 - 1), cache u8 (0),
 * cache_size u64 (1). The very first byte shift_low would emit (always 0) is
 * not written. finish() = 9 shift_low calls.
 * Decoder: code = first 8 bytes big-endian, range = 2^64 - 1, pos = 8; past
 * the end it reads at most 8 virtual 0x00 bytes, the 9th is an error
 * (BOA_DEC_TRUNCATED). boa_dec_finish applies the exact-consumption rule.
 *
 * Tables are trusted (the device builds them with boa_logits_to_freqs, which
 * always yields a valid table). What is checked is only what keeps the code
 * from looping forever or overflowing on a bad table: a symbol with frequency
 * 0 or with cum + freq > 2^24 sets BOA_CODER_BAD_TABLE and the symbol is not
 * coded. The Rust coder reports ZeroFrequency / BadTotal instead.
 */
#ifndef BOA_CODER_H
#define BOA_CODER_H

#include "boa_int.h"

#define BOA_CODER_TOP ((uint64_t)1 << 56)

/* Decoder status (boa_dec_t.error), in the order of src/coder's CoderError. */
#define BOA_DEC_OK 0u
#define BOA_DEC_CORRUPT 1u   /* q >= 2^24; err_pos = bytes read (Corrupt.consumed) */
#define BOA_DEC_TRUNCATED 2u /* a 9th virtual byte, or pos > len at finish; err_pos = needed */
#define BOA_DEC_TOO_SHORT 3u /* fewer than 8 bytes; err_pos = len */
#define BOA_DEC_TRAILING 4u  /* pos < len at finish; err_pos = pos (consumed) */
#define BOA_CODER_BAD_TABLE 5u /* see above; err_pos = bytes read */

typedef struct {
    uint64_t low;        /* low end of the interval, modulo 2^64 */
    uint64_t range;      /* >= 2^56 between symbols */
    uint64_t cache_size; /* 1 + number of 0xFF bytes queued behind cache */
    uint64_t pos;        /* bytes written to out so far */
    uint32_t carry;      /* bit 64 of the low end (0 or 1) */
    uint32_t cache;      /* the byte still open to a carry */
    uint32_t started;    /* 0 until the first (skipped) byte has been emitted */
    uint32_t overflow;   /* 1 if a byte did not fit in cap (pos keeps counting) */
    uint32_t bad_table;  /* 1 if a symbol was skipped for a bad table */
    uint32_t pad;
} boa_enc_t;

typedef struct {
    uint64_t pos; /* bytes read so far, virtual bytes included */
    uint64_t code;
    uint64_t range;
    uint64_t err_pos; /* see the status codes */
    uint32_t error;   /* BOA_DEC_*; sticky */
    uint32_t pad;
} boa_dec_t;

BOA_HD void boa_enc_init(boa_enc_t *e) {
    e->low = 0;
    e->range = ~(uint64_t)0;
    e->cache_size = 1;
    e->pos = 0;
    e->carry = 0;
    e->cache = 0;
    e->started = 0;
    e->overflow = 0;
    e->bad_table = 0;
    e->pad = 0;
}

BOA_HD void boa_enc_put(boa_enc_t *e, uint8_t *out, uint64_t cap, uint32_t byte) {
    if (!e->started) {
        e->started = 1; /* the leading 0 byte is implicit */
        return;
    }
    if (e->pos < cap) {
        out[e->pos] = (uint8_t)(byte & 0xFFu);
    } else {
        e->overflow = 1;
    }
    e->pos += 1;
}

BOA_HD void boa_enc_shift_low(boa_enc_t *e, uint8_t *out, uint64_t cap) {
    if (e->low < 0xFF00000000000000ull || e->carry) {
        const uint32_t c = e->carry;
        boa_enc_put(e, out, cap, e->cache + c);
        for (uint64_t i = 1; i < e->cache_size; i++) {
            boa_enc_put(e, out, cap, 0xFFu + c);
        }
        e->cache = (uint32_t)(e->low >> 56);
        e->cache_size = 0;
    }
    e->cache_size += 1;
    e->low = (e->low & 0x00FFFFFFFFFFFFFFull) << 8;
    e->carry = 0;
}

/* First half of boa_enc_encode: narrow the interval to [cum, cum + freq).
 * Returns 0 (and sets bad_table, leaving the state alone) when freq == 0 or
 * cum + freq > 2^24. r = range >> 24 is in 2^32 .. 2^40 - 1, so
 * r * cum + r * freq <= r * 2^24 <= range < 2^64; the 65-bit sum low + r * cum
 * carries iff the wrapped sum is below the addend, and at most one carry is
 * pending (FORMAT.md 9.3). */
BOA_HD uint32_t boa_enc_narrow(boa_enc_t *e, uint32_t cum, uint32_t freq) {
    if (freq == 0u || (uint64_t)cum + freq > (uint64_t)BOA_FREQ_TOTAL) {
        e->bad_table = 1;
        return 0;
    }
    const uint64_t r = e->range >> BOA_FREQ_BITS;
    const uint64_t add = r * cum;
    const uint64_t sum = e->low + add;
    e->carry |= (uint32_t)(sum < add);
    e->low = sum;
    e->range = r * freq;
    return 1;
}

/* Second half: renormalize (range < 2^56 -> shift a byte out). */
BOA_HD void boa_enc_normalize(boa_enc_t *e, uint8_t *out, uint64_t cap) {
    while (e->range < BOA_CODER_TOP) {
        e->range <<= 8;
        boa_enc_shift_low(e, out, cap);
    }
}

/* Encode one symbol with cumulative frequency cum and frequency freq (>= 1,
 * cum + freq <= 2^24). */
BOA_HD void boa_enc_encode(boa_enc_t *e, uint32_t cum, uint32_t freq, uint8_t *out, uint64_t cap) {
    if (boa_enc_narrow(e, cum, freq)) {
        boa_enc_normalize(e, out, cap);
    }
}

BOA_HD void boa_enc_finish(boa_enc_t *e, uint8_t *out, uint64_t cap) {
    for (int i = 0; i < 9; i++) {
        boa_enc_shift_low(e, out, cap);
    }
}

/* cum[sym] of a 256-entry table, summed in 64 bits (a bad table cannot wrap). */
BOA_HD uint64_t boa_cum_of(const uint32_t *freqs, uint32_t sym) {
    uint64_t cum = 0;
    for (uint32_t i = 0; i < sym; i++) {
        cum += freqs[i];
    }
    return cum;
}

/* Encode byte sym (0..255) with a 256-entry frequency table. */
BOA_HD void boa_enc_symbol(boa_enc_t *e, const uint32_t *freqs, uint32_t sym, uint8_t *out, uint64_t cap) {
    sym &= 0xFFu;
    const uint64_t cum = boa_cum_of(freqs, sym);
    if (cum > (uint64_t)BOA_FREQ_TOTAL) {
        e->bad_table = 1;
        return;
    }
    boa_enc_encode(e, (uint32_t)cum, freqs[sym], out, cap);
}

BOA_HD void boa_dec_fail(boa_dec_t *d, uint32_t error, uint64_t err_pos) {
    d->error = error;
    d->err_pos = err_pos;
}

/* Next input byte into *b; past the end 0x00, at most 8 times. Returns 0 and
 * sets BOA_DEC_TRUNCATED (err_pos = the position needed) on the 9th. */
BOA_HD uint32_t boa_dec_byte(boa_dec_t *d, const uint8_t *in, uint64_t len, uint64_t *b) {
    if (d->pos < len) {
        *b = in[d->pos];
    } else if (d->pos - len < 8u) {
        *b = 0;
    } else {
        boa_dec_fail(d, BOA_DEC_TRUNCATED, d->pos);
        return 0;
    }
    d->pos += 1;
    return 1;
}

BOA_HD void boa_dec_init(boa_dec_t *d, const uint8_t *in, uint64_t len) {
    d->pos = 0;
    d->code = 0;
    d->range = ~(uint64_t)0;
    d->err_pos = 0;
    d->error = BOA_DEC_OK;
    d->pad = 0;
    if (len < 8u) {
        boa_dec_fail(d, BOA_DEC_TOO_SHORT, len);
        return;
    }
    for (uint64_t i = 0; i < 8u; i++) {
        d->code = (d->code << 8) | in[i];
    }
    d->pos = 8;
}

/* Decode one byte with a 256-entry frequency table; returns the symbol, or
 * 256 once d->error is set (sticky: later calls return 256 at once). As in
 * src/coder, a symbol whose renormalization runs out of input is an error,
 * not a symbol. */
BOA_HD uint32_t boa_dec_symbol(boa_dec_t *d, const uint32_t *freqs, const uint8_t *in, uint64_t len) {
    if (d->error != BOA_DEC_OK) {
        return 256;
    }
    const uint64_t r = d->range >> BOA_FREQ_BITS; /* >= 2^32 */
    const uint64_t q = d->code / r;
    if (q >= (uint64_t)BOA_FREQ_TOTAL) { /* also catches code >= range */
        boa_dec_fail(d, BOA_DEC_CORRUPT, d->pos);
        return 256;
    }
    /* Linear scan: the symbol s with cum[s] <= q < cum[s + 1]. */
    uint64_t cum = 0;
    uint32_t sym = 0;
    while (sym < 255u && cum + freqs[sym] <= q) {
        cum += freqs[sym];
        sym += 1;
    }
    const uint32_t freq = freqs[sym];
    if (freq == 0u || cum + freq <= q || cum + freq > (uint64_t)BOA_FREQ_TOTAL) {
        boa_dec_fail(d, BOA_CODER_BAD_TABLE, d->pos);
        return 256;
    }
    d->code -= r * cum;
    d->range = r * freq;
    while (d->range < BOA_CODER_TOP) {
        uint64_t b;
        if (!boa_dec_byte(d, in, len, &b)) {
            return 256;
        }
        /* code < range < 2^56 here, so the shift cannot lose bits. */
        d->range <<= 8;
        d->code = (d->code << 8) | b;
    }
    return sym;
}

/* The exact-consumption rule: returns the final status (BOA_DEC_OK iff every
 * byte was read and no virtual byte was), also stored in d->error. */
BOA_HD uint32_t boa_dec_finish(boa_dec_t *d, uint64_t len) {
    if (d->error != BOA_DEC_OK) {
        return d->error;
    }
    if (d->pos > len) {
        boa_dec_fail(d, BOA_DEC_TRUNCATED, len);
    } else if (d->pos < len) {
        boa_dec_fail(d, BOA_DEC_TRAILING, d->pos);
    }
    return d->error;
}

#endif /* BOA_CODER_H */
