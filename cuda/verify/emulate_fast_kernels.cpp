// emulate_fast_kernels.cpp — runs the *_fast_* kernels of cuda/*.cu (Features.fastKernels) on the CPU, their
// source compiled unchanged against host_common.cuh, on the shapes of CudaFastKernelsTest, and compares each
// result with a double-precision loop (relative L2: 1e-5 float32, 2e-3 FP16). The launch geometry below mirrors
// CudaOps (layerNormChannels, globalAvgPool, launchFastRows) for a 132-SM GPU; keep the two in step.
// What this checks: index math, row / pixel / chunk tails, the V = 1 variants, the channel-group and warp
// reductions, the split pooling with its finishing kernel, the in-place per-channel add, gridDim.y striding.
// What it cannot: the device's memory model and alignment faults, NVRTC, speed.
// Run: bash cuda/verify/emulate_fast_kernels.sh (about a minute on two cores).
#include "layer_norm_channels.cu"
#include "global_avg_pool.cu"
#include "per_channel.cu"
#include "binary.cu"
#include "simple_gate.cu"
#include <thread>
#include <vector>
#include <random>
#include <cstdio>
#include <functional>
#include <memory>

thread_local dim3e threadIdx, blockIdx;
dim3e blockDim, gridDim;
static std::unique_ptr<std::barrier<>> blockBar;
static std::vector<std::unique_ptr<std::barrier<>>> warpBars;
static float shflBuf[32][32];
float __shfl_xor_sync(unsigned, float v, int o) {
    int t = threadIdx.x + threadIdx.y * blockDim.x, w = t >> 5, l = t & 31;
    shflBuf[w][l] = v;
    warpBars[w]->arrive_and_wait();
    float r = shflBuf[w][l ^ o];
    warpBars[w]->arrive_and_wait();
    return r;
}
void __syncthreads() { blockBar->arrive_and_wait(); }

// One host thread per emulated GPU thread (created once per launch); the blocks run one after another, so the
// function-static "__shared__" arrays are each block's own while it runs.
static void launch(long gx, long gy, int bx, int by, const std::function<void()>& f) {
    gridDim = {(unsigned)gx, (unsigned)gy, 1};
    blockDim = {(unsigned)bx, (unsigned)by, 1};
    int n = bx * by;
    if (n % 32) { printf("block %d not a multiple of 32\n", n); exit(1); }
    blockBar = std::make_unique<std::barrier<>>(n);
    warpBars.clear();
    for (int w = 0; w < n / 32; w++) warpBars.push_back(std::make_unique<std::barrier<>>(32));
    std::barrier<> between(n);
    std::vector<std::thread> ts;
    for (int t = 0; t < n; t++)
        ts.emplace_back([&, t] {
            threadIdx = {(unsigned)(t % bx), (unsigned)(t / bx), 0};
            for (long y = 0; y < gy; y++)
                for (long x = 0; x < gx; x++) {
                    blockIdx = {(unsigned)x, (unsigned)y, 0};
                    f();                         // a warp may return early (global_avg_pool_finish)
                    between.arrive_and_wait();   // the block is done before the next one reuses the shared arrays
                }
        });
    for (auto& t : ts) t.join();
}

static const long SMS = 132, THREADS = 256, UNROLL = 4;
static long cdiv(long a, long b) { return (a + b - 1) / b; }
static int fails = 0, checks = 0;

template <typename T> struct Buf {
    std::vector<T> d;
    explicit Buf(long n) : d(n) {}
    double at(long i) const { return to_float(d[i]); }
};
template <typename T> Buf<T> rnd(long n, unsigned seed, double scale, double shift) {
    std::mt19937 g(seed); std::normal_distribution<double> nd(0, 1);
    Buf<T> b(n);
    for (long i = 0; i < n; i++) b.d[i] = from_float<T>((float)(nd(g) * scale + shift));
    return b;
}
template <typename T> void check(const char* what, const Buf<T>& out, const std::vector<double>& ref, double tol) {
    double num = 0, den = 0;
    for (size_t i = 0; i < ref.size(); i++) { double d = out.at(i) - ref[i]; num += d * d; den += ref[i] * ref[i]; }
    double rel = std::sqrt(num / den);
    bool ok = rel <= tol && std::isfinite(rel);
    checks++;
    if (!ok) fails++;
    printf("%-4s %-60s rel %.3e\n", ok ? "ok" : "FAIL", what, rel);
}
template <typename T> double tolOf() { return sizeof(T) == 4 ? 1e-5 : 2e-3; }
template <typename T> int vecOf(long len) { int v = 16 / sizeof(T); return len % v == 0 ? v : 1; }

