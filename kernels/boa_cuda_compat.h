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
 */
#ifndef BOA_CUDA_COMPAT_H
#define BOA_CUDA_COMPAT_H

#include <stdint.h>

#ifdef __CUDACC__

#define BOA_DEVICE __device__ __forceinline__

BOA_DEVICE int32_t boa_dp4a(int32_t a, int32_t b, int32_t c) { return __dp4a(a, b, c); }

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

#endif

#endif /* BOA_CUDA_COMPAT_H */
