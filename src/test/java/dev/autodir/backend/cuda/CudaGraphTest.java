package dev.autodir.backend.cuda;

import dev.autodir.backend.OpsConformanceTest;

import dev.autodir.backend.Precision;
import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static dev.autodir.backend.cuda.CudaTestSupport.random;
import static dev.autodir.backend.cuda.CudaTestSupport.randomScaled;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** CUDA graph capture and replay, and the CUDA-event stage timer. Skipped with the reason without a GPU. */
class CudaGraphTest {
    @BeforeEach
    void needsGpu() {
        CudaTestSupport.assumeGpu();
    }

    @ParameterizedTest
    @EnumSource(Precision.class)
    void replayGivesTheEagerResultForEachNewInput(Precision p) {
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(p))) {
            OpsConformanceTest.MemoryStore store = new OpsConformanceTest.MemoryStore()
                    .put("conv.w", randomScaled(1, 0.2, 0, 16, 8, 3, 3)).put("conv.b", random(2, 16))
                    .put("gn.g", randomScaled(3, 0.3, 1, 16)).put("gn.b", random(4, 16))
                    .put("lin.w", randomScaled(5, 0.2, 0, 24, 16)).put("lin.b", random(6, 24));
            Tensor cw = ops.weight(store, "conv.w"), cb = ops.weight(store, "conv.b");
            Tensor gg = ops.weight(store, "gn.g"), gb = ops.weight(store, "gn.b");
            Tensor lw = ops.weight(store, "lin.w"), lb = ops.weight(store, "lin.b");
            CudaTensor x = ops.persistent(p, 1, 8, 12, 10);
            CudaTensor t = ops.persistent(Precision.FP32, 1);
            Supplier<Tensor> body = () -> {
                Tensor h = ops.conv2d(x, cw, cb, 1, 1, 1);                            // [1, 16, 12, 10]
                h = ops.groupNorm(h, 4, gg, gb, 1e-5f, true);
                Tensor tokens = ops.linear(ops.nchwToTokens(h), lw, lb);             // [1, 120, 24]
                Tensor a = ops.attention(tokens, tokens, tokens, 3, 0.3f, AttentionMask.NONE);
                Tensor e = ops.reshape(ops.timestepEmbedding(t, 24), 24);           // [24], repeats over tokens
                return ops.add(ops.add(a, tokens), e);
            };
            List<FloatTensor> inputs = new ArrayList<>(), expected = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                FloatTensor in = random(10 + i, 1, 8, 12, 10);
                inputs.add(in);
                ops.uploadInto(x, in);
                ops.uploadInto(t, new FloatTensor(new float[] {100f * i + 0.5f}, 1));
                expected.add(ops.download(body.get()));
                ops.endStage();
            }
            CudaGraph g = ops.capture(body);
            try (g) {
                for (int round = 0; round < 2; round++) {
                    for (int i = 0; i < 3; i++) {
                        ops.uploadInto(x, inputs.get(i));
                        ops.uploadInto(t, new FloatTensor(new float[] {100f * i + 0.5f}, 1));
                        long launches = ops.launches();
                        g.replay();
                        assertEquals(launches, ops.launches(), "a replay launches no kernel from Java");
                        assertArrayEquals(expected.get(i).data(), ops.download(g.output()).data(), "replay " + round + "/" + i);
                    }
                    // eager work and endStage between replays must not disturb the graph's tensors
                    ops.download(ops.silu(ops.upload(random(20, 3, 1000))));
                    ops.endStage();
                }
                assertTrue(g.replays() == 6 && g.arenaBytes() > 0);
            }
            assertThrows(IllegalStateException.class, g::output);
            assertThrows(IllegalStateException.class, g::replay);
            assertEquals(0, ops.arena().floor(), "closing the graph gives its arena region back");
        }
    }

    @Test
    void captureRefusesHostTransfersAndLeavesTheBackendUsable() {
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP32))) {
            Tensor w = ops.weight(new OpsConformanceTest.MemoryStore().put("w", random(30, 4, 4)), "w");
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> ops.capture(() -> ops.linear(ops.upload(random(31, 2, 4)), w, null)));
            assertTrue(e.getMessage().contains("capture"), e.getMessage());
            FloatTensor x = random(32, 2, 4);
            assertEquals(8, ops.download(ops.linear(ops.upload(x), w, null)).numel());
            ops.endStage();
        }
    }

    @Test
    void stageTimerMeasuresEachStage() {
        try (CudaOps ops = new CudaOps(CudaOps.Options.defaults(Precision.FP16)); StageTimer timer = ops.timer()) {
            Tensor x = ops.upload(random(40, 8, 1 << 20));
            for (int i = 0; i < 3; i++) {
                try (var s = timer.stage("silu")) {
                    ops.silu(x);
                }
            }
            try (var s = timer.stage("gelu")) {
                ops.gelu(x);
            }
            Map<String, StageTimer.Stats> stats = timer.collect();
            assertEquals(List.of("silu", "gelu"), List.copyOf(stats.keySet()));
            assertEquals(3, stats.get("silu").millis().size());
            assertTrue(stats.get("silu").median() > 0 && stats.get("gelu").total() > 0, stats.toString());
            assertTrue(timer.report().contains("silu"));
        }
    }
}
