package dev.autodir.backend.cuda;

import dev.autodir.backend.Precision;

import java.util.ArrayList;
import java.util.List;

/**
 * How an FP16 convolution run as im2col + one matrix product is cut into pieces whose column matrix fits a
 * byte cap: the column buffer ({@code rows = Cin·kh·kw} rows of {@code ldc} FP16 values per image) comes from the
 * scratch arena, so it must stay bounded (a 512² VAE convolution with 256 channels would need 1.2 GB at once).
 *
 * <p>When one image's whole column matrix fits, a chunk holds as many whole images as fit (one strided-batched
 * product for all of them); otherwise every image is cut into pixel ranges of equal size. Pixel ranges start at
 * multiples of {@link #PIXEL_QUANTUM} and every ldc is a multiple of it, so each address handed to cuBLASLt stays
 * 256-byte aligned (its heuristic assumes that by default) and the kernel's 16-byte stores stay aligned.
 *
 * @param rows        K = Cin·kh·kw, the rows of the column matrix (the product's inner dimension)
 * @param pixels      Ho·Wo, output pixels per image
 * @param batch       images
 * @param chunks      the pieces, in order; together they cover every pixel of every image once
 * @param bufferBytes the column buffer one chunk needs at most (≤ the cap)
 */
record Im2colPlan(int rows, int pixels, int batch, List<Chunk> chunks, long bufferBytes) {
    /** Element alignment of pixel ranges and leading dimensions: 128 FP16 values = 256 bytes. */
    static final int PIXEL_QUANTUM = 128;
    static final int MAX_IMAGES_PER_CHUNK = 65535;   // the kernel's gridDim.z
    private static final int BYTES = 2;              // FP16

    /**
     * Images [image0, image0 + images), their output pixels [p0, p0 + np); the column matrix of each image is
     * [rows][ldc] (ldc ≥ np), image i of the chunk at offset i·rows·ldc.
     */
    record Chunk(int image0, int images, int p0, int np, int ldc) {
        long columnBytes(int rows) { return (long) images * rows * ldc * BYTES; }
    }

    Im2colPlan {
        chunks = List.copyOf(chunks);
    }

    /**
     * The plan for {@code batch} images of {@code pixels} output pixels and {@code rows} column rows under
     * {@code capBytes}; null when even {@link #PIXEL_QUANTUM} pixels of one image do not fit the cap.
     */
    static Im2colPlan of(int batch, int pixels, int rows, long capBytes) {
        if (batch < 1 || pixels < 1 || rows < 1) {
            throw new IllegalArgumentException("im2col plan: batch " + batch + ", pixels " + pixels + ", rows " + rows + " must be positive");
        }
        long rowBytes = (long) rows * BYTES;
        List<Chunk> chunks = new ArrayList<>();
        int wholeLd = roundUp(pixels);
        long imageBytes = rowBytes * wholeLd;
        if (imageBytes <= capBytes) {
            int fit = (int) Math.min(Math.min(batch, capBytes / imageBytes), MAX_IMAGES_PER_CHUNK);
            int count = ceilDiv(batch, fit);
            int per = ceilDiv(batch, count);   // balanced: chunks differ by at most one image
            for (int i = 0; i < batch; i += per) chunks.add(new Chunk(i, Math.min(per, batch - i), 0, pixels, wholeLd));
            return new Im2colPlan(rows, pixels, batch, chunks, per * imageBytes);
        }
        long maxPixels = capBytes / rowBytes / PIXEL_QUANTUM * PIXEL_QUANTUM;
        if (maxPixels < PIXEL_QUANTUM) return null;
        int count = (int) ((pixels + maxPixels - 1) / maxPixels);
        int per = roundUp(ceilDiv(pixels, count));   // ≤ maxPixels, since maxPixels is a multiple of the quantum
        for (int b = 0; b < batch; b++) {
            for (int p0 = 0; p0 < pixels; p0 += per) {
                int np = Math.min(per, pixels - p0);
                chunks.add(new Chunk(b, 1, p0, np, roundUp(np)));
            }
        }
        return new Im2colPlan(rows, pixels, batch, chunks, rowBytes * per);
    }

