package dev.autodir.backend.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What the host-emulation tests of quantize.cu share: compiling it once, skipping without g++, its launches and inputs. */
abstract class QuantizedEmulation {
    @BeforeAll
    static void compile() {
        if (KernelEmulator.unavailableReason() == null) KernelEmulator.prepare(Kernel.QUANTIZE_ROWS);
    }

    @BeforeEach
    void emulation() {
        String reason = KernelEmulator.unavailableReason();
        assumeTrue(reason == null, () -> "no kernel emulation: " + reason);
    }

    static double[] smooth(long seed, int k) {
        Random r = new Random(seed);
        double[] s = new double[k];
        for (int i = 0; i < k; i++) s[i] = 0.25 + 3 * r.nextDouble();
        return s;
    }

    static KernelEmulator.Buf doubles(double[] d) {
        ByteBuffer b = ByteBuffer.allocate(8 * d.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : CudaQuantizedOps.packDoubles(d)) b.putInt(v);
        return new KernelEmulator.Buf(b.array());
    }

    /** The KernelLaunch as the emulator runs it (the launches CudaQuantizedOps.layerSteps builds are checked the same way). */
    static void run(KernelLaunch l) {
        KernelEmulator.launch(l.kernel(), l.gx(), l.gy(), l.gz(), l.bx(), l.by(), l.bz(), l.sharedBytes(), l.args().toArray());
    }

}
