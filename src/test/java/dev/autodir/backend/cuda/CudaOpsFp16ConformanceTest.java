package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;
import dev.autodir.backend.Tensor;
import dev.autodir.tensor.FloatTensor;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.reflect.Method;
import java.util.Set;

/**
 * The conformance suite on the cuda backend in FP16 storage, at relative L2 2e-3.
 *
 * <p>Inputs are rounded to FP16 in place as they are uploaded ({@link #up}), before the suite hands the same
 * host tensor to its reference: the reference then sees exactly what the device stores, so the tolerance
 * measures the kernels (float32 arithmetic, FP16 results), and data movement stays exact as the suite demands.
 * Two cases assert that float32 values survive storage bit for bit, which FP16 cannot do by definition; they
 * are reported as disabled with that reason (CudaOpsFp16Test checks FP16 storage bit for bit instead, and
 * weight caching).
 */
@ExtendWith(CudaOpsFp16ConformanceTest.Float32ExactCases.class)
public class CudaOpsFp16ConformanceTest extends CudaOpsConformanceTest {
    @Override
    Precision precision() { return Precision.FP16; }

    @Override
    protected double tolerance() { return 2e-3; }

    @Override
    protected Tensor up(FloatTensor t) {
        return t == null ? null : super.up(CudaTestSupport.representable(t, Precision.FP16));
    }

    /** Disables the cases that require float32 storage, naming why. */
    static final class Float32ExactCases implements ExecutionCondition {
        private static final Set<String> FLOAT32_EXACT = Set.of("uploadAndDownloadCopy", "weightsAreReadOnceAndCached");

        @Override
        public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
            String name = context.getTestMethod().map(Method::getName).orElse("");
            return FLOAT32_EXACT.contains(name)
                    ? ConditionEvaluationResult.disabled(name + " compares float32 data bit for bit after upload: FP16 storage cannot hold it")
                    : ConditionEvaluationResult.enabled("FP16 storage holds what this case checks");
        }
    }
}