    // ---- what CudaOps launches per chunk (shared with the tests that emulate it) ---------------------------

    /** Where {@link #run} sends its work: the device (ConvolutionRouting.convIm2col) or an emulation (tests). */
    interface Sink {
        /**
         * im2col.cu for chunk c: x = the address of the chunk's first image, col = the column buffer; launched with
         * grid ({@link #blocks}(np), min(Cin, 65535), images) and block {@link #threads}(np).
         */
        void im2col(long x, long col, Chunk c);

        /** Matmul.gemm with alpha 1. */
        void gemm(Matmul.Gemm g, long a, long b, long d);
    }

    /**
     * y = conv(x, w) of {@code key} (groups 1, no bias) through {@code sink}: per chunk, the column matrix into
     * {@code col}, then the chunk's product into y. Byte addresses of FP16 data: x [B, Cin, H, W], w [Cout, K],
     * y [B, Cout, Ho, Wo], col at least {@link #bufferBytes} long.
     */
    void run(Sink sink, Convolution.Key key, long x, long w, long y, long col) {
        if (key.batch() != batch || (long) key.cin() * key.kh() * key.kw() != rows || key.groups() != 1) {
            throw new IllegalArgumentException("im2col plan for " + batch + " images of " + rows + " rows run on " + key);
        }
        for (Chunk c : chunks) {
            sink.im2col(x + xOffset(c, key.cin(), key.h(), key.w()) * BYTES, col, c);
            sink.gemm(gemm(c, key.cout()), col, w, y + yOffset(c, key.cout()) * BYTES);
        }
    }

    /** im2col.cu's blockDim.x for np pixels: 8 pixels a thread, whole warps, at most 256. */
    static int threads(int np) {
        return Math.min(256, Math.max(32, ((np + 7) / 8 + 31) / 32 * 32));
    }

    /** im2col.cu's gridDim.x for np pixels. */
    static long blocks(int np) {
        long perBlock = 8L * threads(np);
        return ((long) np + perBlock - 1) / perBlock;
    }

    /** Elements from x's start to the chunk's first image (x is [batch, Cin, H, W]). */
    static long xOffset(Chunk c, int cin, int h, int w) {
        return (long) c.image0() * cin * h * w;
    }

    /** Elements from y's start to pixel p0 of the chunk's first image (y is [batch, Cout, Ho·Wo]). */
    long yOffset(Chunk c, int cout) {
        return (long) c.image0() * cout * pixels + c.p0();
    }

    /**
     * The chunk's product in cuBLAS's column-major terms, per image i of the chunk:
     * D_i [np, Cout] (ld Ho·Wo: y's channel planes) = Colᶜ_i [np, K] (ld ldc) · Wᶜ [K, Cout] (ld K), no transposes;
     * the weight [Cout, K] row-major is Wᶜ, shared by the images (stride 0).
     */
    Matmul.Gemm gemm(Chunk c, int cout) {
        return new Matmul.Gemm(Precision.FP16, Precision.FP16, false, false,
                c.np(), cout, rows, c.ldc(), rows, pixels, c.images(), (long) rows * c.ldc(), 0, (long) cout * pixels);
    }

    private static int roundUp(int v) {
        long r = ((long) v + PIXEL_QUANTUM - 1) / PIXEL_QUANTUM * PIXEL_QUANTUM;
        if (r > Integer.MAX_VALUE) throw new IllegalArgumentException("im2col plan: " + v + " pixels overflow an int when rounded up");
        return (int) r;
    }

    private static int ceilDiv(int a, int b) {
        return (int) (((long) a + b - 1) / b);
    }
}
