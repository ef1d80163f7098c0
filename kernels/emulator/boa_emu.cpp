/*
 * boa_emu.cpp: the SIMT emulator's scheduler (see boa_emu.h).
 *
 * Each CUDA thread of a block runs on a fiber: a pooled stack whose entry
 * loop runs one thread's kernel call at a time. Fibers are created once with
 * makecontext and switched with _setjmp/_longjmp, which save only the
 * callee-saved registers (no signal-mask system call), so a switch costs
 * tens of nanoseconds. A thread switches back to the scheduler only when it
 * waits (a block barrier or a warp operation) or exits.
 *
 * The scheduler runs rounds: each round resumes every runnable thread once,
 * in the order of the schedule; then it releases the warps whose lanes are
 * all at the same warp operation and, when every thread that has not exited
 * waits at __syncthreads, the block. A round that can neither run nor
 * release anything is a deadlock (a barrier inside divergent code, a warp
 * operation a lane never reaches), reported as a launch error.
 *
 * Launches are serialized by one mutex: the emulator is a test device, and
 * one block at a time is what makes a function-local static exactly the
 * block's shared memory.
 */
#undef _FORTIFY_SOURCE /* its longjmp check rejects jumps between stacks */
#include "boa_emu.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <mutex>
#include <string>
#include <vector>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BOA_EMU_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define BOA_EMU_ASAN 1
#endif
#ifdef BOA_EMU_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace boa_emu {

enum State : uint8_t { RUNNABLE, WAIT_BLOCK, WAIT_WARP, DONE };

struct Thread;

struct Fiber {
    ucontext_t uc;
    jmp_buf jb;
    char *stack;
    size_t size;
    Thread *job;
    void *asan_fake;
};

struct Thread {
    boa_emu_dim3 idx;
    uint32_t lin;
    State state;
    Fiber *fiber;
    /* Warp operations done so far, and the one waited on. */
    uint32_t warp_ops;
    uint32_t wait_kind;
    uint32_t wait_mask;
};

struct Warp {
    uint64_t slots[2][32];
    LaneWords words[2][32];
};

struct Launch {
    boa_emu_dim3 grid, block, bidx;
    void (*invoke)(void (*)(), void **);
    void (*kernel)();
    void **args;
    std::vector<Thread> threads;
    std::vector<Warp> warps;
    std::string error;
};

static const size_t STACK_BYTES = (size_t)1 << 20; /* reserved, touched on use */
static Launch *g_launch;
static Thread *g_current;
static jmp_buf g_sched_jb;
static Fiber *g_starting;
static std::vector<Fiber *> g_pool;
#ifdef BOA_EMU_ASAN
static void *g_sched_fake;
static const void *g_sched_bottom;
static size_t g_sched_size;
#endif

const boa_emu_dim3 &thread_idx() { return g_current->idx; }
const boa_emu_dim3 &block_idx() { return g_launch->bidx; }
const boa_emu_dim3 &block_dim() { return g_launch->block; }
const boa_emu_dim3 &grid_dim() { return g_launch->grid; }
uint32_t lane() { return g_current->lin % 32u; }

/* From a fiber to the scheduler; returns when the scheduler resumes it. */
static void to_scheduler(Fiber *f, bool finished) {
    if (_setjmp(f->jb) == 0) {
#ifdef BOA_EMU_ASAN
        __sanitizer_start_switch_fiber(finished ? nullptr : &f->asan_fake, g_sched_bottom,
                                       g_sched_size);
#else
        (void)finished;
#endif
        _longjmp(g_sched_jb, 1);
    }
#ifdef BOA_EMU_ASAN
    __sanitizer_finish_switch_fiber(f->asan_fake, &g_sched_bottom, &g_sched_size);
#endif
}

/* From the scheduler into fiber `f` (at its entry loop or where it waited). */
static void to_fiber(Fiber *f) {
    if (_setjmp(g_sched_jb) == 0) {
#ifdef BOA_EMU_ASAN
        __sanitizer_start_switch_fiber(&g_sched_fake, f->stack, f->size);
#endif
        _longjmp(f->jb, 1);
    }
#ifdef BOA_EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, nullptr, nullptr);
#endif
}

static void fiber_main() {
    Fiber *f = g_starting;
#ifdef BOA_EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &g_sched_bottom, &g_sched_size);
#endif
    bool finished = false;
    for (;;) {
        to_scheduler(f, finished);
        g_launch->invoke(g_launch->kernel, g_launch->args);
        f->job->state = DONE;
        finished = true;
    }
}

