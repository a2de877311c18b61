#!/usr/bin/env python3
"""Times the operations of dev.autodir.backend.cpu.OpsBenchmark in PyTorch (CPU, float32), same cases in
the same order, written as the official modules write them (ldm CrossAttention, GEGLU, NAFNet
LayerNorm2d). Prints the median and minimum of the timed runs in milliseconds.

    python3 benchmarks/torch/ops_torch.py [filter] [--threads N]

A filter selects the cases whose name contains it, or with a leading ^, starts with it.

Use the interpreter that has torch (Debian's python3-torch 1.13 lives in /usr/bin/python3).
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F


def conv(cin, cout, h, w, k, groups=1, stride=1):
    x = torch.randn(1, cin, h, w)
    wt = torch.randn(cout, cin // groups, k, k) * 0.05
    b = torch.randn(cout)
    return lambda: F.conv2d(x, wt, b, stride, k // 2, 1, groups)


def linear(rows, cin, cout):
    x = torch.randn(1, rows, cin)
    wt = torch.randn(cout, cin) * 0.05
    b = torch.randn(cout)
    return lambda: F.linear(x, wt, b)


def attention(nq, nk, heads, d):
    c = heads * d
    q, k, v = torch.randn(1, nq, c), torch.randn(1, nk, c), torch.randn(1, nk, c)
    scale = d ** -0.5

    def run():  # ldm.modules.attention.CrossAttention.forward after the projections
        qh, kh, vh = (t.reshape(1, -1, heads, d).permute(0, 2, 1, 3).reshape(heads, -1, d) for t in (q, k, v))
        sim = torch.einsum('b i d, b j d -> b i j', qh, kh) * scale
        sim = sim.softmax(dim=-1)
        out = torch.einsum('b i j, b j d -> b i d', sim, vh)
        return out.reshape(1, heads, -1, d).permute(0, 2, 1, 3).reshape(1, -1, c)
    return run


def group_norm_silu(c, h, w, groups):
    x, g, b = torch.randn(1, c, h, w), torch.randn(c), torch.randn(c)
    return lambda: F.silu(F.group_norm(x, groups, g, b, 1e-5))


def layer_norm(rows, c):
    x, g, b = torch.randn(1, rows, c), torch.randn(c), torch.randn(c)
    return lambda: F.layer_norm(x, (c,), g, b, 1e-5)


def layer_norm_channels(c, h, w):
    x, g, b = torch.randn(1, c, h, w), torch.randn(c), torch.randn(c)

    def run():  # NAFNet LayerNormFunction.forward
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        y = (x - mu) / (var + 1e-6).sqrt()
        return g.view(1, c, 1, 1) * y + b.view(1, c, 1, 1)
    return run


def geglu(rows, width):
    x = torch.randn(1, rows, width)

    def run():  # ldm GEGLU after its projection
        a, gate = x.chunk(2, dim=-1)
        return a * F.gelu(gate)
    return run


def silu(c, h, w):
    x = torch.randn(1, c, h, w)
    return lambda: F.silu(x)


def resblock():
    """ldm ResBlock(320) with a time embedding, as the UNet's first level runs it."""
    x, emb = torch.randn(1, 320, 64, 64), torch.randn(1, 1280)
    g1, b1, g2, b2 = (torch.randn(320) for _ in range(4))
    c1, c2 = torch.randn(320, 320, 3, 3) * 0.02, torch.randn(320, 320, 3, 3) * 0.02
    c1b, c2b, eb = torch.randn(320), torch.randn(320), torch.randn(320)
    e = torch.randn(320, 1280) * 0.02

    def run():
        h = F.conv2d(F.silu(F.group_norm(x, 32, g1, b1, 1e-5)), c1, c1b, 1, 1)
        h = h + F.linear(F.silu(emb), e, eb)[:, :, None, None]
        h = F.conv2d(F.silu(F.group_norm(h, 32, g2, b2, 1e-5)), c2, c2b, 1, 1)
        return x + h
    return run


