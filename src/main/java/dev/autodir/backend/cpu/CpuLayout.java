package dev.autodir.backend.cpu;

import dev.autodir.backend.Shapes;
import dev.autodir.backend.Tensor;
import dev.autodir.model.clip.CLIPImageProcessor;
import dev.autodir.tensor.FloatTensor;
import dev.autodir.tensor.IntTensor;

import java.util.ArrayList;
import java.util.List;

import static dev.autodir.backend.cpu.CpuTensors.cpu;
import static dev.autodir.backend.cpu.CpuTensors.ints;

/** The cpu backend's resampling, layout and gathers: copies and index arithmetic, no floating-point work but pooling. */
final class CpuLayout {
    private final Parallel parallel;

    CpuLayout(Parallel parallel) { this.parallel = parallel; }

    Tensor upsampleNearest2x(Tensor xt) {
        FloatTensor x = cpu(xt, "upsampleNearest2x", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.upsampleNearest2x(x.shape()));
        int planes = x.dim(0) * x.dim(1), h = x.dim(2), w = x.dim(3);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(planes, 4L * h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < h; i++) {
                    int src = (p * h + i) * w, dst = (p * 2 * h + 2 * i) * 2 * w;
                    for (int j = 0; j < w; j++) {
                        float val = xd[src + j];
                        od[dst + 2 * j] = val;
                        od[dst + 2 * j + 1] = val;
                    }
                    System.arraycopy(od, dst, od, dst + 2 * w, 2 * w);
                }
            }
        });
        return out;
    }

    Tensor pixelShuffle(Tensor xt, int r) {
        FloatTensor x = cpu(xt, "pixelShuffle", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.pixelShuffle(x.shape(), r));
        int batch = x.dim(0), c = x.dim(1) / (r * r), h = x.dim(2), w = x.dim(3);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(batch * c, (long) r * r * h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int i = 0; i < r; i++) {
                    for (int j = 0; j < r; j++) {
                        int src = (p * r * r + i * r + j) * h * w;
                        for (int y = 0; y < h; y++) {
                            int dst = (p * h * r + y * r + i) * w * r + j, s = src + y * w;
                            for (int xx = 0; xx < w; xx++) od[dst + xx * r] = xd[s + xx];
                        }
                    }
                }
            }
        });
        return out;
    }

    Tensor globalAvgPool(Tensor xt) {
        FloatTensor x = cpu(xt, "globalAvgPool", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.globalAvgPool(x.shape()));
        int planes = x.dim(0) * x.dim(1), plane = x.dim(2) * x.dim(3);
        float[] xd = x.data(), od = out.data();
        parallel.forRange(planes, plane, (p0, p1) -> {
            for (int p = p0; p < p1; p++) od[p] = (float) (VectorMath.sum(xd, p * plane, plane) / plane);
        });
        return out;
    }

    Tensor pad2d(Tensor xt, int top, int bottom, int left, int right) {
        FloatTensor x = cpu(xt, "pad2d", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.pad2d(x.shape(), top, bottom, left, right));
        int h = x.dim(2), w = x.dim(3), ho = out.dim(2), wo = out.dim(3);
        copyWindow(x.data(), h, w, 0, 0, out.data(), ho, wo, top, left, h, w, x.dim(0) * x.dim(1));
        return out;
    }

    Tensor crop2d(Tensor xt, int top, int left, int h, int w) {
        FloatTensor x = cpu(xt, "crop2d", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.crop2d(x.shape(), top, left, h, w));
        copyWindow(x.data(), x.dim(2), x.dim(3), top, left, out.data(), h, w, 0, 0, h, w, x.dim(0) * x.dim(1));
        return out;
    }

    /** Copies an h×w window per plane from (sTop, sLeft) of src planes to (dTop, dLeft) of dst planes. */
    private void copyWindow(float[] src, int sh, int sw, int sTop, int sLeft, float[] dst, int dh, int dw,
                            int dTop, int dLeft, int h, int w, int planes) {
        parallel.forRange(planes, (long) h * w, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                for (int y = 0; y < h; y++) {
                    System.arraycopy(src, (p * sh + sTop + y) * sw + sLeft, dst, (p * dh + dTop + y) * dw + dLeft, w);
                }
            }
        });
    }

    Tensor concat(List<Tensor> parts, int dim) {
        if (parts == null || parts.isEmpty()) throw Shapes.bad("concat", "no tensors");
        FloatTensor[] xs = new FloatTensor[parts.size()];
        List<int[]> shapes = new ArrayList<>(xs.length);
        for (int i = 0; i < xs.length; i++) {
            xs[i] = cpu(parts.get(i), "concat", "part " + i);
            shapes.add(xs[i].shape());
        }
        int[] shape = Shapes.concat(shapes, dim);
        int rank = shape.length, total = shape[dim];
        FloatTensor out = FloatTensor.zeros(shape);
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < rank; i++) inner *= shape[i];
        float[] od = out.data();
        int at = 0;
        for (FloatTensor t : xs) {
            int chunk = t.dim(dim) * inner, offset = at * inner, rowOut = total * inner;
            float[] td = t.data();
            for (int o = 0; o < outer; o++) System.arraycopy(td, o * chunk, od, o * rowOut + offset, chunk);
            at += t.dim(dim);
        }
        return out;
    }

    Tensor slice(Tensor xt, int dim, int from, int to) {
        FloatTensor x = cpu(xt, "slice", "x");
        Shapes.slice(x.shape(), dim, from, to);
        int[] shape = x.shape();
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int rowIn = shape[dim] * inner;
        shape[dim] = to - from;
        FloatTensor out = FloatTensor.zeros(shape);
        int chunk = (to - from) * inner;
        float[] xd = x.data(), od = out.data();
        for (int o = 0; o < outer; o++) System.arraycopy(xd, o * rowIn + from * inner, od, o * chunk, chunk);
        return out;
    }

    Tensor nchwToTokens(Tensor xt) {
        FloatTensor x = cpu(xt, "nchwToTokens", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.nchwToTokens(x.shape()));
        int batch = x.dim(0), c = x.dim(1), n = x.dim(2) * x.dim(3);
        transpose(x.data(), out.data(), batch, c, n);
        return out;
    }

    Tensor tokensToNchw(Tensor xt, int h, int w) {
        FloatTensor x = cpu(xt, "tokensToNchw", "x");
        FloatTensor out = FloatTensor.zeros(Shapes.tokensToNchw(x.shape(), h, w));
        int batch = x.dim(0), n = x.dim(1), c = x.dim(2);
        transpose(x.data(), out.data(), batch, n, c);
        return out;
    }

    /** Per batch entry, src [rows, cols] → dst [cols, rows], in 32×32 tiles. */
    private void transpose(float[] src, float[] dst, int batch, int rows, int cols) {
        final int t = 32;
        int rowTiles = (rows + t - 1) / t;
        parallel.forRange(batch * rowTiles, (long) t * cols, (p0, p1) -> {
            for (int p = p0; p < p1; p++) {
                int bi = p / rowTiles, r0 = (p % rowTiles) * t, r1 = Math.min(rows, r0 + t);
                int base = bi * rows * cols;
                for (int c0 = 0; c0 < cols; c0 += t) {
                    int c1 = Math.min(cols, c0 + t);
                    for (int r = r0; r < r1; r++) {
                        for (int c = c0; c < c1; c++) dst[base + c * rows + r] = src[base + r * cols + c];
                    }
                }
            }
        });
    }

    Tensor embedding(Tensor tt, Tensor idsT) {
        FloatTensor table = cpu(tt, "embedding", "table");
        IntTensor ids = ints(idsT, "embedding", "ids");
        int[] y = Shapes.embedding(table.shape(), ids.shape());
        int vocab = table.dim(0), c = table.dim(1), n = ids.dim(1);
        FloatTensor out = FloatTensor.zeros(y);
        int[] id = ids.data();
        for (int i = 0; i < id.length; i++) {
            if (id[i] < 0 || id[i] >= vocab) {
                throw new IllegalArgumentException("embedding: id " + id[i] + " at [" + i / n + "][" + i % n
                        + "] is outside the table of " + vocab + " rows");
            }
            System.arraycopy(table.data(), id[i] * c, out.data(), i * c, c);
        }
        return out;
    }

    Tensor gatherRows(Tensor xt, Tensor rowsT) {
        FloatTensor x = cpu(xt, "gatherRows", "x");
        IntTensor rows = ints(rowsT, "gatherRows", "rows");
        FloatTensor out = FloatTensor.zeros(Shapes.gatherRows(x.shape(), rows.shape()));
        int n = x.dim(1), c = x.dim(2);
        for (int bi = 0; bi < rows.numel(); bi++) {
            int r = rows.data()[bi];
            if (r < 0 || r >= n) throw Shapes.bad("gatherRows", "row " + r + " of batch entry " + bi + " is outside [0, " + n + ")", x.shape());
            System.arraycopy(x.data(), (bi * n + r) * c, out.data(), bi * c, c);
        }
        return out;
    }

    Tensor clipPixelValues(Tensor image, int size, float[] mean, float[] std) {
        FloatTensor x = cpu(image, "clipPixelValues", "image");
        Shapes.clipPixelValues(x.shape(), size, mean, std);
        return CLIPImageProcessor.pixelValues(x, size, mean, std);
    }
}
