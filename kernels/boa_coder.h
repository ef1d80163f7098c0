/*
 * boa_coder.h: the range coder (frequencies summing to 2^24), one stream per
 * thread on the device, the same code on the host (shim, tests). Integer
 * only; all arithmetic unsigned.
 *
 * Encoder: low u64, range u32 (0xFFFFFFFF), cache u8 (0), cache_size u64 (1).
 * The very first byte shift_low would emit (always 0) is not written.
 * Decoder: code = first 4 bytes big-endian; bytes past the end read as 0.
 */
#ifndef BOA_CODER_H
#define BOA_CODER_H

#include "boa_int.h"

typedef struct {
    uint64_t low;
    uint64_t cache_size;
    uint64_t pos;      /* bytes written to out so far */
    uint64_t overflow; /* 1 if a byte did not fit in cap (pos keeps counting) */
    uint32_t range;
    uint32_t cache;
    uint32_t started; /* 0 until the first (skipped) byte has been emitted */
    uint32_t pad;
} boa_enc_t;

typedef struct {
    uint64_t pos; /* next byte of the input to read */
    uint32_t code;
    uint32_t range;
    uint32_t error; /* 1 after a corrupt input was detected (q >= 2^24) */
    uint32_t pad;
} boa_dec_t;

BOA_HD void boa_enc_init(boa_enc_t *e) {
    e->low = 0;
    e->cache_size = 1;
    e->pos = 0;
    e->overflow = 0;
    e->range = 0xFFFFFFFFu;
    e->cache = 0;
    e->started = 0;
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
    if ((uint32_t)(e->low & 0xFFFFFFFFu) < 0xFF000000u || e->low >= ((uint64_t)1 << 32)) {
        uint32_t carry = (uint32_t)(e->low >> 32);
        boa_enc_put(e, out, cap, e->cache + carry);
        for (uint64_t i = 1; i < e->cache_size; i++) {
            boa_enc_put(e, out, cap, (0xFFu + carry) & 0xFFu);
        }
        e->cache = (uint32_t)((e->low >> 24) & 0xFFu);
        e->cache_size = 0;
    }
    e->cache_size += 1;
    e->low = (e->low & 0x00FFFFFFu) << 8;
}

/* Encode one symbol with cumulative frequency cum and frequency freq (>= 1,
 * cum + freq <= 2^24). */
BOA_HD void boa_enc_encode(boa_enc_t *e, uint32_t cum, uint32_t freq, uint8_t *out, uint64_t cap) {
    uint32_t r = e->range >> BOA_FREQ_BITS;
    e->low += (uint64_t)r * cum;
    e->range = r * freq;
    while (e->range < (1u << 24)) {
        e->range <<= 8;
        boa_enc_shift_low(e, out, cap);
    }
}

BOA_HD void boa_enc_finish(boa_enc_t *e, uint8_t *out, uint64_t cap) {
    for (int i = 0; i < 5; i++) {
        boa_enc_shift_low(e, out, cap);
    }
}

/* Encode byte sym with a 256-entry frequency table. */
BOA_HD void boa_enc_symbol(boa_enc_t *e, const uint32_t *freqs, uint32_t sym, uint8_t *out, uint64_t cap) {
    uint32_t cum = 0;
    for (uint32_t i = 0; i < sym; i++) {
        cum += freqs[i];
    }
    boa_enc_encode(e, cum, freqs[sym], out, cap);
}

BOA_HD uint32_t boa_dec_byte(boa_dec_t *d, const uint8_t *in, uint64_t len) {
    uint32_t b = d->pos < len ? in[d->pos] : 0u;
    d->pos += 1;
    return b;
}

BOA_HD void boa_dec_init(boa_dec_t *d, const uint8_t *in, uint64_t len) {
    d->pos = 0;
    d->code = 0;
    d->range = 0xFFFFFFFFu;
    d->error = 0;
    d->pad = 0;
    for (int i = 0; i < 4; i++) {
        d->code = (d->code << 8) | boa_dec_byte(d, in, len);
    }
}

/* Decode one byte with a 256-entry frequency table; returns the symbol, or
 * 256 (and sets error) if the input is corrupt. */
BOA_HD uint32_t boa_dec_symbol(boa_dec_t *d, const uint32_t *freqs, const uint8_t *in, uint64_t len) {
    if (d->error) {
        return 256;
    }
    uint32_t r = d->range >> BOA_FREQ_BITS;
    uint32_t q = d->code / r;
    if (q >= BOA_FREQ_TOTAL) {
        d->error = 1;
        return 256;
    }
    uint32_t cum = 0;
    uint32_t sym = 0;
    while (sym < 255 && cum + freqs[sym] <= q) {
        cum += freqs[sym];
        sym += 1;
    }
    d->code -= r * cum;
    d->range = r * freqs[sym];
    while (d->range < (1u << 24)) {
        d->range <<= 8;
        d->code = (d->code << 8) | boa_dec_byte(d, in, len);
    }
    return sym;
}

#endif /* BOA_CODER_H */
