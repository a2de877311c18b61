// kernel_emulation.h — runs the CUDA C of cuda/*.cu on the host, for tests on machines without a GPU.
//
// Force-included (g++ -std=c++20 -include kernel_emulation.h) before a kernel source that KernelEmulator
// (src/test/java/dev/autodir/backend/cuda) has rewritten only where C++ cannot express CUDA (an `extern __shared__`
// array becomes a pointer to the launch's dynamic shared memory). A launch runs its blocks one after another; the
// threads of a block are fibers (each with its own stack) on one OS thread, switched only at __syncthreads,
// __syncwarp and the warp shuffles: a barrier suspends a thread until every live thread of its block (or warp) has
// arrived, so __syncthreads is a barrier and the shuffles exchange values through a per-warp slot array between two
// warp barriers. Between barriers the threads run one after another, in thread order in even blocks and in reverse
// order in odd ones, so a read of shared memory that lacks its barrier sees stale data in one of the two orders.
// `__shared__` variables are function statics: one copy, which is what one block at a time needs. Threads that
// return early leave the barriers (as exited threads do on the device); a barrier that some threads never reach
// while others wait at it is reported as a deadlock, not a hang.
//
// What this checks: the kernel's index arithmetic, bounds, reductions, synchronisation and FP16 conversions
// (IEEE binary16 with round-to-nearest-even, through _Float16). What it cannot check: timing, memory
// coalescing, tensor-core instructions (mma/ldmatrix/cp.async: kernels using them are not emulated), races between
// threads that the two run orders do not expose, and the device's float rounding of fused multiply-adds and
// fast-math intrinsics (here: the host's).
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <sys/mman.h>
#include <vector>
#include <algorithm>

#define AUTODIR_HOST_EMULATION 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) alignas(n)
#define __restrict__ __restrict

struct emu_dim3 { unsigned x = 1, y = 1, z = 1; };
inline emu_dim3 blockIdx, blockDim, gridDim;     // one block at a time
inline emu_dim3 threadIdx;                         // the running fiber's, set at every switch
inline int emu_lane, emu_warp;
inline unsigned char* emu_dynamic_shared;
constexpr int warpSize = 32;

// ---- fibers: a context switch saves the callee-saved registers and the stack pointer (x86-64 System V), else ucontext
#if defined(__x86_64__)
extern "C" void emu_switch(void** save_sp, void* load_sp);
asm(R"(
    .text
    .weak emu_switch
    .type emu_switch, @function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
    .size emu_switch, .-emu_switch
)");
struct emu_context {
    void* sp = nullptr;
    /** A context that starts entry() on [base, base + size) (16-byte aligned top; entry must never return). */
    void start(void (*entry)(), unsigned char* base, size_t size) {
        uintptr_t top = ((uintptr_t)(base + size)) & ~(uintptr_t)15;
        void** p = (void**)top;
        *--p = nullptr;               // entry is entered as if called: rsp = 8 mod 16
        *--p = (void*)entry;          // emu_switch's ret goes here
        for (int i = 0; i < 6; i++) *--p = nullptr;   // rbp rbx r12 r13 r14 r15
        sp = p;
    }
    void switch_to(emu_context& to) { emu_switch(&sp, to.sp); }
};
#else
#include <ucontext.h>
struct emu_context {
    ucontext_t uc;
    void start(void (*entry)(), unsigned char* base, size_t size) {
        getcontext(&uc);
        uc.uc_stack.ss_sp = base;
        uc.uc_stack.ss_size = size;
        uc.uc_link = nullptr;
        makecontext(&uc, entry, 0);
    }
    void switch_to(emu_context& to) { swapcontext(&uc, &to.uc); }
};
#endif

inline void emu_die(const char* m) { fprintf(stderr, "kernel emulation: %s\n", m); exit(3); }

/** A barrier of fibers: the last of `expected` arrivals releases the waiters; a finished thread is dropped. */
struct emu_barrier {
    int expected = 0, arrived = 0;
    std::vector<int> waiting;
};

struct emu_fiber {
    emu_context ctx;
    unsigned char* stack = nullptr;
    emu_dim3 idx;
    int lane = 0, warp = 0;
    bool done = false;
};

struct emu_block_state {
    emu_barrier block;
    std::vector<emu_barrier> warps;
    std::vector<uint64_t> slots;
    std::vector<emu_fiber> fibers;
    std::deque<int> runnable;
    emu_context scheduler;
    const std::function<void()>* body = nullptr;
    int current = -1;
};
inline emu_block_state* emu_block;

inline void emu_release(emu_barrier& b) {
    b.arrived = 0;
    for (int w : b.waiting) emu_block->runnable.push_back(w);
    b.waiting.clear();
}

/** Back to the scheduler; returns when this fiber is run again. */
inline void emu_yield() {
    emu_block_state* st = emu_block;
    st->fibers[st->current].ctx.switch_to(st->scheduler);
}

inline void emu_arrive_and_wait(emu_barrier& b) {
    b.waiting.push_back(emu_block->current);                     // the last arrival waits its turn too: thread order holds
    if (++b.arrived == b.expected) emu_release(b);
    emu_yield();
}

inline void emu_arrive_and_drop(emu_barrier& b) {
    b.expected--;
    if (b.arrived > 0 && b.arrived == b.expected) emu_release(b);
}