def transformer():
    """ldm SpatialTransformer(320, 8 heads of 40, depth 1, context 77x768) at 64x64."""
    x, ctx = torch.randn(1, 320, 64, 64), torch.randn(1, 77, 768)
    w = lambda *s: torch.randn(*s) * 0.02
    gn, gnb = torch.randn(320), torch.randn(320)
    pin, pinb, pout, poutb = w(320, 320, 1, 1), torch.randn(320), w(320, 320, 1, 1), torch.randn(320)
    ln = [torch.randn(320) for _ in range(6)]
    q1, k1, v1, o1, o1b = w(320, 320), w(320, 320), w(320, 320), w(320, 320), torch.randn(320)
    q2, k2, v2, o2, o2b = w(320, 320), w(320, 768), w(320, 768), w(320, 320), torch.randn(320)
    f1, f1b, f2, f2b = w(2560, 320), torch.randn(2560), w(320, 1280), torch.randn(320)

    def attn(q, k, v):
        heads, d = 8, 40
        qh, kh, vh = (t.reshape(1, -1, heads, d).permute(0, 2, 1, 3).reshape(heads, -1, d) for t in (q, k, v))
        sim = (torch.einsum('b i d, b j d -> b i j', qh, kh) * d ** -0.5).softmax(dim=-1)
        out = torch.einsum('b i j, b j d -> b i d', sim, vh)
        return out.reshape(1, heads, -1, d).permute(0, 2, 1, 3).reshape(1, -1, heads * d)

    def run():
        h = F.conv2d(F.group_norm(x, 32, gn, gnb, 1e-6), pin, pinb)
        t = h.permute(0, 2, 3, 1).reshape(1, 4096, 320)
        n = F.layer_norm(t, (320,), ln[0], ln[1])
        t = F.linear(attn(F.linear(n, q1), F.linear(n, k1), F.linear(n, v1)), o1, o1b) + t
        n = F.layer_norm(t, (320,), ln[2], ln[3])
        t = F.linear(attn(F.linear(n, q2), F.linear(ctx, k2), F.linear(ctx, v2)), o2, o2b) + t
        n = F.layer_norm(t, (320,), ln[4], ln[5])
        a, gate = F.linear(n, f1, f1b).chunk(2, dim=-1)
        t = F.linear(a * F.gelu(gate), f2, f2b) + t
        return x + F.conv2d(t.reshape(1, 64, 64, 320).permute(0, 3, 1, 2).contiguous(), pout, poutb)
    return run


def upsample(c, h, w):
    x = torch.randn(1, c, h, w)
    return lambda: F.interpolate(x, scale_factor=2.0, mode="nearest")


def to_tokens(c, h, w):
    x = torch.randn(1, c, h, w)
    return lambda: x.permute(0, 2, 3, 1).reshape(1, h * w, c).contiguous()


def concat(c1, c2, h, w):
    a, b = torch.randn(1, c1, h, w), torch.randn(1, c2, h, w)
    return lambda: torch.cat([a, b], dim=1)


CASES = [
    ("conv3x3 320->320 64x64", 10, lambda: conv(320, 320, 64, 64, 3)),
    ("conv1x1 320->320 64x64", 20, lambda: conv(320, 320, 64, 64, 1)),
    ("conv3x3 1280->1280 8x8", 20, lambda: conv(1280, 1280, 8, 8, 3)),
    ("conv3x3 128->128 512x512", 5, lambda: conv(128, 128, 512, 512, 3)),
    ("conv3x3 128->3 512x512", 10, lambda: conv(128, 3, 512, 512, 3)),
    ("conv3x3 8->320 64x64", 20, lambda: conv(8, 320, 64, 64, 3)),
    ("conv3x3 s2 320->320 64x64", 20, lambda: conv(320, 320, 64, 64, 3, stride=2)),
    ("conv3x3 6->64 512x512", 10, lambda: conv(6, 64, 512, 512, 3)),
    ("conv1x1 64->128 512x512", 10, lambda: conv(64, 128, 512, 512, 1)),
    ("dwconv3x3 128 512x512", 10, lambda: conv(128, 128, 512, 512, 3, groups=128)),
    ("linear 4096x320->1280", 20, lambda: linear(4096, 320, 1280)),
    ("linear 77x768->3072", 50, lambda: linear(77, 768, 3072)),
    ("attention 4096 tok 8x40", 5, lambda: attention(4096, 4096, 8, 40)),
    ("attention 4096 tok 1x512", 5, lambda: attention(4096, 4096, 1, 512)),
    ("cross-attention 4096x77 8x40", 20, lambda: attention(4096, 77, 8, 40)),
    ("groupNorm+silu 320x64x64 G32", 50, lambda: group_norm_silu(320, 64, 64, 32)),
    ("layerNorm 4096x320", 50, lambda: layer_norm(4096, 320)),
    ("layerNormChannels 64x512x512", 10, lambda: layer_norm_channels(64, 512, 512)),
    ("geglu 4096x2560", 20, lambda: geglu(4096, 2560)),
    ("silu 320x64x64", 50, lambda: silu(320, 64, 64)),
    ("upsample2x 256x256x256", 10, lambda: upsample(256, 256, 256)),
    ("nchwToTokens 320x64x64", 50, lambda: to_tokens(320, 64, 64)),
    ("concat 640+320 32x32", 50, lambda: concat(640, 320, 32, 32)),
    ("unet resblock 320 64x64", 10, resblock),
    ("unet transformer 320 64x64", 5, transformer),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("filter", nargs="?", default="")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn {torch.backends.mkldnn.is_available()}")
    with torch.inference_mode():
        for name, runs, setup in CASES:
            f = args.filter
            if not (name.startswith(f[1:]) if f.startswith("^") else f in name):
                continue
            fn = setup()
            for _ in range(3):
                fn()
            ms = []
            for _ in range(runs):
                t0 = time.perf_counter()
                fn()
                ms.append((time.perf_counter() - t0) * 1e3)
            print(f"{name:32s} median {statistics.median(ms):9.2f} ms   min {min(ms):9.2f} ms   ({runs} runs)", flush=True)


if __name__ == "__main__":
    main()
