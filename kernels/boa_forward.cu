// boa_forward.cu: the forward graph of arith v1 and v2 (docs/ARITHMETIC.md)
// over a batch of columns.
//
// A column is one (stream, position) pair: a launch sequence steps `n`
// streams by `t` bytes each, column c = s * t + k (stream-major, the layout
// of Engine::step_block). Everything but the conv window and the scan
// recurrence is independent per column, so the linear layers are GEMMs over
// all n * t columns; the conv and scan kernels walk each stream's t
// positions in order. Decoding is t = 1.
//
// Layout: activations [columns, features] row-major; the SSM state
// [streams, E, 16] (int32) and the conv window [streams, 3, E] (int8).
//
// Every kernel computes exact integers: each sum is exact (bounds in
// ARITHMETIC.md section 9) and so independent of the order of its terms, so
// neither the thread and block counts nor the GEMM tiling can change an
// output. No atomics. The nonlinear tables come from the model file.
#include "boa_cuda_compat.h"
#include "boa_int.h"

// GEMM tile: 32 weight rows x 32 columns per 256-thread block, K staged
// through shared memory 64 bytes (16 words) at a time. Each thread owns
// 2 x 2 outputs: rows tr and tr + 16, columns tc and tc + 16.
#define BOA_TILE 32
#define BOA_TILE_WORDS 16
#define BOA_WARPS 8

// Output kinds of the GEMM epilogue.
#define BOA_OUT_Q8 0u      // clamp_q8(requant), then the table `lut` if use_lut
#define BOA_OUT_Q8_RELU 1u // clamp_q8(requant), negatives to 0
#define BOA_OUT_Q16 2u     // clamp_q16(requant)
#define BOA_OUT_LOGIT 3u   // clamp(requant, +-2^20), int32
#define BOA_OUT_Q16_ADD 4u // x = clamp_q16(x + clamp_q16(requant)): the residual add

// Reinterpret the bits of an unsigned word as int32 without an
// implementation-defined conversion (u < 2^31: same value; otherwise
// -(~u) - 1, with ~u <= 2^31 - 1).
BOA_DEVICE int32_t boa_u32_bits_i32(uint32_t u) {
    return u < 0x80000000u ? (int32_t)u : -(int32_t)(~u) - 1;
}

// Bytes p[k..k+4] as a little-endian word, zero past n (so any K, stride
// and offset work; bytes are loaded one by one).
BOA_DEVICE uint32_t boa_pack4(const int8_t *p, uint32_t k, uint32_t n) {
    uint32_t w = 0;
    for (uint32_t i = 0; i < 4; i++) {
        if (k + i < n) {
            w |= (uint32_t)(uint8_t)p[k + i] << (8 * i);
        }
    }
    return w;
}

// The epilogue of output (row j, column c) from its dot product `acc`.
BOA_DEVICE void boa_gemm_store(int32_t acc, uint32_t j, uint64_t c, const int32_t *bias,
                               const int32_t *mult, const uint8_t *shift, uint32_t mode,
                               const int8_t *lut, uint32_t use_lut, void *out, uint32_t ldo) {
    // Partial sums of any subset of the products are bounded by
    // K * 127^2 < 2^31 and the loader bounds acc + bias (section 9.1).
    const int64_t full = (int64_t)acc + (int64_t)bias[j];
    const int64_t v = boa_requant(full, mult[j], shift[j]);
    const uint64_t o = c * ldo + j;
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
    } else if (mode == BOA_OUT_Q16_ADD) {
        int16_t *x = (int16_t *)out;
        x[o] = boa_clamp_q16((int64_t)x[o] + (int64_t)boa_clamp_q16(v));
    } else {
        ((int32_t *)out)[o] = boa_clamp_logit(v);
    }
}

