/*
 * boa_int.h: the integer helpers of arith v1 (docs/ARITHMETIC.md), shared by
 * the CUDA kernels (device) and the host C shim used by the Rust tests.
 *
 * Rules followed everywhere in this file:
 *  - only exact-width integer types; no floating point of any kind;
 *  - no implementation-defined behaviour: right shifts are only applied to
 *    non-negative values (a signed floor shift goes through the bitwise
 *    complement, see boa_asr64), and no out-of-range conversion to a signed
 *    type is performed;
 *  - no signed overflow: every signed operation states the spec bound
 *    (ARITHMETIC.md section 9) that keeps it in range, all other arithmetic is
 *    unsigned.
 */
#ifndef BOA_INT_H
#define BOA_INT_H

#include <stdint.h>

#ifdef __CUDACC__
#define BOA_HD __host__ __device__ __forceinline__
#else
#define BOA_HD static inline
#endif

#define BOA_Q8_MAX 127
#define BOA_Q16_MAX 32767
#define BOA_LOGIT_MAX (1 << 20)
#define BOA_LOGIT_GAP_MAX ((32 << 8) - 1)
#define BOA_D_STATE 16
#define BOA_D_CONV 4
#define BOA_DECAY_GAP_MAX 4096u
#define BOA_FREQ_BITS 24
#define BOA_FREQ_TOTAL (1u << BOA_FREQ_BITS)

/* floor(v / 2^s) for 0 <= s <= 63. For v < 0, ~v = -v - 1 >= 0 (int64_t is
 * two's complement by definition), and floor(v / 2^s) = ~(~v >> s): the shift
 * only ever sees a non-negative operand. */
BOA_HD int64_t boa_asr64(int64_t v, uint32_t s) {
    return v < 0 ? ~((~v) >> s) : (v >> s);
}

/* Round-half-up shift (section 1.1). Precondition: s <= 62 and
 * |v| + 2^(s-1) < 2^63, which the loader proves for every site. */
BOA_HD int64_t boa_rshift_round(int64_t v, uint32_t s) {
    if (s == 0) {
        return v;
    }
    return boa_asr64(v + ((int64_t)1 << (s - 1)), s);
}

/* requant (section 1.2): rshift_round(acc * m, s). Precondition (section 9.2):
 * |acc| * m + 2^(s-1) <= 2^63 - 1, 0 <= m < 2^31, 1 <= s <= 62. */
BOA_HD int64_t boa_requant(int64_t acc, int32_t m, uint32_t s) {
    return boa_rshift_round(acc * (int64_t)m, s);
}

BOA_HD int64_t boa_clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : (v > hi ? hi : v);
}

BOA_HD int8_t boa_clamp_q8(int64_t v) {
    return (int8_t)boa_clamp64(v, -BOA_Q8_MAX, BOA_Q8_MAX);
}

BOA_HD int16_t boa_clamp_q16(int64_t v) {
    return (int16_t)boa_clamp64(v, -BOA_Q16_MAX, BOA_Q16_MAX);
}

BOA_HD int32_t boa_clamp_logit(int64_t v) {
    return (int32_t)boa_clamp64(v, -BOA_LOGIT_MAX, BOA_LOGIT_MAX);
}

BOA_HD int8_t boa_requant_q8(int64_t acc, int32_t m, uint32_t s) {
    return boa_clamp_q8(boa_requant(acc, m, s));
}

BOA_HD int16_t boa_requant_q16(int64_t acc, int32_t m, uint32_t s) {
    return boa_clamp_q16(boa_requant(acc, m, s));
}

/* Table index of a q8 value: v + 128 (section 1.4). */
BOA_HD uint32_t boa_lut_index(int8_t v) {
    return (uint32_t)((int32_t)v + 128);
}

/* floor(sqrt(n)) for every uint64_t: the digit-by-digit method of the Rust
 * reference (src/arith/mod.rs isqrt_u64), all unsigned. root + bit stays
 * below 2^64 (root <= 2 * sqrt(n) and bit <= 2^62 at every round), and the
 * result is the unique floor square root, so any exact method agrees. */
