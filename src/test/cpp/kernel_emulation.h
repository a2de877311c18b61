// kernel_emulation.h — runs the CUDA C of cuda/*.cu on the host, for tests on machines without a GPU.
//
// Force-included (g++ -std=c++20 -include kernel_emulation.h) before a kernel source that KernelEmulator
// (src/test/java/dev/autodir/backend/cuda) has rewritten only where C++ cannot express CUDA (an `extern __shared__`
// array becomes a pointer to the launch's dynamic shared memory). A launch runs its blocks one after another;
// the threads of a block run as real OS threads, so __syncthreads is a barrier and the warp shuffles exchange
// values through a per-warp slot array between two warp barriers. `__shared__` variables are function statics:
// one copy, which is what one block at a time needs. Threads that return early leave the barriers (as exited
// threads do on the device).
//
// What this checks: the kernel's index arithmetic, bounds, reductions, synchronisation and FP16 conversions
// (IEEE binary16 with round-to-nearest-even, through _Float16). What it cannot check: timing, memory
// coalescing, tensor-core instructions (mma/ldmatrix/cp.async: kernels using them are not emulated), and the
// device's float rounding of fused multiply-adds and fast-math intrinsics (here: the host's).
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
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
inline thread_local emu_dim3 threadIdx;
inline thread_local int emu_lane, emu_warp;
inline unsigned char* emu_dynamic_shared;
constexpr int warpSize = 32;

struct emu_block_state {
    std::unique_ptr<std::barrier<>> block;
    std::vector<std::unique_ptr<std::barrier<>>> warps;
    std::vector<uint64_t> slots;
};
inline emu_block_state* emu_block;

inline void __syncthreads() { emu_block->block->arrive_and_wait(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_block->warps[emu_warp]->arrive_and_wait(); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }

template <typename T> inline T emu_exchange(T v, int srcLane) {
    static_assert(sizeof(T) <= 8, "shuffle of more than 8 bytes");
    auto& bar = *emu_block->warps[emu_warp];
    uint64_t* s = &emu_block->slots[(size_t)emu_warp * 32];
    uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    s[emu_lane] = bits;
    bar.arrive_and_wait();
    uint64_t r = s[srcLane & 31];
    bar.arrive_and_wait();
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

/**
 * Runs body once per thread of every block of the grid: one team of blockDim OS threads runs the blocks in order
 * (a block's threads concurrently); between blocks the coordinator gives the team fresh barriers, so threads that
 * returned early from one block take part in the next.
 */
inline void emu_launch(emu_dim3 grid, emu_dim3 block, size_t dynamicShared, const std::function<void()>& body) {
    gridDim = grid;
    blockDim = block;
    const int n = (int)(block.x * block.y * block.z);
    const int warps = (n + 31) / 32;
    std::vector<unsigned char> dyn(dynamicShared + 16, 0xA5);   // not zero: a kernel must not rely on zeroed shared memory
    emu_dynamic_shared = dyn.data();
    const long long blocks = (long long)grid.x * grid.y * grid.z;
    std::barrier<> start(n + 1), done(n + 1);
    emu_block_state st;
    auto fresh = [&]() {
        st.block = std::make_unique<std::barrier<>>(n);
        st.warps.clear();
        for (int w = 0; w < warps; w++) st.warps.push_back(std::make_unique<std::barrier<>>(std::min(32, n - 32 * w)));
        st.slots.assign((size_t)warps * 32, 0);
    };
    emu_block = &st;
    std::vector<std::thread> team;
    team.reserve(n);
    for (int t = 0; t < n; t++) {
        team.emplace_back([&, t]() {
            threadIdx = {t % block.x, (t / block.x) % block.y, t / (block.x * block.y)};
            emu_lane = t % 32;
            emu_warp = t / 32;
            for (long long b = 0; b < blocks; b++) {
                start.arrive_and_wait();
                body();
                st.warps[emu_warp]->arrive_and_drop();
                st.block->arrive_and_drop();
                done.arrive_and_wait();
            }
        });
    }
    for (long long b = 0; b < blocks; b++) {
        blockIdx = {(unsigned)(b % grid.x), (unsigned)((b / grid.x) % grid.y), (unsigned)(b / ((long long)grid.x * grid.y))};
        fresh();
        start.arrive_and_wait();
        done.arrive_and_wait();
    }
    for (auto& th : team) th.join();
}