// out[c][j] = epilogue(bias[j] + sum_k W[j][k] * A[c][a_off + k]) for rows j
// < rows and columns c < cols. W: [rows, K] q8 row-major; A: q8 with row
// stride lda. Grid (ceil(rows / 32), ceil(cols / 32)), block 256.
extern "C" __global__ void boa_gemm_k(const int8_t *W, const int32_t *bias, const int32_t *mult,
                                      const uint8_t *shift, const int8_t *A, uint32_t lda,
                                      uint32_t a_off, uint32_t rows, uint32_t K, uint32_t mode,
                                      const int8_t *lut, uint32_t use_lut, void *out, uint32_t ldo,
                                      uint32_t cols) {
    __shared__ uint32_t ws[BOA_TILE][BOA_TILE_WORDS];
    __shared__ uint32_t as[BOA_TILE][BOA_TILE_WORDS];
    const uint32_t t = threadIdx.x;
    const uint32_t tr = t / 16;
    const uint32_t tc = t % 16;
    const uint32_t row0 = blockIdx.x * BOA_TILE;
    const uint64_t col0 = (uint64_t)blockIdx.y * BOA_TILE;
    int32_t acc[2][2] = {{0, 0}, {0, 0}};
    for (uint32_t k0 = 0; k0 < K; k0 += 4 * BOA_TILE_WORDS) {
        for (uint32_t i = t; i < BOA_TILE * BOA_TILE_WORDS; i += 256) {
            const uint32_t r = i / BOA_TILE_WORDS;
            const uint32_t k = k0 + 4 * (i % BOA_TILE_WORDS);
            ws[r][i % BOA_TILE_WORDS] =
                row0 + r < rows ? boa_pack4(W + (uint64_t)(row0 + r) * K, k, K) : 0u;
            as[r][i % BOA_TILE_WORDS] =
                col0 + r < cols ? boa_pack4(A + (col0 + r) * lda + a_off, k, K) : 0u;
        }
        __syncthreads();
        for (uint32_t w = 0; w < BOA_TILE_WORDS; w++) {
            for (uint32_t i = 0; i < 2; i++) {
                const int32_t wv = boa_u32_bits_i32(ws[tr + 16 * i][w]);
                for (uint32_t j = 0; j < 2; j++) {
                    acc[i][j] = boa_dp4a(wv, boa_u32_bits_i32(as[tc + 16 * j][w]), acc[i][j]);
                }
            }
        }
        __syncthreads();
    }
    for (uint32_t i = 0; i < 2; i++) {
        for (uint32_t j = 0; j < 2; j++) {
            const uint32_t row = row0 + tr + 16 * i;
            const uint64_t col = col0 + tc + 16 * j;
            if (row < rows && col < cols) {
                boa_gemm_store(acc[i][j], row, col, bias, mult, shift, mode, lut, use_lut, out, ldo);
            }
        }
    }
}

// The same product on the int8 tensor cores (boa_mma_s8: exact int32 sums,
// so the same integers as boa_gemm_k). Block tile 64 rows x 32 columns, K
// staged through shared memory 64 bytes at a time; warp w owns rows
// 16 (w % 4) .. + 16 and columns 16 (w / 4) .. + 16 (two 8-column mma tiles),
// two k-steps of 32 bytes per stage. Grid (ceil(rows / 64), ceil(cols / 32)),
// block 256. The weight tile is the mma's row-major A, the activations its
// column-major B: both are rows of bytes along K, as stored.
extern "C" __global__ void boa_gemm_mma_k(const int8_t *W, const int32_t *bias, const int32_t *mult,
                                          const uint8_t *shift, const int8_t *A, uint32_t lda,
                                          uint32_t a_off, uint32_t rows, uint32_t K, uint32_t mode,
                                          const int8_t *lut, uint32_t use_lut, void *out,
                                          uint32_t ldo, uint32_t cols) {
    __shared__ uint32_t ws[2 * BOA_TILE][BOA_TILE_WORDS];
    __shared__ uint32_t as[BOA_TILE][BOA_TILE_WORDS];
    const uint32_t t = threadIdx.x;
    const uint32_t warp = t / 32;
    const uint32_t g = (t % 32) / 4;
    const uint32_t q = t % 4;
    const uint32_t row0 = blockIdx.x * 2 * BOA_TILE;
    const uint64_t col0 = (uint64_t)blockIdx.y * BOA_TILE;
    const uint32_t wr = (warp % 4) * 16;
    const uint32_t wc = (warp / 4) * 16;
    int32_t acc[2][4] = {{0, 0, 0, 0}, {0, 0, 0, 0}};
    for (uint32_t k0 = 0; k0 < K; k0 += 4 * BOA_TILE_WORDS) {
        for (uint32_t i = t; i < 2 * BOA_TILE * BOA_TILE_WORDS; i += 256) {
            const uint32_t r = i / BOA_TILE_WORDS;
            const uint32_t k = k0 + 4 * (i % BOA_TILE_WORDS);
            ws[r][i % BOA_TILE_WORDS] =
                row0 + r < rows ? boa_pack4(W + (uint64_t)(row0 + r) * K, k, K) : 0u;
        }
        for (uint32_t i = t; i < BOA_TILE * BOA_TILE_WORDS; i += 256) {
            const uint32_t r = i / BOA_TILE_WORDS;
            const uint32_t k = k0 + 4 * (i % BOA_TILE_WORDS);
            as[r][i % BOA_TILE_WORDS] =
                col0 + r < cols ? boa_pack4(A + (col0 + r) * lda + a_off, k, K) : 0u;
        }
        __syncthreads();
        for (uint32_t s = 0; s < BOA_TILE_WORDS / 8; s++) {
            const uint32_t w = 8 * s + q;
            const uint32_t a[4] = {ws[wr + g][w], ws[wr + g + 8][w], ws[wr + g][w + 4],
                                   ws[wr + g + 8][w + 4]};
            for (uint32_t nt = 0; nt < 2; nt++) {
                const uint32_t b[2] = {as[wc + 8 * nt + g][w], as[wc + 8 * nt + g][w + 4]};
                boa_mma_s8(acc[nt], a, b, acc[nt]);
            }
        }
        __syncthreads();
    }
    for (uint32_t nt = 0; nt < 2; nt++) {
        for (uint32_t i = 0; i < 4; i++) {
            const uint32_t row = row0 + wr + g + 8 * (i / 2);
            const uint64_t col = col0 + wc + 8 * nt + 2 * q + (i % 2);
            if (row < rows && col < cols) {
                boa_gemm_store(acc[nt][i], row, col, bias, mult, shift, mode, lut, use_lut, out,
                               ldo);
            }
        }
    }
}

