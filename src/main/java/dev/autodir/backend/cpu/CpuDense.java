package dev.autodir.backend.cpu;

import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

import java.util.Arrays;

import static dev.autodir.backend.cpu.CpuTensors.cpu;
import static dev.autodir.backend.cpu.CpuTensors.heapOperand;
import static dev.autodir.backend.cpu.CpuTensors.matrixOperand;

/**
 * The cpu backend's dense layers: the convolution algorithms (chosen by shape, see {@link CpuOps}) and linear layers,
 * as OpenBLAS products on weight matrices prepared once in native memory ({@link CpuWeight.Layout}). Uses the
 * backend's shared native scratch buffers: callers hold the backend's lock.
 */
final class CpuDense {
    /** Pixels × (Cin + Cout) per band of a 1×1 convolution (floats, 4 MiB), so a band stays in cache. */
    static final long POINTWISE_BAND = 1L << 20;
    /** Below this many input channels a stride-1 convolution goes through im2col (K = Cin·kh·kw). */
    static final int SHIFT_MIN_CHANNELS = 32;

    private final Parallel parallel;
    private final CpuElementwise elementwise;
    private final NativeFloats scratchA, scratchB, scratchC, scratchMatrix;
    private final long columnBlock;
    private final long shiftBand;
    private final long winogradTiles;

    CpuDense(Parallel parallel, CpuElementwise elementwise, NativeFloats scratchA, NativeFloats scratchB, NativeFloats scratchC,
             NativeFloats scratchMatrix, long columnBlock, long shiftBand, long winogradTiles) {
        this.parallel = parallel;
        this.elementwise = elementwise;
        this.scratchA = scratchA;
        this.scratchB = scratchB;
        this.scratchC = scratchC;
        this.scratchMatrix = scratchMatrix;
        this.columnBlock = columnBlock;
        this.shiftBand = shiftBand;
        this.winogradTiles = winogradTiles;
    }

    /** conv2d(x + inputBias, w, bias, ...) by the path the shape selects (inputBias may be null). */
    Tensor conv2d(Tensor xt, Tensor ibt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        String op = ibt == null ? "conv2d" : "conv2dWithInputBias";
        FloatTensor x = cpu(xt, op, "x");
        Tensor w = matrixOperand(wt, op, "weight");
        int[] ws = w.shape();
        FloatTensor b = bt == null ? null : cpu(bt, op, "bias");
        FloatTensor ib = ibt == null ? null : cpu(ibt, op, "inputBias");
        int[] y = Shapes.conv2dWithInputBias(x.shape(), ib == null ? null : ib.shape(), ws, b == null ? null : b.shape(),
                stride, padding, groups);
        int cin = x.dim(1), h = x.dim(2), wd = x.dim(3);
        int cout = ws[0], cinPerGroup = ws[1], kh = ws[2], kw = ws[3], ho = y[2], wo = y[3];
        FloatTensor out = FloatTensor.zeros(y);
        Geometry g = new Geometry(cin, h, wd, kh, kw, stride, padding, ho, wo);
        boolean depthwise = groups == cin && cout == cin && cinPerGroup == 1;
        if (ib != null && !depthwise) x = (FloatTensor) elementwise.addPerChannel(x, ib);
        if (depthwise) {
            depthwise(x, ib, heapOperand(w), b, out, g);
        } else if (groups == 1 && stride == 1 && kh == 3 && kw == 3 && cin >= SHIFT_MIN_CHANNELS && cout >= SHIFT_MIN_CHANNELS) {
            convWinograd(x, prepared(w, CpuWeight.Layout.WINOGRAD), b, out, g);
        } else if (groups == 1 && kh * kw > 1 && cin >= SHIFT_MIN_CHANNELS) {
            convShifted(x, prepared(w, CpuWeight.Layout.TAPS), b, out, g);
        } else if (groups == 1 && kh == 1 && kw == 1 && stride == 1 && padding == 0) {
            convPointwise(x, prepared(w, CpuWeight.Layout.PLAIN), b, out);
        } else {
            convGemm(x, prepared(w, CpuWeight.Layout.PLAIN), b, out, g, groups);
        }
        return out;
    }