/* (Re)starts fiber `f` at its entry loop, leaving it parked there. */
static void start_fiber(Fiber *f) {
    getcontext(&f->uc);
    f->uc.uc_stack.ss_sp = f->stack;
    f->uc.uc_stack.ss_size = f->size;
    f->uc.uc_link = nullptr;
    makecontext(&f->uc, fiber_main, 0);
    g_starting = f;
    if (_setjmp(g_sched_jb) == 0) {
#ifdef BOA_EMU_ASAN
        __sanitizer_start_switch_fiber(&g_sched_fake, f->stack, f->size);
#endif
        setcontext(&f->uc);
    }
#ifdef BOA_EMU_ASAN
    __sanitizer_finish_switch_fiber(g_sched_fake, nullptr, nullptr);
#endif
}

static Fiber *take_fiber() {
    if (!g_pool.empty()) {
        Fiber *f = g_pool.back();
        g_pool.pop_back();
        return f;
    }
    Fiber *f = new Fiber();
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *mem = mmap(nullptr, STACK_BYTES + page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED) {
        fprintf(stderr, "boa_emu: cannot map a fiber stack\n");
        abort();
    }
    /* A guard page below the stack turns an overflow into a fault. */
    mprotect(mem, page, PROT_NONE);
    f->stack = (char *)mem + page;
    f->size = STACK_BYTES;
    f->asan_fake = nullptr;
    start_fiber(f);
    return f;
}

void sync_block() {
    Thread *t = g_current;
    t->state = WAIT_BLOCK;
    to_scheduler(t->fiber, false);
}

/* Parks the running thread at a warp operation until its warp is released
 * (release_warps). */
static void wait_warp(Thread *t, uint32_t kind, uint32_t mask) {
    t->wait_kind = kind;
    t->wait_mask = mask;
    t->state = WAIT_WARP;
    to_scheduler(t->fiber, false);
    t->warp_ops++;
}

const uint64_t *warp_exchange(uint32_t kind, uint32_t mask, uint64_t value) {
    Thread *t = g_current;
    Warp &w = g_launch->warps[t->lin / 32u];
    const uint32_t parity = t->warp_ops & 1u;
    w.slots[parity][t->lin % 32u] = value;
    wait_warp(t, kind, mask);
    return w.slots[parity];
}

const LaneWords *warp_exchange_words(uint32_t kind, uint32_t mask, const uint32_t *words,
                                     uint32_t n) {
    Thread *t = g_current;
    Warp &w = g_launch->warps[t->lin / 32u];
    const uint32_t parity = t->warp_ops & 1u;
    for (uint32_t i = 0; i < n && i < 8; i++) {
        w.words[parity][t->lin % 32u][i] = words[i];
    }
    wait_warp(t, kind, mask);
    return w.words[parity];
}

