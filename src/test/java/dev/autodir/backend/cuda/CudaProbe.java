package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;

/**
 * The first thing benchmarks/gpu-check.sh runs on the device: is the GPU usable, do cuBLASLt, cuDNN and the
 * kernel modules load, and with which versions. Exit code 0 when everything loaded and one small call of each
 * library gave a finite result; 1 otherwise (the script then reruns it with JavaCPP's debug log).
 */
public final class CudaProbe {
    private CudaProbe() { }

    public static void main(String[] args) {
        String reason = CudaAvailability.unavailableReason();
        if (reason != null) {
            System.out.println("PROBE FAIL: " + reason);
            System.exit(1);
        }
        int failures = 0;
        for (Precision p : Precision.values()) {
            try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p))) {
                Tensor x = ops.upload(CudaTestSupport.random(1, 1, 8, 6, 6));
                Tensor w = ops.upload(CudaTestSupport.random(2, 8, 8, 3, 3));
                Tensor y = ops.conv2d(x, w, null, 1, 1, 1);                                   // cuDNN (or fallback)
                Tensor t = ops.nchwToTokens(y);
                Tensor l = ops.linear(t, ops.upload(CudaTestSupport.random(3, 16, 8)), null);  // cuBLASLt
                Tensor a = ops.attention(l, l, l, 2, 0.25f, AttentionMask.NONE);               // own kernels
                FloatTensor out = ops.download(a);
                boolean finite = true;
                for (float v : out.data()) finite &= Float.isFinite(v);
                System.out.println("PROBE " + p + (finite ? " ok: " : " NON-FINITE: ") + ops.describe()
                        + ", conv " + ops.convAlgorithm());
                if (!finite) failures++;
            } catch (Throwable e) {
                failures++;
                System.out.println("PROBE " + p + " FAIL: " + e);
                e.printStackTrace(System.out);
            }
        }
        System.exit(failures == 0 ? 0 : 1);
    }
}