    /** Sizes of one convolution. */
    private record Geometry(int cin, int h, int w, int kh, int kw, int stride, int pad, int ho, int wo) { }

    /** Groups of channels as matrix products: W_g [Cout/g, Cin/g·kh·kw] · columns [Cin/g·kh·kw, Ho·Wo]. */
    private void convGemm(FloatTensor x, NativeFloats wn, FloatTensor b, FloatTensor out, Geometry g, int groups) {
        int batch = x.dim(0), cout = out.dim(1);
        float[] od = out.data(), bd = b == null ? null : b.data();
        int cg = g.cin / groups, coutg = cout / groups;
        int k = cg * g.kh * g.kw, plane = g.ho * g.wo, inPlane = g.h * g.w;
        boolean pointwise = g.kh == 1 && g.kw == 1 && g.stride == 1 && g.pad == 0;
        NativeFloats y = scratchC.ensure((long) cout * plane);
        int rowsPerBlock = (int) Math.max(1, Math.min(g.ho, columnBlock / ((long) k * g.wo)));
        for (int bi = 0; bi < batch; bi++) {
            for (int gi = 0; gi < groups; gi++) {
                long wOff = (long) gi * coutg * k, cOff = (long) gi * coutg * plane;
                int xOff = (bi * g.cin + gi * cg) * inPlane;
                if (pointwise) {
                    scratchB.ensure((long) k * plane);
                    scratchB.put(0, x.data(), xOff, k * plane);
                    gemmSplitRows(coutg, plane, k, wn, wOff, scratchB, 0, plane, y, cOff, plane);
                    continue;
                }
                for (int oh0 = 0; oh0 < g.ho; oh0 += rowsPerBlock) {
                    int oh1 = Math.min(g.ho, oh0 + rowsPerBlock), n = (oh1 - oh0) * g.wo;
                    scratchB.ensure((long) k * n);
                    im2col(x.data(), xOff, cg, g, oh0, oh1, scratchB);
                    gemmSplitRows(coutg, n, k, wn, wOff, scratchB, 0, n, y, cOff + (long) oh0 * g.wo, plane);
                }
            }
            // back to the heap, output channels shared out, bias added on the way
            int yBase = bi * cout * plane;
            parallel.forRange(cout, plane, (c0, c1) -> {
                for (int co = c0; co < c1; co++) {
                    y.get((long) co * plane, od, yBase + co * plane, plane);
                    if (bd != null) VectorMath.addScalar(od, yBase + co * plane, bd[co], od, yBase + co * plane, plane);
                }
            });
        }
    }

    /**
     * 1×1 convolution, W [Cout, Cin] · x [Cin, pixels], in bands of pixels: each worker copies its
     * band's columns into its own native block, multiplies, and copies the result back with the bias,
     * so the copies run in parallel and hit cache.
     */
    private void convPointwise(FloatTensor x, NativeFloats wn, FloatTensor b, FloatTensor out) {
        int batch = x.dim(0), cin = x.dim(1), cout = out.dim(1), plane = x.dim(2) * x.dim(3);
        int threads = parallel.threads();
        long wanted = Math.max(threads, ((long) plane * (cin + cout) + POINTWISE_BAND - 1) / POINTWISE_BAND);
        int bands = (int) Math.min(plane, (wanted + threads - 1) / threads * threads);
        int width = (plane + bands - 1) / bands;
        bands = (plane + width - 1) / width;
        NativeFloats xs = scratchB.ensure((long) threads * cin * width), ys = scratchC.ensure((long) threads * cout * width);
        float[] xd = x.data(), od = out.data(), bd = b == null ? null : b.data();
        int bandCount = bands;
        for (int bi = 0; bi < batch; bi++) {
            int xBase = bi * cin * plane, yBase = bi * cout * plane;
            parallel.forWorkers(bandCount, (long) cin * cout * width, (worker, b0, b1) -> {
                long xOff = (long) worker * cin * width, yOff = (long) worker * cout * width;
                for (int band = b0; band < b1; band++) {
                    int p0 = band * width, n = Math.min(width, plane - p0);
                    for (int ci = 0; ci < cin; ci++) xs.put(xOff + (long) ci * n, xd, xBase + ci * plane + p0, n);
                    Blas.sgemm(false, false, cout, n, cin, 1f, wn, 0, cin, xs, xOff, n, 0f, ys, yOff, n);
                    for (int co = 0; co < cout; co++) {
                        int at = yBase + co * plane + p0;
                        ys.get(yOff + (long) co * n, od, at, n);
                        if (bd != null) VectorMath.addScalar(od, at, bd[co], od, at, n);
                    }
                }
            });
        }
    }