static uint64_t splitmix(uint64_t &s) {
    s += 0x9E3779B97F4A7C15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void make_order(std::vector<uint32_t> &order, uint32_t schedule, uint64_t seed, uint64_t round) {
    const uint32_t n = (uint32_t)order.size();
    for (uint32_t i = 0; i < n; i++) {
        order[i] = schedule == 1 ? n - 1 - i : i;
    }
    if (schedule == 2) {
        uint64_t s = seed ^ (round * 0xD1B54A32D192ED03ull);
        for (uint32_t i = n; i > 1; i--) {
            const uint32_t j = (uint32_t)(splitmix(s) % i);
            const uint32_t tmp = order[i - 1];
            order[i - 1] = order[j];
            order[j] = tmp;
        }
    }
}

/* Releases the warps whose waiting lanes all name the same, complete mask.
 * Returns whether any lane was released; sets the launch error on a mask
 * that names a lane that has exited or does not exist. */
static bool release_warps(Launch &L) {
    bool released = false;
    const uint32_t n = (uint32_t)L.threads.size();
    for (uint32_t base = 0; base < n; base += 32) {
        const uint32_t lanes = n - base < 32 ? n - base : 32;
        for (uint32_t i = 0; i < lanes; i++) {
            Thread &t = L.threads[base + i];
            if (t.state != WAIT_WARP) {
                continue;
            }
            const uint32_t mask = t.wait_mask;
            if ((mask >> i & 1u) == 0) {
                L.error = "a warp operation whose mask leaves out the calling lane";
                return false;
            }
            bool ready = true;
            for (uint32_t j = 0; j < 32 && ready; j++) {
                if ((mask >> j & 1u) == 0) {
                    continue;
                }
                if (j >= lanes) {
                    L.error = "a warp operation's mask names a lane the block does not have";
                    return false;
                }
                const Thread &u = L.threads[base + j];
                if (u.state == DONE) {
                    L.error = "a warp operation's mask names a lane that has exited";
                    return false;
                }
                if (u.state != WAIT_WARP) {
                    ready = false;
                } else if (u.wait_mask != mask || u.wait_kind != t.wait_kind ||
                           u.warp_ops != t.warp_ops) {
                    L.error = "the lanes of a warp wait at different warp operations";
                    return false;
                }
            }
            if (ready) {
                for (uint32_t j = 0; j < 32; j++) {
                    if ((mask >> j & 1u) != 0) {
                        L.threads[base + j].state = RUNNABLE;
                    }
                }
                released = true;
            }
        }
    }
    return released;
}

static bool run_block(Launch &L, uint32_t schedule, uint64_t seed) {
    const uint32_t n = L.block.x * L.block.y * L.block.z;
    L.threads.assign(n, Thread());
    L.warps.assign((n + 31) / 32, Warp());
    for (uint32_t i = 0; i < n; i++) {
        Thread &t = L.threads[i];
        t.lin = i;
        t.idx = {i % L.block.x, (i / L.block.x) % L.block.y, i / (L.block.x * L.block.y)};
        t.state = RUNNABLE;
        t.fiber = nullptr;
        t.warp_ops = 0;
    }
    std::vector<uint32_t> order(n);
    const uint64_t block_lin =
        ((uint64_t)L.bidx.z * L.grid.y + L.bidx.y) * L.grid.x + L.bidx.x;
    uint64_t round = 0;
    for (;;) {
        make_order(order, schedule, seed ^ (block_lin * 0x9E3779B97F4A7C15ull), round++);
        bool progress = false;
        for (uint32_t i : order) {
            Thread &t = L.threads[i];
            if (t.state != RUNNABLE) {
                continue;
            }
            if (t.fiber == nullptr) {
                t.fiber = take_fiber();
                t.fiber->job = &t;
            }
            g_current = &t;
            to_fiber(t.fiber);
            if (t.state == DONE) {
                g_pool.push_back(t.fiber);
                t.fiber = nullptr;
            }
            progress = true;
        }
        if (release_warps(L)) {
            progress = true;
        }
        if (!L.error.empty()) {
            return false;
        }
        bool all_done = true;
        bool all_at_barrier = true;
        for (const Thread &t : L.threads) {
            all_done = all_done && t.state == DONE;
            all_at_barrier = all_at_barrier && (t.state == WAIT_BLOCK || t.state == DONE);
        }
        if (all_done) {
            return true;
        }
        if (all_at_barrier) {
            for (Thread &t : L.threads) {
                if (t.state == WAIT_BLOCK) {
                    t.state = RUNNABLE;
                }
            }
            progress = true;
        }
        if (!progress) {
            L.error = "deadlock: threads wait at a __syncthreads or warp operation that the "
                      "others of the block never reach";
            return false;
        }
    }
}

/* After a failed block, the fibers of its threads are parked inside the
 * kernel: restart them at their entry loop before pooling them again. */
static void reclaim_fibers(Launch &L) {
    for (Thread &t : L.threads) {
        if (t.fiber != nullptr) {
            start_fiber(t.fiber);
            g_pool.push_back(t.fiber);
            t.fiber = nullptr;
        }
    }
}

static std::mutex g_mutex;

/* Runs one launch; returns 0, or 1 with a message in `err`. */
int launch(void (*invoke)(void (*)(), void **), void (*kernel)(), const uint32_t grid[3],
           const uint32_t block[3], void **args, uint32_t schedule, uint64_t seed, char *err,
           size_t err_len) {
    std::lock_guard<std::mutex> lock(g_mutex);
    Launch L;
    L.grid = {grid[0], grid[1], grid[2]};
    L.block = {block[0], block[1], block[2]};
    L.invoke = invoke;
    L.kernel = kernel;
    L.args = args;
    const uint64_t threads = (uint64_t)block[0] * block[1] * block[2];
    if (threads == 0 || threads > 1024 || grid[0] == 0 || grid[1] == 0 || grid[2] == 0 ||
        grid[1] > 65535 || grid[2] > 65535 || block[2] > 64) {
        snprintf(err, err_len, "launch shape (%u,%u,%u) x (%u,%u,%u) is not valid in CUDA",
                 grid[0], grid[1], grid[2], block[0], block[1], block[2]);
        return 1;
    }
    g_launch = &L;
    for (uint32_t z = 0; z < grid[2]; z++) {
        for (uint32_t y = 0; y < grid[1]; y++) {
            for (uint32_t x = 0; x < grid[0]; x++) {
                L.bidx = {x, y, z};
                if (!run_block(L, schedule, seed)) {
                    reclaim_fibers(L);
                    snprintf(err, err_len, "block (%u,%u,%u): %s", x, y, z, L.error.c_str());
                    g_launch = nullptr;
                    return 1;
                }
            }
        }
    }
    g_launch = nullptr;
    return 0;
}

} // namespace boa_emu