inline void __syncthreads() { emu_arrive_and_wait(emu_block->block); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_arrive_and_wait(emu_block->warps[emu_warp]); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <typename T> inline T emu_exchange(T v, int srcLane) {
    static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
    auto& bar = emu_block->warps[emu_warp];
    uint64_t* s = &emu_block->slots[(size_t)emu_warp * 32];
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    s[emu_lane] = bits;
    emu_arrive_and_wait(bar);
    uint64_t r = s[srcLane & 31];
    emu_arrive_and_wait(bar);
    T out;
    std::memcpy(&out, &r, sizeof(T));
    return out;
}
template <typename T> inline T __shfl_xor_sync(unsigned, T v, int mask, int = 32) { return emu_exchange(v, emu_lane ^ mask); }
template <typename T> inline T __shfl_sync(unsigned, T v, int src, int = 32) { return emu_exchange(v, src); }
template <typename T> inline T __shfl_down_sync(unsigned, T v, unsigned d, int = 32) {
    int src = emu_lane + (int)d;
    T r = emu_exchange(v, src < 32 ? src : emu_lane);
    return r;
}
template <typename T> inline T __shfl_up_sync(unsigned, T v, unsigned d, int = 32) {
    int src = emu_lane - (int)d;
    return emu_exchange(v, src >= 0 ? src : emu_lane);
}

inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
inline int __float_as_int(float f) { int i; std::memcpy(&i, &f, 4); return i; }
inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float exp2f_emu(float x) { return std::exp2(x); }
inline float __fdividef(float a, float b) { return a / b; }
// correctly rounded single operations (the kernels use them to forbid FMA contraction; -ffp-contract=off here too)
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __frcp_rn(float a) { return 1.0f / a; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
template <typename T> inline T __ldg(const T* p) { return *p; }
using std::min;
using std::max;

inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline int atomicAdd(int* p, int v) { return std::atomic_ref<int>(*p).fetch_add(v); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return std::atomic_ref<unsigned>(*p).fetch_add(v); }

struct alignas(8) uint2 { unsigned x, y; };
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(4) ushort2 { unsigned short x, y; };
struct alignas(8) ushort4 { unsigned short x, y, z, w; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }

inline float emu_h2f(unsigned short h) { _Float16 v; std::memcpy(&v, &h, 2); return (float)v; }
inline unsigned short emu_f2h(float f) { _Float16 v = (_Float16)f; unsigned short h; std::memcpy(&h, &v, 2); return h; }

/** The entry of every fiber: runs the kernel body as its thread, leaves the barriers, and never returns. */
inline void emu_fiber_main() {
    emu_block_state* st = emu_block;
    (*st->body)();
    emu_fiber& f = st->fibers[st->current];
    f.done = true;
    emu_arrive_and_drop(st->warps[f.warp]);
    emu_arrive_and_drop(st->block);
    f.ctx.switch_to(st->scheduler);
    emu_die("a finished thread was resumed");
}

/**
 * Runs body once per thread of every block of the grid: the blocks one after another, each block's threads as fibers
 * scheduled from a run queue (a thread runs until it waits at a barrier or returns; a released barrier queues its
 * waiters in their arrival order). The fiber stacks (256 KiB each, below a guard page) are reused for every block.
 */
inline void emu_launch(emu_dim3 grid, emu_dim3 block, size_t dynamicShared, const std::function<void()>& body) {
    gridDim = grid;
    blockDim = block;
    const int n = (int)(block.x * block.y * block.z);
    if (n < 1 || n > 1024) emu_die("block size outside 1..1024");
    const int warps = (n + 31) / 32;
    std::vector<unsigned char> dyn(dynamicShared + 16, 0xA5);   // not zero: a kernel must not rely on zeroed shared memory
    emu_dynamic_shared = dyn.data();
    const long long blocks = (long long)grid.x * grid.y * grid.z;
    const size_t page = 4096, stackBytes = 256 * 1024, each = stackBytes + page;
    unsigned char* stacks = (unsigned char*)mmap(nullptr, each * n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (stacks == MAP_FAILED) emu_die("cannot map the fiber stacks");
    emu_block_state st;
    st.body = &body;
    st.fibers.resize(n);
    for (int t = 0; t < n; t++) {
        emu_fiber& f = st.fibers[t];
        f.stack = stacks + t * each;
        mprotect(f.stack, page, PROT_NONE);                        // overflowing a stack faults instead of corrupting
        f.idx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
        f.lane = t % 32;
        f.warp = t / 32;
    }
    st.warps.resize(warps);
    emu_block = &st;
    for (long long b = 0; b < blocks; b++) {
        blockIdx = {(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((long long)grid.x * grid.y))};
        st.block = emu_barrier{n, 0, {}};
        for (int w = 0; w < warps; w++) st.warps[w] = emu_barrier{std::min(32, n - 32 * w), 0, {}};
        st.slots.assign((size_t)warps * 32, 0);
        st.runnable.clear();
        for (int i = 0; i < n; i++) {
            int t = b % 2 == 0 ? i : n - 1 - i;
            emu_fiber& f = st.fibers[t];
            f.done = false;
            f.ctx.start(emu_fiber_main, f.stack + page, stackBytes);
            st.runnable.push_back(t);
        }
        int finished = 0;
        while (!st.runnable.empty()) {
            int t = st.runnable.front();
            st.runnable.pop_front();
            emu_fiber& f = st.fibers[t];
            st.current = t;
            threadIdx = f.idx;
            emu_lane = f.lane;
            emu_warp = f.warp;
            st.scheduler.switch_to(f.ctx);
            if (f.done) finished++;
        }
        if (finished != n) {
            fprintf(stderr, "kernel emulation: deadlock in block %lld: %d of %d threads wait at a barrier the others never reach\n",
                    b, n - finished, n);
            exit(3);
        }
    }
    emu_block = nullptr;
    munmap(stacks, each * n);
}
