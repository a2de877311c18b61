package dev.autodir.backend.cuda;

import dev.autodir.backend.ForwardingOps;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.io.WeightStore;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.QuantFormat;
import dev.autodir.quant.WeightQuantizer;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The engines {@code cuda:int8} / {@code cuda:fp8}: the cuda backend in FP16 whose calibrated linear layers and 1×1
 * convolutions (stride 1, no padding, one group) run as INT8 or FP8 E4M3 products through cuBLASLt, everything else
 * (3×3 and other convolutions, attention, norms) in FP16 as {@code cuda:fp16}. It computes the function
 * {@link dev.autodir.quant.FakeQuantOps} defines for those layers — the reference it is checked against:
 * <ol>
 * <li>the layer's input, FP16 (or float32) on the device, is divided by its SmoothQuant factors (when the calibration
 * has them), quantized per tensor with the calibrated scale (QuantFormat's rounding and saturation, bit for bit) and,
 * for a 1×1 convolution, transposed from NCHW to [B·H·W, C] on the way (quantize.cu);</li>
 * <li>the weight, quantized once on the host by {@link WeightQuantizer} (the reference's own code) per output channel,
 * lives on the device as int8 / E4M3 bytes with one float scale per channel;</li>
 * <li>cuBLASLt multiplies the two in its TN form into raw accumulators ({@link QuantGemm}: int32, or float32 for FP8);</li>
 * <li>y = acc · s_x · s_w[n] + bias[n] in FP16, in the layer's layout (NCHW for a convolution; quantize.cu).</li>
 * </ol>
 * A layer stays in FP16 when the calibration has no entry for it (its exclusion list), when it is not a linear layer
 * or a 1×1 convolution (the 3×3 convolutions: no INT8 convolution path is measured here), or when cuBLASLt's
 * alignment rules do not hold for its features ({@link QuantGemm#unsupported}) — the last with a one-time notice that
 * names the layer; {@link #describe()} counts each kind. FP8 on a GPU below compute capability 8.9 is refused at
 * {@link #open}. Written and checked without a GPU (the kernels and the product's layout through the host emulation:
 * QuantizedKernelsEmulationTest, QuantizedLayerEmulationTest); {@code CudaQuantizedOpsTest} is the check on a GPU.
 *
 * <p>Owns its {@link CudaOps} and the quantized weights' device memory; {@link #close()} frees both.
 */
public final class CudaQuantizedOps extends ForwardingOps {
    /** A weight this backend handed out: where it came from. */
    private record Source(WeightStore store, String key) { }

    /** A layer on the quantized path: its weight bytes and scales (and SmoothQuant factors) on the device. */
    private record Prepared(String key, DeviceMemory weight, DeviceMemory scales, DeviceMemory smooth, float xScale, int out, int in) { }

    /** What runs one layer: the kernel launches and the product (the device, or the tests' emulation). */
    interface Steps extends QuantGemm.Sink {
        void launch(KernelLaunch l);
    }

    private final CudaOps cuda;
    private final Calibration calibration;
    private final QuantFormat format;
    private final PrintStream notices;
    private final Map<Tensor, Source> sources = new IdentityHashMap<>();
    private final Map<String, Object> decisions = new HashMap<>();      // key → Prepared, or the reason it stays FP16
    private final List<Prepared> prepared = new ArrayList<>();
    private final Map<String, Integer> keptFp16 = new LinkedHashMap<>();  // reason kind → layers
    private long quantizedCalls;
    private boolean closed;

    private CudaQuantizedOps(CudaOps cuda, Calibration calibration, QuantFormat format, PrintStream notices) {
        super(cuda);
        this.cuda = cuda;
        this.calibration = calibration;
        this.format = format;
        this.notices = notices;
    }

    /**
     * Opens the cuda backend in FP16 (device 0, {@link CudaOps.Options#defaults}) with the {@code format} matrix path of
     * {@code calibration}. Refuses (closing what it opened) FP8 below compute capability 8.9 and a missing calibration.
     */
    public static CudaQuantizedOps open(Calibration calibration, QuantFormat format, PrintStream notices) {
        if (format == null) throw new IllegalArgumentException("cuda quantized path: no format");
        if (calibration == null) {
            throw new IllegalArgumentException("cuda:" + format.label() + " needs a calibration (`autodir calibrate`): the activation scales come from it");
        }
        CudaOps cuda = new CudaOps(Precision.FP16);
        try {
            CudaDevice d = cuda.device();
            String why = unsupportedDevice(format, d.ccMajor, d.ccMinor, d.describe());
            if (why != null) throw new IllegalStateException(why);
            return new CudaQuantizedOps(cuda, calibration, format, notices);
        } catch (RuntimeException e) {
            cuda.close();
            throw e;
        }
    }

    /** Why {@code format} cannot run on a GPU of compute capability major.minor (named {@code gpu}), or null. */
    static String unsupportedDevice(QuantFormat format, int major, int minor, String gpu) {
        if (format == QuantFormat.FP8_E4M3 && major * 10 + minor < 89) {
            return "cuda:fp8 needs FP8 tensor cores, compute capability 8.9 or newer (Ada, Hopper); " + gpu + " has compute capability "
                    + major + "." + minor + " (use cuda:int8 or cuda:fp16)";
        }
        if (major * 10 + minor < 75) {
            return "cuda:" + format.label() + " needs INT8 tensor cores (compute capability 7.5 or newer); " + gpu + " has " + major + "." + minor;
        }
        return null;
    }

    public QuantFormat format() { return format; }

    @Override public String describe() {
        StringBuilder s = new StringBuilder(cuda.describe());
        s.append(", ").append(format.label()).append(" matrix path (cuBLASLt TN, calibration ").append(calibration.hash()).append("): ")
                .append(prepared.size()).append(" layers quantized, ").append(quantizedCalls).append(" quantized calls");
        keptFp16.forEach((why, n) -> s.append(", ").append(n).append(" kept FP16 (").append(why).append(')'));
        return s.toString();
    }

    @Override public Tensor weight(WeightStore store, String key) {
        Tensor t = cuda.weight(store, key);
        sources.put(t, new Source(store, key));
        return t;
    }

    // ---- the quantized layers -------------------------------------------------------------------------------

    @Override public Tensor linear(Tensor xt, Tensor wt, Tensor bt) {
        Prepared p = decide(wt, "linear", true);
        if (p == null) return cuda.linear(xt, wt, bt);
        String op = "linear (" + format.label() + ")";
        cuda.enter(op);
        CudaTensor x = cuda.t(xt, op, "x"), w = cuda.t(wt, op, "weight"), b = bt == null ? null : cuda.t(bt, op, "bias");
        int[] shape = Shapes.linear(x.shapeRef(), w.shapeRef(), b == null ? null : b.shapeRef());
        long rows = x.numel() / p.in;
        CudaTensor y = cuda.alloc(Precision.FP16, shape);
        if (rows == 0) return y;
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + rows + " rows");
        run(p, x, b, y, 1, rows, 1, op);
        return y;
    }

    @Override public Tensor conv2d(Tensor xt, Tensor wt, Tensor bt, int stride, int padding, int groups) {
        Prepared p = decide(wt, "conv2d", stride == 1 && padding == 0 && groups == 1);
        if (p == null) return cuda.conv2d(xt, wt, bt, stride, padding, groups);
        String op = "conv2d 1x1 (" + format.label() + ")";
        cuda.enter(op);
        CudaTensor x = cuda.t(xt, op, "x"), w = cuda.t(wt, op, "weight"), b = bt == null ? null : cuda.t(bt, op, "bias");
        int[] shape = Shapes.conv2d(x.shapeRef(), w.shapeRef(), b == null ? null : b.shapeRef(), stride, padding, groups);
        long plane = (long) x.dim(2) * x.dim(3), rows = x.dim(0) * plane;
        CudaTensor y = cuda.alloc(Precision.FP16, shape);
        if (rows == 0) return y;
        if (rows > Integer.MAX_VALUE) throw new IllegalArgumentException(op + ": " + rows + " pixels");
        run(p, x, b, y, x.dim(0), rows, plane, op);
        return y;
    }

    @Override public Tensor conv2dWithInputBias(Tensor x, Tensor ib, Tensor w, Tensor b, int stride, int padding, int groups) {
        if (decide(w, "conv2d", stride == 1 && padding == 0 && groups == 1) == null) {
            return cuda.conv2dWithInputBias(x, ib, w, b, stride, padding, groups);
        }
        return conv2d(ib == null ? x : cuda.addPerChannel(x, ib), w, b, stride, padding, groups);   // as FakeQuantOps
    }

    /** Quantizes x, multiplies, dequantizes into y on the device (plane 1: a linear layer's rows; else NCHW). */
    private void run(Prepared p, CudaTensor x, CudaTensor b, CudaTensor y, int batch, long rows, long plane, String op) {
        CudaMemory memory = cuda.memory();
        ScratchArena.Allocation q = memory.allocate(rows * p.in), acc = memory.allocate(rows * p.out * 4L);
        Matmul mm = cuda.matmul();
        CudaDevice device = cuda.device();
        Steps steps = new Steps() {
            @Override public void launch(KernelLaunch l) { device.launcher().launch(l); }

            @Override public void gemm(QuantGemm g, Object a, Object bb, Object d) { mm.quantGemm(device.stream(), g, (Long) a, (Long) bb, (Long) d); }
        };
        layerSteps(steps, format, x.address(op), x.dtype(), p.smooth == null ? null : p.smooth.address(), q.address(), p.weight.address(),
                p.scales.address(), acc.address(), b == null ? null : b.address(op), b == null ? Precision.FP16 : b.dtype(), y.address(op),
                y.dtype(), batch, rows, plane, p.in, p.out, p.xScale, (long) device.multiprocessors * 32);
        quantizedCalls++;
        memory.release(acc);   // the top of the scratch: given back (later kernels reuse it in stream order)
        memory.release(q);
    }

    /**
     * The launches and the product of one quantized layer, in order, on whatever memory {@code steps} stands for:
     * x [rows, in] (plane 1) or NCHW [batch, in, plane] → q [rows, in] bytes → acc [rows, out] = q · wᵀ (the TN product:
     * m = out, n = rows, k = in) → y [rows, out] or NCHW [batch, out, plane]. {@code maxBlocks} caps the grid-stride
     * launches' grids.
     */
    static void layerSteps(Steps steps, QuantFormat f, Object x, Precision xType, Object smooth, Object q, Object w, Object wScale,
                           Object acc, Object bias, Precision biasType, Object y, Precision yType, int batch, long rows, long plane,
                           int in, int out, float xScale, long maxBlocks) {
        int fp8 = f == QuantFormat.FP8_E4M3 ? 1 : 0, t = CudaOps.THREADS;
        if (plane == 1) {
            steps.launch(KernelLaunch.of(Kernel.QUANTIZE_ROWS, grid(rows * in, maxBlocks), t, x, xType.halfFlag(), smooth, q, rows, in, xScale, fp8));
        } else {
            steps.launch(new KernelLaunch(Kernel.QUANTIZE_NCHW, (plane + 31) / 32, (in + 31) / 32, batch, 32, 8, 1, 0,
                    java.util.Arrays.asList(x, xType.halfFlag(), smooth, q, in, plane, xScale, fp8)));
        }
        steps.gemm(new QuantGemm(f, out, Math.toIntExact(rows), in, in, in, out), w, q, acc);
        int biasHalf = bias == null ? 0 : biasType.halfFlag();
        if (plane == 1) {
            steps.launch(KernelLaunch.of(Kernel.DEQUANTIZE_ROWS, grid(rows * out, maxBlocks), t, acc, fp8, wScale, bias, biasHalf, y,
                    yType.halfFlag(), rows, out, xScale));
        } else {
            steps.launch(new KernelLaunch(Kernel.DEQUANTIZE_NCHW, (plane + 31) / 32, (out + 31) / 32, batch, 32, 8, 1, 0,
                    java.util.Arrays.asList(acc, fp8, wScale, bias, biasHalf, y, yType.halfFlag(), out, plane, xScale)));
        }
    }

    private static long grid(long n, long maxBlocks) {
        return Math.max(1, Math.min((n + CudaOps.THREADS - 1) / CudaOps.THREADS, maxBlocks));
    }

    /**
     * The quantized form of the layer whose weight is {@code wt}, made on its first call, or null when it runs in FP16
     * (not calibrated, not a linear layer / 1×1 convolution, features cuBLASLt's kernels cannot take: noticed once).
     */
    private Prepared decide(Tensor wt, String op, boolean plainConv) {
        Source src = sources.get(wt);
        if (src == null) return null;                                     // not a checkpoint weight
        Calibration.Layer l = calibration.layers().get(src.key);
        if (l == null) return null;                                       // excluded by the calibration
        Object d = decisions.get(src.key);
        if (d == null) {
            d = prepare(src, l, wt.shape(), op, plainConv);
            decisions.put(src.key, d);
            if (d instanceof String why) {
                String kind = why.startsWith("cuBLASLt") ? "features cuBLASLt's " + format.label() + " kernels cannot take"
                        : why.startsWith("not a 1x1") ? "convolutions other than 1x1 (no quantized convolution path)" : why;
                keptFp16.merge(kind, 1, Integer::sum);
                if (notices != null && (keptFp16.get(kind) == 1 || why.startsWith("cuBLASLt"))) {
                    notices.println("cuda:" + format.label() + ": " + src.key + " stays FP16: " + why
                            + (why.startsWith("not a 1x1") ? " (further such layers are counted in the backend's description)" : ""));
                }
            }
        }
        return d instanceof Prepared p ? p : null;
    }

    /**
     * Why the calibrated layer {@code key} (weight {@code shape}; a convolution when {@code conv}, with stride 1, no
     * padding and one group when {@code plainConv}) stays FP16 on the {@code f} path, or null when it is quantized.
     * SmoothQuant factors that do not match the weight are an error (a calibration of other weights).
     */
    static String keptFp16(QuantFormat f, String key, Calibration.Layer l, int[] shape, boolean conv, boolean plainConv) {
        if (conv && (shape.length != 4 || shape[2] != 1 || shape[3] != 1 || !plainConv)) {
            return "not a 1x1 convolution with stride 1, no padding and one group";
        }
        if (!conv && shape.length != 2) return "a linear weight of rank " + shape.length;
        String why = QuantGemm.unsupported(f, shape[0], shape[1]);
        if (why != null) return why;
        double[] smooth = l.smoothQuant();
        if (smooth != null && conv) return "SmoothQuant factors on a convolution (the reference applies them to linear layers only)";
        if (smooth != null && smooth.length != shape[1]) {
            throw new IllegalArgumentException("calibration: " + key + " has " + smooth.length + " SmoothQuant factors for "
                    + shape[1] + " input features (a calibration of other weights?)");
        }
        return null;
    }

    private Object prepare(Source src, Calibration.Layer l, int[] shape, String op, boolean plainConv) {
        String why = keptFp16(format, src.key, l, shape, op.equals("conv2d"), plainConv);
        if (why != null) return why;
        int out = shape[0], in = shape[1];
        double[] smooth = l.smoothQuant();
        WeightQuantizer.Quantized qw = WeightQuantizer.quantize(src.store.readFloat(src.key), smooth, format);
        byte[] bytes = format == QuantFormat.INT8 ? qw.int8() : qw.fp8();
        cuda.enter("quantize weight " + src.key);
        CudaDevice device = cuda.device();
        DeviceMemory wm = null, sm = null, fm = null;
        try {
            int[] packed = packBytes(bytes);
            wm = DeviceMemory.allocate(4L * packed.length, "quantized weight " + src.key);   // whole ints: the upload writes them
            device.copyIntsFromHost(packed, wm.address(), "quantized weight " + src.key);
            sm = DeviceMemory.allocate(4L * out, "weight scales " + src.key);
            device.copyFromHost(qw.scales(), sm.address(), Precision.FP32, "weight scales " + src.key);
            if (smooth != null) {
                fm = DeviceMemory.allocate(8L * in, "SmoothQuant factors " + src.key);
                device.copyIntsFromHost(packDoubles(smooth), fm.address(), "SmoothQuant factors " + src.key);
            }
        } catch (RuntimeException e) {
            Closer c = new Closer();
            c.run(() -> device.synchronize("quantized weight upload failed"));
            for (DeviceMemory m : new DeviceMemory[] {fm, sm, wm}) if (m != null) c.run(m::close);
            try {
                c.rethrow();
            } catch (RuntimeException cleanup) {
                e.addSuppressed(cleanup);
            }
            throw e;
        }
        Prepared p = new Prepared(src.key, wm, sm, fm, format.scaleFor(calibration.range(src.key)), out, in);
        prepared.add(p);
        return p;
    }

    /** Little-endian ints holding the bytes (the last one zero-padded): an int32 upload of byte data. */
    static int[] packBytes(byte[] b) {
        int[] v = new int[(b.length + 3) / 4];
        for (int i = 0; i < b.length; i++) v[i >> 2] |= (b[i] & 0xFF) << (8 * (i & 3));
        return v;
    }

    /** Each double as two little-endian ints (low word first). */
    static int[] packDoubles(double[] d) {
        int[] v = new int[2 * d.length];
        for (int i = 0; i < d.length; i++) {
            long bits = Double.doubleToRawLongBits(d[i]);
            v[2 * i] = (int) bits;
            v[2 * i + 1] = (int) (bits >>> 32);
        }
        return v;
    }

    /** Frees the quantized weights (after the stream drained), then the cuda backend. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        Closer c = new Closer();
        c.run(() -> cuda.synchronize());
        for (int i = prepared.size() - 1; i >= 0; i--) {
            Prepared p = prepared.get(i);
            if (p.smooth != null) c.run(p.smooth::close);
            c.run(p.scales::close);
            c.run(p.weight::close);
        }
        prepared.clear();
        c.run(cuda::close);
        c.rethrow();
    }

    @Override public String toString() { return "CudaQuantizedOps[" + format.label() + (closed ? ", closed" : "") + "]"; }
}
