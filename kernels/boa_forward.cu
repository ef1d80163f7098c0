// boa_forward.cu: the batched forward step of arith v1 (docs/ARITHMETIC.md).
//
// Layout: every activation buffer is [streams, features], row-major; the SSM
// state is [streams, E, 16] and the conv window [streams, 3, E]. Every kernel
// computes exact integer results; sums are exact and therefore independent of
// the reduction order (section 10), so thread and block counts cannot change
// any output. No atomics are used.
//
// Speed ideas (not done, correctness first): tile several streams per block
// in the GEMV so each weight row is read once per tile (turns it into a real
// GEMM, int8 mma.sync with s32 accumulators); load weights as aligned 32-bit
// words when cols % 4 == 0; fuse the layer norm into the preceding epilogue;
// one thread per (stream, e, n) in the scan with a shuffle reduction over n;
// keep the state in shared memory across several steps when encoding.
#include "boa_int.h"

#define BOA_BLOCK 256
#define BOA_WARPS_PER_BLOCK 8

// Reinterpret the bits of an unsigned word as int32 without an
// implementation-defined conversion (u < 2^31: same value; otherwise
// -(~u) - 1, with ~u <= 2^31 - 1).
__device__ __forceinline__ int32_t boa_u32_bits_i32(uint32_t u) {
    return u < 0x80000000u ? (int32_t)u : -(int32_t)(~u) - 1;
}

__device__ __forceinline__ uint32_t boa_pack4(const int8_t *p, uint32_t k, uint32_t n) {
    uint32_t w = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (k + i < n) {
            w |= (uint32_t)(uint8_t)p[k + i] << (8 * i);
        }
    }
    return w;
}

// Output kinds of boa_gemv_q8_k.
#define BOA_OUT_Q8 0u
#define BOA_OUT_Q8_RELU 1u
#define BOA_OUT_Q16 2u
#define BOA_OUT_LOGIT 3u

// out[s][j] = epilogue(bias[j] + sum_k W[j][k] * A[s][a_off + k]).
// W: [rows, cols] q8 row-major; A: q8 with row stride lda. Grid:
// (ceil(rows / 8), streams); block 256 = 8 warps, one warp per (row, stream).
// Partial sums of any subset of the products are bounded by cols * 127^2 <
// 2^31 (section 9.1), so int32 accumulation with dp4a never overflows.
// Epilogue: requant with the row's (mult, shift) then Q8 (optionally through
// lut when use_lut != 0), Q8 with ReLU, Q16, or a clamped logit (int32).
extern "C" __global__ void boa_gemv_q8_k(const int8_t *W, const int32_t *bias, const int32_t *mult,
                                       const uint8_t *shift, const int8_t *A, uint32_t lda,
                                       uint32_t a_off, uint32_t rows, uint32_t cols, uint32_t mode,
                                       const int8_t *lut, uint32_t use_lut, void *out, uint32_t ldo) {
    const uint32_t warp = threadIdx.x / 32;
    const uint32_t lane = threadIdx.x % 32;
    const uint32_t j = blockIdx.x * BOA_WARPS_PER_BLOCK + warp;
    const uint32_t s = blockIdx.y;
    if (j >= rows) {
        return; // whole warp leaves together: j is uniform within a warp
    }
    const int8_t *w = W + (uint64_t)j * cols;
    const int8_t *a = A + (uint64_t)s * lda + a_off;
    int32_t acc = 0;
    for (uint32_t k = lane * 4; k < cols; k += 32 * 4) {
        acc = __dp4a(boa_u32_bits_i32(boa_pack4(w, k, cols)), boa_u32_bits_i32(boa_pack4(a, k, cols)), acc);
    }
    for (uint32_t off = 16; off > 0; off >>= 1) {
        acc += __shfl_down_sync(0xFFFFFFFFu, acc, off);
    }
    if (lane != 0) {
        return;
    }
    const int64_t full = (int64_t)acc + (int64_t)bias[j];
    const int64_t v = boa_requant(full, mult[j], shift[j]);
    const uint64_t o = (uint64_t)s * ldo + j;
    if (mode == BOA_OUT_Q8 || mode == BOA_OUT_Q8_RELU) {
        int8_t q = boa_clamp_q8(v);
        if (mode == BOA_OUT_Q8_RELU && q < 0) {
            q = 0;
        }
        if (use_lut) {
            q = lut[boa_lut_index(q)];
        }
        ((int8_t *)out)[o] = q;
    } else if (mode == BOA_OUT_Q16) {
        ((int16_t *)out)[o] = boa_clamp_q16(v);
    } else {
        ((int32_t *)out)[o] = boa_clamp_logit(v);
    }
}