// The same product for few columns (decoding a handful of streams), where a
// 32-column tile would be mostly empty: one thread per output, no shared
// memory. Grid-stride over rows * cols, rows fastest.
extern "C" __global__ void boa_gemv_k(const int8_t *W, const int32_t *bias, const int32_t *mult,
                                      const uint8_t *shift, const int8_t *A, uint32_t lda,
                                      uint32_t a_off, uint32_t rows, uint32_t K, uint32_t mode,
                                      const int8_t *lut, uint32_t use_lut, void *out, uint32_t ldo,
                                      uint32_t cols) {
    const uint64_t total = (uint64_t)rows * cols;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t j = (uint32_t)(i % rows);
        const uint64_t c = i / rows;
        const int8_t *w = W + (uint64_t)j * K;
        const int8_t *a = A + c * lda + a_off;
        int32_t acc = 0;
        for (uint32_t k = 0; k < K; k += 4) {
            acc = boa_dp4a(boa_u32_bits_i32(boa_pack4(w, k, K)), boa_u32_bits_i32(boa_pack4(a, k, K)),
                           acc);
        }
        boa_gemm_store(acc, j, c, bias, mult, shift, mode, lut, use_lut, out, ldo);
    }
}

// x[c] = embedding[bytes[c]], grid-stride over cols * d.
extern "C" __global__ void boa_embed_k(const uint8_t *bytes, const int16_t *emb, int16_t *x,
                                       uint32_t d, uint32_t cols) {
    const uint64_t total = (uint64_t)cols * d;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        x[i] = emb[(uint64_t)bytes[i / d] * d + i % d];
    }
}

// Integer layer norm (section 4), one warp per column, 8 columns per block.
// Each lane sums its strided share; the 32 partial sums meet in shared memory
// after a __syncwarp and every lane adds them up (exact sums: int64 for S,
// uint64 for V, bounds in section 9.4).
extern "C" __global__ void boa_layer_norm_k(const int16_t *x, uint32_t d, const int16_t *gamma,
                                            const int32_t *beta, uint32_t shift, uint64_t eps,
                                            int8_t *out, uint32_t cols) {
    __shared__ int64_t part_sum[BOA_WARPS][32];
    __shared__ uint64_t part_sq[BOA_WARPS][32];
    const uint32_t warp = threadIdx.x / 32;
    const uint32_t lane = threadIdx.x % 32;
    const uint64_t c = (uint64_t)blockIdx.x * BOA_WARPS + warp;
    if (c >= cols) {
        return; // the whole warp leaves together
    }
    const int16_t *xs = x + c * d;
    int64_t s = 0;
    for (uint32_t i = lane; i < d; i += 32) {
        s += xs[i];
    }
    part_sum[warp][lane] = s;
    __syncwarp();
    int64_t sum = 0;
    for (uint32_t i = 0; i < 32; i++) {
        sum += part_sum[warp][i];
    }
    const int64_t mean = boa_floor_div(sum, (int64_t)d);
    uint64_t q = 0;
    for (uint32_t i = lane; i < d; i += 32) {
        const int64_t dev = (int64_t)xs[i] - mean;
        q += (uint64_t)(dev * dev);
    }
    part_sq[warp][lane] = q;
    __syncwarp();
    uint64_t sq = 0;
    for (uint32_t i = 0; i < 32; i++) {
        sq += part_sq[warp][i];
    }
    const uint64_t inv = boa_ln_inv(sq, d, eps);
    for (uint32_t i = lane; i < d; i += 32) {
        out[c * d + i] = boa_ln_out((int64_t)xs[i] - mean, inv, gamma[i], beta[i], shift);
    }
}

