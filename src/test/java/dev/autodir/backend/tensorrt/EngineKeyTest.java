package dev.autodir.backend.tensorrt;

import dev.autodir.backend.TensorSpec;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineKeyTest {
    private static final ShapeProfile PROFILE = new ShapeProfile(Map.of("x", new ShapeProfile.Range(new int[] {1, 4, 4, 4}, new int[] {1, 4, 8, 8},
            new int[] {1, 4, 16, 16})));

    private static EngineKey with(EngineKey k, String network, String graph, String weights, List<TensorSpec> in, List<TensorSpec> out,
                                  ShapeProfile p, EnginePrecision prec, int level, long ws, boolean tf32, DeviceIdentity d) {
        return new EngineKey(network, graph, weights, in, out, p, prec, level, ws, tf32, d);
    }

    /** One changed copy of the base key per field (device fields one by one), keyed by what changed. */
    private static Map<String, EngineKey> variants() {
        EngineKey b = TrtFixtures.key();
        DeviceIdentity d = b.device();
        Map<String, UnaryOperator<EngineKey>> v = new LinkedHashMap<>();
        v.put("network", k -> with(k, "vae-decode", k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("graphHash", k -> with(k, k.network(), "cc".repeat(32), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("weightsHash", k -> with(k, k.network(), k.graphHash(), "dd".repeat(32), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("inputs", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), List.of(TensorSpec.float32("x", 1, 4, 16, 16), TensorSpec.int32("ids", 1, 77)), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("inputs (dtype)", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), List.of(TensorSpec.float32("x", 1, 4, 8, 8), TensorSpec.float32("ids", 1, 77)), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("inputs (name)", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), List.of(TensorSpec.float32("z", 1, 4, 8, 8), TensorSpec.int32("ids", 1, 77)), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("outputs", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), List.of(TensorSpec.float32("y", 1, 4, 8, 9)), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("profile", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), PROFILE, k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("precision", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), EnginePrecision.BF16, k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("precision (fp32)", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), EnginePrecision.FP32, k.optimizationLevel(), k.workspaceBytes(), k.tf32(), k.device()));
        v.put("optimizationLevel", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), 4, k.workspaceBytes(), k.tf32(), k.device()));
        v.put("workspaceBytes", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), 8192L << 20, k.tf32(), k.device()));
        v.put("tf32", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), true, k.device()));
        v.put("device.tensorrtVersion", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), new DeviceIdentity("10.14.1.48", d.onnxParserVersion(), d.gpuName(), d.computeCapability())));
        v.put("device.onnxParserVersion", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), new DeviceIdentity(d.tensorrtVersion(), "11", d.gpuName(), d.computeCapability())));
        v.put("device.gpuName", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), new DeviceIdentity(d.tensorrtVersion(), d.onnxParserVersion(), "NVIDIA H100 80GB HBM3", d.computeCapability())));
        v.put("device.computeCapability", k -> with(k, k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(), k.workspaceBytes(), k.tf32(), new DeviceIdentity(d.tensorrtVersion(), d.onnxParserVersion(), d.gpuName(), "8.9")));
        Map<String, EngineKey> out = new LinkedHashMap<>();
        v.forEach((name, f) -> out.put(name, f.apply(b)));
        return out;
    }

    @Test void everyFieldChangesTheKey() {
        EngineKey base = TrtFixtures.key();
        Set<String> ids = new HashSet<>();
        ids.add(base.id());
        variants().forEach((what, k) -> {
            assertNotEquals(base.id(), k.id(), what + " must change the key");
            assertNotEquals(base.fileStem(), k.fileStem(), what + " must change the plan's file name");
            assertTrue(ids.add(k.id()), what + ": two different keys share an id");
            assertTrue(!base.differences(k.fields()).isEmpty(), what + ": the sidecar comparison must see the change");
        });
    }

    @Test void theVariantsCoverEveryComponentOfTheRecord() {
        Set<String> covered = new HashSet<>();
        for (String v : variants().keySet()) covered.add(v.split(" ")[0]);
        for (var c : EngineKey.class.getRecordComponents()) {
            if (c.getName().equals("device")) {
                for (var d : DeviceIdentity.class.getRecordComponents()) assertTrue(covered.contains("device." + d.getName()), "no variant for device." + d.getName());
            } else {
                assertTrue(covered.contains(c.getName()), "no variant changes " + c.getName() + ": add one, and make sure fields() includes it");
            }
        }
    }

    @Test void equalKeysAgree() {
        EngineKey a = TrtFixtures.key(), b = TrtFixtures.key();
        assertEquals(a.canonical(), b.canonical());
        assertEquals(a.id(), b.id());
        assertEquals(List.of(), a.differences(b.fields()));
        assertTrue(a.fileStem().matches("unet-[0-9a-f]{16}"), a.fileStem());
        assertTrue(a.canonical().startsWith("key-format: " + EngineKey.FORMAT + "\nnetwork: unet\n"), a.canonical());
        assertTrue(a.canonical().contains("inputs: x float32 [1, 4, 8, 8]; ids int32 [1, 77]\n"), a.canonical());
        assertTrue(a.canonical().contains("gpu: NVIDIA H200\ncompute-capability: 9.0\n"), a.canonical());
    }

    @Test void differencesNameTheField() {
        EngineKey a = TrtFixtures.key();
        Map<String, String> stored = new LinkedHashMap<>(a.fields());
        stored.put("tensorrt", "10.14.1.48");
        stored.remove("precision");
        stored.put("color", "blue");
        List<String> d = a.differences(stored);
        assertEquals(3, d.size(), d.toString());
        assertEquals("precision: stored (missing), expected \"fp16\"", d.get(0), "in key-field order");
        assertEquals("tensorrt: stored \"10.14.1.48\", expected \"10.15.1.29\"", d.get(1));
        assertTrue(d.get(2).startsWith("color: stored but not a key field"), d.get(2));
    }

    @Test void badKeysAreRefused() {
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new EngineKey("U Net", "a", "b", TrtFixtures.INPUTS, TrtFixtures.OUTPUTS, null, EnginePrecision.FP16, 3, 1 << 20, false, TrtFixtures.H200));
        assertTrue(e.getMessage().contains("\"U Net\""), e.getMessage());
        var cc = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> new DeviceIdentity("10.15.1.29", "10", "GPU", "sm90"));
        assertTrue(cc.getMessage().contains("\"sm90\""), cc.getMessage());
    }

    @Test void versionsAndFileTags() {
        assertEquals("10.15.1.29", DeviceIdentity.tensorrtVersion(101501, 29));
        assertEquals("trt10.15.1.29-sm90-NVIDIA_H200", TrtFixtures.H200.fileTag());
        assertEquals("[1, 4, 4, 4]", Arrays.toString(PROFILE.ranges().get("x").min()));
    }
}
