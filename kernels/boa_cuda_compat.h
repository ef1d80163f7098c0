/*
 * boa_cuda_compat.h: the one place where the kernels meet the machine.
 *
 * Every .cu file includes this header first. Under nvcc it maps the boa_*
 * intrinsic names onto the CUDA intrinsics; on a host C++ compiler it pulls
 * in the SIMT emulator (emulator/boa_emu.h), which defines the CUDA built-ins
 * the kernels use (thread and block indices, __syncthreads, __syncwarp, warp
 * shuffles and votes, __shared__, atomics) as plain C++. The kernels
 * themselves contain no inline assembly and no #ifdef on the target, so the
 * code that the emulator runs in CI is the code nvcc compiles for the GPU.
 *
 * Intrinsics with exact integer semantics only:
 *   boa_dp4a(a, b, c)   c + sum of the four signed byte products of a and b
 *                       (the caller proves that the int32 sum cannot overflow)
 *   boa_mma_s8(d, a, b, c)
 *                       the warp's int8 tensor-core product
 *                       mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32:
 *                       D = A B + C, A 16 x 32, B 32 x 8, exact int32 sums
 *                       (the caller proves that they cannot overflow; the
 *                       fragment layout is spelled out in emulator/boa_emu.h).
 *                       Every lane of the warp must call it together.
 */
#ifndef BOA_CUDA_COMPAT_H
#define BOA_CUDA_COMPAT_H

#include <stdint.h>

#ifdef __CUDACC__

#define BOA_DEVICE __device__ __forceinline__

BOA_DEVICE int32_t boa_dp4a(int32_t a, int32_t b, int32_t c) { return __dp4a(a, b, c); }

BOA_DEVICE void boa_mma_s8(int32_t d[4], const uint32_t a[4], const uint32_t b[2],
                           const int32_t c[4]) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 "
                 "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%10, %11, %12, %13};\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]),
                   "r"(c[0]), "r"(c[1]), "r"(c[2]), "r"(c[3]));
}

#else /* host C++: the SIMT emulator */

#include "emulator/boa_emu.h"

#define BOA_DEVICE static inline

/* The signed bytes of a word: bits to int8 by C++20's modular conversion. */
static inline int32_t boa_dp4a(int32_t a, int32_t b, int32_t c) {
    const uint32_t ua = (uint32_t)a;
    const uint32_t ub = (uint32_t)b;
    int32_t s = c;
    for (uint32_t i = 0; i < 32; i += 8) {
        s += (int32_t)(int8_t)(uint8_t)(ua >> i) * (int32_t)(int8_t)(uint8_t)(ub >> i);
    }
    return s;
}

static inline void boa_mma_s8(int32_t d[4], const uint32_t a[4], const uint32_t b[2],
                              const int32_t c[4]) {
    boa_emu_mma_s8_m16n8k32(d, a, b, c);
}

#endif

#endif /* BOA_CUDA_COMPAT_H */
