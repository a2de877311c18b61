package dev.autodir.backend.cuda;

import dev.autodir.backend.AttentionMask;
import dev.autodir.backend.Ops;
import dev.autodir.backend.Tensor;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;

/**
 * The {@link Ops} a compiled network's forward function sees while it is planned and captured: every call goes to the
 * backend, and each top-level operation (one node of the network's recorded graph; operations a backend composes
 * internally are part of it) is reported to a {@link Listener} with its tensor operands before it runs and its result
 * after. Host data the network uploads (a constant) goes to the listener, which may hand back a tensor it keeps
 * instead; reading back, keeping, ending the stage and compiling are refused, as a network must not do them.
 *
 * <p>A dynamic proxy over the interface, so every operation, including ones added to {@link Ops} later, is tracked
 * without a list to keep up to date.
 */
final class CallTracker implements InvocationHandler {
    interface Listener {
        /** Operation {@code op} is about to run on {@code inputs} (its tensor operands, masks included). */
        void beginCall(String op, List<Tensor> inputs);

        /** The operation returned {@code result}. */
        void endCall(Tensor result);

        /**
         * The network uploads host data ({@code upload} or {@code uploadFloat32} of a FloatTensor, or an IntTensor): a
         * tensor of the backend to use instead, or null to let the backend upload it.
         */
        Tensor constant(String method, Tensor host);
    }

    /** Calls the backend answers directly: no operation, nothing allocated. */
    private static final Set<String> PASS = Set.of("name", "describe", "weight");
    private static final Set<String> UPLOADS = Set.of("upload", "uploadFloat32");
    /** What a network's forward function must not do (Network's contract); the eager run would not notice. */
    private static final Set<String> REFUSED = Set.of("download", "downloadInts", "keep", "endStage", "compile", "close", "synchronize");

    private final Ops inner;
    private final Listener listener;
    private final String network;

    private CallTracker(Ops inner, Listener listener, String network) {
        this.inner = inner;
        this.listener = listener;
        this.network = network;
    }

    /** {@code inner} as the forward function of {@code network} should see it. */
    static Ops wrap(Ops inner, Listener listener, String network) {
        return (Ops) Proxy.newProxyInstance(Ops.class.getClassLoader(), new Class<?>[] {Ops.class},
                new CallTracker(inner, listener, network));
    }

    @Override
    public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
        String name = method.getName();
        if (method.getDeclaringClass() == Object.class) {
            return switch (name) {
                case "equals" -> proxy == args[0];
                case "hashCode" -> System.identityHashCode(proxy);
                default -> "CallTracker[" + inner + "]";
            };
        }
        if (REFUSED.contains(name)) {
            throw new IllegalStateException(network + ": a network's forward function must not call " + name
                    + " (it runs as one compiled graph: no reading back, no keeping, no stage ends)");
        }
        if (UPLOADS.contains(name)) {
            Tensor kept = listener.constant(name, (Tensor) args[0]);
            if (kept != null) return kept;
            return call(method, args);
        }
        if (PASS.contains(name) || !Tensor.class.isAssignableFrom(method.getReturnType())) return call(method, args);
        listener.beginCall(name, tensors(args));
        Tensor result = (Tensor) call(method, args);
        listener.endCall(result);
        return result;
    }

    private Object call(Method method, Object[] args) throws Throwable {
        try {
            return method.invoke(inner, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /** The tensor operands of a call: tensors, tensors in lists (concat), an attention mask's keep tensor. */
    static List<Tensor> tensors(Object[] args) {
        List<Tensor> out = new ArrayList<>();
        if (args == null) return out;
        for (Object a : args) {
            if (a instanceof Tensor t) out.add(t);
            else if (a instanceof Collection<?> c) for (Object o : c) if (o instanceof Tensor t) out.add(t);
            else if (a instanceof AttentionMask m && m.keyKeep() != null) out.add(m.keyKeep());
        }
        return out;
    }
}
