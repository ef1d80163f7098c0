// boa_coder.cu: batched range encoder and decoder (docs/FORMAT.md section 9,
// 64-bit range with one carry bit), one stream per thread. The coder state of
// stream s lives in st[s] (structs from boa_coder.h, the same layout on host
// and device: boa_enc_t 56 bytes, boa_dec_t 40 bytes, 8-byte aligned). Each
// launch codes one symbol per active stream; the per-stream work is
// sequential, so the output is the exact byte sequence the scalar coder (and
// src/coder) produces.
#include "boa_cuda_compat.h"
#include "boa_coder.h"

extern "C" __global__ void boa_enc_init_k(boa_enc_t *st, uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S) {
        boa_enc_init(&st[s]);
    }
}

// Encode syms[s] with freqs[s] (256 entries) for every s with active[s] != 0.
// Stream s writes into out[s * cap ..][0..cap]; st[s].overflow reports a
// buffer that was too small (st[s].pos still counts every byte) and
// st[s].bad_table a symbol skipped for an invalid table.
extern "C" __global__ void boa_enc_step_k(boa_enc_t *st, const uint32_t *freqs, const uint8_t *syms,
                                          const uint8_t *active, uint8_t *out, uint64_t cap, uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S && active[s]) {
        boa_enc_symbol(&st[s], freqs + (uint64_t)s * 256, syms[s], out + (uint64_t)s * cap, cap);
    }
}

extern "C" __global__ void boa_enc_finish_k(boa_enc_t *st, uint8_t *out, uint64_t cap, uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S) {
        boa_enc_finish(&st[s], out + (uint64_t)s * cap, cap);
    }
}

// Stream s reads in[in_off[s] .. in_off[s] + in_len[s]].
extern "C" __global__ void boa_dec_init_k(boa_dec_t *st, const uint8_t *in, const uint64_t *in_off,
                                          const uint64_t *in_len, uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S) {
        boa_dec_init(&st[s], in + in_off[s], in_len[s]);
    }
}

// Decode one symbol per active stream into syms[s]; 256 = an error, whose
// kind (BOA_DEC_*) and position are in st[s].error / st[s].err_pos.
extern "C" __global__ void boa_dec_step_k(boa_dec_t *st, const uint32_t *freqs, const uint8_t *in,
                                          const uint64_t *in_off, const uint64_t *in_len,
                                          const uint8_t *active, uint16_t *syms, uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S && active[s]) {
        syms[s] = (uint16_t)boa_dec_symbol(&st[s], freqs + (uint64_t)s * 256, in + in_off[s], in_len[s]);
    }
}

// After the last symbol: the exact-consumption rule; status[s] = BOA_DEC_OK
// (0) iff stream s decoded without error and was read exactly to its end.
extern "C" __global__ void boa_dec_finish_k(boa_dec_t *st, const uint64_t *in_len, uint32_t *status,
                                            uint32_t S) {
    const uint32_t s = blockIdx.x * blockDim.x + threadIdx.x;
    if (s < S) {
        status[s] = boa_dec_finish(&st[s], in_len[s]);
    }
}
