package dev.autodir.backend.cpu;

import jdk.incubator.vector.FloatVector;

import static dev.autodir.backend.cpu.VectorMath.F;
import static dev.autodir.backend.cpu.VectorMath.LANES;

/**
 * 3×3 stride-1 convolution by Winograd's minimal filtering F(2×2, 3×3) (Lavin &amp; Gray, 2016): each 2×2
 * block of outputs ("tile") is Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A with d the tile's 4×4 input patch, so the
 * products over channels become 16 matrix products U_ξ [Cout, Cin] · V_ξ [Cin, tiles], with 16 instead
 * of 36 multiplications per tile and channel pair (2.25× fewer flops than direct convolution).
 *
 * <pre>
 *   Bᵀ = | 1  0 −1  0 |     G = | 1    0    0  |     Aᵀ = | 1  1  1  0 |
 *        | 0  1  1  0 |         | ½    ½    ½  |          | 0  1 −1 −1 |
 *        | 0 −1  1  0 |         | ½   −½    ½  |
 *        | 0  1  0 −1 |         | 0    0    1  |
 * </pre>
 * The transforms only add, subtract and halve, so float rounding stays within a few units of the
 * direct sum's (checked by the conformance suite against the double reference).
 *
 * <p>Layouts: U [16][Cout][Cin] (cached per weight), V [16][Cin][tiles of a band], M [16][Cout][tiles].
 * Tiles are processed in bands of tile rows so V and M stay a few MiB.
 */
final class Winograd {
    private Winograd() { }

    /**
     * U_ξ = G g Gᵀ for every (out, in) channel pair of w [Cout, Cin, 3, 3], computed in double and written
     * to {@code dst} as [16][Cout][Cin]. Goes through the heap in blocks of output channels (a few MiB),
     * so a large kernel never needs a heap copy of its whole Winograd form.
     */
    static void transformWeights(float[] w, int cout, int cin, NativeFloats dst) {
        int block = Math.max(1, Math.min(cout, (1 << 18) / Math.max(1, 16 * cin)));
        float[] u = new float[16 * block * cin];
        double[][] gg = new double[4][3];
        for (int co0 = 0; co0 < cout; co0 += block) {
            int n = Math.min(block, cout - co0);
            for (int co = 0; co < n; co++) {
                for (int ci = 0; ci < cin; ci++) {
                    int base = ((co0 + co) * cin + ci) * 9;
                    for (int c = 0; c < 3; c++) {           // G · g, one kernel column at a time
                        double g0 = w[base + c], g1 = w[base + 3 + c], g2 = w[base + 6 + c];
                        gg[0][c] = g0;
                        gg[1][c] = (g0 + g1 + g2) / 2;
                        gg[2][c] = (g0 - g1 + g2) / 2;
                        gg[3][c] = g2;
                    }
                    for (int i = 0; i < 4; i++) {           // (G g) · Gᵀ
                        double a = gg[i][0], b = gg[i][1], c = gg[i][2];
                        double[] row = {a, (a + b + c) / 2, (a - b + c) / 2, c};
                        for (int k = 0; k < 4; k++) u[((4 * i + k) * n + co) * cin + ci] = (float) row[k];
                    }
                }
            }
            for (int xi = 0; xi < 16; xi++) dst.put(((long) xi * cout + co0) * cin, u, xi * n * cin, n * cin);
        }
    }

    /**
     * Per-worker heap scratch for the input transform of one channel: the zero-padded rows of a band
     * split into even and odd columns, and the row-transformed values.
     */
    static final class InputScratch {
        final float[] even, odd, rowT, v;
        final int tilesWide, rows;

        InputScratch(int tilesWide, int bandTileRows) {
            this.tilesWide = tilesWide;
            this.rows = 2 * bandTileRows + 2;
            this.even = new float[tilesWide + 1];
            this.odd = new float[tilesWide + 1];
            this.rowT = new float[4 * rows * tilesWide];
            this.v = new float[16 * bandTileRows * tilesWide];
        }
    }