BOA_HD uint64_t boa_isqrt_u64(uint64_t n) {
    uint64_t rem = n;
    uint64_t root = 0;
    uint64_t bit = (uint64_t)1 << 62;
    while (bit > rem) {
        bit >>= 2;
    }
    while (bit != 0) {
        if (rem >= root + bit) {
            rem -= root + bit;
            root = (root >> 1) + bit;
        } else {
            root >>= 1;
        }
        bit >>= 2;
    }
    return root;
}

/* Floor division for d > 0 (C division truncates toward zero). Precondition:
 * d > 0 and n != INT64_MIN (|n| < 2^27 in the layer norm). */
BOA_HD int64_t boa_floor_div(int64_t n, int64_t d) {
    int64_t q = n / d;
    if ((n % d) != 0 && n < 0) {
        q -= 1;
    }
    return q;
}

/* SSM decay in Q16 (section 6): T[v & 255] >> (v >> 8), v = (dt * rate) >> a_shift
 * clamped to [min_v, 4096]; min_v is the arith version's smallest exponent (v1: 0, v2: 1). */
BOA_HD uint32_t boa_decay(uint32_t dt, uint32_t a_rate, uint32_t a_shift, uint32_t min_v,
                          const uint16_t *table) {
    uint64_t v = ((uint64_t)(dt & 0xFFFFu) * (uint64_t)(a_rate & 0xFFFFu)) >> a_shift;
    if (v > BOA_DECAY_GAP_MAX) {
        v = BOA_DECAY_GAP_MAX;
    }
    if (v < (uint64_t)min_v) {
        v = (uint64_t)min_v;
    }
    return (uint32_t)table[v & 255u] >> (uint32_t)(v >> 8);
}

/* One scan update for one (e, n) (section 6); returns h'. inc_max is the arith
 * version's increment bound (v1: 2^14, v2: 2^22). Bounds: |dt*xc*b| < 2^30,
 * |dA*h| < 2^47, |h'| < 2^31 (section 9.3, checked per model by the loader), so
 * every product is exact in int64 and the result fits int32. */
BOA_HD int32_t boa_scan_h(int32_t h, uint32_t dt, int8_t xc, int8_t b, uint32_t a_rate,
                          uint32_t a_shift, uint32_t inc_shift, uint32_t min_v, int64_t inc_max,
                          const uint16_t *decay_table) {
    int64_t da = (int64_t)boa_decay(dt, a_rate, a_shift, min_v, decay_table);
    int64_t dtx = (int64_t)(dt & 0xFFFFu) * (int64_t)xc;
    int64_t inc = boa_clamp64(boa_rshift_round(dtx * (int64_t)b, inc_shift), -inc_max, inc_max);
    int64_t hn = boa_rshift_round(da * (int64_t)h, 16) + inc;
    return (int32_t)hn;
}

/* One channel of the scan: updates h[0..16] in place and returns
 * yacc = sum_n C[n] h'[n] + D * xc (|yacc| < 2^42 + 2^38). */
BOA_HD int64_t boa_scan_channel(int32_t *h, uint32_t dt, int8_t xc, const int8_t *b,
                                const int8_t *c, const uint16_t *a_rate, uint32_t a_shift,
                                uint32_t inc_shift, uint32_t min_v, int64_t inc_max,
                                int32_t d_skip, const uint16_t *decay_table) {
    int64_t y = 0;
    for (int n = 0; n < BOA_D_STATE; n++) {
        int32_t hn = boa_scan_h(h[n], dt, xc, b[n], a_rate[n], a_shift, inc_shift, min_v, inc_max,
                                decay_table);
        h[n] = hn;
        y += (int64_t)c[n] * (int64_t)hn;
    }
    return y + (int64_t)d_skip * (int64_t)xc;
}

