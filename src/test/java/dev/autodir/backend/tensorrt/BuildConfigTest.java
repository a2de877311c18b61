package dev.autodir.backend.tensorrt;

import org.bytedeco.tensorrt.global.nvinfer.BuilderFlag;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BuildConfigTest {
    private static EngineKey key(EnginePrecision p, boolean tf32, ShapeProfile profile, int level, long workspace) {
        EngineKey k = TrtFixtures.key();
        return new EngineKey(k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), profile, p, level, workspace, tf32, k.device());
    }

    @Test void precisionsBecomeBuilderFlags() {
        Path onnx = Path.of("/cache/onnx/unet-1/model.onnx"), timing = Path.of("/cache/timing.cache");
        BuildConfig fp16 = BuildConfig.of(key(EnginePrecision.FP16, false, null, 3, 4096L << 20), onnx, timing);
        assertEquals(List.of("kFP16"), fp16.setFlags());
        assertEquals(List.of("kTF32"), fp16.clearFlags(), "TF32 is on by default in TensorRT: cleared unless the recipe allows it");
        assertEquals(0, fp16.networkFlags(), "weakly typed, explicit batch (TensorRT 10's only mode)");
        assertEquals(onnx, fp16.onnxModel());
        assertEquals(timing, fp16.timingCache());
        assertEquals(3, fp16.optimizationLevel());
        assertEquals(4096L << 20, fp16.workspaceBytes());
        assertEquals(List.of(), fp16.profile(), "static shapes: no profile");

        assertEquals(List.of("kBF16"), BuildConfig.of(key(EnginePrecision.BF16, false, null, 3, 1L << 30), onnx, null).setFlags());
        BuildConfig fp32 = BuildConfig.of(key(EnginePrecision.FP32, false, null, 0, 1L << 20), onnx, null);
        assertEquals(List.of(), fp32.setFlags());
        assertEquals(List.of("kTF32"), fp32.clearFlags());
        assertEquals(0, fp32.optimizationLevel());
        assertNull(fp32.timingCache());
        BuildConfig tf32 = BuildConfig.of(key(EnginePrecision.FP32, true, null, 5, 1L << 20), onnx, null);
        assertEquals(List.of("kTF32"), tf32.setFlags());
        assertEquals(List.of(), tf32.clearFlags());
    }

    @Test void theFlagNamesAreTensorRTBuilderFlags() {
        for (EnginePrecision p : EnginePrecision.values()) {
            for (boolean tf32 : new boolean[] {false, true}) {
                BuildConfig c = BuildConfig.of(key(p, tf32, null, 3, 1L << 30), Path.of("m.onnx"), null);
                for (String f : c.setFlags()) assertEquals(f, BuilderFlag.valueOf(f).name());
                for (String f : c.clearFlags()) assertEquals(f, BuilderFlag.valueOf(f).name());
            }
        }
    }

    @Test void aProfileBecomesMinOptMaxDimensions() {
        ShapeProfile p = new ShapeProfile(Map.of("x", new ShapeProfile.Range(new int[] {1, 4, 4, 4}, new int[] {1, 4, 8, 8}, new int[] {1, 4, 16, 16})));
        BuildConfig c = BuildConfig.of(key(EnginePrecision.FP16, false, p, 3, 1L << 30), Path.of("m.onnx"), null);
        assertEquals(1, c.profile().size());
        BuildConfig.ProfileDims d = c.profile().get(0);
        assertEquals("x", d.input());
        assertArrayEquals(new int[] {1, 4, 4, 4}, d.min());
        assertArrayEquals(new int[] {1, 4, 8, 8}, d.opt());
        assertArrayEquals(new int[] {1, 4, 16, 16}, d.max());
    }

    @Test void theParsedNetworkMustLeaveProfiledDimensionsOpen() {
        List<BuildConfig.ProfileDims> profile = List.of(new BuildConfig.ProfileDims("x", new ShapeProfile.Range(new int[] {1, 4, 4, 4}, new int[] {1, 4, 8, 8}, new int[] {1, 4, 16, 16})));
        assertNull(EngineBuilder.profileProblem(List.of("x"), List.of(new long[] {1, 4, -1, -1}), profile));
        assertNull(EngineBuilder.profileProblem(List.of("x"), List.of(new long[] {1, 4, 8, 8}), List.of()), "static shapes, no profile");
        String fixed = EngineBuilder.profileProblem(List.of("x"), List.of(new long[] {1, 4, 8, 8}), profile);
        assertTrue(fixed.startsWith("the profile varies dimension 2 of input x (4..16) but the ONNX graph fixes it at 8"), fixed);
        String open = EngineBuilder.profileProblem(List.of("x"), List.of(new long[] {1, 4, -1, 8}), List.of());
        assertTrue(open.startsWith("input x [1, 4, -1, 8] has an open dimension 2 and the recipe gives no profile"), open);
        String rank = EngineBuilder.profileProblem(List.of("x"), List.of(new long[] {1, -1, -1}), profile);
        assertTrue(rank.contains("rank 4, the ONNX graph's input has rank 3"), rank);
        String unknown = EngineBuilder.profileProblem(List.of("z"), List.of(new long[] {1}), profile);
        assertTrue(unknown.contains("names input x, which the ONNX graph does not have (inputs [z])"), unknown);
    }
}