    /**
     * V for one input channel and tile rows [ti0, ti1): writes 16 rows of (ti1−ti0)·tw values,
     * V_ξ[c][t] at float offset (ξ·cin + c)·tilesInBand + t of {@code dst}.
     *
     * @param plane   the channel's H×W plane in {@code x} starting at {@code xOff}
     * @param pad     zero padding of the convolution
     */
    static void transformInput(float[] x, int xOff, int h, int w, int pad, int ti0, int ti1, int c, int cin,
                               NativeFloats dst, InputScratch s) {
        int tw = s.tilesWide, bandRows = 2 * (ti1 - ti0) + 2, tiles = (ti1 - ti0) * tw;
        // row transform of every input row the band touches: rows 2·ti0 − pad … 2·ti1 + 1 − pad
        for (int r = 0; r < bandRows; r++) {
            int iy = 2 * ti0 - pad + r;
            float[] e = s.even, o = s.odd;
            if (iy < 0 || iy >= h) {
                java.util.Arrays.fill(e, 0f);
                java.util.Arrays.fill(o, 0f);
            } else {
                int row = xOff + iy * w;
                for (int j = 0; j <= tw; j++) {          // columns 2j − pad and 2j + 1 − pad
                    int ix = 2 * j - pad;
                    e[j] = ix >= 0 && ix < w ? x[row + ix] : 0f;
                    o[j] = ix + 1 >= 0 && ix + 1 < w ? x[row + ix + 1] : 0f;
                }
            }
            // d0..d3 of tile j = e[j], o[j], e[j+1], o[j+1]
            int t0 = (4 * r) * tw, t1 = t0 + tw, t2 = t1 + tw, t3 = t2 + tw;
            float[] rt = s.rowT;
            int bound = F.loopBound(tw), j = 0;
            for (; j < bound; j += LANES) {
                FloatVector d0 = FloatVector.fromArray(F, e, j), d1 = FloatVector.fromArray(F, o, j);
                FloatVector d2 = FloatVector.fromArray(F, e, j + 1), d3 = FloatVector.fromArray(F, o, j + 1);
                d0.sub(d2).intoArray(rt, t0 + j);
                d1.add(d2).intoArray(rt, t1 + j);
                d2.sub(d1).intoArray(rt, t2 + j);
                d1.sub(d3).intoArray(rt, t3 + j);
            }
            for (; j < tw; j++) {
                float d0 = e[j], d1 = o[j], d2 = e[j + 1], d3 = o[j + 1];
                rt[t0 + j] = d0 - d2;
                rt[t1 + j] = d1 + d2;
                rt[t2 + j] = d2 - d1;
                rt[t3 + j] = d1 - d3;
            }
        }
        // column transform: tile row ti uses transformed rows 2(ti − ti0) … 2(ti − ti0) + 3
        float[] rt = s.rowT, v = s.v;
        for (int ti = 0; ti < ti1 - ti0; ti++) {
            for (int k = 0; k < 4; k++) {
                int r0 = (4 * (2 * ti) + k) * tw, r1 = r0 + 4 * tw, r2 = r1 + 4 * tw, r3 = r2 + 4 * tw;
                int out0 = (0 * 4 + k) * tiles + ti * tw, out1 = (4 + k) * tiles + ti * tw;
                int out2 = (8 + k) * tiles + ti * tw, out3 = (12 + k) * tiles + ti * tw;
                int bound = F.loopBound(tw), j = 0;
                for (; j < bound; j += LANES) {
                    FloatVector a0 = FloatVector.fromArray(F, rt, r0 + j), a1 = FloatVector.fromArray(F, rt, r1 + j);
                    FloatVector a2 = FloatVector.fromArray(F, rt, r2 + j), a3 = FloatVector.fromArray(F, rt, r3 + j);
                    a0.sub(a2).intoArray(v, out0 + j);
                    a1.add(a2).intoArray(v, out1 + j);
                    a2.sub(a1).intoArray(v, out2 + j);
                    a1.sub(a3).intoArray(v, out3 + j);
                }
                for (; j < tw; j++) {
                    float a0 = rt[r0 + j], a1 = rt[r1 + j], a2 = rt[r2 + j], a3 = rt[r3 + j];
                    v[out0 + j] = a0 - a2;
                    v[out1 + j] = a1 + a2;
                    v[out2 + j] = a2 - a1;
                    v[out3 + j] = a1 - a3;
                }
            }
        }
        for (int xi = 0; xi < 16; xi++) dst.put(((long) xi * cin + c) * tiles, v, xi * tiles, tiles);
    }