// ---- LayerNorm2d
template <typename T> void lnc(int B, int C, int H, int W, double shift) {
    long P = (long)H * W, n = (long)B * C * P;
    auto x = rnd<T>(n, C * 31 + H, 1.5, shift), g = rnd<T>(C, C + 5, 0.5, 1), b = rnd<T>(C, C + 6, 1, 0);
    Buf<T> y(n);
    int v = vecOf<T>(P);
    long vectors = P / v; int bx = 32;
    while (bx > 4 && B * cdiv(vectors, bx) < 2 * SMS) bx /= 2;
    launch(cdiv(vectors, bx), std::min<long>(B, 65535), bx, 256 / bx, [&] {
        if constexpr (sizeof(T) == 2) {
            if (v == 8) layer_norm_channels_fast_f16_v8(x.d.data(), g.d.data(), b.d.data(), y.d.data(), B, C, (int)P, 1e-6f);
            else layer_norm_channels_fast_f16_v1(x.d.data(), g.d.data(), b.d.data(), y.d.data(), B, C, (int)P, 1e-6f);
        } else {
            if (v == 4) layer_norm_channels_fast_f32_v4(x.d.data(), g.d.data(), b.d.data(), y.d.data(), B, C, (int)P, 1e-6f);
            else layer_norm_channels_fast_f32_v1(x.d.data(), g.d.data(), b.d.data(), y.d.data(), B, C, (int)P, 1e-6f);
        }
    });
    std::vector<double> ref(n);
    for (int bb = 0; bb < B; bb++)
        for (long p = 0; p < P; p++) {
            double m = 0, q = 0;
            for (int c = 0; c < C; c++) m += x.at((bb * (long)C + c) * P + p);
            m /= C;
            for (int c = 0; c < C; c++) { double d = x.at((bb * (long)C + c) * P + p) - m; q += d * d; }
            double r = 1 / std::sqrt(q / C + 1e-6);
            for (int c = 0; c < C; c++) { long i = (bb * (long)C + c) * P + p; ref[i] = (x.at(i) - m) * r * g.at(c) + b.at(c); }
        }
    char what[200]; snprintf(what, sizeof what, "lnc %s [%d,%d,%d,%d] shift %g v%d X%d", sizeof(T) == 2 ? "f16" : "f32", B, C, H, W, shift, v, bx);
    check(what, y, ref, tolOf<T>());
}