// x[s] = embedding[bytes[s]]. Grid: streams; block 256.
extern "C" __global__ void boa_embed_k(const uint8_t *bytes, const int16_t *emb, int16_t *x, uint32_t d) {
    const uint32_t s = blockIdx.x;
    const uint32_t b = bytes[s];
    for (uint32_t i = threadIdx.x; i < d; i += blockDim.x) {
        x[(uint64_t)s * d + i] = emb[(uint64_t)b * d + i];
    }
}

// Integer layer norm (section 4), one block of 256 threads per stream. The
// two sums are exact (int64 / uint64, bounds in section 9.4), so the tree
// reduction gives the same value as the sequential reference.
extern "C" __global__ void boa_layer_norm_k(const int16_t *x, uint32_t d, const int16_t *gamma,
                                          const int32_t *beta, uint32_t shift, uint64_t eps,
                                          int8_t *out) {
    __shared__ int64_t red[BOA_BLOCK];
    const uint32_t s = blockIdx.x;
    const uint32_t t = threadIdx.x;
    const int16_t *xs = x + (uint64_t)s * d;
    int64_t part = 0;
    for (uint32_t i = t; i < d; i += BOA_BLOCK) {
        part += xs[i];
    }
    red[t] = part;
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            red[t] += red[t + stride];
        }
        __syncthreads();
    }
    const int64_t mean = boa_floor_div(red[0], (int64_t)d);
    __syncthreads();
    uint64_t sq = 0;
    for (uint32_t i = t; i < d; i += BOA_BLOCK) {
        const int64_t c = (int64_t)xs[i] - mean;
        sq += (uint64_t)(c * c);
    }
    red[t] = (int64_t)sq; // sq < 2^44: the value is preserved
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            red[t] += red[t + stride];
        }
        __syncthreads();
    }
    const uint64_t inv = boa_ln_inv((uint64_t)red[0], d, eps);
    for (uint32_t i = t; i < d; i += BOA_BLOCK) {
        out[(uint64_t)s * d + i] = boa_ln_out((int64_t)xs[i] - mean, inv, gamma[i], beta[i], shift);
    }
}

// Conv step (section 5) + SiLU table, one thread per (stream, channel).
// xs = xz[s][0..E] (row stride 2E); window [S, 3, E] updated in place (each
// thread owns its channel); xc [S, E]. Grid-stride over S * E.
extern "C" __global__ void boa_conv_silu_k(const int8_t *xz, int8_t *window, const int8_t *weight,
                                         const int32_t *bias, const int32_t *mult,
                                         const uint8_t *shift, const int8_t *silu, int8_t *xc,
                                         uint32_t E, uint32_t S) {
    const uint64_t total = (uint64_t)S * E;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint64_t s = i / E;
        const uint32_t e = (uint32_t)(i % E);
        const int8_t xs = xz[s * 2 * E + e];
        int8_t *win = window + s * (BOA_D_CONV - 1) * E;
        const int8_t *w = weight + (uint64_t)e * BOA_D_CONV;
        int32_t acc = bias[e];
        for (uint32_t t = 0; t < BOA_D_CONV - 1; t++) {
            acc += (int32_t)w[t] * (int32_t)win[(uint64_t)t * E + e];
        }
        acc += (int32_t)w[BOA_D_CONV - 1] * (int32_t)xs;
        const int8_t c = boa_requant_q8(acc, mult[e], shift[e]);
        for (uint32_t t = 0; t + 1 < BOA_D_CONV - 1; t++) {
            win[(uint64_t)t * E + e] = win[(uint64_t)(t + 1) * E + e];
        }
        win[(uint64_t)(BOA_D_CONV - 2) * E + e] = xs;
        xc[i] = silu[boa_lut_index(c)];
    }
}

// dt = softplus_lut[dt8], element-wise over n = S * E values.
extern "C" __global__ void boa_softplus_k(const int8_t *dt8, const uint16_t *lut, uint16_t *dt, uint64_t n) {
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        dt[i] = lut[boa_lut_index(dt8[i])];
    }
}

