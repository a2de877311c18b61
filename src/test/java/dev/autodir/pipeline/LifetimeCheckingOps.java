package dev.autodir.pipeline;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.DataType;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * A backend that enforces the {@link Ops} lifetime contract the way a device backend does, over a real backend (the
 * cpu one) that computes: every result is a handle that dies at the next {@code endStage()} (unless it is a weight or
 * came from {@link Ops#keep}), a dead handle used again throws, and a tensor that is not this backend's own (a host
 * {@code FloatTensor} handed straight to an operation, or another backend's tensor) is refused, as the cuda backend
 * refuses it. Networks compile eagerly on the wrapper, so their outputs die at {@code endStage()} too — the strictest
 * form of "valid until the next run". The pipeline run on it must not break the contract anywhere.
 */
final class LifetimeCheckingOps implements InvocationHandler {
    /** Methods whose Tensor arguments are host data, not backend tensors. */
    private static final Set<String> HOST_ARGUMENTS = Set.of("upload", "uploadFloat32");
    /** Methods that return host copies (not wrapped). */
    private static final Set<String> HOST_RESULTS = Set.of("download", "downloadInts");

    /** A tensor of this backend: the inner backend's tensor and the stage it belongs to. */
    record Handle(LifetimeCheckingOps owner, Tensor inner, long generation, boolean permanent) implements Tensor {
        @Override public int[] shape() { return inner.shape(); }

        @Override public DataType dataType() { return inner.dataType(); }

        @Override public void close() { }

        @Override public String toString() { return "Handle[" + inner + ", stage " + generation + (permanent ? ", kept" : "") + "]"; }
    }

    private final Ops inner;
    private final String name;
    private long generation;
    private long violations;
    final List<String> calls = new ArrayList<>();

    private LifetimeCheckingOps(Ops inner, String name) {
        this.inner = inner;
        this.name = name;
    }

    /** An Ops over {@code inner} (which it closes) that checks lifetimes; {@code name} tells two of them apart. */
    static Ops over(Ops inner, String name) {
        return (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class},
                new LifetimeCheckingOps(inner, name));
    }

    static LifetimeCheckingOps of(Ops proxy) { return (LifetimeCheckingOps) Proxy.getInvocationHandler(proxy); }

    long stages() { return generation; }

    @Override public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
        String op = m.getName();
        switch (op) {
            case "name" -> { return name; }
            case "toString" -> { return "LifetimeCheckingOps[" + name + "]"; }
            case "hashCode" -> { return System.identityHashCode(proxy); }
            case "equals" -> { return proxy == args[0]; }
            case "endStage" -> {
                inner.endStage();
                generation++;
                return null;
            }
            case "keep" -> {
                Tensor t = unwrap(op, args[0]);
                return new Handle(this, inner.keep(t), generation, true);
            }
            case "compile" -> { return InvocationHandler.invokeDefault(proxy, m, args); }   // eager, on this wrapper
            default -> { }
        }
        Object[] a = args == null ? null : args.clone();
        if (a != null && !HOST_ARGUMENTS.contains(op)) {
            for (int i = 0; i < a.length; i++) a[i] = unwrapAny(op, a[i]);
        }
        Object result;
        try {
            result = m.invoke(inner, a);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
        if (result instanceof Tensor t && !HOST_RESULTS.contains(op)) {
            return new Handle(this, t, generation, op.equals("weight"));
        }
        return result;
    }

    private Object unwrapAny(String op, Object arg) {
        if (arg instanceof Tensor t) return unwrap(op, t);
        if (arg instanceof AttentionMask mask) {
            return mask.keyKeep() == null ? mask : new AttentionMask(mask.causal(), unwrap(op, mask.keyKeep()));
        }
        if (arg instanceof List<?> list) {
            List<Object> out = new ArrayList<>();
            for (Object o : list) out.add(unwrapAny(op, o));
            return out;
        }
        return arg;
    }

    private Tensor unwrap(String op, Object arg) {
        if (!(arg instanceof Handle h) || h.owner != this) {
            violations++;
            throw new IllegalStateException(name + "." + op + ": " + arg + " is not a tensor of this backend");
        }
        if (!h.permanent && h.generation != generation) {
            violations++;
            throw new IllegalStateException(name + "." + op + ": " + h + " was used after its stage ended (now stage " + generation + ")");
        }
        return h.inner;
    }
}