// ---- global average pool
template <typename T> void gap(int B, int C, int H, int W, double shift) {
    long P = (long)H * W, R = (long)B * C;
    auto x = rnd<T>(R * P, C * 17 + W, 1, shift);
    Buf<T> y(R);
    int v = vecOf<T>(P);
    long splits = std::max(1L, std::min(cdiv(4 * SMS, R), cdiv(P, THREADS * v)));
    long chunk = cdiv(cdiv(P, splits), v) * v;
    splits = cdiv(P, chunk);
    std::vector<float> partial(splits > 1 ? R * splits : 0);
    float* pp = splits > 1 ? partial.data() : nullptr;
    launch(splits, std::min<long>(R, 65535), 256, 1, [&] {
        if constexpr (sizeof(T) == 2) {
            if (v == 8) global_avg_pool_fast_f16_v8(x.d.data(), pp, y.d.data(), (int)R, (int)P, (int)chunk);
            else global_avg_pool_fast_f16_v1(x.d.data(), pp, y.d.data(), (int)R, (int)P, (int)chunk);
        } else {
            if (v == 4) global_avg_pool_fast_f32_v4(x.d.data(), pp, y.d.data(), (int)R, (int)P, (int)chunk);
            else global_avg_pool_fast_f32_v1(x.d.data(), pp, y.d.data(), (int)R, (int)P, (int)chunk);
        }
    });
    if (splits > 1)
        launch(cdiv(R, 8), 1, 256, 1, [&] { global_avg_pool_finish(pp, y.d.data(), sizeof(T) == 2, (int)R, (int)splits, (int)P); });
    std::vector<double> ref(R);
    for (long r = 0; r < R; r++) { double s = 0; for (long p = 0; p < P; p++) s += x.at(r * P + p); ref[r] = s / P; }
    char what[200]; snprintf(what, sizeof what, "gap %s [%d,%d,%d,%d] shift %g v%d S%ld", sizeof(T) == 2 ? "f16" : "f32", B, C, H, W, shift, v, splits);
    check(what, y, ref, tolOf<T>());
}

static void rowsLaunch(long rows, long rowLen, int v, const std::function<void()>& f) {
    long vectors = rowLen / v;
    int threads = (int)std::min(THREADS, cdiv(cdiv(vectors, UNROLL), 32) * 32);
    launch(cdiv(vectors, threads * UNROLL), std::min<long>(rows, 65535), threads, 1, f);
}

// ---- per channel (in place when inPlace)
template <typename T> void perch(int B, int C, int H, int W, bool perSample, int op, bool inPlace) {
    long P = (long)H * W, R = (long)B * C, nv = perSample ? R : C;
    auto x = rnd<T>(R * P, C * 13 + H, 1, 0), vv = rnd<T>(nv, C + 1, 0.7, 0.5);
    auto x0 = x;
    Buf<T> yb(R * P);
    Buf<T>& y = inPlace ? x : yb;
    int v = vecOf<T>(P);
    rowsLaunch(R, P, v, [&] {
        if constexpr (sizeof(T) == 2) {
            if (v == 8) per_channel_fast_f16_v8(x.d.data(), vv.d.data(), y.d.data(), (int)R, (int)P, (int)nv, op);
            else per_channel_fast_f16_v1(x.d.data(), vv.d.data(), y.d.data(), (int)R, (int)P, (int)nv, op);
        } else {
            if (v == 4) per_channel_fast_f32_v4(x.d.data(), vv.d.data(), y.d.data(), (int)R, (int)P, (int)nv, op);
            else per_channel_fast_f32_v1(x.d.data(), vv.d.data(), y.d.data(), (int)R, (int)P, (int)nv, op);
        }
    });
    std::vector<double> ref(R * P);
    for (long r = 0; r < R; r++) for (long p = 0; p < P; p++) {
        double a = x0.at(r * P + p), s = vv.at(r % nv);
        ref[r * P + p] = op == 0 ? a + s : a * s;
    }
    char what[200]; snprintf(what, sizeof what, "perch %s [%d,%d,%d,%d] %s op%d%s v%d", sizeof(T) == 2 ? "f16" : "f32", B, C, H, W, perSample ? "BC" : "C", op, inPlace ? " inplace" : "", v);
    check(what, y, ref, tolOf<T>());
}

// ---- binary
template <typename T> void bin(long rows, long rowLen, int op) {
    long n = rows * rowLen;
    auto a = rnd<T>(n, rowLen * 7 + rows, 1, 0), b = rnd<T>(rowLen, rowLen * 11, 1, 0);
    Buf<T> y(n);
    int v = vecOf<T>(rowLen);
    rowsLaunch(rows, rowLen, v, [&] {
        if constexpr (sizeof(T) == 2) {
            if (v == 8) binary_fast_f16_v8(a.d.data(), b.d.data(), y.d.data(), (int)rows, (int)rowLen, op);
            else binary_fast_f16_v1(a.d.data(), b.d.data(), y.d.data(), (int)rows, (int)rowLen, op);
        } else {
            if (v == 4) binary_fast_f32_v4(a.d.data(), b.d.data(), y.d.data(), (int)rows, (int)rowLen, op);
            else binary_fast_f32_v1(a.d.data(), b.d.data(), y.d.data(), (int)rows, (int)rowLen, op);
        }
    });
    std::vector<double> ref(n);
    for (long i = 0; i < n; i++) ref[i] = op == 0 ? a.at(i) + b.at(i % rowLen) : a.at(i) * b.at(i % rowLen);
    char what[200]; snprintf(what, sizeof what, "binary %s rows %ld len %ld op%d v%d", sizeof(T) == 2 ? "f16" : "f32", rows, rowLen, op, v);
    check(what, y, ref, tolOf<T>());
}