    /**
     * C [m×n] = A [m×k] · B [k×n] (row-major, A with leading dimension k), the rows of A and C split
     * over the workers, one single-threaded OpenBLAS call each.
     */
    private void gemmSplitRows(int m, int n, int k, NativeFloats a, long aOff, NativeFloats b, long bOff, int ldb,
                               NativeFloats c, long cOff, int ldc) {
        parallel.forRange(m, (long) n * k, (r0, r1) -> Blas.sgemm(false, false, r1 - r0, n, k, 1f, a, aOff + (long) r0 * k, k,
                b, bOff, ldb, 0f, c, cOff + (long) r0 * ldc, ldc));
    }

    /**
     * Convolution without im2col. The input is zero-padded once into native memory and, for stride s,
     * split into s² phase planes P_ab[c][i][j] = Xpad[c][s·i + a][s·j + b], each Hph × Wph (one plane
     * when s = 1). The output is computed in "wide" rows of Wph columns, [Cout, Ho, Wph]: kernel tap
     * (ki, kj) reads phase (ki mod s, kj mod s) shifted by (ki div s)·Wph + kj div s, so each tap is one
     * matrix product W_tap [Cout, Cin] · P (shifted), accumulated over the taps; the surplus columns of
     * each wide row are discarded. Rows go in bands that keep the band's input and output in cache
     * across the taps; the workers share out the output channels, or the bands when there are few
     * output channels (a final RGB layer).
     */
    private void convShifted(FloatTensor x, NativeFloats wt, FloatTensor b, FloatTensor out, Geometry g) {
        int batch = x.dim(0), cout = out.dim(1), cin = g.cin, taps = g.kh * g.kw, st = g.stride;
        int hp = g.h + 2 * g.pad, wp = g.w + 2 * g.pad;
        int hph = (hp + st - 1) / st, wph = (wp + st - 1) / st, phase = hph * wph, perChannel = st * st * phase;
        int wide = g.ho * wph;
        NativeFloats xp = scratchB.ensure((long) cin * perChannel);
        NativeFloats y = scratchC.ensure((long) cout * wide);
        long footprint = (long) Math.max(cout, cin * st * st) * wph;
        int rowsPerBand = (int) Math.max(1, Math.min(g.ho, shiftBand / footprint));
        int bands = (g.ho + rowsPerBand - 1) / rowsPerBand;
        boolean splitBands = cout < 64 && bands >= parallel.threads();
        float[] od = out.data(), bd = b == null ? null : b.data();
        for (int bi = 0; bi < batch; bi++) {
            padPhases(x.data(), bi * cin * g.h * g.w, cin, g, hph, wph, xp);
            int base = bi * cout * g.ho * g.wo;
            // output channels [c0, c1) of bands [band0, band1), then those rows of the result with bias
            Parallel.WorkerRange work = (ignored, from, to) -> {
                int c0 = splitBands ? 0 : from, c1 = splitBands ? cout : to;
                int band0 = splitBands ? from : 0, band1 = splitBands ? to : bands;
                for (int band = band0; band < band1; band++) {
                    int oh0 = band * rowsPerBand, oh1 = Math.min(g.ho, oh0 + rowsPerBand);
                    int n0 = oh0 * wph, n = (oh1 - 1) * wph + g.wo - n0;   // the last read stays inside P
                    for (int t = 0; t < taps; t++) {
                        int ki = t / g.kw, kj = t % g.kw;
                        long bOff = (long) ((ki % st) * st + kj % st) * phase + (long) (ki / st) * wph + kj / st + n0;
                        Blas.sgemm(false, false, c1 - c0, n, cin, 1f, wt, ((long) t * cout + c0) * cin, cin,
                                xp, bOff, perChannel, t == 0 ? 0f : 1f, y, (long) c0 * wide + n0, wide);
                    }
                }
                int r0 = band0 * rowsPerBand, r1 = Math.min(g.ho, band1 * rowsPerBand);
                for (int co = c0; co < c1; co++) {
                    int plane0 = base + co * g.ho * g.wo;
                    for (int oh = r0; oh < r1; oh++) y.get((long) co * wide + (long) oh * wph, od, plane0 + oh * g.wo, g.wo);
                    if (bd != null) {
                        VectorMath.addScalar(od, plane0 + r0 * g.wo, bd[co], od, plane0 + r0 * g.wo, (r1 - r0) * g.wo);
                    }
                }
            };
            parallel.forWorkers(splitBands ? bands : cout, splitBands ? (long) cout * cin * taps * rowsPerBand * wph
                    : (long) cin * taps * wide, work);
        }
    }

