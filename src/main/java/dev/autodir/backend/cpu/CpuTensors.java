package dev.autodir.backend.cpu;

import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

/** The cpu backend's operand checks: what a cpu tensor is, and the messages for what is not. */
final class CpuTensors {
    private CpuTensors() { }

    /** t's values on the heap: a FloatTensor as it is, a weight's heap values (brought back if dropped). */
    static FloatTensor cpu(Tensor t, String op, String what) {
        if (t instanceof FloatTensor f) return f;
        if (t instanceof CpuWeight w) return w.heap();
        throw notCpu(t, op, what);
    }

    static IntTensor ints(Tensor t, String op, String what) {
        if (t instanceof IntTensor i) return i;
        if (t == null) throw new IllegalArgumentException(op + ": " + what + " is null");
        throw new IllegalArgumentException(op + ": " + what + " must be an int32 cpu tensor (IntTensor), got " + t);
    }

    /** A matrix operand (convolution or linear weight) as it is, FloatTensor or CpuWeight: no heap values needed. */
    static Tensor matrixOperand(Tensor t, String op, String what) {
        if (t instanceof FloatTensor || t instanceof CpuWeight) return t;
        throw notCpu(t, op, what);
    }

    /** The heap values of a checked matrix operand (for the paths that read weights on the heap). */
    static FloatTensor heapOperand(Tensor t) {
        return t instanceof CpuWeight w ? w.heap() : (FloatTensor) t;
    }

    static IllegalArgumentException notCpu(Tensor t, String op, String what) {
        if (t == null) return new IllegalArgumentException(op + ": " + what + " is null");
        return new IllegalArgumentException(op + ": " + what + " is a " + t.getClass().getSimpleName()
                + ", not a cpu tensor (FloatTensor)");
    }
}
