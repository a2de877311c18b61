#!/usr/bin/env python3
"""Emulates, on the CPU, the index arithmetic of the two tensor-core kernels (attention_flash.cu and
conv2d_igemm.cu) against plain numpy results, for shapes that exercise every edge (partial tiles, head
widths that are not multiples of 16, masks, groups, strides).

The warp-level instructions are modelled from the PTX ISA's fragment layouts, written independently of the
kernels:
  mma.sync.m16n8k16.row.col (f16 inputs, f32 accumulators), with g = lane / 4, t = lane % 4:
    A 16x16: register r holds rows g + 8*(r & 1), columns 2t + 8*(r >> 1) and +1 (low half = lower column)
    B 16x8:  register r holds rows (k) 2t + 8r and +1, column (n) g
    C 16x8:  element e holds row g + 8*(e >> 1), column 2t + (e & 1)
  ldmatrix.sync.m8n8.x4.trans.b16: lanes 8j..8j+7 give the row addresses of 8x8 matrix j; register j of lane l
    holds elements [2*(l%4)][l/4] and [2*(l%4)+1][l/4] of matrix j (the transposed fragment).
The kernel bodies are mirrored statement by statement (same names, same address expressions), so a wrong
index in the .cu file shows up as a mismatch here. Run: python3 cuda/verify/emulate_mma_kernels.py
"""
import math
import sys

import numpy as np

f16 = np.float16


# ---------------------------------------------------------------------------------------------- warp model

def frag_a(regs):
    """regs[lane][r] = (lo, hi) -> the 16x16 A matrix."""
    a = np.zeros((16, 16), np.float32)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for r in range(4):
            row, col = g + 8 * (r & 1), 2 * t + 8 * (r >> 1)
            a[row, col], a[row, col + 1] = regs[lane][r]
    return a


def frag_b(b0, b1):
    """b0[lane], b1[lane] = (lo, hi) -> the 16x8 B matrix."""
    b = np.zeros((16, 8), np.float32)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        b[2 * t, g], b[2 * t + 1, g] = b0[lane]
        b[2 * t + 8, g], b[2 * t + 9, g] = b1[lane]
    return b


def mma(c, a_regs, b0, b1):
    """c[lane][4] (floats, updated in place) += A(a_regs) @ B(b0, b1), float32 accumulation."""
    cm = np.zeros((16, 8), np.float32)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for e in range(4):
            cm[g + 8 * (e >> 1), 2 * t + (e & 1)] = c[lane][e]
    d = (frag_a(a_regs).astype(np.float64) @ frag_b(b0, b1).astype(np.float64) + cm).astype(np.float32)
    for lane in range(32):
        g, t = lane >> 2, lane & 3
        for e in range(4):
            c[lane][e] = d[g + 8 * (e >> 1), 2 * t + (e & 1)]


