package dev.autodir.pipeline;

import dev.autodir.backend.DataType;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

/** Hands a tensor from one stage's backend to another's: as it is when both stages run on the same backend. */
final class Transfers {
    private Transfers() { }

    /** {@code t} (on {@code from}) as a tensor of {@code to}: the same tensor when the backends are one. */
    static Tensor move(Tensor t, Ops from, Ops to) {
        if (from == to) return t;
        if (t.dataType() == DataType.INT32) return to.upload(from.downloadInts(t));
        return t.dataType() == DataType.FLOAT16 ? to.upload(from.download(t)) : to.uploadFloat32(from.download(t));
    }
}
