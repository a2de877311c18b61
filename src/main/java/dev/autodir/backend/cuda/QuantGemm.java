package dev.autodir.backend.cuda;

import dev.autodir.quant.QuantFormat;

/**
 * One INT8 or FP8 E4M3 product through cuBLASLt, in the one form both paths accept, "TN" (column-major terms, no
 * batch, alpha 1, beta 0): {@code D [m, n] (ld ldd) = Aᵀ · B} with A stored [k, m] (ld lda, TRANSA = T) and B stored
 * [k, n] (ld ldb, TRANSB = N); leading dimensions count elements.
 * <ul>
 * <li>INT8: A, B CUDA_R_8I, D CUDA_R_32I, CUBLAS_COMPUTE_32I with int32 scaling: D holds the exact integer sums
 * (|D| ≤ k · 128 · 127 fits int32 for every k below 132,000).</li>
 * <li>FP8: A, B CUDA_R_8F_E4M3, D CUDA_R_32F, CUBLAS_COMPUTE_32F with float32 scaling (the A/B/D scale pointers
 * unset: 1): every product of two E4M3 values is exact in float32, the sums are float32 (in cuBLASLt's order).</li>
 * </ul>
 * The requirements cuBLASLt documents for these kernels (cublasLtMatmul, "regular data ordering" IMMA and FP8) are
 * checked here, so that a shape that cuBLASLt would refuse is known before any call: the TN form (FP8 has no other;
 * INT8 with the regular column-major order has no other either), m and k multiples of 4 (INT8) or of 16 (FP8: the
 * 16-byte alignment of every column), leading dimensions likewise, and 16-byte aligned pointers (checked on the device
 * addresses by {@link #checkAddresses}). n (the tokens or pixels) is free.
 *
 * <p>A row-major weight W [N, K] is the column-major [K, N] (ld K): A. A row-major activation q [rows, K] is the
 * column-major [K, rows] (ld K): B. D [N, rows] (ld N) is the row-major accumulator acc [rows, N].
 */
record QuantGemm(QuantFormat format, int m, int n, int k, long lda, long ldb, long ldd) {
    /** Where a product goes: {@link Matmul#quantGemm} on the device, an exact emulation in the tests. */
    interface Sink {
        /** a, b, d: device addresses ({@code Long}) on the device, the emulator's buffers in the tests. */
        void gemm(QuantGemm g, Object a, Object b, Object d);
    }

    /** cuBLASLt's pointer alignment for these kernels (bytes). */
    static final int POINTER_ALIGNMENT = 16;

    QuantGemm {
        if (format == null) throw new IllegalArgumentException("quantized gemm: null format");
        if (m < 1 || n < 1 || k < 1) throw new IllegalArgumentException("quantized gemm: m " + m + ", n " + n + ", k " + k + " must be positive");
        if (lda < k || ldb < k || ldd < m) {
            throw new IllegalArgumentException("quantized gemm: leading dimensions " + lda + "/" + ldb + "/" + ldd + " too small for m " + m + ", k " + k);
        }
        String why = unsupported(format, m, k);
        if (why != null) throw new IllegalArgumentException("quantized gemm: " + why);
        int q = quantum(format);
        if (lda % q != 0 || ldb % q != 0 || ldd % 4 != 0) {
            throw new IllegalArgumentException("quantized gemm: " + format + " needs leading dimensions of A and B that are multiples of " + q
                    + " and of D a multiple of 4 (16-byte columns), got " + lda + "/" + ldb + "/" + ldd);
        }
    }

    /** The multiple that m, k and the operands' leading dimensions must be: 4 (INT8), 16 (FP8). */
    static int quantum(QuantFormat f) { return f == QuantFormat.INT8 ? 4 : 16; }

    /**
     * Why cuBLASLt's {@code format} kernels cannot take a layer of {@code out} output and {@code in} input features
     * (m = out, k = in), or null when they can.
     */
    static String unsupported(QuantFormat f, int out, int in) {
        int q = quantum(f);
        if (in % q != 0 || out % q != 0) {
            return "cuBLASLt's " + f + " products need input and output features that are multiples of " + q
                    + (f == QuantFormat.INT8 ? " (IMMA, regular column-major order)" : " (FP8: 16-byte aligned columns)")
                    + ", this layer has " + in + " in, " + out + " out";
        }
        return null;
    }

    /** Refuses device addresses that are not 16-byte aligned (scratch and weights are 256-byte aligned). */
    static void checkAddresses(long a, long b, long d) {
        if (a % POINTER_ALIGNMENT != 0 || b % POINTER_ALIGNMENT != 0 || d % POINTER_ALIGNMENT != 0) {
            throw new IllegalArgumentException("quantized gemm: operands at 0x" + Long.toHexString(a) + ", 0x" + Long.toHexString(b)
                    + ", 0x" + Long.toHexString(d) + " are not " + POINTER_ALIGNMENT + "-byte aligned");
        }
    }
}