def ldmatrix_x4_trans(smem, addr):
    """addr[lane] = (row, col) into the 2-D shared array; returns regs[lane][4] of (lo, hi)."""
    mats = []
    for j in range(4):
        rows = []
        for i in range(8):
            r, c = addr[8 * j + i]
            assert c % 8 == 0, "ldmatrix row address not 16-byte aligned"
            rows.append(smem[r, c:c + 8])
        mats.append(np.array(rows))
    out = []
    for lane in range(32):
        out.append([(mats[j][2 * (lane % 4)][lane // 4], mats[j][2 * (lane % 4) + 1][lane // 4]) for j in range(4)])
    return out


def pair(smem, r, c):
    """*(const unsigned*)(&smem[r][c]): the two halves at columns c, c + 1."""
    assert c % 2 == 0, "32-bit shared load not 4-byte aligned"
    return (smem[r, c], smem[r, c + 1])


def pack(lo, hi):
    return (f16(lo), f16(hi))


# ---------------------------------------------------------------------------------------------- attention_flash.cu

FBQ = FBK = 64


def load_tile(dst, src, b, N, row0, h, D, DP, keep):
    """load_tile<DP>: rows row0.. of head h into dst[64][PITCH]; zeros past N, D and for padding keys."""
    dst[:] = 0
    for r in range(FBQ):
        n = row0 + r
        if n < N and (keep is None or keep[b][n] != 0):
            dst[r, :D] = src[b, n, h * D:(h + 1) * D]


def attention_flash(q, k, v, heads, scale, causal=False, keep=None):
    B, Nq, C = q.shape
    Nk = k.shape[1]
    D = C // heads
    DP = (D + 15) // 16 * 16
    PITCH = DP + 8
    KC, NO, NS = DP // 16, DP // 8, FBK // 8
    scale_log2 = np.float32(scale * 1.4426950408889634)
    out = np.zeros((B, Nq, C), f16)
    Qs, Ks, Vs = (np.zeros((64, PITCH), f16) for _ in range(3))
    for b in range(B):
        for h in range(heads):
            for bx in range((Nq + 63) // 64):
                q0 = bx * FBQ
                load_tile(Qs, q, b, Nq, q0, h, D, DP, None)
                for warp in range(4):
                    r0 = warp * 16
                    qf = [[None] * 4 for _ in range(KC)]
                    qf = [[[None] * 4 for _ in range(KC)] for _ in range(32)]
                    for lane in range(32):
                        g, t = lane >> 2, lane & 3
                        for kc in range(KC):
                            c = kc * 16 + 2 * t
                            qf[lane][kc] = [pair(Qs, r0 + g, c), pair(Qs, r0 + g + 8, c), pair(Qs, r0 + g, c + 8),
                                            pair(Qs, r0 + g + 8, c + 8)]
                    o = [[[0.0] * 4 for _ in range(32)] for _ in range(NO)]
                    mA = [-math.inf] * 32
                    mB = [-math.inf] * 32
                    lA = [0.0] * 32
                    lB = [0.0] * 32
                    kEnd = (Nk if Nk < q0 + FBQ else q0 + FBQ) if causal else Nk
                    for k0 in range(0, kEnd, FBK):
                        load_tile(Ks, k, b, Nk, k0, h, D, DP, keep)
                        load_tile(Vs, v, b, Nk, k0, h, D, DP, keep)
                        s = [[[0.0] * 4 for _ in range(32)] for _ in range(NS)]
                        for nt in range(NS):
                            for kc in range(KC):
                                b0 = [pair(Ks, nt * 8 + (lane >> 2), 2 * (lane & 3) + kc * 16) for lane in range(32)]
                                b1 = [pair(Ks, nt * 8 + (lane >> 2), 2 * (lane & 3) + kc * 16 + 8) for lane in range(32)]
                                mma(s[nt], [qf[lane][kc] for lane in range(32)], b0, b1)
                        tmA, tmB = [-math.inf] * 32, [-math.inf] * 32
                        for lane in range(32):
                            g, t = lane >> 2, lane & 3
                            qA, qB = q0 + r0 + g, q0 + r0 + g + 8
                            for nt in range(NS):
                                for e in range(2):
                                    kj = k0 + nt * 8 + 2 * t + e
                                    ok = kj < Nk and (keep is None or keep[b][kj] != 0)
                                    visA = ok and (not causal or kj <= qA)
                                    visB = ok and (not causal or kj <= qB)
                                    s[nt][lane][e] = np.float32(s[nt][lane][e] * scale_log2) if visA else -math.inf
                                    s[nt][lane][2 + e] = np.float32(s[nt][lane][2 + e] * scale_log2) if visB else -math.inf
                                    tmA[lane] = max(tmA[lane], s[nt][lane][e])
                                    tmB[lane] = max(tmB[lane], s[nt][lane][2 + e])
                        for arr in (tmA, tmB):   # __shfl_xor 1 and 2: max over the quad
                            for off in (1, 2):
                                arr[:] = [max(arr[l], arr[l ^ off]) for l in range(32)]
                        for lane in range(32):
                            mNewA, mNewB = max(mA[lane], tmA[lane]), max(mB[lane], tmB[lane])
                            mUseA = 0.0 if mNewA == -math.inf else mNewA
                            mUseB = 0.0 if mNewB == -math.inf else mNewB
                            corrA, corrB = 2.0 ** (mA[lane] - mUseA), 2.0 ** (mB[lane] - mUseB)
                            mA[lane], mB[lane] = mNewA, mNewB
                            sumA = sumB = 0.0
                            for nt in range(NS):
                                for e in range(2):
                                    s[nt][lane][e] = 2.0 ** (s[nt][lane][e] - mUseA)
                                    s[nt][lane][2 + e] = 2.0 ** (s[nt][lane][2 + e] - mUseB)
                                    sumA += s[nt][lane][e]
                                    sumB += s[nt][lane][2 + e]
                            lA[lane] = lA[lane] * corrA + sumA
                            lB[lane] = lB[lane] * corrB + sumB
                            for i in range(NO):
                                o[i][lane][0] *= corrA
                                o[i][lane][1] *= corrA
                                o[i][lane][2] *= corrB
                                o[i][lane][3] *= corrB
                        for kc in range(FBK // 16):
                            a = [[pack(s[2 * kc][l][0], s[2 * kc][l][1]), pack(s[2 * kc][l][2], s[2 * kc][l][3]),
                                  pack(s[2 * kc + 1][l][0], s[2 * kc + 1][l][1]), pack(s[2 * kc + 1][l][2], s[2 * kc + 1][l][3])]
                                 for l in range(32)]
                            for dp in range(NO // 2):
                                addr = [(kc * 16 + (l & 7) + ((l >> 3) & 1) * 8, (l >> 4) * 8 + dp * 16) for l in range(32)]
                                regs = ldmatrix_x4_trans(Vs, addr)
                                mma(o[2 * dp], a, [regs[l][0] for l in range(32)], [regs[l][1] for l in range(32)])
                                mma(o[2 * dp + 1], a, [regs[l][2] for l in range(32)], [regs[l][3] for l in range(32)])
                    for arr in (lA, lB):
                        for off in (1, 2):
                            arr[:] = [arr[l] + arr[l ^ off] for l in range(32)]
                    for lane in range(32):
                        g, t = lane >> 2, lane & 3
                        qA, qB = q0 + r0 + g, q0 + r0 + g + 8
                        invA = 1.0 / lA[lane] if lA[lane] > 0 else 0.0
                        invB = 1.0 / lB[lane] if lB[lane] > 0 else 0.0
                        for i in range(NO):
                            col = i * 8 + 2 * t
                            for qi, inv, e0 in ((qA, invA, 0), (qB, invB, 2)):
                                if qi >= Nq or col >= D:
                                    continue
                                out[b, qi, h * D + col] = f16(o[i][lane][e0] * inv)
                                if col + 1 < D:
                                    out[b, qi, h * D + col + 1] = f16(o[i][lane][e0 + 1] * inv)
    return out


def attention_ref(q, k, v, heads, scale, causal=False, keep=None):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    B, Nq, C = q.shape
    Nk = k.shape[1]
    D = C // heads
    out = np.zeros((B, Nq, C))
    for b in range(B):
        for h in range(heads):
            s = q[b, :, h * D:(h + 1) * D] @ k[b, :, h * D:(h + 1) * D].T * scale
            vis = np.ones((Nq, Nk), bool)
            if causal:
                vis &= np.arange(Nk)[None, :] <= np.arange(Nq)[:, None]
            if keep is not None:
                vis &= np.array(keep[b])[None, :] != 0
            s = np.where(vis, s, -np.inf)
            p = np.exp(s - s.max(axis=1, keepdims=True))
            out[b, :, h * D:(h + 1) * D] = (p / p.sum(axis=1, keepdims=True)) @ v[b, :, h * D:(h + 1) * D]
    return out


# ---------------------------------------------------------------------------------------------- conv2d_igemm.cu

CBM, CBN, CBK = 64, 128, 32
APITCH, BPITCH = CBK + 8, CBN + 8


def conv_igemm(x, w, bias, stride, pad, groups):
    B, Cin, H, W = x.shape
    Cout, _, kh, kw = w.shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    cinG, coutG = Cin // groups, Cout // groups
    M, khw = coutG, kh * kw
    K, HoWo = cinG * khw, Ho * Wo
    N = B * HoWo
    xf, wf = x.reshape(-1), w.reshape(-1)
    y = np.zeros(B * Cout * HoWo, f16)
    As, Bs = np.zeros((CBM, APITCH), f16), np.zeros((CBK, BPITCH), f16)
    for grp in range(groups):
        for by in range((M + 63) // 64):
            for bx in range((N + 127) // 128):
                m0, n0 = by * CBM, bx * CBN
                acc = [[[[0.0] * 4 for _ in range(32)] for _ in range(4)] for _ in range(2)]
                acc = [[[[[0.0] * 4 for _ in range(32)] for _ in range(4)] for _ in range(2)] for _ in range(8)]
                for k0 in range(0, K, CBK):
                    for e in range(CBM * CBK):
                        r, c = e // CBK, e % CBK
                        m, kk = m0 + r, k0 + c
                        As[r, c] = wf[(grp * coutG + m) * K + kk] if (m < M and kk < K) else 0
                    for tid in range(256):
                        nn, kkFirst = tid & (CBN - 1), tid >> 7
                        n = n0 + nn
                        nOk = n < N
                        pb = iy0 = ix0 = 0
                        if nOk:
                            pb = n // HoWo
                            p = n - pb * HoWo
                            oy, ox = p // Wo, p - (p // Wo) * Wo
                            iy0, ix0 = oy * stride - pad, ox * stride - pad
                        for kk in range(kkFirst, CBK, 2):
                            kidx = k0 + kk
                            val = 0
                            if nOk and kidx < K:
                                ci = kidx // khw
                                rem = kidx - ci * khw
                                ky, kx = rem // kw, rem - (rem // kw) * kw
                                iy, ix = iy0 + ky, ix0 + kx
                                if 0 <= iy < H and 0 <= ix < W:
                                    val = xf[((pb * Cin + grp * cinG + ci) * H + iy) * W + ix]
                            Bs[kk, nn] = val
                    for warp in range(8):
                        wm, wn = (warp >> 2) * 32, (warp & 3) * 32
                        for kc in range(0, CBK, 16):
                            af = [[[pair(As, wm + mt * 16 + (l >> 2) + dr, kc + 2 * (l & 3) + dc) for dr, dc in
                                    ((0, 0), (8, 0), (0, 8), (8, 8))] for l in range(32)] for mt in range(2)]
                            for np_ in range(2):
                                addr = [(kc + (l & 7) + ((l >> 3) & 1) * 8, wn + np_ * 16 + (l >> 4) * 8) for l in range(32)]
                                regs = ldmatrix_x4_trans(Bs, addr)
                                for mt in range(2):
                                    mma(acc[warp][mt][2 * np_], af[mt], [regs[l][0] for l in range(32)], [regs[l][1] for l in range(32)])
                                    mma(acc[warp][mt][2 * np_ + 1], af[mt], [regs[l][2] for l in range(32)], [regs[l][3] for l in range(32)])
                for warp in range(8):
                    wm, wn = (warp >> 2) * 32, (warp & 3) * 32
                    for lane in range(32):
                        g, t = lane >> 2, lane & 3
                        for mt in range(2):
                            for nt in range(4):
                                for e in range(4):
                                    m = m0 + wm + mt * 16 + g + (e >> 1) * 8
                                    nIdx = n0 + wn + nt * 8 + 2 * t + (e & 1)
                                    if m < M and nIdx < N:
                                        co = grp * coutG + m
                                        b, p = nIdx // HoWo, nIdx % HoWo
                                        val = acc[warp][mt][nt][lane][e] + (float(bias[co]) if bias is not None else 0.0)
                                        y[(b * Cout + co) * HoWo + p] = f16(val)
    return y.reshape(B, Cout, Ho, Wo)


def conv_ref(x, w, bias, stride, pad, groups):
    x, w = x.astype(np.float64), w.astype(np.float64)
    B, Cin, H, W = x.shape
    Cout, cinG, kh, kw = w.shape
    Ho, Wo = (H + 2 * pad - kh) // stride + 1, (W + 2 * pad - kw) // stride + 1
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    y = np.zeros((B, Cout, Ho, Wo))
    coutG = Cout // groups
    for co in range(Cout):
        g = co // coutG
        for ky in range(kh):
            for kx in range(kw):
                patch = xp[:, g * cinG:(g + 1) * cinG, ky:ky + stride * Ho:stride, kx:kx + stride * Wo:stride]
                y[:, co] += np.einsum("bchw,c->bhw", patch, w[co, :, ky, kx])
        if bias is not None:
            y[:, co] += float(bias[co])
    return y


# ---------------------------------------------------------------------------------------------- main

def rel_l2(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.linalg.norm(a - ref) / np.linalg.norm(ref))


def main():
    rng = np.random.default_rng(0)
    failures = 0
    cases = [  # B, Nq, Nk, C, heads, causal, keep pattern
        (1, 70, 130, 80, 2, False, None), (2, 21, 21, 24, 3, True, None), (1, 9, 77, 64, 8, False, "pad"),
        (2, 5, 3, 10, 5, False, None), (1, 66, 66, 48, 1, True, "holes"), (1, 20, 70, 320, 2, False, None),
    ]
    for (B, Nq, Nk, C, heads, causal, pattern) in cases:
        q, k, v = (rng.standard_normal((B, n, C)).astype(f16) for n in (Nq, Nk, Nk))
        keep = None
        if pattern == "pad":
            keep = [[1 if j < 50 else 0 for j in range(Nk)] for _ in range(B)]
        elif pattern == "holes":
            keep = [[0 if (j % 3 == 1) else 1 for j in range(Nk)] for _ in range(B)]
        scale = 1 / math.sqrt(C // heads)
        err = rel_l2(attention_flash(q, k, v, heads, scale, causal, keep), attention_ref(q, k, v, heads, scale, causal, keep))
        ok = err < 2e-3
        failures += not ok
        print(f"attention_flash B{B} Nq{Nq} Nk{Nk} C{C} h{heads} (D={C // heads}) causal={causal} keep={pattern}: rel-L2 {err:.2e} {'ok' if ok else 'FAIL'}")
    conv_cases = [  # B, Cin, H, W, Cout, k, stride, pad, groups
        (2, 5, 9, 7, 7, 3, 1, 1, 1), (1, 40, 10, 13, 72, 3, 2, 1, 1), (1, 6, 6, 5, 4, 1, 1, 0, 2), (1, 8, 5, 6, 8, 3, 1, 1, 8),
        (1, 3, 17, 11, 130, 3, 1, 1, 1),
    ]
    for (B, Cin, H, W, Cout, kk, stride, pad, groups) in conv_cases:
        x = rng.standard_normal((B, Cin, H, W)).astype(f16)
        w = (rng.standard_normal((Cout, Cin // groups, kk, kk)) * 0.3).astype(f16)
        bias = rng.standard_normal(Cout).astype(f16)
        err = rel_l2(conv_igemm(x, w, bias, stride, pad, groups), conv_ref(x, w, bias, stride, pad, groups))
        ok = err < 2e-3
        failures += not ok
        print(f"conv2d_igemm B{B} Cin{Cin} {H}x{W} -> {Cout} k{kk} s{stride} p{pad} g{groups}: rel-L2 {err:.2e} {'ok' if ok else 'FAIL'}")
    print(f"{failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