// Conv step (section 5) and its SiLU table, one thread per (stream, channel),
// walking the stream's t positions in order. xs = xz[c][0..E] (row stride
// 2E); the window [n, 3, E] is updated in place (each thread owns its
// channel). Streams with active[s] == 0 are left alone.
extern "C" __global__ void boa_conv_k(const int8_t *xz, int8_t *window, const int8_t *weight,
                                      const int32_t *bias, const int32_t *mult, const uint8_t *shift,
                                      const int8_t *silu, int8_t *xc, const uint8_t *active,
                                      uint32_t E, uint32_t n, uint32_t t) {
    const uint64_t total = (uint64_t)n * E;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint64_t s = i / E;
        const uint32_t e = (uint32_t)(i % E);
        if (!active[s]) {
            continue;
        }
        int8_t *win = window + s * (BOA_D_CONV - 1) * E;
        const int8_t *w = weight + (uint64_t)e * BOA_D_CONV;
        for (uint32_t k = 0; k < t; k++) {
            const uint64_t c = s * t + k;
            const int8_t xs = xz[c * 2 * E + e];
            // |acc| <= |bias| + 4 * 127^2: the loader's conv bound (section 9.1).
            int32_t acc = bias[e];
            for (uint32_t j = 0; j < BOA_D_CONV - 1; j++) {
                acc += (int32_t)w[j] * (int32_t)win[(uint64_t)j * E + e];
            }
            acc += (int32_t)w[BOA_D_CONV - 1] * (int32_t)xs;
            const int8_t v = boa_requant_q8(acc, mult[e], shift[e]);
            for (uint32_t j = 0; j + 1 < BOA_D_CONV - 1; j++) {
                win[(uint64_t)j * E + e] = win[(uint64_t)(j + 1) * E + e];
            }
            win[(uint64_t)(BOA_D_CONV - 2) * E + e] = xs;
            xc[c * E + e] = silu[boa_lut_index(v)];
        }
    }
}

// Softplus table, selective scan (section 6), y requant and gate, one thread
// per (stream, channel) walking the stream's t positions in order. xdbl is
// [cols, X] with B at column R and C at R + 16; z = xz[c][E + e]. The state
// h [n, E, 16] of a channel is owned by its thread and kept in registers over
// the t positions. g [cols, E] is the gated output.
extern "C" __global__ void boa_scan_k(const int8_t *xc, const int8_t *dt8, const uint16_t *softplus,
                                      const int8_t *xdbl, uint32_t X, uint32_t R,
                                      const uint16_t *a_rate, uint32_t a_shift, uint32_t inc_shift,
                                      uint32_t min_v, int32_t inc_max, const int32_t *d_skip,
                                      const uint16_t *decay_table, int32_t *h,
                                      const int32_t *y_mult, const uint8_t *y_shift,
                                      const int8_t *xz, const int8_t *gate_silu,
                                      const int32_t *g_mult, const uint8_t *g_shift, int8_t *g,
                                      const uint8_t *active, uint32_t E, uint32_t n, uint32_t t) {
    const uint64_t total = (uint64_t)n * E;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint64_t s = i / E;
        const uint32_t e = (uint32_t)(i % E);
        if (!active[s]) {
            continue;
        }
        int32_t hs[BOA_D_STATE];
        int32_t *hp = h + i * BOA_D_STATE;
        for (int j = 0; j < BOA_D_STATE; j++) {
            hs[j] = hp[j];
        }
        for (uint32_t k = 0; k < t; k++) {
            const uint64_t c = s * t + k;
            const int8_t *b = xdbl + c * X + R;
            const uint32_t dt = softplus[boa_lut_index(dt8[c * E + e])];
            const int64_t yacc =
                boa_scan_channel(hs, dt, xc[c * E + e], b, b + BOA_D_STATE,
                                 a_rate + (uint64_t)e * BOA_D_STATE, a_shift, inc_shift, min_v,
                                 (int64_t)inc_max, d_skip[e], decay_table);
            const int8_t y = boa_requant_q8(yacc, y_mult[e], y_shift[e]);
            const int8_t zs = gate_silu[boa_lut_index(xz[c * 2 * E + E + e])];
            g[c * E + e] = boa_requant_q8((int64_t)y * (int64_t)zs, g_mult[e], g_shift[e]);
        }
        for (int j = 0; j < BOA_D_STATE; j++) {
            hp[j] = hs[j];
        }
    }
}