    /** 3×3 stride 1 by Winograd F(2×2, 3×3), in bands of tile rows; see {@link Winograd}. */
    private void convWinograd(FloatTensor x, NativeFloats u, FloatTensor b, FloatTensor out, Geometry g) {
        int batch = x.dim(0), cin = g.cin, cout = out.dim(1);
        int th = (g.ho + 1) / 2, tw = (g.wo + 1) / 2;
        int bandRows = (int) Math.max(1, Math.min(th, winogradTiles / tw));
        NativeFloats v = scratchB.ensure(16L * cin * bandRows * tw);
        NativeFloats m = scratchC.ensure(16L * cout * bandRows * tw);
        float[] xd = x.data(), od = out.data(), bd = b == null ? null : b.data();
        for (int bi = 0; bi < batch; bi++) {
            int xBase = bi * cin * g.h * g.w, yBase = bi * cout * g.ho * g.wo;
            for (int ti0 = 0; ti0 < th; ti0 += bandRows) {
                int t0 = ti0, t1 = Math.min(th, ti0 + bandRows), tiles = (t1 - t0) * tw;
                parallel.forRange(cin, 64L * tiles, (c0, c1) -> {
                    Winograd.InputScratch s = new Winograd.InputScratch(tw, t1 - t0);
                    for (int c = c0; c < c1; c++) {
                        Winograd.transformInput(xd, xBase + c * g.h * g.w, g.h, g.w, g.pad, t0, t1, c, cin, v, s);
                    }
                });
                // M_ξ [Cout, tiles] = U_ξ [Cout, Cin] · V_ξ [Cin, tiles], the 16 products shared out
                parallel.forRange(16, 2L * cout * cin * tiles, (x0, x1) -> {
                    for (int xi = x0; xi < x1; xi++) {
                        Blas.sgemm(false, false, cout, tiles, cin, 1f, u, (long) xi * cout * cin, cin,
                                v, (long) xi * cin * tiles, tiles, 0f, m, (long) xi * cout * tiles, tiles);
                    }
                });
                parallel.forRange(cout, 32L * tiles, (c0, c1) -> {
                    Winograd.OutputScratch s = new Winograd.OutputScratch(tiles);
                    for (int co = c0; co < c1; co++) {
                        Winograd.transformOutput(m, co, cout, t0, t1, tw, bd == null ? 0f : bd[co], od,
                                yBase + co * g.ho * g.wo, g.ho, g.wo, s);
                    }
                });
            }
        }
    }

    /**
     * Copies {@code channels} planes of x into dst as zero-padded phase planes, [channels][s²][hph][wph]
     * with phase (a, b) holding padded rows s·i + a and columns s·j + b (one plain padded plane for s = 1).
     */
    private void padPhases(float[] x, int xOff, int channels, Geometry g, int hph, int wph, NativeFloats dst) {
        int st = g.stride, phase = hph * wph, perChannel = st * st * phase, plane = g.h * g.w;
        parallel.forRange(channels, perChannel, (c0, c1) -> {
            float[] buf = new float[perChannel];                   // padding positions stay zero for every channel
            for (int c = c0; c < c1; c++) {
                int src = xOff + c * plane;
                for (int r = 0; r < g.h; r++) {
                    int pr = r + g.pad, rowBase = ((pr % st) * st) * phase + (pr / st) * wph;
                    if (st == 1) {
                        System.arraycopy(x, src + r * g.w, buf, rowBase + g.pad, g.w);
                    } else {
                        for (int col = 0; col < g.w; col++) {
                            int pc = col + g.pad;
                            buf[rowBase + (pc % st) * phase + pc / st] = x[src + r * g.w + col];
                        }
                    }
                }
                dst.put((long) c * perChannel, buf, 0, perChannel);
            }
        });
    }