/* Layer norm pieces (section 4). inv = 2^40 / isqrt(((V << 16) / d) + eps),
 * V < 2^44, eps <= 2^60: all unsigned and below 2^61. */
BOA_HD uint64_t boa_ln_inv(uint64_t sum_sq, uint64_t d, uint64_t eps) {
    uint64_t var16 = (sum_sq << 16) / d;
    uint64_t std8 = boa_isqrt_u64(var16 + eps);
    return ((uint64_t)1 << 40) / std8;
}

/* out = clamp_q8(rshift_round(rshift_round(c * inv, 20) * gamma + beta, shift)),
 * c = x - mean, |c * inv| < 2^56, |n * gamma + beta| < 2^51 + 2^31. */
BOA_HD int8_t boa_ln_out(int64_t c, uint64_t inv, int16_t gamma, int32_t beta, uint32_t shift) {
    int64_t n = boa_rshift_round(c * (int64_t)inv, 20);
    return boa_clamp_q8(boa_rshift_round(n * (int64_t)gamma + (int64_t)beta, shift));
}

/* Layer norm of a whole vector (the scalar path; the kernel does the two
 * sums as block reductions, which are exact and order-independent). */
BOA_HD void boa_layer_norm(const int16_t *x, uint32_t d, const int16_t *gamma,
                           const int32_t *beta, uint32_t shift, uint64_t eps, int8_t *out) {
    int64_t sum = 0;
    for (uint32_t i = 0; i < d; i++) {
        sum += x[i];
    }
    int64_t mean = boa_floor_div(sum, (int64_t)d);
    uint64_t sq = 0;
    for (uint32_t i = 0; i < d; i++) {
        int64_t c = (int64_t)x[i] - mean;
        sq += (uint64_t)(c * c);
    }
    uint64_t inv = boa_ln_inv(sq, d, eps);
    for (uint32_t i = 0; i < d; i++) {
        out[i] = boa_ln_out((int64_t)x[i] - mean, inv, gamma[i], beta[i], shift);
    }
}

/* Logits to frequencies (section 7), split for the kernel. Logits are in
 * [-2^20, 2^20], so max - l <= 2^21: exact in int32. */
BOA_HD uint32_t boa_freq_weight(int32_t l, int32_t max, const uint32_t *exp2) {
    int32_t gap = max - l;
    if (gap > BOA_LOGIT_GAP_MAX) {
        gap = BOA_LOGIT_GAP_MAX;
    }
    uint32_t g = (uint32_t)gap; /* 0 <= gap <= 8191 */
    return exp2[g & 255u] >> (g >> 8);
}

/* scale = ((2^24 - 256) << 32) / W with W in [2^31, 2^39]. */
BOA_HD uint64_t boa_freq_scale(uint64_t total) {
    return ((uint64_t)(BOA_FREQ_TOTAL - 256u) << 32) / total;
}

/* f = 1 + ((w * scale) >> 32), w * scale <= 2^56. */
BOA_HD uint32_t boa_freq_of(uint32_t w, uint64_t scale) {
    return 1u + (uint32_t)(((uint64_t)w * scale) >> 32);
}

BOA_HD void boa_logits_to_freqs(const int32_t *logits, const uint32_t *exp2, uint32_t *out) {
    int32_t max = logits[0];
    uint32_t first = 0;
    for (uint32_t i = 1; i < 256; i++) {
        if (logits[i] > max) {
            max = logits[i];
            first = i;
        }
    }
    uint64_t total = 0;
    for (uint32_t i = 0; i < 256; i++) {
        total += boa_freq_weight(logits[i], max, exp2);
    }
    uint64_t scale = boa_freq_scale(total);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 256; i++) {
        out[i] = boa_freq_of(boa_freq_weight(logits[i], max, exp2), scale);
        sum += out[i];
    }
    out[first] += BOA_FREQ_TOTAL - sum;
}

#endif /* BOA_INT_H */
