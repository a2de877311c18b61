package dev.autodir.backend.cuda;

import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The native arrays handed to cudnnBackendSetAttribute / GetAttribute hold the values themselves: JavaCPP's
 * {@code new LongPointer(16L)}, {@code new IntPointer(2)} and {@code new PointerPointer(p)} would mean something
 * else (a 16-element array, a 2-element array, p reinterpreted). Runs on JavaCPP's own native library only; no CUDA.
 */
class CudnnGraphConvolutionArgumentsTest {
    @Test
    void int64ArraysHoldTheirValues() {
        try (LongPointer one = CudnnGraphConvolution.int64s(16); LongPointer three = CudnnGraphConvolution.int64s(1, 2, 3)) {
            assertEquals(1, one.limit(), "one element, not sixteen");
            assertEquals(16, one.get(0));
            assertEquals(3, three.limit());
            assertEquals(1, three.get(0));
            assertEquals(2, three.get(1));
            assertEquals(3, three.get(2));
        }
        assertThrows(IllegalArgumentException.class, CudnnGraphConvolution::int64s);
    }

    @Test
    void int32ArraysHoldTheirValues() {
        try (IntPointer v = CudnnGraphConvolution.int32s(2)) {
            assertEquals(1, v.limit(), "one element, not two");
            assertEquals(2, v.get(0));
        }
    }

    @Test
    void pointerArraysHoldTheAddresses() {
        try (LongPointer a = new LongPointer(4); LongPointer b = new LongPointer(4);
             PointerPointer<Pointer> array = CudnnGraphConvolution.addresses(a, b)) {
            assertEquals(a.address(), array.get(0).address());
            assertEquals(b.address(), array.get(1).address());
            assertEquals(2, array.limit());
        }
        try (LongPointer a = new LongPointer(4); PointerPointer<Pointer> single = CudnnGraphConvolution.addresses(a)) {
            assertEquals(a.address(), single.get(0).address(), "an array of one address, not the address reinterpreted");
        }
    }
}
