package dev.autodir.pipeline;

import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.backend.cuda.CudaGraph;
import dev.autodir.backend.cuda.CudaOps;
import dev.autodir.model.unet.UNet;
import dev.autodir.tensor.FloatTensor;

import java.io.PrintStream;
import java.util.Arrays;

/**
 * How a sampling step evaluates the UNet: directly, or on the cuda backend as a CUDA graph captured at the first
 * step and replayed at every later one (one launch instead of hundreds). The graph's inputs are persistent device
 * tensors that each step overwrites; a capture that fails falls back to direct calls with a notice. Set
 * {@code -Dautodir.cuda.graphs=false} to turn graphs off.
 */
public interface UNetCall extends AutoCloseable {
    /** eps = UNet(x [B, inC, h, w], t [B], context [B, T, D]). */
    Tensor eps(Ops ops, Tensor x, float[] t, Tensor context);

    @Override default void close() { }

    static UNetCall direct(UNet unet) {
        return (ops, x, t, ctx) -> unet.forward(ops, x, ops.uploadFloat32(new FloatTensor(t.clone(), t.length)), ctx);
    }

    /** Graphs on the cuda backend (unless disabled), direct calls elsewhere. */
    static UNetCall forBackend(Ops ops, UNet unet, PrintStream notices) {
        if (ops instanceof CudaOps && Boolean.parseBoolean(System.getProperty("autodir.cuda.graphs", "true"))) {
            return new Graphed(unet, notices);
        }
        return direct(unet);
    }

    /** The captured UNet, re-captured when the input shapes change. */
    final class Graphed implements UNetCall {
        private final UNet unet;
        private final PrintStream notices;
        private CudaGraph graph;
        private Tensor xIn, tIn, ctxIn, lastContext;
        private int[] xShape, ctxShape;
        private boolean failed;

        Graphed(UNet unet, PrintStream notices) {
            this.unet = unet;
            this.notices = notices;
        }

        @Override public Tensor eps(Ops o, Tensor x, float[] t, Tensor ctx) {
            CudaOps ops = (CudaOps) o;
            if (failed) return direct(unet).eps(o, x, t, ctx);
            if (graph == null || !Arrays.equals(xShape, x.shape()) || !Arrays.equals(ctxShape, ctx.shape())) {
                close();
                xShape = x.shape();
                ctxShape = ctx.shape();
                xIn = ops.persistent(ops.precision(), xShape);
                tIn = ops.persistent(Precision.FP32, t.length);
                ctxIn = ops.persistent(ops.precision(), ctxShape);
                ops.copyInto(xIn, x);
                ops.uploadInto(tIn, new FloatTensor(t.clone(), t.length));
                ops.copyInto(ctxIn, ctx);
                lastContext = ctx;
                try {
                    graph = ops.capture(() -> unet.forward(ops, xIn, tIn, ctxIn));
                } catch (RuntimeException e) {
                    failed = true;
                    if (notices != null) notices.println("autodir: CUDA graph capture of the UNet failed (" + e.getMessage() + "); running it without a graph");
                    close();
                    return direct(unet).eps(o, x, t, ctx);
                }
            } else {
                ops.copyInto(xIn, x);
                ops.uploadInto(tIn, new FloatTensor(t.clone(), t.length));
                if (ctx != lastContext) {
                    ops.copyInto(ctxIn, ctx);
                    lastContext = ctx;
                }
            }
            graph.replay();
            return graph.output();
        }

        @Override public void close() {
            if (graph != null) graph.close();
            for (Tensor tt : new Tensor[] {xIn, tIn, ctxIn}) if (tt != null) tt.close();
            graph = null;
            xIn = tIn = ctxIn = null;
            lastContext = null;
        }
    }
}
