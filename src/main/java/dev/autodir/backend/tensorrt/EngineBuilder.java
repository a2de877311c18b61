package dev.autodir.backend.tensorrt;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer.BuilderFlag;
import org.bytedeco.tensorrt.global.nvinfer.MemoryPoolType;
import org.bytedeco.tensorrt.global.nvinfer.OptProfileSelector;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.ILogger;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.ITensor;
import org.bytedeco.tensorrt.nvinfer.ITimingCache;
import org.bytedeco.tensorrt.nvonnxparser.IParser;
import org.bytedeco.tensorrt.nvonnxparser.IParserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.bytedeco.tensorrt.global.nvinfer.createInferBuilder;
import static org.bytedeco.tensorrt.global.nvonnxparser.createParser;

/**
 * Builds one engine plan from an ONNX export through TensorRT's ONNX parser, applying a {@link BuildConfig} and
 * nothing else, and stores it in the {@link EngineCache} (plan, then sidecar). The route of NVIDIA's TensorRT
 * demo/Diffusion: parse the ONNX file, set precision flags, optimisation level, workspace and (optionally) one
 * optimisation profile, reuse a timing cache, {@code buildSerializedNetwork}. Every TensorRT object is released in
 * reverse order of creation ({@link NativeRelease}), also on failure.
 *
 * <p>Not verified: no machine this project runs on has TensorRT.
 */
final class EngineBuilder {
    private EngineBuilder() { }

    static Path build(TensorRTLibrary lib, BuildConfig cfg, EngineCache cache, EngineKey key) {
        TensorRTLibrary.Logger log = lib.logger;
        log.takeErrors();
        IBuilder builder = null;
        INetworkDefinition network = null;
        IParser parser = null;
        IBuilderConfig config = null;
        ITimingCache timing = null;
        BytePointer timingBytes = null;
        IHostMemory plan = null;
        IHostMemory timingOut = null;
        String what = cfg.network() + " engine";
        try {
            builder = createInferBuilder(log);
            if (builder == null || builder.isNull()) throw new TensorRTException(what + ": createInferBuilder failed" + log.lastErrors());
            network = builder.createNetworkV2(cfg.networkFlags());
            if (network == null || network.isNull()) throw new TensorRTException(what + ": createNetworkV2 failed" + log.lastErrors());
            parser = createParser(network, log);
            if (parser == null || parser.isNull()) throw new TensorRTException(what + ": createParser failed" + log.lastErrors());
            if (!parser.parseFromFile(cfg.onnxModel().toString(), ILogger.Severity.kWARNING.value)) {
                throw new TensorRTException(what + ": TensorRT's ONNX parser rejects " + cfg.onnxModel() + ": " + parserErrors(parser));
            }
            checkInputs(what, network, cfg);
            config = builder.createBuilderConfig();
            if (config == null || config.isNull()) throw new TensorRTException(what + ": createBuilderConfig failed" + log.lastErrors());
            for (String f : cfg.setFlags()) config.setFlag(BuilderFlag.valueOf(f));
            for (String f : cfg.clearFlags()) config.clearFlag(BuilderFlag.valueOf(f));
            config.setBuilderOptimizationLevel(cfg.optimizationLevel());
            config.setMemoryPoolLimit(MemoryPoolType.kWORKSPACE, cfg.workspaceBytes());
            if (!cfg.profile().isEmpty()) {
                IOptimizationProfile profile = builder.createOptimizationProfile();   // owned by the builder
                for (BuildConfig.ProfileDims d : cfg.profile()) {
                    if (!profile.setDimensions(d.input(), OptProfileSelector.kMIN, dims(d.min()))
                            || !profile.setDimensions(d.input(), OptProfileSelector.kOPT, dims(d.opt()))
                            || !profile.setDimensions(d.input(), OptProfileSelector.kMAX, dims(d.max()))) {
                        throw new TensorRTException(what + ": the profile of input " + d.input() + " is refused" + log.lastErrors());
                    }
                }
                if (config.addOptimizationProfile(profile) < 0) throw new TensorRTException(what + ": the optimisation profile is invalid" + log.lastErrors());
            }
            if (cfg.timingCache() != null) {
                if (Files.isRegularFile(cfg.timingCache())) timingBytes = NativeBytes.read(cfg.timingCache());
                if (timingBytes != null) {
                    timing = config.createTimingCache(timingBytes, timingBytes.limit());
                    if (timing != null && !timing.isNull() && !config.setTimingCache(timing, false)) {
                        NativeRelease.delete(timing, NativeRelease.INOCOPY_SLOT);   // from another TensorRT or GPU: start afresh
                        timing = null;
                    }
                    log.takeErrors();
                }
                if (timing == null || timing.isNull()) {
                    timing = config.createTimingCache(new Pointer(), 0);
                    if (timing == null || timing.isNull() || !config.setTimingCache(timing, false)) {
                        throw new TensorRTException(what + ": cannot use a timing cache" + log.lastErrors());
                    }
                }
            }
            plan = builder.buildSerializedNetwork(network, config);
            if (plan == null || plan.isNull() || plan.size() == 0) {
                throw new TensorRTException(what + ": buildSerializedNetwork failed" + log.lastErrors());
            }
            IHostMemory p = plan;
            Path stored = cache.store(key, ch -> NativeBytes.write(p.data(), p.size(), ch));
            if (timing != null) {
                timingOut = timing.serialize();
                if (timingOut != null && !timingOut.isNull() && timingOut.size() > 0) {
                    IHostMemory t = timingOut;
                    CacheFiles.writeAtomically(cfg.timingCache(), ch -> NativeBytes.write(t.data(), t.size(), ch));
                }
            }
            return stored;
        } finally {
            NativeRelease.delete(timingOut, NativeRelease.INOCOPY_SLOT);
            NativeRelease.delete(plan, NativeRelease.INOCOPY_SLOT);
            NativeRelease.delete(timing, NativeRelease.INOCOPY_SLOT);
            if (timingBytes != null) timingBytes.close();
            NativeRelease.delete(config, NativeRelease.INOCOPY_SLOT);
            NativeRelease.delete(parser, NativeRelease.PARSER_SLOT);   // holds the weights it read until here
            NativeRelease.delete(network, NativeRelease.INOCOPY_SLOT);
            NativeRelease.delete(builder, NativeRelease.INOCOPY_SLOT);
        }
    }

