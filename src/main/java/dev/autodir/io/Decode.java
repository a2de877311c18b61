package dev.autodir.io;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;

/** Bulk conversion of little-endian element runs to float32 or int64, one switch per run. */
final class Decode {
    private Decode() { }

    private static final int BLOCK = 4096;

    /** Every IEEE half-precision bit pattern as float32 (256 KiB, exact). */
    private static final float[] HALF_TO_FLOAT = new float[1 << 16];

    static {
        for (int h = 0; h < 1 << 16; h++) HALF_TO_FLOAT[h] = halfToFloat((short) h);
    }

    static float halfToFloat(short half) {
        int h = half & 0xffff;
        int sign = (h >>> 15) << 31;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        int bits;
        if (exp == 0x1f) {
            bits = sign | 0x7f800000 | (mant << 13);               // inf / nan (payload kept)
        } else if (exp != 0) {
            bits = sign | ((exp - 15 + 127) << 23) | (mant << 13); // normal
        } else if (mant == 0) {
            bits = sign;                                            // ±0
        } else {
            // subnormal: mant · 2^-24, exact in float32
            float v = mant * 0x1p-24f;
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(bits);
    }

    static void toFloat(DType dtype, ByteBuffer src, float[] dst, int pos, int n) {
        switch (dtype) {
            case F32 -> src.asFloatBuffer().get(dst, pos, n);
            case F16 -> {
                ShortBuffer s = src.asShortBuffer();
                short[] tmp = new short[Math.min(n, BLOCK)];
                for (int done = 0; done < n; ) {
                    int k = Math.min(tmp.length, n - done);
                    s.get(tmp, 0, k);
                    for (int i = 0; i < k; i++) dst[pos + done + i] = HALF_TO_FLOAT[tmp[i] & 0xffff];
                    done += k;
                }
            }
            case BF16 -> {
                ShortBuffer s = src.asShortBuffer();
                short[] tmp = new short[Math.min(n, BLOCK)];
                for (int done = 0; done < n; ) {
                    int k = Math.min(tmp.length, n - done);
                    s.get(tmp, 0, k);
                    for (int i = 0; i < k; i++) dst[pos + done + i] = Float.intBitsToFloat(tmp[i] << 16);
                    done += k;
                }
            }
            case F64 -> {
                DoubleBuffer d = src.asDoubleBuffer();
                double[] tmp = new double[Math.min(n, BLOCK)];
                for (int done = 0; done < n; ) {
                    int k = Math.min(tmp.length, n - done);
                    d.get(tmp, 0, k);
                    for (int i = 0; i < k; i++) dst[pos + done + i] = (float) tmp[i];
                    done += k;
                }
            }
            default -> throw new IllegalStateException(dtype + " is not a float type");
        }
    }

    static void toLong(DType dtype, ByteBuffer src, long[] dst, int pos, int n) {
        switch (dtype) {
            case I64 -> {
                LongBuffer l = src.asLongBuffer();
                l.get(dst, pos, n);
            }
            case I32 -> {
                IntBuffer b = src.asIntBuffer();
                for (int i = 0; i < n; i++) dst[pos + i] = b.get(i);
            }
            case I16 -> {
                ShortBuffer b = src.asShortBuffer();
                for (int i = 0; i < n; i++) dst[pos + i] = b.get(i);
            }
            case I8 -> {
                for (int i = 0; i < n; i++) dst[pos + i] = src.get(i);
            }
            case U8 -> {
                for (int i = 0; i < n; i++) dst[pos + i] = src.get(i) & 0xff;
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) dst[pos + i] = src.get(i) != 0 ? 1 : 0;
            }
            default -> throw new IllegalStateException(dtype + " is not an integer type");
        }
    }
}
