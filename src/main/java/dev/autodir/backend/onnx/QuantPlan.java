package dev.autodir.backend.onnx;

import dev.autodir.backend.onnx.proto.OnnxProto.TensorProto;
import dev.autodir.quant.Calibration;
import dev.autodir.quant.QuantFormat;

/**
 * Explicit quantization of an export: every convolution and linear layer the calibration covers gets its input as a
 * QuantizeLinear → DequantizeLinear pair (per tensor, scale = range / format max, zero point 0) and its weight stored
 * quantized per output channel with a DequantizeLinear (axis 0) in front; SmoothQuant layers divide their input by the
 * factors (a Mul) and store the weight multiplied by them. What TensorRT builds INT8 and FP8 engines from and what ONNX
 * Runtime runs with its integer kernels; {@link dev.autodir.quant.FakeQuantOps} computes the same function.
 */
public record QuantPlan(QuantFormat format, Calibration calibration) {
    public QuantPlan {
        if (format == null || calibration == null) throw new IllegalArgumentException("a quantization plan needs a format and a calibration");
    }

    public boolean quantizes(String weightKey) { return calibration.layers().containsKey(weightKey); }

    /** The activation scale of the layer whose weight is {@code weightKey}. */
    public float activationScale(String weightKey) { return format.scaleFor(calibration.range(weightKey)); }

    public double[] smoothQuant(String weightKey) { return calibration.layers().get(weightKey).smoothQuant(); }

    /** "int8-qdq" / "fp8-qdq" (the precision an export records). */
    public String precision() { return format.label() + "-qdq"; }

    /** FP8 Q/DQ needs opset 19 (IR 9); INT8 works at the exporter's opset. */
    public int opset() { return format == QuantFormat.FP8_E4M3 ? 19 : OnnxExporter.OPSET; }

    public int irVersion() { return format == QuantFormat.FP8_E4M3 ? 9 : OnnxExporter.IR_VERSION; }

    /** The ONNX element type of the quantized values. */
    int elementType() { return format == QuantFormat.INT8 ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.FLOAT8E4M3FN_VALUE; }

    /** What identifies the plan in cache keys. */
    public String key() { return precision() + " calibration " + calibration.hash(); }

    static String scaleName(String weightKey) { return weightKey + ":scale"; }

    static String zeroName(String weightKey) { return weightKey + ":zero"; }

    static String dequantizedName(String weightKey) { return weightKey + ":dq"; }
}
