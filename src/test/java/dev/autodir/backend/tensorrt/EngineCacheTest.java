package dev.autodir.backend.tensorrt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineCacheTest {
    @TempDir Path dir;

    private static final byte[] PLAN = "not a real plan, but bytes the cache must keep exactly".getBytes(StandardCharsets.UTF_8);

    private static Path store(EngineCache cache, EngineKey key, byte[] plan) {
        return cache.store(key, ch -> ch.write(ByteBuffer.wrap(plan)));
    }

    private static EngineKey otherTensorRT() {
        EngineKey k = TrtFixtures.key();
        return new EngineKey(k.network(), k.graphHash(), k.weightsHash(), k.inputs(), k.outputs(), k.profile(), k.precision(), k.optimizationLevel(),
                k.workspaceBytes(), k.tf32(), new DeviceIdentity("10.14.1.48", "10", "NVIDIA H200", "9.0"));
    }

    @Test void aStoredEngineIsFoundAndMatchesItsSidecar() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey key = TrtFixtures.key();
        assertEquals("no engine built yet", cache.lookup(key).missReason());
        Path plan = store(cache, key, PLAN);
        assertEquals(cache.planFile(key), plan);
        EngineCache.Lookup l = cache.lookup(key);
        assertTrue(l.hit(), l.missReason());
        assertEquals(plan, l.plan());
        String sidecar = Files.readString(cache.sidecarFile(key));
        assertTrue(sidecar.contains("\"tensorrt\" : \"10.15.1.29\""), sidecar);
        assertTrue(sidecar.contains("\"key-id\" : \"" + key.id() + "\""), sidecar);
        try (var files = Files.list(dir)) {
            assertEquals(2, files.filter(p -> !p.getFileName().toString().startsWith(".")).count(), "a plan and a sidecar, no temporary files");
        }
    }

    @Test void aForeignSidecarMeansRebuild() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey mine = TrtFixtures.key(), foreign = otherTensorRT();
        store(cache, foreign, PLAN);
        // someone copies the other engine under this key's names
        Files.copy(cache.planFile(foreign), cache.planFile(mine));
        Files.copy(cache.sidecarFile(foreign), cache.sidecarFile(mine));
        EngineCache.Lookup l = cache.lookup(mine);
        assertFalse(l.hit());
        assertTrue(l.missReason().startsWith("stale engine: tensorrt: stored \"10.14.1.48\", expected \"10.15.1.29\""), l.missReason());
    }

    @Test void aStaleFieldInTheSidecarMeansRebuild() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey key = TrtFixtures.key();
        store(cache, key, PLAN);
        Path s = cache.sidecarFile(key);
        Files.writeString(s, Files.readString(s).replace("\"precision\" : \"fp16\"", "\"precision\" : \"fp32\""));
        EngineCache.Lookup l = cache.lookup(key);
        assertFalse(l.hit());
        assertTrue(l.missReason().contains("precision: stored \"fp32\", expected \"fp16\""), l.missReason());
    }

    @Test void aReplacedOrTruncatedPlanMeansRebuild() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey key = TrtFixtures.key();
        Path plan = store(cache, key, PLAN);
        byte[] other = PLAN.clone();
        other[3] ^= 1;
        Files.write(plan, other);
        assertTrue(cache.lookup(key).missReason().contains("does not match the sidecar's SHA-256"), cache.lookup(key).missReason());
        Files.write(plan, new byte[10]);
        assertTrue(cache.lookup(key).missReason().contains("has 10 bytes, the sidecar says " + PLAN.length), cache.lookup(key).missReason());
        Files.delete(plan);
        assertTrue(cache.lookup(key).missReason().contains("which is missing"), cache.lookup(key).missReason());
    }

    @Test void aPlanWithoutSidecarOrWithAGarbledOneMeansRebuild() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey key = TrtFixtures.key();
        store(cache, key, PLAN);
        Path s = cache.sidecarFile(key);
        Files.writeString(s, "{ not json");
        assertTrue(cache.lookup(key).missReason().startsWith("sidecar " + s.getFileName() + " is unreadable"), cache.lookup(key).missReason());
        Files.writeString(s, "{\"plan\": {}}");
        assertTrue(cache.lookup(key).missReason().contains("has no key or plan section"), cache.lookup(key).missReason());
        Files.delete(s);
        assertTrue(cache.lookup(key).missReason().contains("has no sidecar manifest"), cache.lookup(key).missReason());
    }

    @Test void storingAgainReplacesBothFiles() throws IOException {
        EngineCache cache = new EngineCache(dir);
        EngineKey key = TrtFixtures.key();
        store(cache, key, PLAN);
        byte[] rebuilt = "a rebuilt plan".getBytes(StandardCharsets.UTF_8);
        Path plan = store(cache, key, rebuilt);
        assertTrue(cache.lookup(key).hit(), cache.lookup(key).missReason());
        assertEquals(new String(rebuilt, StandardCharsets.UTF_8), Files.readString(plan));
        Path moved = dir.resolve("elsewhere.plan");
        Files.move(plan, moved, StandardCopyOption.REPLACE_EXISTING);
        assertFalse(cache.lookup(key).hit());
    }

    @Test void timingCachesAreNamedByTensorRTAndGPU() {
        EngineCache cache = new EngineCache(dir);
        assertEquals(dir.resolve("timing-trt10.15.1.29-sm90-NVIDIA_H200.cache"), cache.timingCacheFile(TrtFixtures.H200));
        assertEquals(dir.resolve("onnx"), cache.exportsDirectory());
    }
}
