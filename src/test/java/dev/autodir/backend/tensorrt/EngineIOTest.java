package dev.autodir.backend.tensorrt;

import dev.autodir.backend.TensorSpec;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class EngineIOTest {
    private static final List<TensorSpec> IN = TrtFixtures.INPUTS, OUT = TrtFixtures.OUTPUTS;

    private static EngineDescription.Tensor in(String name, String type, long... dims) { return new EngineDescription.Tensor(name, true, type, dims); }

    private static EngineDescription.Tensor out(String name, String type, long... dims) { return new EngineDescription.Tensor(name, false, type, dims); }

    private static EngineDescription engine(EngineDescription.Tensor... t) { return new EngineDescription(List.of(t)); }

    private static final EngineDescription GOOD = engine(in("x", "kFLOAT", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, 8, 8));

    private static String mismatch(EngineDescription e, ShapeProfile p) {
        return assertThrows(IllegalStateException.class, () -> EngineIO.check("unet", IN, OUT, p, e)).getMessage();
    }

    @Test void aMatchingEnginePasses() {
        EngineIO.check("unet", IN, OUT, null, GOOD);
        // order does not matter: binding is by name
        EngineIO.check("unet", IN, OUT, null, engine(out("y", "kFLOAT", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), in("x", "kFLOAT", 1, 4, 8, 8)));
    }

    @Test void mismatchesNameTheTensorAndBothSides() {
        assertEquals("unet engine: input ids int32 [1, 77] is missing (the engine's I/O: x kFLOAT [1, 4, 8, 8] (input), y kFLOAT [1, 4, 8, 8] (output))",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8, 8), out("y", "kFLOAT", 1, 4, 8, 8)), null));
        assertEquals("unet engine: input x is kHALF in the engine, expected float32 (the backend binds kFLOAT and kINT32 tensors)",
                mismatch(engine(in("x", "kHALF", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, 8, 8)), null));
        assertEquals("unet engine: input ids is kFLOAT in the engine, expected int32",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8, 8), in("ids", "kFLOAT", 1, 77), out("y", "kFLOAT", 1, 4, 8, 8)), null));
        assertEquals("unet engine: output y has shape [1, 4, 16, 16] in the engine, expected [1, 4, 8, 8]",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, 16, 16)), null));
        assertEquals("unet engine: input x has shape [1, 4, 8] in the engine, expected [1, 4, 8, 8]",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, 8, 8)), null));
        assertEquals("unet engine: output y is an input of the engine",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), in("y", "kFLOAT", 1, 4, 8, 8)), null));
        assertEquals("unet engine: output extra kFLOAT [1] (output) is not in the network's I/O (outputs [y])",
                mismatch(engine(in("x", "kFLOAT", 1, 4, 8, 8), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, 8, 8), out("extra", "kFLOAT", 1)), null));
    }

    @Test void openDimensionsNeedAProfile() {
        EngineDescription open = engine(in("x", "kFLOAT", 1, 4, -1, -1), in("ids", "kINT32", 1, 77), out("y", "kFLOAT", 1, 4, -1, -1));
        assertEquals("unet engine: input x has shape [1, 4, -1, -1] in the engine, expected [1, 4, 8, 8] (an open dimension needs a profile for this input)",
                mismatch(open, null));
        ShapeProfile p = new ShapeProfile(Map.of("x", new ShapeProfile.Range(new int[] {1, 4, 4, 4}, new int[] {1, 4, 8, 8}, new int[] {1, 4, 16, 16})));
        EngineIO.check("unet", IN, OUT, p, open);
        // the profile covers x only: an open dimension of ids is still a mismatch
        assertEquals("unet engine: input ids has shape [1, -1] in the engine, expected [1, 77] (an open dimension needs a profile for this input)",
                mismatch(engine(in("x", "kFLOAT", 1, 4, -1, -1), in("ids", "kINT32", 1, -1), out("y", "kFLOAT", 1, 4, -1, -1)), p));
    }
}
