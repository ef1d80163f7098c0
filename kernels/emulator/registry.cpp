/*
 * registry.cpp: the kernels of kernels/ (every .cu file) compiled for the host, and the
 * C entry points through which Rust launches them on the SIMT emulator
 * (src/engine/cuda/emulator.rs).
 *
 * Each kernel is listed once, below. Its parameter list is read from the
 * function's own type (a template over its parameter types), so the
 * signature that Rust checks its launch arguments against is the kernel's
 * real one; tests/cuda_signatures.rs checks the same list against the
 * .entry declarations of the committed PTX.
 */
#include "../boa_forward.cu"
#include "../boa_coder.cu"

#include <stddef.h>
#include <string.h>

#include <string>
#include <type_traits>
#include <utility>

namespace boa_emu {
int launch(void (*invoke)(void (*)(), void **), void (*kernel)(), const uint32_t grid[3],
           const uint32_t block[3], void **args, uint32_t schedule, uint64_t seed, char *err,
           size_t err_len);
}

namespace {

/* The code of one parameter type, as tests/cuda_signatures.rs spells it. */
template <typename T> const char *param_code() {
    if constexpr (std::is_pointer<T>::value) {
        return "ptr";
    } else {
        static_assert(std::is_integral<T>::value, "kernel parameters are pointers or integers");
        switch (sizeof(T)) {
        case 1:
            return std::is_signed<T>::value ? "s8" : "u8";
        case 2:
            return std::is_signed<T>::value ? "s16" : "u16";
        case 4:
            return std::is_signed<T>::value ? "s32" : "u32";
        default:
            return std::is_signed<T>::value ? "s64" : "u64";
        }
    }
}

template <typename... A> struct Kernel {
    /* Calls the kernel with each argument read from the bytes args[i] points
     * to (the Rust side passes exactly sizeof(A_i) bytes, checked against
     * signature()). */
    template <size_t... I> static void call(void (*k)(A...), void **args, std::index_sequence<I...>) {
        k(read<A>(args[I])...);
    }
    template <typename T> static T read(const void *p) {
        T v;
        memcpy(&v, p, sizeof(T));
        return v;
    }
    static void invoke(void (*raw)(), void **args) {
        call(reinterpret_cast<void (*)(A...)>(raw), args, std::index_sequence_for<A...>{});
    }
    static const char *signature() {
        static const std::string s = [] {
            std::string out;
            const char *codes[] = {param_code<A>()..., nullptr};
            for (size_t i = 0; codes[i] != nullptr; i++) {
                if (i > 0) {
                    out += ',';
                }
                out += codes[i];
            }
            return out;
        }();
        return s.c_str();
    }
};

struct Entry {
    const char *name;
    void (*kernel)();
    void (*invoke)(void (*)(), void **);
    const char *(*signature)();
};

template <typename... A> Entry entry(const char *name, void (*k)(A...)) {
    return Entry{name, reinterpret_cast<void (*)()>(k), &Kernel<A...>::invoke,
                 &Kernel<A...>::signature};
}

#define BOA_EMU_KERNEL(k) entry(#k, k)

const Entry ENTRIES[] = {
    BOA_EMU_KERNEL(boa_gemm_k),       BOA_EMU_KERNEL(boa_gemm_mma_k),
    BOA_EMU_KERNEL(boa_gemv_k),
    BOA_EMU_KERNEL(boa_embed_k),      BOA_EMU_KERNEL(boa_layer_norm_k),
    BOA_EMU_KERNEL(boa_conv_k),       BOA_EMU_KERNEL(boa_scan_k),
    BOA_EMU_KERNEL(boa_head_in_k),    BOA_EMU_KERNEL(boa_freqs_k),
    BOA_EMU_KERNEL(boa_enc_init_k),   BOA_EMU_KERNEL(boa_enc_step_k),
    BOA_EMU_KERNEL(boa_enc_finish_k), BOA_EMU_KERNEL(boa_dec_init_k),
    BOA_EMU_KERNEL(boa_dec_step_k),   BOA_EMU_KERNEL(boa_dec_finish_k),
};

const size_t N_ENTRIES = sizeof(ENTRIES) / sizeof(ENTRIES[0]);

} // namespace

extern "C" size_t boa_emu_kernel_count(void) { return N_ENTRIES; }

extern "C" const char *boa_emu_kernel_name(size_t i) { return i < N_ENTRIES ? ENTRIES[i].name : nullptr; }

extern "C" const char *boa_emu_kernel_signature(size_t i) {
    return i < N_ENTRIES ? ENTRIES[i].signature() : nullptr;
}

/* Launches kernel `i` over grid x block with `args` (one pointer per
 * parameter). schedule: 0 threads in order, 1 reversed, 2 a seeded random
 * permutation per round. Returns 0, or 1 with a message in err. */
extern "C" int boa_emu_launch(size_t i, const uint32_t grid[3], const uint32_t block[3], void **args,
                              uint32_t schedule, uint64_t seed, char *err, size_t err_len) {
    if (i >= N_ENTRIES) {
        snprintf(err, err_len, "no kernel %zu", i);
        return 1;
    }
    return boa_emu::launch(ENTRIES[i].invoke, ENTRIES[i].kernel, grid, block, args, schedule, seed,
                           err, err_len);
}
