package dev.autodir.compare;

import dev.autodir.backend.BackendSpec;
import dev.autodir.backend.Backends;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Precision;
import dev.autodir.backend.cpu.CpuOps;
import dev.autodir.backend.onnx.QuantPlan;
import dev.autodir.backend.onnxruntime.OnnxRuntimeAvailability;
import dev.autodir.backend.onnxruntime.OnnxRuntimeOps;
import dev.autodir.backend.tensorrt.EnginePrecision;
import dev.autodir.backend.tensorrt.TensorRTAvailability;
import dev.autodir.backend.tensorrt.TensorRTOps;
import dev.autodir.backend.tensorrt.TensorRTSettings;
import dev.autodir.pipeline.StageBackends;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.FakeQuantOps;
import dev.autodir.quant.QuantFormat;

import java.io.PrintStream;

/**
 * Opens the backends of one {@link EngineSpec} for every stage, or says why it cannot run here. A precision the engine
 * cannot run is an error naming why — never a silent fallback to another precision (nor to another backend: engines
 * are opened strictly).
 */
public final class Engines {
    private Engines() { }

    /** The engine cannot start on this machine (no GPU, no runtime, no calibration, an unsupported precision). */
    public static final class Unavailable extends RuntimeException {
        public Unavailable(String message) { super(message); }
    }

    public static StageBackends open(EngineSpec e, Calibration calibration, PrintStream notices) {
        if (e.quantized() && calibration == null) {
            throw new Unavailable(e + " needs a calibration (--calibration FILE from `autodir calibrate`, or none to let compare calibrate on the input)");
        }
        switch (e.backend()) {
            case "cpu" -> {
                if (e.quantized()) {
                    Ops o = new FakeQuantOps(new CpuOps(), calibration, QuantFormat.parse(e.precision()));
                    return StageBackends.all(o);
                }
                if (!e.precision().equals("fp32")) throw new Unavailable(e + ": the cpu backend computes in float32 only (its quantized engines are int8 and fp8, simulated)");
                return StageBackends.all(new CpuOps());
            }
            case "cuda" -> {
                if (e.quantized()) {   // linear layers and 1x1 convolutions through cuBLASLt's INT8/FP8 products, the rest FP16
                    String why = dev.autodir.backend.cuda.CudaAvailability.unavailableReason();
                    if (why != null) throw new Unavailable(e + ": " + why);
                    try {
                        return StageBackends.all(dev.autodir.backend.cuda.CudaQuantizedOps.open(calibration, QuantFormat.parse(e.precision()), notices));
                    } catch (IllegalStateException | IllegalArgumentException ex) {
                        throw new Unavailable(e + ": " + ex.getMessage());
                    }
                }
                if (!e.precision().equals("fp32") && !e.precision().equals("fp16")) throw new Unavailable(e + ": the cuda backend runs fp32 or fp16");
                return strict(BackendSpec.all("cuda"), Precision.parse(e.precision()), notices);
            }
            case "onnxruntime" -> {
                String why = OnnxRuntimeAvailability.unavailableReason();
                if (why != null) throw new Unavailable(e + ": " + why);
                if (e.quantized()) {
                    var plan = new QuantPlan(QuantFormat.parse(e.precision()), calibration);
                    return StageBackends.all(new OnnxRuntimeOps(new CpuOps(), exportCache(), notices, plan));
                }
                if (!e.precision().equals("fp32")) throw new Unavailable(e + ": onnxruntime runs the float32 export or the INT8/FP8 QDQ exports");
                return StageBackends.all(new OnnxRuntimeOps(new CpuOps(), exportCache(), notices));
            }
            case "tensorrt" -> {
                String why = TensorRTAvailability.unavailableReason();
                if (why != null) throw new Unavailable(e + ": " + why);
                var p = EnginePrecision.parse(e.precision());
                var settings = TensorRTSettings.fromProperties().withPrecision(p);
                var ops = TensorRTOps.open(Precision.FP32, settings, notices);
                if (p.quantized()) ops.withQuantization(new QuantPlan(QuantFormat.parse(e.precision()), calibration));
                return StageBackends.all(ops);
            }
            default -> throw new Unavailable(e + ": the " + e.backend() + " backend is not part of this build");
        }
    }

    /** The exports' folder: -Dautodir.onnx.cache when set (reused across runs), else a temporary one. */
    private static java.nio.file.Path exportCache() {
        String dir = System.getProperty(OnnxRuntimeOps.CACHE_PROPERTY);
        return dir == null || dir.isBlank() ? null : java.nio.file.Path.of(dir);
    }

    private static StageBackends strict(BackendSpec spec, Precision p, PrintStream notices) {
        try {
            return Backends.create(spec, p, true, notices);
        } catch (RuntimeException ex) {
            throw new Unavailable(ex.getMessage());
        }
    }
}