// Selective scan (section 6) + y requant + gate, one thread per (stream, e).
// xdbl is [S, X] with B at column R and C at R + 16; z = xz[s][E + e].
// h [S, E, 16] is owned per thread. g [S, E] is the gated output.
extern "C" __global__ void boa_scan_gate_k(const int8_t *xc, const uint16_t *dt, const int8_t *xdbl,
                                         uint32_t X, uint32_t R, const uint16_t *a_rate,
                                         uint32_t a_shift, uint32_t inc_shift, uint32_t min_v,
                                         int32_t inc_max, const int32_t *d_skip,
                                         const uint16_t *decay_table, int32_t *h,
                                         const int32_t *y_mult, const uint8_t *y_shift,
                                         const int8_t *xz, const int8_t *gate_silu,
                                         const int32_t *g_mult, const uint8_t *g_shift, int8_t *g,
                                         uint32_t E, uint32_t S) {
    const uint64_t total = (uint64_t)S * E;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint64_t s = i / E;
        const uint32_t e = (uint32_t)(i % E);
        const int8_t *b = xdbl + s * X + R;
        const int8_t *c = b + BOA_D_STATE;
        int32_t hs[BOA_D_STATE];
        int32_t *hp = h + i * BOA_D_STATE;
        for (int n = 0; n < BOA_D_STATE; n++) {
            hs[n] = hp[n];
        }
        const int64_t yacc = boa_scan_channel(hs, dt[i], xc[i], b, c, a_rate + (uint64_t)e * BOA_D_STATE,
                                              a_shift, inc_shift, min_v, (int64_t)inc_max, d_skip[e],
                                              decay_table);
        for (int n = 0; n < BOA_D_STATE; n++) {
            hp[n] = hs[n];
        }
        const int8_t y = boa_requant_q8(yacc, y_mult[e], y_shift[e]);
        const int8_t zs = gate_silu[boa_lut_index(xz[s * 2 * E + E + e])];
        g[i] = boa_requant_q8((int64_t)y * (int64_t)zs, g_mult[e], g_shift[e]);
    }
}

// x = clamp_q16(x + fo), element-wise over n values.
extern "C" __global__ void boa_residual_add_k(int16_t *x, const int16_t *fo, uint64_t n) {
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < n;
         i += (uint64_t)gridDim.x * blockDim.x) {
        x[i] = boa_clamp_q16((int64_t)x[i] + (int64_t)fo[i]);
    }
}

// Head input: u[s][j] = clamp_q8(requant(x[s][j], mult[j], shift[j])).
extern "C" __global__ void boa_head_in_k(const int16_t *x, const int32_t *mult, const uint8_t *shift,
                                       int8_t *u, uint32_t d, uint32_t S) {
    const uint64_t total = (uint64_t)S * d;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t j = (uint32_t)(i % d);
        u[i] = boa_requant_q8(x[i], mult[j], shift[j]);
    }
}

// Logits to frequencies (section 7), one block of 256 threads per stream
// (thread i owns symbol i). Reductions: max, smallest index holding the max,
// sum of weights (uint64), sum of frequencies: all exact.
extern "C" __global__ void boa_logits_to_freqs_k(const int32_t *logits, const uint32_t *exp2, uint32_t *freqs) {
    __shared__ int32_t rmax[BOA_BLOCK];
    __shared__ uint32_t rarg[BOA_BLOCK];
    __shared__ uint64_t rsum[BOA_BLOCK];
    const uint32_t s = blockIdx.x;
    const uint32_t t = threadIdx.x;
    const int32_t l = logits[(uint64_t)s * 256 + t];
    rmax[t] = l;
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride && rmax[t + stride] > rmax[t]) {
            rmax[t] = rmax[t + stride];
        }
        __syncthreads();
    }
    const int32_t m = rmax[0];
    rarg[t] = l == m ? t : 256u;
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride && rarg[t + stride] < rarg[t]) {
            rarg[t] = rarg[t + stride];
        }
        __syncthreads();
    }
    const uint32_t first = rarg[0];
    const uint32_t w = boa_freq_weight(l, m, exp2);
    rsum[t] = w;
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            rsum[t] += rsum[t + stride];
        }
        __syncthreads();
    }
    const uint64_t scale = boa_freq_scale(rsum[0]);
    __syncthreads();
    const uint32_t f = boa_freq_of(w, scale);
    rsum[t] = f;
    __syncthreads();
    for (uint32_t stride = BOA_BLOCK / 2; stride > 0; stride >>= 1) {
        if (t < stride) {
            rsum[t] += rsum[t + stride];
        }
        __syncthreads();
    }
    const uint32_t total = (uint32_t)rsum[0];
    freqs[(uint64_t)s * 256 + t] = t == first ? f + (BOA_FREQ_TOTAL - total) : f;
}