    /**
     * Writes the columns of output rows [oh0, oh1) for {@code channels} input channels starting at
     * {@code xOff} into {@code dst} as a [channels·kh·kw, (oh1−oh0)·Wo] row-major matrix. Each worker
     * builds one channel's kh·kw rows in a heap buffer and copies them out in one bulk put; the zero
     * (padding) positions are the same for every channel, so the buffer is zeroed only once.
     */
    private void im2col(float[] x, int xOff, int channels, Geometry g, int oh0, int oh1, NativeFloats dst) {
        int n = (oh1 - oh0) * g.wo, taps = g.kh * g.kw, inPlane = g.h * g.w;
        parallel.forRange(channels, (long) taps * n, (c0, c1) -> {
            float[] rows = new float[taps * n];
            for (int c = c0; c < c1; c++) {
                int base = xOff + c * inPlane;
                for (int ki = 0; ki < g.kh; ki++) {
                    for (int kj = 0; kj < g.kw; kj++) {
                        int r = (ki * g.kw + kj) * n;
                        int owLo = Math.max(0, -Math.floorDiv(kj - g.pad, g.stride));
                        int owHi = Math.min(g.wo, Math.floorDiv(g.w - 1 + g.pad - kj, g.stride) + 1);
                        for (int oh = oh0; oh < oh1; oh++) {
                            int ih = oh * g.stride - g.pad + ki;
                            if (ih < 0 || ih >= g.h || owLo >= owHi) continue;
                            int src = base + ih * g.w - g.pad + kj, dstRow = r + (oh - oh0) * g.wo;
                            if (g.stride == 1) {
                                System.arraycopy(x, src + owLo, rows, dstRow + owLo, owHi - owLo);
                            } else {
                                for (int ow = owLo; ow < owHi; ow++) rows[dstRow + ow] = x[src + ow * g.stride];
                            }
                        }
                    }
                }
                dst.put((long) c * taps * n, rows, 0, taps * n);
            }
        });
    }