// ---- simple gate
template <typename T> void sg(int B, int C2, int H, int W) {
    long half = (long)C2 / 2 * H * W;
    auto x = rnd<T>(B * 2 * half, C2 * 3 + W, 1, 0);
    Buf<T> y(B * half);
    int v = vecOf<T>(half);
    rowsLaunch(B, half, v, [&] {
        if constexpr (sizeof(T) == 2) {
            if (v == 8) simple_gate_fast_f16_v8(x.d.data(), y.d.data(), B, (int)half);
            else simple_gate_fast_f16_v1(x.d.data(), y.d.data(), B, (int)half);
        } else {
            if (v == 4) simple_gate_fast_f32_v4(x.d.data(), y.d.data(), B, (int)half);
            else simple_gate_fast_f32_v1(x.d.data(), y.d.data(), B, (int)half);
        }
    });
    std::vector<double> ref(B * half);
    for (long b = 0; b < B; b++) for (long i = 0; i < half; i++) ref[b * half + i] = x.at(2 * b * half + i) * x.at(2 * b * half + half + i);
    char what[200]; snprintf(what, sizeof what, "simpleGate %s [%d,%d,%d,%d] v%d", sizeof(T) == 2 ? "f16" : "f32", B, C2, H, W, v);
    check(what, y, ref, tolOf<T>());
}

template <typename T> void all() {
    int lnShapes[][4] = {{2, 64, 16, 24}, {1, 130, 8, 12}, {2, 6, 5, 7}, {1, 1024, 4, 8}, {3, 3, 1, 1}, {1, 16, 3, 4},
                         {2, 8, 192, 192}, {4, 16, 128, 128}, {2, 16, 96, 128}};
    for (auto& s : lnShapes) for (double sh : {0.0, 20.0}) lnc<T>(s[0], s[1], s[2], s[3], sh);
    int gapShapes[][4] = {{1, 64, 128, 128}, {1, 4, 300, 301}, {2, 256, 32, 32}, {2, 3, 5, 7}, {1, 8, 60, 60}};
    for (auto& s : gapShapes) for (double sh : {0.0, 10.0}) gap<T>(s[0], s[1], s[2], s[3], sh);
    int pcShapes[][4] = {{2, 64, 24, 40}, {1, 1024, 4, 8}, {2, 3, 5, 7}, {3, 5, 1, 12}};
    for (auto& s : pcShapes) for (int ps = 0; ps < 2; ps++) for (int op = 0; op < 2; op++) perch<T>(s[0], s[1], s[2], s[3], ps, op, op == 0 && ps == 0);
    long binCases[][2] = {{1, 61440}, {1, 105}, {1, 269997}, {128, 960}, {2, 59136}, {6, 35}, {70000, 8}};
    for (auto& c : binCases) for (int op = 0; op < 2; op++) bin<T>(c[0], c[1], op);
    int sgShapes[][4] = {{2, 128, 24, 40}, {2, 6, 5, 7}, {3, 4, 2, 2}, {2, 2, 3, 4}, {1, 2, 3, 3}};
    for (auto& s : sgShapes) sg<T>(s[0], s[1], s[2], s[3]);
}

int main() {
    all<half_t>();
    all<float>();
    printf("%d passed, %d failed\n", checks - fails, fails);
    return fails != 0;
}
