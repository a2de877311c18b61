// Runs the real cuda/im2col.cu on the CPU: the kernel source is compiled as plain C++ (the CUDA keywords and
// built-ins it uses are defined away below; it needs no shared memory and no warp operations) and every
// thread of the launch grid is run in turn. Each column matrix is compared bit for bit with its definition
//   col[z][(ci*kh + ky)*kw + kx][j] = x[z][ci][oy*s - p + ky][ox*s - p + kx] (0 in the padding), p0 + j = oy*Wo + ox,
// and entries the kernel must not touch (columns np..ldc-1) must keep their sentinel. The launch geometry is
// the one CudaOps.convIm2col uses (Im2colPlan.threads / blocks), plus a gridDim.y smaller than Cin to run the
// kernel's loop over channels.
// Run: g++ -std=c++17 -O2 -o /tmp/im2col_host cuda/verify/im2col_host.cpp && /tmp/im2col_host
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__
struct Dim3 { unsigned x, y, z; };
static Dim3 blockIdx, threadIdx, blockDim, gridDim;
static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __shfl_xor_sync(unsigned, float v, int) { return v; }

#include "../im2col.cu"

static const uint16_t SENTINEL = 0xFFFF;   // a NaN pattern no input holds

struct Case { int images, Cin, H, W, kh, kw, stride, pad, p0, np, ldc, gridY; const char* what; };

static int failures = 0;

static void run(const Case& c) {
    int Ho = (c.H + 2 * c.pad - c.kh) / c.stride + 1, Wo = (c.W + 2 * c.pad - c.kw) / c.stride + 1;
    long K = (long) c.Cin * c.kh * c.kw;
    if (c.p0 + c.np > Ho * Wo) { std::printf("bad case %s\n", c.what); failures++; return; }
    std::mt19937 rng(1234 + c.Cin * 7 + c.H);
    std::vector<uint16_t> x((size_t) c.images * c.Cin * c.H * c.W);
    for (auto& v : x) v = (uint16_t) (1 + rng() % 0x7BFE);   // finite, never zero
    // 16-byte aligned, like the arena's 256-byte aligned block (the kernel's vector stores need it)
    std::vector<uint64_t> storage(((size_t) c.images * K * c.ldc * 2 + 7) / 8 + 2);
    uint16_t* col = (uint16_t*) storage.data();
    std::fill(col, col + (size_t) c.images * K * c.ldc, SENTINEL);

    int threads = std::min(256, std::max(32, ((c.np + 7) / 8 + 31) / 32 * 32));   // Im2colPlan.threads
    long blocks = ((long) c.np + 8L * threads - 1) / (8L * threads);               // Im2colPlan.blocks
    gridDim = {(unsigned) blocks, (unsigned) c.gridY, (unsigned) c.images};
    blockDim = {(unsigned) threads, 1, 1};
    for (unsigned z = 0; z < gridDim.z; z++)
        for (unsigned by = 0; by < gridDim.y; by++)
            for (unsigned bx = 0; bx < gridDim.x; bx++)
                for (unsigned t = 0; t < blockDim.x; t++) {
                    blockIdx = {bx, by, z};
                    threadIdx = {t, 0, 0};
                    im2col_f16(x.data(), col, c.Cin, c.H, c.W, c.kh, c.kw, c.stride, c.pad, Wo, c.p0, c.np, c.ldc);
                }

    long bad = 0;
    for (int z = 0; z < c.images; z++)
        for (int ci = 0; ci < c.Cin; ci++)
            for (int ky = 0; ky < c.kh; ky++)
                for (int kx = 0; kx < c.kw; kx++) {
                    long r = ((long) ci * c.kh + ky) * c.kw + kx;
                    for (int j = 0; j < c.ldc; j++) {
                        uint16_t want = SENTINEL;
                        if (j < c.np) {
                            int p = c.p0 + j, oy = p / Wo, ox = p % Wo;
                            int iy = oy * c.stride - c.pad + ky, ix = ox * c.stride - c.pad + kx;
                            bool inside = iy >= 0 && iy < c.H && ix >= 0 && ix < c.W;
                            want = inside ? x[(((size_t) z * c.Cin + ci) * c.H + iy) * c.W + ix] : 0;
                        }
                        uint16_t got = col[((size_t) z * K + r) * c.ldc + j];
                        if (got != want && bad++ < 5) {
                            std::printf("  %s: image %d row %ld column %d: got 0x%04x, expected 0x%04x\n", c.what, z, r, j, got, want);
                        }
                    }
                }
    std::printf("%-52s K %5ld  np %6d  ldc %6d  grid %ldx%dx%d  block %d: %s\n", c.what, K, c.np, c.ldc, blocks, c.gridY,
                c.images, threads, bad == 0 ? "ok" : "MISMATCH");
    if (bad) failures++;
}

int main() {
    const Case cases[] = {
            // images Cin H W kh kw s p | p0 np ldc gridY
            {2, 32, 17, 13, 3, 3, 1, 1, 0, 221, 256, 32, "batch 2, odd sizes, whole images"},
            {1, 64, 16, 16, 3, 3, 2, 1, 0, 64, 128, 64, "stride 2"},
            {1, 24, 9, 11, 3, 3, 1, 0, 0, 63, 128, 24, "padding 0"},
            {2, 16, 10, 10, 1, 1, 2, 0, 0, 25, 128, 16, "1x1 stride 2"},
            {1, 20, 15, 15, 1, 1, 1, 1, 0, 289, 384, 20, "1x1 padding 1"},
            {1, 8, 12, 9, 2, 2, 1, 0, 0, 88, 128, 8, "2x2"},
            {1, 8, 12, 9, 2, 2, 2, 1, 0, 30, 128, 8, "2x2 stride 2 padding 1"},
            {2, 3, 19, 23, 3, 3, 1, 1, 0, 437, 512, 3, "3 channels"},
            {1, 48, 47, 51, 3, 3, 1, 1, 0, 2397, 2432, 48, "2397 pixels: two blocks, partial group"},
            {1, 32, 40, 36, 3, 3, 1, 1, 256, 256, 256, 32, "pixel chunk in the middle"},
            {1, 32, 40, 36, 3, 3, 1, 1, 1280, 160, 256, 32, "last pixel chunk"},
            {1, 32, 79, 71, 3, 3, 2, 1, 512, 256, 256, 32, "pixel chunk, stride 2"},
            {1, 32, 20, 18, 3, 3, 1, 1, 128, 128, 128, 5, "gridDim.y 5 < Cin 32: channel loop"},
            {3, 7, 33, 35, 5, 5, 1, 2, 0, 1155, 1280, 2, "5x5 padding 2, 3 images, channel loop"},
            {1, 4, 64, 64, 3, 3, 1, 1, 0, 4096, 4096, 4, "64x64: exact blocks, all vector stores"},
    };
    for (const Case& c : cases) run(c);
    std::printf(failures == 0 ? "all cases match\n" : "%d case(s) FAILED\n", failures);
    return failures == 0 ? 0 : 1;
}
