package dev.autodir.analysis;

import dev.autodir.pipeline.tiling.LatentTiles;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Looks for tile seams in a restored image (an analysis tool, run by hand):
 * {@code SeamProfile IMAGE F TILE OVERLAP MULTIPLE CORE [CELLS_X CELLS_Y]}. F is the VAE's factor, TILE, OVERLAP and
 * MULTIPLE the diffusion tiles' side, least overlap and position multiple in latent pixels, CORE the VAE/SCM tiles'
 * core in image pixels; CELLS_X×CELLS_Y the grid of a {@link BigPhoto} input, whose cell edges are real edges and are
 * left out. Per axis it prints the mean absolute luma step between neighbouring columns (rows) at the diffusion tiles'
 * edges and at the core boundaries, against the mean and standard deviation of the other columns: a seam puts the
 * border mean many standard errors above the rest (the check of {@code TiledDiffusionTest.noSeamOnASmoothImage}).
 * The other columns compared are those of the same phase modulo F·MULTIPLE (every border falls on that phase: the
 * decoder's upsampling can leave a pattern of that period, which would otherwise read as a seam).
 */
public final class SeamProfile {
    public static void main(String[] a) throws IOException {
        BufferedImage im = ImageIO.read(new File(a[0]));
        int f = Integer.parseInt(a[1]), tile = Integer.parseInt(a[2]), overlap = Integer.parseInt(a[3]), m = Integer.parseInt(a[4]);
        int core = Integer.parseInt(a[5]);
        int cx = a.length > 6 ? Integer.parseInt(a[6]) : 0, cy = a.length > 7 ? Integer.parseInt(a[7]) : 0;
        int w = im.getWidth(), h = im.getHeight();
        float[] luma = new float[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = im.getRGB(x, y);
                luma[y * w + x] = 0.299f * ((p >> 16) & 255) + 0.587f * ((p >> 8) & 255) + 0.114f * (p & 255);
            }
        }
        for (boolean rows : new boolean[] {false, true}) {
            int n = rows ? h : w, across = rows ? w : h, cells = rows ? cy : cx;
            double[] step = new double[n - 1];                  // step[i]: between column (row) i and i+1
            for (int i = 0; i + 1 < n; i++) {
                double s = 0;
                for (int j = 0; j < across; j++) {
                    int a0 = rows ? i * w + j : j * w + i, a1 = rows ? (i + 1) * w + j : j * w + i + 1;
                    s += Math.abs(luma[a1] - luma[a0]);
                }
                step[i] = s / across;
            }
            List<Integer> tileEdges = new ArrayList<>(), coreEdges = new ArrayList<>();
            int latent = n / f;
            for (int p : LatentTiles.positions(latent, Math.min(tile, latent), Math.min(overlap, Math.min(tile, latent) - 1), m)) {
                for (int e : new int[] {p * f - 1, (p + Math.min(tile, latent)) * f - 1}) if (e >= 0 && e < n - 1) tileEdges.add(e);
            }
            for (int e = core - 1; e < n - 1; e += core) coreEdges.add(e);
            boolean[] skip = new boolean[n - 1];
            for (int c = 1; c < cells; c++) {
                int e = c * n / cells - 1;
                for (int d = -2; d <= 2; d++) if (e + d >= 0 && e + d < n - 1) skip[e + d] = true;
            }
            int period = f * m;
            for (int i = 0; i < n - 1; i++) if (i % period != period - 1) skip[i] = true;
            report(rows ? "rows" : "columns", "diffusion tile edges", step, tileEdges, coreEdges, skip);
            report(rows ? "rows" : "columns", "VAE/SCM core boundaries", step, coreEdges, tileEdges, skip);
        }
    }

    private static void report(String axis, String what, double[] step, List<Integer> at, List<Integer> other, boolean[] skip) {
        boolean[] mark = new boolean[step.length];
        double sAt = 0;
        int nAt = 0;
        for (int e : at) {
            if (skip[e]) continue;
            mark[e] = true;
            sAt += step[e];
            nAt++;
        }
        for (int e : other) mark[e] = true;
        double s = 0, s2 = 0;
        int k = 0;
        for (int i = 0; i < step.length; i++) {
            if (mark[i] || skip[i]) continue;
            s += step[i];
            s2 += step[i] * step[i];
            k++;
        }
        double mean = s / k, sd = Math.sqrt(Math.max(0, s2 / k - mean * mean));
        double meanAt = nAt == 0 ? Double.NaN : sAt / nAt;
        System.out.printf("%s, %s (%d): mean step %.3f; elsewhere (%d) %.3f ± %.3f: %.2f standard errors%n", axis, what, nAt, meanAt, k,
                mean, sd, (meanAt - mean) / (sd / Math.sqrt(Math.max(1, nAt))));
    }
}
