package dev.autodir.backend.tensorrt;

/**
 * What an engine plan is tied to besides its network: the TensorRT and ONNX-parser versions that built it and the GPU
 * it was tuned on (a plan is specific to the TensorRT version and, by default, to the GPU's compute capability; the
 * tactics timed on one GPU model are not the best on another of the same capability, so the name counts too).
 *
 * @param tensorrtVersion   "10.15.1.29" (major.minor.patch.build of the loaded libnvinfer)
 * @param onnxParserVersion the loaded libnvonnxparser's version number
 * @param gpuName           "NVIDIA H200"
 * @param computeCapability "9.0"
 */
public record DeviceIdentity(String tensorrtVersion, String onnxParserVersion, String gpuName, String computeCapability) {
    public DeviceIdentity {
        require(tensorrtVersion, "tensorrtVersion");
        require(onnxParserVersion, "onnxParserVersion");
        require(gpuName, "gpuName");
        require(computeCapability, "computeCapability");
        if (!computeCapability.matches("[0-9]+\\.[0-9]+")) {
            throw new IllegalArgumentException("compute capability \"" + computeCapability + "\" is not MAJOR.MINOR");
        }
    }

    private static void require(String v, String what) {
        if (v == null || v.isBlank()) throw new IllegalArgumentException(what + " is empty");
        if (v.indexOf('\n') >= 0) throw new IllegalArgumentException(what + " spans lines");
    }

    /** TensorRT's packed version number (major·10000 + minor·100 + patch, as getInferLibVersion returns) with the build number. */
    public static String tensorrtVersion(int packed, int build) {
        return (packed / 10000) + "." + (packed / 100 % 100) + "." + (packed % 100) + "." + build;
    }

    /** A file-name-safe tag of the version and GPU: "trt10.15.1.29-sm90-NVIDIA_H200" (the timing cache's name). */
    public String fileTag() {
        return "trt" + tensorrtVersion + "-sm" + computeCapability.replace(".", "") + "-" + gpuName.replaceAll("[^A-Za-z0-9.]+", "_");
    }
}
