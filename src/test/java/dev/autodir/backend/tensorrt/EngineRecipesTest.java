package dev.autodir.backend.tensorrt;

import dev.autodir.backend.TensorSpec;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineRecipesTest {
    private static String error(String yaml) {
        return assertThrows(IllegalArgumentException.class, () -> EngineRecipes.parse("r.yaml", yaml)).getMessage();
    }

    private static void assertError(String expected, String yaml) {
        String m = error(yaml);
        assertTrue(m.contains(expected), "expected \"" + expected + "\" in: " + m);
        assertTrue(m.startsWith("r.yaml: "), "the message names the file: " + m);
        assertTrue(!m.contains("\n"), "one line: " + m);
    }

    @Test void theRepositoryRecipesAreThePackagedOnesAndValid() {
        EngineRecipes file = EngineRecipes.read(Path.of("engines/recipes.yaml"));
        EngineRecipes packaged = EngineRecipes.packaged();
        assertEquals(file.networks(), packaged.networks());
        for (String n : EngineRecipes.KNOWN_NETWORKS) assertEquals(file.recipe(n), packaged.recipe(n), n);
        assertEquals(8192L << 20, packaged.recipe("unet").workspaceBytes());
        assertEquals(3, packaged.recipe("unet").optimizationLevel());
        assertTrue(!packaged.recipe("unet").tf32());
        assertNull(packaged.recipe("unet").precision(), "no precision pinned: the run decides");
        assertNull(packaged.recipe("unet").profile(), "the exporter writes static shapes: no profile by default");
    }

    @Test void defaultsApplyAndNetworksOverride() {
        EngineRecipes r = EngineRecipes.parse("r.yaml", """
                format: 1
                defaults: {optimization-level: 2, workspace-mib: 512, tf32: true}
                networks:
                  unet: {optimization-level: 5, precision: bf16, timing-cache: false}
                  scm: {}
                """);
        EngineRecipe unet = r.recipe("unet"), scm = r.recipe("scm"), vae = r.recipe("vae-decode");
        assertEquals(new EngineRecipe("unet", EnginePrecision.BF16, 5, 512L << 20, true, false, null), unet);
        assertEquals(new EngineRecipe("scm", null, 2, 512L << 20, true, true, null), scm);
        assertEquals(new EngineRecipe("vae-decode", null, 2, 512L << 20, true, true, null), vae, "a network without entry takes the defaults");
        assertEquals(EnginePrecision.BF16, unet.precisionFor(EnginePrecision.FP16), "a pin wins over the run");
        assertEquals(EnginePrecision.FP16, scm.precisionFor(EnginePrecision.FP16));
        assertEquals(EngineRecipe.defaults("scm"), EngineRecipes.parse("r.yaml", "format: 1").recipe("scm"), "a file of no recipes gives TensorRT's defaults");
    }

    @Test void aProfileIsParsedAndChecked() {
        EngineRecipes r = EngineRecipes.parse("r.yaml", """
                format: 1
                networks:
                  vae-decode:
                    profile:
                      z: {min: [1, 4, 32, 32], opt: [1, 4, 64, 64], max: [1, 4, 128, 128]}
                """);
        ShapeProfile p = r.recipe("vae-decode").profile();
        assertArrayEquals(new int[] {1, 4, 32, 32}, p.ranges().get("z").min());
        assertArrayEquals(new int[] {1, 4, 128, 128}, p.ranges().get("z").max());
        assertEquals("z: min [1, 4, 32, 32] opt [1, 4, 64, 64] max [1, 4, 128, 128]", p.canonical());
        p.check("vae-decode", List.of(TensorSpec.float32("z", 1, 4, 96, 96)));
        String out = assertThrows(IllegalArgumentException.class, () -> p.check("vae-decode", List.of(TensorSpec.float32("z", 1, 4, 256, 256)))).getMessage();
        assertEquals("vae-decode: input z float32 [1, 4, 256, 256] lies outside its profile range min [1, 4, 32, 32] opt [1, 4, 64, 64] max [1, 4, 128, 128]", out);
        String missing = assertThrows(IllegalArgumentException.class, () -> p.check("vae-decode", List.of(TensorSpec.float32("x", 1, 4, 64, 64)))).getMessage();
        assertTrue(missing.contains("names input \"z\", which the network does not have (inputs: [x])"), missing);
    }

    @Test void badValuesNameThemselves() {
        assertError("networks.unet.optimization-level: 7 is outside 0..5", "format: 1\nnetworks: {unet: {optimization-level: 7}}");
        assertError("defaults.optimization-level: -1 is outside 0..5", "format: 1\ndefaults: {optimization-level: -1}");
        assertError("networks.unet.precision: \"fp8\" is not fp32, fp16 or bf16", "format: 1\nnetworks: {unet: {precision: fp8}}");
        assertError("networks.unet.workspace-mib: 0 is outside 1..1048576", "format: 1\nnetworks: {unet: {workspace-mib: 0}}");
        assertError("networks.unet.workspace-mib: \"lots\" is not an integer", "format: 1\nnetworks: {unet: {workspace-mib: lots}}");
        assertError("networks.scm.tf32: \"yes please\" is not true or false", "format: 1\nnetworks: {scm: {tf32: yes please}}");
        assertError("networks.unet: unknown key \"optimisation-level\" (keys: precision, optimization-level", "format: 1\nnetworks: {unet: {optimisation-level: 3}}");
        assertError("networks.unett: unknown network (networks: unet, vae-encode", "format: 1\nnetworks: {unett: {}}");
        assertError("unknown key \"network\" (keys: format, defaults, networks)", "format: 1\nnetwork: {}");
        assertError("format must be 1, found nothing", "networks: {}");
        assertError("format must be 1, found 2", "format: 2");
        assertError("networks.unet: [1, 2] is not a mapping", "format: 1\nnetworks: {unet: [1, 2]}");
        assertError("defaults.profile: a profile names one network's inputs", "format: 1\ndefaults: {profile: {x: {}}}");
        assertError("not valid YAML", "format: 1\nnetworks: {unet: [");
        assertError("the top level must be a mapping", "- 1\n- 2");
    }

    @Test void badProfilesNameThemselves() {
        assertError("networks.unet.profile.x: dimension 2: expected min ≤ opt ≤ max, got 64, 32, 128",
                "format: 1\nnetworks: {unet: {profile: {x: {min: [1, 8, 64, 64], opt: [1, 8, 32, 32], max: [1, 8, 128, 128]}}}}");
        assertError("networks.unet.profile.x: max is missing", "format: 1\nnetworks: {unet: {profile: {x: {min: [1], opt: [1]}}}}");
        assertError("networks.unet.profile.x: unknown key \"mid\"", "format: 1\nnetworks: {unet: {profile: {x: {min: [1], mid: [1], max: [1]}}}}");
        assertError("networks.unet.profile.x.opt: \"big\" is not a list of dimensions", "format: 1\nnetworks: {unet: {profile: {x: {min: [1], opt: big, max: [1]}}}}");
        assertError("networks.unet.profile.x.min: [1, 0] is not a list of positive integers", "format: 1\nnetworks: {unet: {profile: {x: {min: [1, 0], opt: [1, 1], max: [1, 1]}}}}");
        assertError("networks.unet.profile.x: min [1, 1], opt [1] and max [1] must have one rank", "format: 1\nnetworks: {unet: {profile: {x: {min: [1, 1], opt: [1], max: [1]}}}}");
        assertError("networks.unet.profile: a profile names at least one input", "format: 1\nnetworks: {unet: {profile: {}}}");
    }

    @Test void enginePrecisionNamesABadValue() {
        assertEquals(EnginePrecision.BF16, EnginePrecision.parse(" BF16 "));
        assertEquals(EnginePrecision.INT8, EnginePrecision.parse("int8"));
        String m = assertThrows(IllegalArgumentException.class, () -> EnginePrecision.parse("int4")).getMessage();
        assertEquals("unknown engine precision \"int4\" (expected fp32, fp16, bf16, int8 or fp8)", m);
    }
}
