/*
 * boa_emu.h: the CUDA built-ins for a host C++ compiler (the SIMT emulator).
 *
 * Included by boa_cuda_compat.h when __CUDACC__ is not defined. A launch runs
 * its blocks one after another; the threads of a block are fibers that switch
 * only at __syncthreads, __syncwarp and the warp shuffles and votes, so a
 * thread runs straight through everything in between. The scheduler
 * (boa_emu.cpp) resumes the runnable threads of a block in a chosen order
 * (in order, reversed, or a seeded random permutation per round), so code that
 * depends on the order of threads between two barriers (a race) gives
 * different results under different schedules. docs/CUDA.md, "The SIMT
 * emulator", describes the rules it enforces.
 *
 * Host-only code: the kernels must not use anything here but the CUDA names.
 */
#ifndef BOA_EMU_H
#define BOA_EMU_H

#include <stdint.h>
#include <string.h>

struct boa_emu_dim3 {
    uint32_t x, y, z;
};

namespace boa_emu {

/* The running CUDA thread's indices and the launch's shape. */
const boa_emu_dim3 &thread_idx();
const boa_emu_dim3 &block_idx();
const boa_emu_dim3 &block_dim();
const boa_emu_dim3 &grid_dim();

/* Waits until every thread of the block that has not exited is at a
 * __syncthreads. */
void sync_block();

enum WarpOp : uint32_t { WARP_SYNC = 1, WARP_SHFL = 2, WARP_VOTE = 3, WARP_MMA = 4 };

/* Waits until every lane of `mask` is at the same warp operation (same kind,
 * same mask, same count of warp operations so far), each having deposited
 * `value`; returns the 32 deposited values, indexed by lane (valid until
 * this lane's next warp operation). A lane of `mask` that has exited, or a
 * mask naming a lane that does not exist, is a launch error. */
const uint64_t *warp_exchange(uint32_t kind, uint32_t mask, uint64_t value);

/* Like warp_exchange, for up to 8 32-bit words per lane: returns the words
 * of all 32 lanes, [lane][i] (valid until this lane's next warp operation). */
typedef uint32_t LaneWords[8];
const LaneWords *warp_exchange_words(uint32_t kind, uint32_t mask, const uint32_t *words,
                                     uint32_t n);

/* This thread's lane in its warp (linear thread index mod 32). */
uint32_t lane();

template <typename T> inline uint64_t to_bits(T v) {
    static_assert(sizeof(T) <= 8, "warp shuffles move at most 64 bits");
    uint64_t u = 0;
    memcpy(&u, &v, sizeof(T));
    return u;
}

template <typename T> inline T from_bits(uint64_t u) {
    T v;
    memcpy(&v, &u, sizeof(T));
    return v;
}

/* The source lane of a shuffle inside its `width`-lane segment; a source
 * outside the segment gives the lane's own value (CUDA semantics). */
template <typename T> inline T shfl(uint32_t mask, T v, uint32_t src, bool keep_own) {
    const uint64_t *slots = warp_exchange(WARP_SHFL, mask, to_bits(v));
    return keep_own ? v : from_bits<T>(slots[src]);
}

} // namespace boa_emu

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
/* One block runs at a time (launches are serialized), so a function-local
 * static is exactly the block's shared memory. */
#define __shared__ static

#define threadIdx (boa_emu::thread_idx())
#define blockIdx (boa_emu::block_idx())
#define blockDim (boa_emu::block_dim())
#define gridDim (boa_emu::grid_dim())
#define warpSize 32

inline void __syncthreads() { boa_emu::sync_block(); }

inline void __syncwarp(uint32_t mask = 0xFFFFFFFFu) {
    (void)boa_emu::warp_exchange(boa_emu::WARP_SYNC, mask, 0);
}

template <typename T> inline T __shfl_sync(uint32_t mask, T v, int src, int width = 32) {
    const uint32_t w = (uint32_t)width;
    const uint32_t base = boa_emu::lane() & ~(w - 1u);
    return boa_emu::shfl(mask, v, base + ((uint32_t)src & (w - 1u)), false);
}

template <typename T> inline T __shfl_down_sync(uint32_t mask, T v, uint32_t delta, int width = 32) {
    const uint32_t w = (uint32_t)width;
    const uint32_t l = boa_emu::lane();
    const uint32_t in_seg = l & (w - 1u);
    return boa_emu::shfl(mask, v, l + delta, in_seg + delta >= w);
}