    /**
     * One filter per channel (groups = channels), a direct loop: too little work per channel for a GEMM. An input
     * bias ib (or null) is added to every in-image input value: each tap adds w·ib over the outputs it reaches.
     */
    private void depthwise(FloatTensor x, FloatTensor ib, FloatTensor w, FloatTensor b, FloatTensor out, Geometry g) {
        int channels = g.cin, batch = x.dim(0), plane = g.ho * g.wo, inPlane = g.h * g.w, taps = g.kh * g.kw;
        float[] xd = x.data(), wd = w.data(), od = out.data();
        float[] bd = b == null ? null : b.data(), ibd = ib == null ? null : ib.data();
        parallel.forRange(batch * channels, (long) plane * taps, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int c = p % channels, xBase = p * inPlane, oBase = p * plane, wBase = c * taps;
                if (bd != null) Arrays.fill(od, oBase, oBase + plane, bd[c]);
                for (int oh = 0; oh < g.ho; oh++) {
                    int oRow = oBase + oh * g.wo;
                    for (int ki = 0; ki < g.kh; ki++) {
                        int ih = oh * g.stride - g.pad + ki;
                        if (ih < 0 || ih >= g.h) continue;
                        int xRow = xBase + ih * g.w;
                        for (int kj = 0; kj < g.kw; kj++) {
                            float wv = wd[wBase + ki * g.kw + kj];
                            int owLo = Math.max(0, -Math.floorDiv(kj - g.pad, g.stride));
                            int owHi = Math.min(g.wo, Math.floorDiv(g.w - 1 + g.pad - kj, g.stride) + 1);
                            if (owLo >= owHi) continue;
                            int src = xRow - g.pad + kj;
                            if (g.stride == 1) {
                                VectorMath.axpy(wv, xd, src + owLo, od, oRow + owLo, owHi - owLo);
                                if (ibd != null) VectorMath.addScalar(od, oRow + owLo, wv * ibd[c], od, oRow + owLo, owHi - owLo);
                            } else {
                                float ibc = ibd == null ? 0f : ibd[c];
                                for (int ow = owLo; ow < owHi; ow++) od[oRow + ow] += wv * (xd[src + ow * g.stride] + ibc);
                            }
                        }
                    }
                }
            }
        });
    }

    Tensor linear(Tensor xt, Tensor wt, Tensor bt) {
        FloatTensor x = cpu(xt, "linear", "x");
        Tensor w = matrixOperand(wt, "linear", "weight");
        int[] ws = w.shape();
        FloatTensor b = bt == null ? null : cpu(bt, "linear", "bias");
        FloatTensor out = FloatTensor.zeros(Shapes.linear(x.shape(), ws, b == null ? null : b.shape()));
        int in = ws[1], outF = ws[0], rows = in == 0 ? 0 : x.numel() / in;
        if (rows == 0 || outF == 0) return out;
        NativeFloats wn = prepared(w, CpuWeight.Layout.PLAIN);
        NativeFloats a = scratchA.ensure((long) rows * in), c = scratchC.ensure((long) rows * outF);
        a.put(0, x.data(), 0, rows * in);
        float[] od = out.data(), bd = b == null ? null : b.data();
        if (rows >= outF) {
            // each worker: a band of rows, C[r0:r1] = A[r0:r1] · Wᵀ, then copied out with the bias
            parallel.forRange(rows, (long) in * outF, (r0, r1) -> {
                Blas.sgemm(false, true, r1 - r0, outF, in, 1f, a, (long) r0 * in, in, wn, 0, in, 0f, c, (long) r0 * outF, outF);
                c.get((long) r0 * outF, od, r0 * outF, (r1 - r0) * outF);
                if (bd != null) for (int r = r0; r < r1; r++) VectorMath.add(od, r * outF, bd, 0, od, r * outF, outF);
            });
        } else {
            // few rows (a 77-token text): each worker a band of output features, C[:, f0:f1] = A · W[f0:f1]ᵀ
            parallel.forRange(outF, (long) in * rows, (f0, f1) -> Blas.sgemm(false, true, rows, f1 - f0, in, 1f, a, 0, in,
                    wn, (long) f0 * in, in, 0f, c, f0, outF));
            c.get(0, od, 0, rows * outF);
            if (bd != null) {
                parallel.forRange(rows, outF, (r0, r1) -> {
                    for (int r = r0; r < r1; r++) VectorMath.add(od, r * outF, bd, 0, od, r * outF, outF);
                });
            }
        }
        return out;
    }

    /**
     * A weight matrix in native memory in {@code layout}: built once and kept by a {@link CpuWeight} (from
     * {@link #weight}), written into the scratch buffer on every call for any other tensor.
     */
    private NativeFloats prepared(Tensor w, CpuWeight.Layout layout) {
        if (w instanceof CpuWeight cw) return cw.layout(layout, (values, dst) -> writeLayout(layout, values, dst));
        FloatTensor f = (FloatTensor) w;
        NativeFloats dst = scratchMatrix.ensure(layout.size(f.shape()));
        writeLayout(layout, f, dst);
        return dst;
    }

    /** w's values in {@code layout} (see {@link CpuWeight.Layout}) into dst, through small heap blocks. */
    private static void writeLayout(CpuWeight.Layout layout, FloatTensor w, NativeFloats dst) {
        float[] data = w.data();
        switch (layout) {
            case PLAIN -> dst.put(0, data, 0, data.length);
            case WINOGRAD -> Winograd.transformWeights(data, w.dim(0), w.dim(1), dst);
            case TAPS -> {
                // [Cout, Cin, kh·kw] → [kh·kw][Cout][Cin], one output channel at a time
                int cout = w.dim(0), cin = w.dim(1), taps = w.dim(2) * w.dim(3);
                float[] row = new float[cin];
                for (int t = 0; t < taps; t++) {
                    for (int co = 0; co < cout; co++) {
                        for (int ci = 0; ci < cin; ci++) row[ci] = data[(co * cin + ci) * taps + t];
                        dst.put(((long) t * cout + co) * cin, row, 0, cin);
                    }
                }
            }
        }
    }
}
