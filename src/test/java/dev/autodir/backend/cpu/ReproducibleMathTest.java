package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import static dev.autodir.backend.cpu.VectorMath.F;
import static dev.autodir.backend.cpu.VectorMath.LANES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cpu kernels give the same bits whether the JIT has compiled them or not (issue 12, item 13): the
 * source of run-to-run differences was the Vector API's lanewise(EXP), compiled to SVML but interpreted as
 * Math.exp, and reduceLanes(ADD), whose order is unspecified.
 */
class ReproducibleMathTest {

    /** Inputs over exp's whole range, including the edges and special values. */
    static float[] inputs(int n) {
        SplittableRandom r = new SplittableRandom(12);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 220 - 115);
        float[] special = {0f, -0f, 1f, -1f, 88.72283f, 88.7229f, -87.33655f, -103.9f, -104f, 1e-30f, -1e-30f,
                Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE};
        System.arraycopy(special, 0, x, 0, special.length);
        return x;
    }

    /** exp, silu, gelu and the sums of the kernels over {@code x}, as one checksum of their bits. */
    static long checksum(float[] x) {
        float[] y = new float[x.length];
        long h = 0;
        int bound = F.loopBound(x.length);
        for (int i = 0; i < bound; i += LANES) VectorMath.exp(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        for (int i = bound; i < x.length; i++) y[i] = VectorMath.exp(x[i]);
        for (float v : y) h = h * 31 + Float.floatToRawIntBits(v);
        for (VectorMath.Unary op : VectorMath.Unary.values()) {
            VectorMath.apply(op, x, 0, y, 0, x.length);
            for (float v : y) h = h * 31 + Float.floatToRawIntBits(v);
        }
        float[] finite = new float[x.length];
        for (int i = 0; i < x.length; i++) finite[i] = Float.isFinite(x[i]) ? x[i] : 0f;
        double[] m = VectorMath.moments(finite, 0, finite.length);
        h = h * 31 + Double.doubleToRawLongBits(m[0]);
        return h * 31 + Double.doubleToRawLongBits(m[1]);
    }

    /** For the -Xint child JVM: prints the checksum of the kernels over the same inputs. */
    public static void main(String[] args) {
        System.out.println(checksum(inputs(Integer.parseInt(args[0]))));
    }

    @Test
    void expIsAccurateAndLanesEqualTheScalarForm() {
        float[] x = inputs(1 << 16);
        int bound = F.loopBound(x.length);
        float[] y = new float[x.length];
        for (int i = 0; i < bound; i += LANES) VectorMath.exp(FloatVector.fromArray(F, x, i)).intoArray(y, i);
        double worst = 0;
        for (int i = 0; i < bound; i++) {
            assertEquals(Float.floatToRawIntBits(VectorMath.exp(x[i])), Float.floatToRawIntBits(y[i]), "lane vs scalar at x = " + x[i]);
            double ref = Math.exp(x[i]);
            if (Double.isNaN(x[i])) assertTrue(Float.isNaN(y[i]));
            else if (ref > Float.MAX_VALUE) assertEquals(Float.POSITIVE_INFINITY, y[i], "x = " + x[i]);
            else if (ref >= Float.MIN_NORMAL) worst = Math.max(worst, Math.abs(y[i] - ref) / Math.ulp((float) ref));
            else assertTrue(Math.abs(y[i] - ref) <= Float.MIN_VALUE, "subnormal exp(" + x[i] + ") = " + y[i] + ", expected " + ref);
        }
        assertTrue(worst <= 2.0, "worst error " + worst + " ulp; Cephes' expf is within ~1 ulp"); // tolerance: 2 ulp
    }

    @Test
    void kernelsGiveTheSameBitsInterpretedAsCompiled() throws IOException, InterruptedException {
        int n = 4099; // not a multiple of the lanes: the scalar tails run too
        float[] x = inputs(n);
        for (int i = 0; i < 2000; i++) checksum(x);            // warm: C2 compiles the kernels
        long compiled = checksum(x);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "-Xint", "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), ReproducibleMathTest.class.getName(), Integer.toString(n)))
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the -Xint JVM did not finish");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        String last = out.substring(out.lastIndexOf('\n') + 1);
        assertEquals(Long.toString(compiled), last, "interpreted run printed: " + out);
    }
}