// Head input: u[c][j] = clamp_q8(requant(x[c][j], mult[j], shift[j])).
extern "C" __global__ void boa_head_in_k(const int16_t *x, const int32_t *mult, const uint8_t *shift,
                                         int8_t *u, uint32_t d, uint32_t cols) {
    const uint64_t total = (uint64_t)cols * d;
    for (uint64_t i = (uint64_t)blockIdx.x * blockDim.x + threadIdx.x; i < total;
         i += (uint64_t)gridDim.x * blockDim.x) {
        const uint32_t j = (uint32_t)(i % d);
        u[i] = boa_requant_q8(x[i], mult[j], shift[j]);
    }
}

// Logits to frequencies (section 7), one warp per column, 8 columns per
// block; lane l owns symbols l, l + 32, ..., l + 224. Four exact reductions
// through shared memory, each after a __syncwarp: the max, the smallest
// symbol holding it, the sum of weights (uint64) and the sum of frequencies.
extern "C" __global__ void boa_freqs_k(const int32_t *logits, const uint32_t *exp2, uint32_t *freqs,
                                       uint32_t cols) {
    __shared__ int32_t r_max[BOA_WARPS][32];
    __shared__ uint32_t r_first[BOA_WARPS][32];
    __shared__ uint64_t r_weight[BOA_WARPS][32];
    __shared__ uint32_t r_freq[BOA_WARPS][32];
    const uint32_t warp = threadIdx.x / 32;
    const uint32_t lane = threadIdx.x % 32;
    const uint64_t c = (uint64_t)blockIdx.x * BOA_WARPS + warp;
    if (c >= cols) {
        return; // the whole warp leaves together
    }
    const int32_t *l = logits + c * 256;
    int32_t m = l[lane];
    for (uint32_t i = lane + 32; i < 256; i += 32) {
        m = l[i] > m ? l[i] : m;
    }
    r_max[warp][lane] = m;
    __syncwarp();
    for (uint32_t i = 0; i < 32; i++) {
        m = r_max[warp][i] > m ? r_max[warp][i] : m;
    }
    uint32_t first = 256;
    for (uint32_t i = lane; i < 256; i += 32) {
        if (l[i] == m && i < first) {
            first = i;
        }
    }
    r_first[warp][lane] = first;
    __syncwarp();
    for (uint32_t i = 0; i < 32; i++) {
        first = r_first[warp][i] < first ? r_first[warp][i] : first;
    }
    uint64_t wsum = 0;
    for (uint32_t i = lane; i < 256; i += 32) {
        wsum += boa_freq_weight(l[i], m, exp2);
    }
    r_weight[warp][lane] = wsum;
    __syncwarp();
    uint64_t total = 0;
    for (uint32_t i = 0; i < 32; i++) {
        total += r_weight[warp][i];
    }
    const uint64_t scale = boa_freq_scale(total);
    uint32_t fsum = 0;
    for (uint32_t i = lane; i < 256; i += 32) {
        fsum += boa_freq_of(boa_freq_weight(l[i], m, exp2), scale);
    }
    r_freq[warp][lane] = fsum;
    __syncwarp();
    uint32_t ftotal = 0;
    for (uint32_t i = 0; i < 32; i++) {
        ftotal += r_freq[warp][i];
    }
    for (uint32_t i = lane; i < 256; i += 32) {
        const uint32_t f = boa_freq_of(boa_freq_weight(l[i], m, exp2), scale);
        freqs[c * 256 + i] = i == first ? f + (BOA_FREQ_TOTAL - ftotal) : f;
    }
}