    /**
     * The parsed network's inputs against the profile: a profiled input must leave open (-1) every dimension its range
     * varies; an open dimension without a profile cannot be built.
     */
    private static void checkInputs(String what, INetworkDefinition network, BuildConfig cfg) {
        List<long[]> dims = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < network.getNbInputs(); i++) {
            ITensor t = network.getInput(i);
            Dims64 d = t.getDimensions();
            long[] v = new long[d.nbDims()];
            for (int k = 0; k < v.length; k++) v[k] = d.d(k);
            names.add(t.getName());
            dims.add(v);
        }
        String problem = profileProblem(names, dims, cfg.profile());
        if (problem != null) throw new TensorRTException(what + ": " + problem);
    }

    /** Null when the parsed inputs ({@code names}, {@code dims}) fit the profile; else what does not (tested without TensorRT). */
    static String profileProblem(List<String> names, List<long[]> dims, List<BuildConfig.ProfileDims> profile) {
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            long[] d = dims.get(i);
            BuildConfig.ProfileDims p = profile.stream().filter(x -> x.input().equals(name)).findFirst().orElse(null);
            for (int k = 0; k < d.length; k++) {
                if (p == null && d[k] < 0) {
                    return "input " + name + " " + Arrays.toString(d) + " has an open dimension " + k + " and the recipe gives no profile for it";
                }
                if (p != null && k < p.min().length && p.min()[k] != p.max()[k] && d[k] >= 0) {
                    return "the profile varies dimension " + k + " of input " + name + " (" + p.min()[k] + ".." + p.max()[k] + ") but the ONNX graph fixes it at "
                            + d[k] + " (the exporter writes static shapes: a size range needs a graph exported with that dimension open)";
                }
            }
            if (p != null && p.min().length != d.length) {
                return "the profile of input " + name + " has rank " + p.min().length + ", the ONNX graph's input has rank " + d.length;
            }
        }
        for (BuildConfig.ProfileDims p : profile) {
            if (!names.contains(p.input())) return "the profile names input " + p.input() + ", which the ONNX graph does not have (inputs " + names + ")";
        }
        return null;
    }

    private static Dims64 dims(int[] v) {
        Dims64 d = new Dims64();
        d.nbDims(v.length);
        for (int i = 0; i < v.length; i++) d.d(i, v[i]);
        return d;
    }

    private static String parserErrors(IParser parser) {
        int n = parser.getNbErrors();
        if (n == 0) return "no error reported";
        List<String> out = new ArrayList<>();
        for (int i = 0; i < Math.min(n, 3); i++) {
            IParserError e = parser.getError(i);
            out.add(e.desc() + (e.nodeName() == null || e.nodeName().isEmpty() ? "" : " at node " + e.nodeName() + " (" + e.nodeOperator() + ")"));
        }
        return String.join("; ", out) + (n > 3 ? " (and " + (n - 3) + " more)" : "");
    }
}