    /** Per-worker heap scratch for the output transform of one channel. */
    static final class OutputScratch {
        final float[] m, s;

        OutputScratch(int tilesInBand) {
            this.m = new float[16 * tilesInBand];
            this.s = new float[8 * tilesInBand];
        }
    }

    /**
     * Output channel {@code co} for tile rows [ti0, ti1) from M (at float offset (ξ·cout + co)·tiles):
     * y = Aᵀ m A + bias, written to rows 2·ti0 … of the Ho×Wo plane at {@code yOff} (odd edges cut).
     */
    static void transformOutput(NativeFloats src, int co, int cout, int ti0, int ti1, int tw, float bias,
                                float[] y, int yOff, int ho, int wo, OutputScratch s) {
        int tiles = (ti1 - ti0) * tw;
        float[] m = s.m, sm = s.s;
        for (int xi = 0; xi < 16; xi++) src.get(((long) xi * cout + co) * tiles, m, xi * tiles, tiles);
        // over rows: s0k = m0k + m1k + m2k, s1k = m1k − m2k − m3k
        for (int k = 0; k < 4; k++) {
            int m0 = k * tiles, m1 = (4 + k) * tiles, m2 = (8 + k) * tiles, m3 = (12 + k) * tiles;
            int s0 = k * tiles, s1 = (4 + k) * tiles;
            int bound = F.loopBound(tiles), t = 0;
            for (; t < bound; t += LANES) {
                FloatVector a0 = FloatVector.fromArray(F, m, m0 + t), a1 = FloatVector.fromArray(F, m, m1 + t);
                FloatVector a2 = FloatVector.fromArray(F, m, m2 + t), a3 = FloatVector.fromArray(F, m, m3 + t);
                a0.add(a1).add(a2).intoArray(sm, s0 + t);
                a1.sub(a2).sub(a3).intoArray(sm, s1 + t);
            }
            for (; t < tiles; t++) {
                float a0 = m[m0 + t], a1 = m[m1 + t], a2 = m[m2 + t], a3 = m[m3 + t];
                sm[s0 + t] = a0 + a1 + a2;
                sm[s1 + t] = a1 - a2 - a3;
            }
        }
        // over columns, then scatter the 2×2 blocks: y[i][0] = si0 + si1 + si2, y[i][1] = si1 − si2 − si3
        for (int i = 0; i < 2; i++) {
            int b0 = (4 * i) * tiles, b1 = b0 + tiles, b2 = b1 + tiles, b3 = b2 + tiles;
            for (int ti = ti0; ti < ti1; ti++) {
                int oy = 2 * ti + i;
                if (oy >= ho) continue;
                int row = yOff + oy * wo, t0 = (ti - ti0) * tw;
                for (int j = 0; j < tw; j++) {
                    int t = t0 + j, ox = 2 * j;
                    float a1 = sm[b1 + t], a2 = sm[b2 + t];
                    y[row + ox] = sm[b0 + t] + a1 + a2 + bias;
                    if (ox + 1 < wo) y[row + ox + 1] = a1 - a2 - sm[b3 + t] + bias;
                }
            }
        }
    }
}