template <typename T> inline T __shfl_up_sync(uint32_t mask, T v, uint32_t delta, int width = 32) {
    const uint32_t w = (uint32_t)width;
    const uint32_t l = boa_emu::lane();
    const uint32_t in_seg = l & (w - 1u);
    return boa_emu::shfl(mask, v, l - delta, in_seg < delta);
}

template <typename T> inline T __shfl_xor_sync(uint32_t mask, T v, int lane_mask, int width = 32) {
    const uint32_t w = (uint32_t)width;
    const uint32_t l = boa_emu::lane();
    const uint32_t src = l ^ (uint32_t)lane_mask;
    return boa_emu::shfl(mask, v, src, (src & ~(w - 1u)) != (l & ~(w - 1u)));
}

inline uint32_t __ballot_sync(uint32_t mask, int pred) {
    const uint64_t *slots = boa_emu::warp_exchange(boa_emu::WARP_VOTE, mask, pred != 0);
    uint32_t b = 0;
    for (uint32_t i = 0; i < 32; i++) {
        if (((mask >> i) & 1u) != 0 && slots[i] != 0) {
            b |= 1u << i;
        }
    }
    return b;
}

inline int __all_sync(uint32_t mask, int pred) { return __ballot_sync(mask, pred) == mask; }
inline int __any_sync(uint32_t mask, int pred) { return __ballot_sync(mask, pred) != 0; }

/* mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 for the warp: d = A B + c
 * with A 16 x 32 and B 32 x 8 int8, exact int32 sums. The fragment layout
 * of the PTX ISA (g = lane / 4, t = lane % 4; bytes little-endian in each
 * word): a[0] = A[g][4t..4t+3], a[1] = A[g+8][4t..], a[2] = A[g][4t+16..],
 * a[3] = A[g+8][4t+16..]; b[0] = B[4t..4t+3][g], b[1] = B[4t+16..][g];
 * d[0], d[1] = D[g][2t], D[g][2t+1]; d[2], d[3] = D[g+8][2t], D[g+8][2t+1].
 * Every lane of the warp must take part. */
inline void boa_emu_mma_s8_m16n8k32(int32_t d[4], const uint32_t a[4], const uint32_t b[2],
                                    const int32_t c[4]) {
    const uint32_t mine[6] = {a[0], a[1], a[2], a[3], b[0], b[1]};
    const boa_emu::LaneWords *all =
        boa_emu::warp_exchange_words(boa_emu::WARP_MMA, 0xFFFFFFFFu, mine, 6);
    const uint32_t g = boa_emu::lane() / 4, t = boa_emu::lane() % 4;
    for (uint32_t i = 0; i < 4; i++) {
        /* Row g (i < 2) or g + 8 of A: its 32 bytes are register (i / 2) and
         * (i / 2) + 2 of lanes 4g..4g+3. Column n of B: registers 4 and 5 of
         * lanes 4n..4n+3. */
        const uint32_t reg = i / 2, n = 2 * t + (i % 2);
        int32_t acc = c[i];
        for (uint32_t u = 0; u < 4; u++) {
            for (uint32_t h = 0; h < 2; h++) {
                const uint32_t aw = all[4 * g + u][reg + 2 * h];
                const uint32_t bw = all[4 * n + u][4 + h];
                for (uint32_t k = 0; k < 32; k += 8) {
                    acc += (int32_t)(int8_t)(uint8_t)(aw >> k) * (int32_t)(int8_t)(uint8_t)(bw >> k);
                }
            }
        }
        d[i] = acc;
    }
}

/* Atomics: threads never run at the same time, so a plain read-modify-write
 * is atomic; the return value is the old one, as in CUDA. */
template <typename T> inline T atomicAdd(T *p, T v) {
    const T old = *p;
    *p = (T)(old + v);
    return old;
}
template <typename T> inline T atomicMax(T *p, T v) {
    const T old = *p;
    *p = old < v ? v : old;
    return old;
}
template <typename T> inline T atomicMin(T *p, T v) {
    const T old = *p;
    *p = v < old ? v : old;
    return old;
}
template <typename T> inline T atomicCAS(T *p, T cmp, T v) {
    const T old = *p;
    if (old == cmp) {
        *p = v;
    }
    return old;
}
template <typename T> inline T atomicExch(T *p, T v) {
    const T old = *p;
    *p = v;
    return old;
}

#endif /* BOA_EMU_H */
