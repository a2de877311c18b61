package dev.autodir.backend;

import dev.autodir.io.TensorInfo;
import dev.autodir.io.WeightStore;
import dev.autodir.io.DType;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every operation of {@link Ops} on fresh random inputs (seeded per case) against {@link ReferenceOps}.
 * Written once for all backends: a backend's test extends this class and supplies {@link #createOps()}
 * and, for reduced precision, {@link #tolerance()}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class OpsConformanceTest {

    /** The backend under test; closed after the class's tests. */
    protected abstract Ops createOps();

    /**
     * Relative L2 error allowed per operation for results that involve arithmetic. float32 backends:
     * 1e-5 (the observed errors are around 1e-7); a float16 backend may override with 2e-3. Pure data
     * movement (layout, padding, gathering) must be exact in any precision that holds the values.
     */
    protected double tolerance() { return 1e-5; }

    protected Ops ops;

    @BeforeAll void open() { ops = createOps(); }

    @AfterAll void close() { if (ops != null) ops.close(); }

    // ---- helpers ------------------------------------------------------------------------------

    /** Normal(0, 1) · scale + shift, never all zeros. */
    protected static FloatTensor randomScaled(long seed, double scale, double shift, int... shape) {
        Random r = new Random(seed);
        FloatTensor t = FloatTensor.zeros(shape);
        for (int i = 0; i < t.numel(); i++) t.data()[i] = (float) (r.nextGaussian() * scale + shift);
        return t;
    }

    protected static FloatTensor random(long seed, int... shape) { return randomScaled(seed, 1, 0, shape); }

    protected Tensor up(FloatTensor t) { return t == null ? null : ops.upload(t); }

    protected FloatTensor down(Tensor t) { return ops.download(t); }

    /** Host int32 rows on the backend (ids, masks). */
    protected Tensor ints(int[][] rows) { return ops.upload(IntTensor.of(rows)); }

    protected Tensor ints(int... values) { return ops.upload(new IntTensor(values.clone(), values.length)); }

    /** The backend's mask for host rows of 1 (keep) and 0 (pad). */
    protected AttentionMask mask(boolean causal, int[][] keep) { return new AttentionMask(causal, ints(keep)); }

    /**
     * Whether the backend sees index values and rejects one out of range (the cpu backend); device backends read ids
     * on the device and give a zero row instead.
     */
    protected boolean rejectsIndicesOutOfRange() { return true; }

    /**
     * The values the backend actually holds for x (x itself in float32; rounded in a float16
     * backend). References are computed from these, so a check measures the backend's arithmetic and
     * not the rounding of its inputs.
     */
    protected FloatTensor held(FloatTensor x) { return down(up(x)); }

    /**
     * Fails unless {@code out} has {@code ref}'s shape and ‖out − ref‖ / ‖ref‖ ≤ tol; the message names
     * the operation, the case, the error, the worst element (index and both values) and how many
     * elements differ by more than tol · max|ref|.
     */
    protected static void assertClose(String op, String info, FloatTensor out, FloatTensor ref, double tol) {
        if (!Arrays.equals(out.shape(), ref.shape())) {
            fail(op + " " + info + ": shape " + Arrays.toString(out.shape()) + ", expected " + Arrays.toString(ref.shape()));
        }
        double rel = out.relL2(ref);
        if (rel <= tol) return;
        int worst = 0;
        double worstDiff = -1, maxRef = 0;
        for (int i = 0; i < ref.numel(); i++) maxRef = Math.max(maxRef, Math.abs(ref.data()[i]));
        int mismatches = 0;
        for (int i = 0; i < ref.numel(); i++) {
            double d = Math.abs((double) out.data()[i] - ref.data()[i]);
            if (Double.isNaN(d)) d = Double.POSITIVE_INFINITY;
            if (d > worstDiff) { worstDiff = d; worst = i; }
            if (d > tol * maxRef) mismatches++;
        }
        fail(String.format("%s %s: rel-L2 %.3e > %.1e (shape %s); worst at %s: got %s, expected %s; %d of %d elements off by > tol·max|ref|",
                op, info, rel, tol, Arrays.toString(ref.shape()), Arrays.toString(ReferenceOps.unravel(worst, ref.shape())),
                out.data()[worst], ref.data()[worst], mismatches, ref.numel()));
    }

    protected void assertClose(String op, String info, Tensor out, FloatTensor ref) {
        assertClose(op, info, down(out), ref, tolerance());
    }

    /**
     * Per element: |out − ref| ≤ 10·tol·|ref| + tol/100 (for activations, where a rel-L2 over the whole
     * tensor would hide a wrong curve near zero or in a tail).
     */
    protected void assertElementwise(String op, String info, Tensor outT, FloatTensor ref) {
        FloatTensor out = down(outT);
        double rtol = 10 * tolerance(), atol = tolerance() / 100;
        for (int i = 0; i < ref.numel(); i++) {
            double d = Math.abs((double) out.data()[i] - ref.data()[i]);
            if (!(d <= rtol * Math.abs(ref.data()[i]) + atol)) {
                fail(String.format("%s %s: element %s: got %s, expected %s (|diff| %.3e > %.0e·|ref| + %.0e)", op, info,
                        Arrays.toString(ReferenceOps.unravel(i, ref.shape())), out.data()[i], ref.data()[i], d, rtol, atol));
            }
        }
    }

    protected void assertExact(String op, String info, Tensor out, FloatTensor ref) {
        assertClose(op, info, down(out), ref, 0);
    }

    /** The operation must throw IllegalArgumentException whose message names it. */
    protected static void assertRejects(String op, Executable call) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call, op + " accepted bad input");
        assertTrue(e.getMessage() != null && e.getMessage().contains(op),
                "message of " + op + " does not name the operation: " + e.getMessage());
    }

    // ---- data movement ------------------------------------------------------------------------

    @Test void uploadAndDownloadCopy() {
        FloatTensor host = random(1, 2, 3, 5);
        FloatTensor keep = host.copy();
        Tensor t = ops.upload(host);
        host.data()[0] += 1;                              // the upload must not see later host writes
        FloatTensor back = down(t);
        assertArrayEquals(keep.shape(), back.shape());
        assertClose("upload", "round trip", back, keep, tolerance());
        FloatTensor first = back.copy();
        back.data()[1] += 1;                              // nor the tensor later writes to a download
        assertArrayEquals(first.data(), down(t).data());
    }

    @Test void reshapeIsAView() {
        FloatTensor host = random(2, 2, 3, 4);
        Tensor t = up(host);
        Tensor r = ops.reshape(t, 6, 4);
        assertArrayEquals(new int[] {6, 4}, r.shape());
        assertArrayEquals(down(t).data(), down(r).data());
        assertRejects("reshape", () -> ops.reshape(up(host), 5, 5));
    }

    @Test void weightsAreReadOnceAndCached() {
        MemoryStore store = new MemoryStore();
        FloatTensor w = random(3, 7, 5), b = random(4, 7), x = random(5, 2, 3, 5);
        store.put("lin.weight", w);
        store.put("lin.bias", b);
        Tensor w1 = ops.weight(store, "lin.weight"), w2 = ops.weight(store, "lin.weight");
        Tensor bias = ops.weight(store, "lin.bias");
        assertEquals(1, store.reads("lin.weight"), "weight read more than once");
        assertClose("weight", "lin.weight", down(w1), w, tolerance());
        assertArrayEquals(down(w1).data(), down(w2).data());
        FloatTensor ref = ReferenceOps.linear(x, w, b);
        // the cached weight twice (a backend may keep a prepared copy after the first use)
        assertClose("linear", "weights from a store", ops.linear(up(x), w1, bias), ref);
        assertClose("linear", "weights from a store, again", ops.linear(up(x), w2, bias), ref);
        MemoryStore conv = new MemoryStore();
        FloatTensor cw = random(6, 4, 3, 3, 3), cx = random(7, 2, 3, 6, 5);
        conv.put("conv.weight", cw);
        Tensor cwt = ops.weight(conv, "conv.weight");
        for (int i = 0; i < 2; i++) {
            assertClose("conv2d", "weights from a store, call " + i, ops.conv2d(up(cx), cwt, null, 1, 1, 1),
                    ReferenceOps.conv2d(cx, cw, null, 1, 1, 1));
        }
    }

    // ---- dense layers -------------------------------------------------------------------------

    @ParameterizedTest(name = "B{0} Cin{1} Cout{2} {3}x{4} k{5} s{6} p{7} g{8} bias {9}")
    @CsvSource({
            "2, 3, 5, 7, 9, 3, 1, 1, 1, true",      // plain 3x3
            "2, 4, 6, 8, 7, 3, 2, 1, 1, true",      // stride 2 (UNet downsample)
            "1, 4, 6, 9, 8, 3, 2, 0, 1, false",     // stride 2 without padding (VAE downsample after pad2d)
            "2, 6, 4, 5, 5, 1, 1, 0, 1, true",      // 1x1 (proj_in/out, NAFNet pointwise)
            "2, 5, 7, 6, 7, 1, 2, 0, 1, true",      // 1x1 stride 2
            "1, 8, 8, 9, 11, 3, 1, 1, 8, true",     // depthwise (NAFNet)
            "2, 6, 6, 10, 9, 3, 2, 1, 6, false",    // depthwise stride 2
            "2, 5, 5, 7, 6, 5, 1, 2, 5, true",      // depthwise 5x5
            "1, 8, 12, 6, 7, 3, 1, 0, 2, true",     // 2 groups, no padding
            "2, 6, 3, 7, 5, 3, 1, 1, 3, true",      // 3 groups, 2 in / 1 out each
            "1, 4, 8, 6, 6, 3, 1, 1, 4, true",      // depthwise with 2 filters per channel
            "2, 64, 32, 5, 6, 3, 1, 1, 2, true",    // 2 groups of 32 channels
            "1, 3, 4, 5, 6, 5, 1, 2, 1, true",      // 5x5
            "1, 4, 5, 3, 4, 2, 1, 1, 1, true",      // even kernel, output larger than input
            "1, 2, 3, 1, 1, 3, 1, 1, 1, true",      // 1x1 image
            "1, 33, 17, 13, 11, 3, 1, 1, 1, true",  // odd channel counts
            "2, 40, 24, 9, 10, 5, 1, 2, 1, true",   // many input channels, 5x5
            "2, 32, 8, 7, 6, 3, 1, 0, 1, false",    // many input channels, no padding
            "1, 32, 8, 5, 7, 2, 1, 1, 1, true",     // many input channels, even kernel
            "1, 64, 16, 6, 6, 3, 2, 1, 1, true",    // many input channels, stride 2
            "2, 40, 36, 9, 8, 3, 2, 0, 1, true",    // ... stride 2 without padding, odd size (VAE downsample)
            "1, 32, 8, 11, 10, 5, 3, 2, 1, true",   // ... stride 3, 5x5
            "1, 33, 35, 13, 11, 3, 1, 1, 1, true",  // many channels both sides, 3x3 (UNet, VAE), odd sizes
            "2, 32, 40, 7, 6, 3, 1, 0, 1, false",   // the same without padding
            "1, 48, 32, 1, 1, 3, 1, 1, 1, true",    // ... on a 1x1 image
            "1, 32, 33, 2, 17, 3, 1, 1, 1, true",   // ... on a 2x17 image
    })
    void conv2d(int b, int cin, int cout, int h, int w, int k, int stride, int pad, int groups, boolean bias) {
        long seed = Arrays.hashCode(new int[] {b, cin, cout, h, w, k, stride, pad, groups});
        FloatTensor x = held(random(seed, b, cin, h, w)), wt = held(randomScaled(seed + 1, 0.3, 0, cout, cin / groups, k, k));
        FloatTensor bt = bias ? held(random(seed + 2, cout)) : null;
        assertClose("conv2d", Arrays.toString(x.shape()) + " * " + Arrays.toString(wt.shape()) + " s" + stride + " p" + pad + " g" + groups,
                ops.conv2d(up(x), up(wt), up(bt), stride, pad, groups), ReferenceOps.conv2d(x, wt, bt, stride, pad, groups));
    }

    @Test void linear() {
        int[][] cases = {{2, 5, 7, 9}, {1, 3, 16, 33}, {3, 1, 1, 4}, {1, 77, 64, 96}, {1, 300, 64, 48}};
        for (int[] c : cases) {
            FloatTensor x = held(random(c[2], c[0], c[1], c[2])), w = held(randomScaled(c[3], 0.2, 0, c[3], c[2])), b = held(random(11, c[3]));
            assertClose("linear", Arrays.toString(x.shape()) + " x " + Arrays.toString(w.shape()),
                    ops.linear(up(x), up(w), up(b)), ReferenceOps.linear(x, w, b));
            assertClose("linear", "no bias " + Arrays.toString(x.shape()),
                    ops.linear(up(x), up(w), null), ReferenceOps.linear(x, w, null));
        }
        FloatTensor x1 = held(random(20, 12)), w1 = held(random(21, 5, 12));        // a single vector
        assertClose("linear", "rank 1", ops.linear(up(x1), up(w1), null), ReferenceOps.linear(x1, w1, null));
        FloatTensor x4 = held(random(22, 2, 3, 2, 6)), w4 = held(random(23, 4, 6)); // more leading dimensions
        assertClose("linear", "rank 4", ops.linear(up(x4), up(w4), null), ReferenceOps.linear(x4, w4, null));
    }

    // ---- normalisation ------------------------------------------------------------------------

    @ParameterizedTest(name = "{0} groups {1} silu {2} shift {3}")
    @CsvSource({
            "'2,12,5,7', 4, false, 0",
            "'2,12,5,7', 4, true, 0",
            "'1,32,9,9', 32, true, 0",       // one channel per group
            "'2,8,10', 2, false, 0",         // rank 3
            "'1,64,31,33', 32, true, 50",    // a large mean: catches E[x²] − E[x]² in float
            "'2,6', 3, false, 0",            // rank 2: one element per channel
    })
    void groupNorm(String shapeText, int groups, boolean silu, double shift) {
        int[] shape = Arrays.stream(shapeText.split(",")).mapToInt(Integer::parseInt).toArray();
        FloatTensor x = held(randomScaled(shape.length * 31L + groups, 2, shift, shape));
        FloatTensor g = held(randomScaled(5, 0.5, 1, shape[1])), b = held(random(6, shape[1]));
        for (float eps : new float[] {1e-5f, 1e-6f}) {
            assertClose("groupNorm", shapeText + " G" + groups + " eps " + eps + " silu " + silu,
                    ops.groupNorm(up(x), groups, up(g), up(b), eps, silu), ReferenceOps.groupNorm(x, groups, g, b, eps, silu));
        }
    }

    @Test void layerNorm() {
        int[][] shapes = {{2, 9, 40}, {4, 130}, {1, 77, 768}, {3, 1, 1, 17}};
        for (int[] s : shapes) {
            for (double shift : new double[] {0, 30}) {
                FloatTensor x = held(randomScaled(s[s.length - 1], 1.5, shift, s));
                FloatTensor g = held(randomScaled(7, 0.5, 1, s[s.length - 1])), b = held(random(8, s[s.length - 1]));
                assertClose("layerNorm", Arrays.toString(s) + " shift " + shift,
                        ops.layerNorm(up(x), up(g), up(b), 1e-5f), ReferenceOps.layerNorm(x, g, b, 1e-5f));
            }
        }
    }

    @Test void layerNormChannels() {
        int[][] shapes = {{2, 6, 5, 7}, {1, 64, 17, 19}, {2, 3, 1, 1}, {1, 130, 4, 3}};
        for (int[] s : shapes) {
            for (double shift : new double[] {0, 20}) {
                FloatTensor x = held(randomScaled(s[1] * 7L, 1.5, shift, s));
                FloatTensor g = held(randomScaled(9, 0.5, 1, s[1])), b = held(random(10, s[1]));
                assertClose("layerNormChannels", Arrays.toString(s) + " shift " + shift,
                        ops.layerNormChannels(up(x), up(g), up(b), 1e-6f), ReferenceOps.layerNormChannels(x, g, b, 1e-6f));
            }
        }
    }

    // ---- attention ----------------------------------------------------------------------------

    @ParameterizedTest(name = "B{0} Nq{1} Nk{2} C{3} heads {4}")
    @CsvSource({
            "2, 21, 21, 24, 3",    // self-attention
            "1, 64, 64, 40, 1",    // one head (VAE mid block)
            "2, 13, 7, 16, 2",     // cross-attention, fewer keys than queries
            "1, 9, 77, 64, 8",     // cross-attention to a 77-token context, 8 heads of 8
            "2, 33, 33, 48, 4",
            "1, 5, 3, 10, 5",      // heads of 2 channels
    })
    void attention(int b, int nq, int nk, int c, int heads) {
        long seed = Arrays.hashCode(new int[] {b, nq, nk, c, heads});
        FloatTensor q = held(random(seed, b, nq, c)), k = held(random(seed + 1, b, nk, c)), v = held(random(seed + 2, b, nk, c));
        float scale = (float) (1 / Math.sqrt(c / heads));
        assertClose("attention", "q " + Arrays.toString(q.shape()) + " k " + Arrays.toString(k.shape()) + " heads " + heads,
                ops.attention(up(q), up(k), up(v), heads, scale, AttentionMask.NONE),
                ReferenceOps.attention(q, k, v, heads, scale, AttentionMask.NONE));
        // sharper softmax: scores up to ~±30 must not overflow
        assertClose("attention", "scale 4", ops.attention(up(q), up(k), up(v), heads, 4f, AttentionMask.NONE),
                ReferenceOps.attention(q, k, v, heads, 4f, AttentionMask.NONE));
    }

    @Test void attentionWithMasks() {
        int b = 2, n = 11, c = 24, heads = 3;
        FloatTensor q = held(random(40, b, n, c)), k = held(random(41, b, n, c)), v = held(random(42, b, n, c));
        int[][] keep = {{1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, {1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0}};
        int[][] holes = {{1, 0, 1, 1, 0, 1, 1, 1, 0, 1, 1}, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}};
        List<AttentionMask> masks = List.of(AttentionMask.CAUSAL, AttentionMask.of(false, keep),
                AttentionMask.of(true, keep), AttentionMask.of(false, holes), AttentionMask.of(true, holes));
        float scale = (float) (1 / Math.sqrt(c / heads));
        for (AttentionMask hm : masks) {
            AttentionMask dm = hm.keyKeep() == null ? hm : new AttentionMask(hm.causal(), ops.upload((IntTensor) hm.keyKeep()));
            assertClose("attention", hm.toString(), ops.attention(up(q), up(k), up(v), heads, scale, dm),
                    ReferenceOps.attention(q, k, v, heads, scale, hm));
        }
        // masked keys get weight exactly 0: changing them cannot change the result at all
        AttentionMask m = mask(true, keep);
        FloatTensor k2 = k.copy(), v2 = v.copy();
        for (int bi = 0; bi < b; bi++) {
            for (int j = 0; j < n; j++) {
                if (keep[bi][j] != 0) continue;
                for (int e = 0; e < c; e++) {
                    k2.data()[(bi * n + j) * c + e] = 100f;    // finite in float16 too
                    v2.data()[(bi * n + j) * c + e] = 1000f;
                }
            }
        }
        assertArrayEquals(down(ops.attention(up(q), up(k), up(v), heads, scale, m)).data(),
                down(ops.attention(up(q), up(k2), up(v2), heads, scale, m)).data(), "masked keys changed the output");
        // cross-attention with a padding mask on the keys
        FloatTensor kx = held(random(43, b, 5, c)), vx = held(random(44, b, 5, c));
        int[][] padRows = {{1, 1, 1, 0, 0}, {1, 0, 1, 1, 1}};
        assertClose("attention", "cross padding", ops.attention(up(q), up(kx), up(vx), heads, scale, mask(false, padRows)),
                ReferenceOps.attention(q, kx, vx, heads, scale, AttentionMask.of(false, padRows)));
    }

    // ---- activations and elementwise ----------------------------------------------------------

    /** Normal values with a few far into both tails. */
    private static FloatTensor activationInput(long seed, int... shape) {
        FloatTensor x = randomScaled(seed, 3, 0, shape);
        float[] extremes = {-30, -12, -6, -3.5f, -1e-3f, 0, 1e-6f, 2.5f, 7, 15, 40};
        for (int i = 0; i < extremes.length && i < x.numel(); i++) x.data()[i * 7 % x.numel()] = extremes[i];
        return x;
    }

    @Test void activations() {
        for (int[] s : new int[][] {{3, 37}, {2, 4, 5, 5}, {1, 1000}}) {
            FloatTensor x = held(activationInput(s[s.length - 1], s));
            String info = Arrays.toString(s);
            assertClose("silu", info, ops.silu(up(x)), ReferenceOps.silu(x));
            assertClose("quickGelu", info, ops.quickGelu(up(x)), ReferenceOps.quickGelu(x));
            assertClose("gelu", info, ops.gelu(up(x)), ReferenceOps.gelu(x));
            assertElementwise("silu", info, ops.silu(up(x)), ReferenceOps.silu(x));
            assertElementwise("quickGelu", info, ops.quickGelu(up(x)), ReferenceOps.quickGelu(x));
            assertElementwise("gelu", info, ops.gelu(up(x)), ReferenceOps.gelu(x));
        }
    }

    @Test void gatedActivations() {
        FloatTensor x = held(activationInput(50, 2, 5, 22));
        assertClose("geglu", "[2, 5, 22]", ops.geglu(up(x)), ReferenceOps.geglu(x));
        assertElementwise("geglu", "[2, 5, 22]", ops.geglu(up(x)), ReferenceOps.geglu(x));
        FloatTensor y = held(activationInput(51, 1, 7, 2 * 37));
        assertClose("geglu", "[1, 7, 74]", ops.geglu(up(y)), ReferenceOps.geglu(y));
        FloatTensor z = held(random(52, 2, 6, 4, 5));
        assertClose("simpleGate", "[2, 6, 4, 5]", ops.simpleGate(up(z)), ReferenceOps.simpleGate(z));
    }

    /** NAFNet's fused forms against the compositions they stand for. */
    @Test void fusedForms() {
        FloatTensor x = held(random(150, 2, 6, 7, 9)), ib = held(random(151, 6)), b = held(random(153, 6));
        FloatTensor dw = held(randomScaled(152, 0.3, 0, 6, 1, 3, 3));
        for (int stride : new int[] {1, 2}) {
            assertClose("conv2dWithInputBias", "depthwise stride " + stride, ops.conv2dWithInputBias(up(x), up(ib), up(dw), up(b), stride, 1, 6),
                    ReferenceOps.conv2d(ReferenceOps.perChannel(x, ib, true), dw, b, stride, 1, 6));
        }
        FloatTensor dense = held(randomScaled(154, 0.3, 0, 4, 6, 3, 3));
        assertClose("conv2dWithInputBias", "dense", ops.conv2dWithInputBias(up(x), up(ib), up(dense), null, 1, 1, 1),
                ReferenceOps.conv2d(ReferenceOps.perChannel(x, ib, true), dense, null, 1, 1, 1));
        assertClose("conv2dWithInputBias", "no input bias", ops.conv2dWithInputBias(up(x), null, up(dw), up(b), 1, 1, 6),
                ReferenceOps.conv2d(x, dw, b, 1, 1, 6));
        FloatTensor a = held(random(155, 2, 6, 7, 9)), sc = held(random(156, 6));
        assertClose("addScaledPerChannel", "bias", ops.addScaledPerChannel(up(a), up(x), up(b), up(sc)),
                ReferenceOps.add(a, ReferenceOps.perChannel(ReferenceOps.perChannel(x, b, true), sc, false)));
        assertClose("addScaledPerChannel", "no bias", ops.addScaledPerChannel(up(a), up(x), null, up(sc)),
                ReferenceOps.add(a, ReferenceOps.perChannel(x, sc, false)));
        FloatTensor z = held(random(157, 2, 6, 4, 5)), zb = held(random(158, 6));
        assertClose("simpleGate", "bias", ops.simpleGate(up(z), up(zb)), ReferenceOps.simpleGate(ReferenceOps.perChannel(z, zb, true)));
        assertRejects("addScaledPerChannel", () -> ops.addScaledPerChannel(up(a), up(x), up(b), up(held(random(159, 5)))));
        assertRejects("simpleGate", () -> ops.simpleGate(up(z), up(held(random(160, 3)))));
    }

    @Test void arithmetic() {
        FloatTensor a = held(random(60, 2, 3, 4, 5)), b = held(random(61, 2, 3, 4, 5));
        assertClose("add", "same shape", ops.add(up(a), up(b)), ReferenceOps.add(a, b));
        for (int[] suffix : new int[][] {{3, 4, 5}, {4, 5}, {5}}) {
            FloatTensor s = held(random(62, suffix));
            assertClose("add", "suffix " + Arrays.toString(suffix), ops.add(up(a), up(s)), ReferenceOps.add(a, s));
        }
        assertClose("mul", "same shape", ops.mul(up(a), up(b)), ReferenceOps.mul(a, b));
        assertClose("scale", "0.18215", ops.scale(up(a), 0.18215f), ReferenceOps.scale(a, 0.18215f));
        FloatTensor big = held(randomScaled(63, 2, 0, 3, 7, 11));
        assertExact("clamp", "[-1, 1]", ops.clamp(up(big), -1, 1), ReferenceOps.clamp(big, -1, 1));
        FloatTensor c = held(random(64, 3)), bc = held(random(65, 2, 3)), bc4 = held(random(66, 2, 3, 1, 1));
        FloatTensor x = held(random(67, 2, 3, 4, 5));
        for (FloatTensor v : List.of(c, bc, bc4)) {
            String info = "v " + Arrays.toString(v.shape());
            assertClose("addPerChannel", info, ops.addPerChannel(up(x), up(v)), ReferenceOps.perChannel(x, v, true));
            assertClose("mulPerChannel", info, ops.mulPerChannel(up(x), up(v)), ReferenceOps.perChannel(x, v, false));
        }
    }

    // ---- resampling and layout ----------------------------------------------------------------

    @Test void resampling() {
        FloatTensor x = held(random(70, 2, 3, 5, 7));
        assertExact("upsampleNearest2x", "[2, 3, 5, 7]", ops.upsampleNearest2x(up(x)), ReferenceOps.upsampleNearest2x(x));
        for (int r : new int[] {2, 3}) {
            FloatTensor p = held(random(71 + r, 2, 2 * r * r, 3, 5));
            assertExact("pixelShuffle", "r " + r, ops.pixelShuffle(up(p), r), ReferenceOps.pixelShuffle(p, r));
        }
        assertClose("globalAvgPool", "[2, 3, 5, 7]", ops.globalAvgPool(up(x)), ReferenceOps.globalAvgPool(x));
        FloatTensor shifted = held(randomScaled(74, 1, 10, 1, 4, 17, 19));
        assertClose("globalAvgPool", "shifted", ops.globalAvgPool(up(shifted)), ReferenceOps.globalAvgPool(shifted));
        assertExact("pad2d", "0,1,0,1", ops.pad2d(up(x), 0, 1, 0, 1), ReferenceOps.pad2d(x, 0, 1, 0, 1));
        assertExact("pad2d", "2,1,3,0", ops.pad2d(up(x), 2, 1, 3, 0), ReferenceOps.pad2d(x, 2, 1, 3, 0));
        assertExact("crop2d", "1,2,3x4", ops.crop2d(up(x), 1, 2, 3, 4), ReferenceOps.crop2d(x, 1, 2, 3, 4));
        assertExact("crop2d", "whole", ops.crop2d(up(x), 0, 0, 5, 7), x);
    }

    @Test void concatAndSlice() {
        FloatTensor a = held(random(80, 2, 3, 4, 5)), b = held(random(81, 2, 1, 4, 5)), c = held(random(82, 2, 2, 4, 5));
        assertExact("concat", "dim 1", ops.concat(List.of(up(a), up(b), up(c)), 1), ReferenceOps.concat(List.of(a, b, c), 1));
        FloatTensor d = held(random(83, 1, 3, 4, 5));
        assertExact("concat", "dim 0", ops.concat(List.of(up(a), up(d)), 0), ReferenceOps.concat(List.of(a, d), 0));
        FloatTensor e = held(random(84, 2, 3, 4, 2));
        assertExact("concat", "dim 3", ops.concat(List.of(up(a), up(e)), 3), ReferenceOps.concat(List.of(a, e), 3));
        assertExact("concat", "one part", ops.concat(List.of(up(a)), 2), a);
        for (int dim = 0; dim < 4; dim++) {
            int size = a.dim(dim);
            int from = size > 1 ? 1 : 0;
            assertExact("slice", "dim " + dim, ops.slice(up(a), dim, from, size), ReferenceOps.slice(a, dim, from, size));
        }
        assertExact("slice", "first half", ops.slice(up(a), 3, 0, 2), ReferenceOps.slice(a, 3, 0, 2));
    }

    @Test void tokenLayouts() {
        FloatTensor x = held(random(90, 2, 35, 33, 37));   // not multiples of any tile size
        assertExact("nchwToTokens", "[2, 35, 33, 37]", ops.nchwToTokens(up(x)), ReferenceOps.nchwToTokens(x));
        FloatTensor t = held(random(91, 2, 33 * 37, 35));
        assertExact("tokensToNchw", "[2, 1221, 35]", ops.tokensToNchw(up(t), 33, 37), ReferenceOps.tokensToNchw(t, 33, 37));
        assertExact("tokensToNchw", "round trip", ops.tokensToNchw(ops.nchwToTokens(up(x)), 33, 37), x);
    }

    @Test void gathering() {
        FloatTensor table = held(random(95, 50, 12));
        int[][] ids = {{49, 0, 3, 3, 17}, {1, 2, 3, 48, 0}};
        assertExact("embedding", "[2][5] from [50, 12]", ops.embedding(up(table), ints(ids)), ReferenceOps.embedding(table, ids));
        FloatTensor x = held(random(96, 3, 7, 10));
        int[] rows = {6, 0, 3};
        assertExact("gatherRows", "[3, 7, 10]", ops.gatherRows(up(x), ints(rows)), ReferenceOps.gatherRows(x, rows));
        if (!rejectsIndicesOutOfRange()) {
            // read on the device: an id outside the table gives a zero row instead of an error
            FloatTensor y = down(ops.embedding(up(table), ints(new int[][] {{3, 50, -1}})));
            for (int e = 0; e < 12; e++) {
                assertEquals(table.data()[3 * 12 + e], y.data()[e], "row 0");
                assertEquals(0f, y.data()[12 + e], "id 50 of a 50-row table");
                assertEquals(0f, y.data()[24 + e], "id -1");
            }
        }
    }

    @Test void argmaxTakesTheFirstLargestValue() {
        int[][] ids = {{5, 9, 9, 1}, {0, 0, 0, 0}, {-3, -1, -2, -1}};
        assertArrayEquals(new int[] {1, 0, 1}, ops.downloadInts(ops.argmax(ints(ids))).data(), "int32 rows");
        FloatTensor x = new FloatTensor(new float[] {0.5f, -2f, 3.25f, 3.25f, 1f, 7f, -7f, 6.5f}, 2, 4);
        assertArrayEquals(new int[] {2, 1}, ops.downloadInts(ops.argmax(up(x))).data(), "float rows");
        IntTensor big = new IntTensor(new Random(7).ints(6 * 77, 0, 1000).toArray(), 6, 77);
        int[] want = new int[6];
        for (int r = 0; r < 6; r++) {
            for (int j = 1; j < 77; j++) if (big.data()[r * 77 + j] > big.data()[r * 77 + want[r]]) want[r] = j;
        }
        assertArrayEquals(want, ops.downloadInts(ops.argmax(ops.upload(big))).data(), "[6, 77]");
    }

    @Test void reductionsAndProducts() {
        FloatTensor logits = held(randomScaled(150, 4, 0, 3, 8));
        assertClose("softmax", "[3, 8]", ops.softmax(up(logits)), ReferenceOps.softmax(logits));
        FloatTensor wide = held(randomScaled(151, 2, 1, 2, 1000));
        assertClose("softmax", "[2, 1000]", ops.softmax(up(wide)), ReferenceOps.softmax(wide));
        FloatTensor e = held(random(152, 5, 24));
        assertClose("normalizeRows", "[5, 24]", ops.normalizeRows(up(e)), ReferenceOps.normalizeRows(e));
        FloatTensor e3 = held(random(153, 2, 3, 300));
        assertClose("normalizeRows", "[2, 3, 300]", ops.normalizeRows(up(e3)), ReferenceOps.normalizeRows(e3));
        FloatTensor a = held(random(154, 3, 8)), b = held(random(155, 8, 77 * 5));
        assertClose("matmul", "[3, 8]·[8, 385]", ops.matmul(up(a), up(b)), ReferenceOps.matmul(a, b));
        FloatTensor x = held(randomScaled(156, 2, 0, 4, 9));
        assertElementwise("exp", "[4, 9]", ops.exp(up(x)), ReferenceOps.exp(x));
        FloatTensor s = held(new FloatTensor(new float[] {-2.75f}, 1));
        assertClose("mulScalar", "[4, 9]·[1]", ops.mulScalar(up(x), up(s)), ReferenceOps.mulScalar(x, s.data()[0]));
    }

    @Test void clipPixelValuesCropsAndPadsLikeTheProcessor() {
        float[] mean = {0.48145466f, 0.4578275f, 0.40821073f}, std = {0.26862954f, 0.26130258f, 0.27577711f};
        for (int[] hw : new int[][] {{40, 52}, {20, 30}, {33, 17}, {32, 32}}) {
            FloatTensor img = held(randomScaled(160 + hw[0], 0.5, 0, 1, 3, hw[0], hw[1]));
            assertClose("clipPixelValues", Arrays.toString(hw) + " → 32", ops.clipPixelValues(up(img), 32, mean, std),
                    ReferenceOps.clipPixelValues(img, 32, mean, std));
        }
    }

    /** Every operation returns a new tensor and leaves its inputs as they were. */
    @Test void operationsLeaveInputsUnchanged() {
        FloatTensor x = random(130, 2, 4, 6, 5), w = random(131, 4, 4, 3, 3), dw = random(132, 4, 1, 3, 3);
        FloatTensor g = random(133, 4), s = random(134, 2, 7, 8), lw = random(135, 6, 8);
        Tensor xt = up(x), wt = up(w), dwt = up(dw), gt = up(g), st = up(s), lwt = up(lw);
        List<Tensor> inputs = List.of(xt, wt, dwt, gt, st, lwt);
        List<FloatTensor> before = inputs.stream().map(this::down).toList();
        ops.conv2d(xt, wt, gt, 1, 1, 1);
        ops.conv2d(xt, dwt, gt, 1, 1, 4);
        ops.linear(st, lwt, null);
        ops.groupNorm(xt, 2, gt, gt, 1e-5f, true);
        ops.layerNorm(st, up(random(136, 8)), up(random(137, 8)), 1e-5f);
        ops.layerNormChannels(xt, gt, gt, 1e-6f);
        ops.attention(st, st, st, 2, 0.5f, AttentionMask.CAUSAL);
        ops.silu(xt);
        ops.quickGelu(xt);
        ops.gelu(xt);
        ops.geglu(st);
        ops.simpleGate(xt);
        ops.add(xt, up(random(138, 5)));
        ops.mul(xt, xt);
        ops.scale(xt, 3f);
        ops.clamp(xt, -0.5f, 0.5f);
        ops.addPerChannel(xt, gt);
        ops.mulPerChannel(xt, gt);
        ops.upsampleNearest2x(xt);
        ops.pixelShuffle(xt, 2);
        ops.globalAvgPool(xt);
        ops.pad2d(xt, 1, 1, 1, 1);
        ops.crop2d(xt, 1, 1, 2, 2);
        ops.concat(List.of(xt, xt), 1);
        ops.slice(xt, 1, 1, 3);
        ops.tokensToNchw(ops.nchwToTokens(xt), 6, 5);
        ops.gatherRows(st, ints(0, 6));
        ops.softmax(st);
        ops.normalizeRows(st);
        ops.exp(xt);
        for (int i = 0; i < inputs.size(); i++) {
            assertArrayEquals(before.get(i).data(), down(inputs.get(i)).data(), "input " + i + " was modified");
        }
    }

    // ---- error paths --------------------------------------------------------------------------

    @Test void rejectsMismatchedShapes() {
        Tensor x4 = up(random(100, 2, 4, 6, 6)), x3 = up(random(101, 2, 6, 8));
        Tensor g4 = up(random(102, 4)), g8 = up(random(103, 8)), g5 = up(random(104, 5));
        assertRejects("conv2d", () -> ops.conv2d(x4, up(random(105, 5, 3, 3, 3)), null, 1, 1, 1));   // Cin 3 ≠ 4
        assertRejects("conv2d", () -> ops.conv2d(x4, up(random(106, 6, 2, 3, 3)), null, 1, 1, 3));   // 4 % 3
        assertRejects("conv2d", () -> ops.conv2d(x4, up(random(107, 5, 4, 3, 3)), g4, 1, 1, 1));     // bias 4 ≠ 5
        assertRejects("conv2d", () -> ops.conv2d(x3, up(random(108, 5, 6, 1, 1)), null, 1, 0, 1));   // rank 3
        assertRejects("conv2d", () -> ops.conv2d(x4, up(random(109, 5, 4, 9, 9)), null, 1, 1, 1));   // kernel too big
        assertRejects("conv2d", () -> ops.conv2d(x4, up(random(110, 5, 4, 3, 3)), null, 0, 1, 1));   // stride 0
        assertRejects("linear", () -> ops.linear(x3, up(random(111, 5, 7)), null));
        assertRejects("linear", () -> ops.linear(x3, up(random(112, 5, 8)), g4));
        assertRejects("groupNorm", () -> ops.groupNorm(x4, 3, g4, g4, 1e-5f, false));
        assertRejects("groupNorm", () -> ops.groupNorm(x4, 2, g5, g4, 1e-5f, false));
        assertRejects("layerNorm", () -> ops.layerNorm(x3, g4, g8, 1e-5f));
        assertRejects("layerNormChannels", () -> ops.layerNormChannels(x4, g8, g8, 1e-6f));
        assertRejects("layerNormChannels", () -> ops.layerNormChannels(x3, g8, g8, 1e-6f));
        Tensor q = up(random(113, 2, 5, 12)), k = up(random(114, 2, 7, 12)), vBad = up(random(115, 2, 6, 12));
        assertRejects("attention", () -> ops.attention(q, k, k, 5, 1f, AttentionMask.NONE));           // 12 % 5
        assertRejects("attention", () -> ops.attention(q, k, vBad, 2, 1f, AttentionMask.NONE));        // k ≠ v
        assertRejects("attention", () -> ops.attention(q, up(random(116, 1, 7, 12)), up(random(117, 1, 7, 12)), 2, 1f,
                AttentionMask.NONE));                                                                  // batch
        assertRejects("attention", () -> ops.attention(q, k, k, 2, 1f, mask(false, new int[][] {{1, 1, 1}, {1, 1, 1}})));  // mask length
        assertRejects("geglu", () -> ops.geglu(up(random(118, 2, 3, 7))));
        assertRejects("simpleGate", () -> ops.simpleGate(up(random(119, 1, 3, 2, 2))));
        assertRejects("add", () -> ops.add(x4, up(random(120, 6, 5))));
        assertRejects("add", () -> ops.add(x4, up(random(121, 1, 2, 4, 6, 6))));
        assertRejects("mul", () -> ops.mul(x4, up(random(122, 2, 4, 6, 5))));
        assertRejects("addPerChannel", () -> ops.addPerChannel(x4, g5));
        assertRejects("mulPerChannel", () -> ops.mulPerChannel(x4, g5));
        assertRejects("pixelShuffle", () -> ops.pixelShuffle(x4, 3));
        assertRejects("upsampleNearest2x", () -> ops.upsampleNearest2x(x3));
        assertRejects("crop2d", () -> ops.crop2d(x4, 1, 1, 6, 2));
        assertRejects("pad2d", () -> ops.pad2d(x4, -1, 0, 0, 0));
        assertRejects("concat", () -> ops.concat(List.of(x4, up(random(123, 2, 4, 6, 5))), 1));
        assertRejects("concat", () -> ops.concat(List.of(x4, x4), 4));
        assertRejects("slice", () -> ops.slice(x4, 1, 2, 5));
        assertRejects("slice", () -> ops.slice(x4, 4, 0, 1));
        assertRejects("tokensToNchw", () -> ops.tokensToNchw(x3, 3, 3));
        if (rejectsIndicesOutOfRange()) {
            assertRejects("embedding", () -> ops.embedding(up(random(124, 10, 4)), ints(new int[][] {{0, 10}})));
            assertRejects("embedding", () -> ops.embedding(up(random(125, 10, 4)), ints(new int[][] {{0, -1}})));
            assertRejects("gatherRows", () -> ops.gatherRows(x3, ints(0, 6)));
        }
        assertRejects("gatherRows", () -> ops.gatherRows(x3, ints(0)));
        assertRejects("embedding", () -> ops.embedding(up(random(126, 10, 4)), up(random(127, 1, 2))));   // float ids
        assertRejects("matmul", () -> ops.matmul(up(random(128, 3, 4)), up(random(129, 5, 2))));
        assertRejects("mulScalar", () -> ops.mulScalar(x4, g4));
        assertRejects("argmax", () -> ops.argmax(x4));
        assertRejects("globalAvgPool", () -> ops.globalAvgPool(x3));
    }

    // ---- a weight store in memory ---------------------------------------------------------------

    /** A {@link WeightStore} over tensors in a map, counting reads per key. */
    public static final class MemoryStore implements WeightStore {
        private final Map<String, FloatTensor> tensors = new LinkedHashMap<>();
        private final Map<String, Integer> reads = new LinkedHashMap<>();

        public MemoryStore put(String key, FloatTensor t) {
            tensors.put(key, t);
            return this;
        }

        public int reads(String key) { return reads.getOrDefault(key, 0); }

        @Override public Path path() { return Path.of("memory"); }
        @Override public Set<String> keys() { return tensors.keySet(); }
        @Override public boolean contains(String key) { return tensors.containsKey(key); }

        @Override public TensorInfo info(String key) {
            FloatTensor t = get(key);
            return new TensorInfo(key, DType.F32, t.shape());
        }

        @Override public FloatTensor readFloat(String key) {
            reads.merge(key, 1, Integer::sum);
            return get(key).copy();
        }

        @Override public long[] readLong(String key) { throw new UnsupportedOperationException("no integer tensors"); }

        @Override public void close() { }

        private FloatTensor get(String key) {
            FloatTensor t = tensors.get(key);
            if (t == null) throw new IllegalArgumentException("memory store: no tensor " + key);
            return t;
        }
    }
}
