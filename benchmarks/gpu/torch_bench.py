#!/usr/bin/env python3
"""PyTorch (fp16, CUDA) timings of the AutoDIR networks and of the micro-shapes CudaBench times, as the yardstick
for the Java cuda backend. Run on the lent GPU machine by benchmarks/gpu-check.sh; prints one line per case and a
table of median milliseconds at the end.

The networks are written here in plain PyTorch (diffusers is not installed there) from the official module
definitions, with random weights: the SD-1.5 / AutoDIR UNet (ldm openaimodel, 8 input channels, 64x64 latent,
batch 1, 77x768 context), the SD VAE decoder (512x512 output), NAFNet width 64 (AutoDIR's SCM, 6 channels in) at
512x512, and the CLIP ViT-L/14 vision tower (transformers, 224x224).

  python3 torch_bench.py            # on the GPU, fp16
  python3 torch_bench.py --dry-run  # on the CPU in float32 with tiny sizes: checks the modules run (no timing value)
"""
import argparse
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- helpers

def attention(q, k, v, heads):
    """q [B, N, C], k/v [B, M, C] -> [B, N, C], softmax(q k^T / sqrt(d)) v per head (SDPA where it exists)."""
    b, n, c = q.shape
    m = k.shape[1]
    d = c // heads
    q = q.view(b, n, heads, d).transpose(1, 2)
    k = k.view(b, m, heads, d).transpose(1, 2)
    v = v.view(b, m, heads, d).transpose(1, 2)
    if hasattr(F, "scaled_dot_product_attention"):
        o = F.scaled_dot_product_attention(q, k, v)
    else:  # torch < 2.0 (the dry run on an old CPU build)
        o = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d), dim=-1) @ v
    return o.transpose(1, 2).reshape(b, n, c)


def gn(c, eps):
    return nn.GroupNorm(32, c, eps=eps)


# ----------------------------------------------------------------------------------------------- UNet (ldm)

def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32, device=t.device) / half)
    args = t[:, None].float() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin, cout, emb=1280):
        super().__init__()
        self.in_layers = nn.Sequential(gn(cin, 1e-5), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb, cout))
        self.out_layers = nn.Sequential(gn(cout, 1e-5), nn.SiLU(), nn.Dropout(0.0), nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, emb):
        h = self.in_layers(x)
        h = h + self.emb_layers(emb).type(h.dtype)[:, :, None, None]
        return self.skip(x) + self.out_layers(h)


class CrossAttention(nn.Module):
    def __init__(self, dim, ctx_dim, heads):
        super().__init__()
        self.heads = heads
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(ctx_dim, dim, bias=False)
        self.to_v = nn.Linear(ctx_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def forward(self, x, ctx=None):
        ctx = x if ctx is None else ctx
        return self.to_out(attention(self.to_q(x), self.to_k(ctx), self.to_v(ctx), self.heads))


class GEGLU(nn.Module):
    def __init__(self, dim, inner):
        super().__init__()
        self.proj = nn.Linear(dim, inner * 2)

    def forward(self, x):
        a, g = self.proj(x).chunk(2, dim=-1)
        return a * F.gelu(g)


class TransformerBlock(nn.Module):
    def __init__(self, dim, heads, ctx_dim):
        super().__init__()
        self.attn1 = CrossAttention(dim, dim, heads)
        self.attn2 = CrossAttention(dim, ctx_dim, heads)
        self.ff = nn.Sequential(GEGLU(dim, dim * 4), nn.Dropout(0.0), nn.Linear(dim * 4, dim))
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)

    def forward(self, x, ctx):
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), ctx) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    def __init__(self, c, heads, ctx_dim):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.proj_in = nn.Conv2d(c, c, 1)
        self.block = TransformerBlock(c, heads, ctx_dim)
        self.proj_out = nn.Conv2d(c, c, 1)

    def forward(self, x, ctx):
        b, c, h, w = x.shape
        t = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        t = self.block(t, ctx)
        return self.proj_out(t.transpose(1, 2).reshape(b, c, h, w)) + x


class UNet(nn.Module):
    """openaimodel.UNetModel, SD-1.5 / AutoDIR config: in 8, out 4, ch 320, mult [1,2,4,4], 2 res blocks,
    attention at levels 0..2 and the middle, 8 heads, context 768, conv proj_in/out."""

    def __init__(self, in_ch=8, out_ch=4, ch=320, mult=(1, 2, 4, 4), nres=2, attn_levels=(0, 1, 2), heads=8, ctx=768):
        super().__init__()
        emb = ch * 4
        self.ch = ch
        self.time_embed = nn.Sequential(nn.Linear(ch, emb), nn.SiLU(), nn.Linear(emb, emb))
        self.input_blocks = nn.ModuleList([nn.ModuleList([nn.Conv2d(in_ch, ch, 3, padding=1)])])
        chans, c = [ch], ch
        for level, m in enumerate(mult):
            for _ in range(nres):
                layers = [ResBlock(c, m * ch, emb)]
                c = m * ch
                if level in attn_levels:
                    layers.append(SpatialTransformer(c, heads, ctx))
                self.input_blocks.append(nn.ModuleList(layers))
                chans.append(c)
            if level != len(mult) - 1:
                self.input_blocks.append(nn.ModuleList([nn.Conv2d(c, c, 3, stride=2, padding=1)]))
                chans.append(c)
        self.middle = nn.ModuleList([ResBlock(c, c, emb), SpatialTransformer(c, heads, ctx), ResBlock(c, c, emb)])
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(nres + 1):
                layers = [ResBlock(c + chans.pop(), m * ch, emb)]
                c = m * ch
                if level in attn_levels:
                    layers.append(SpatialTransformer(c, heads, ctx))
                if level and i == nres:
                    layers.append(Upsample(c))
                self.output_blocks.append(nn.ModuleList(layers))
        self.out = nn.Sequential(gn(c, 1e-5), nn.SiLU(), nn.Conv2d(c, out_ch, 3, padding=1))

    @staticmethod
    def run(layers, h, emb, ctx):
        for layer in layers:
            if isinstance(layer, ResBlock):
                h = layer(h, emb)
            elif isinstance(layer, SpatialTransformer):
                h = layer(h, ctx)
            else:
                h = layer(h)
        return h

    def forward(self, x, t, ctx):
        emb = self.time_embed(timestep_embedding(t, self.ch).to(x.dtype))
        hs, h = [], x
        for blk in self.input_blocks:
            h = self.run(blk, h, emb, ctx)
            hs.append(h)
        h = self.run(self.middle, h, emb, ctx)
        for blk in self.output_blocks:
            h = self.run(blk, torch.cat([h, hs.pop()], dim=1), emb, ctx)
        return self.out(h)


class Upsample(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


# ----------------------------------------------------------------------------------------------- VAE decoder (ldm)

class VaeResnet(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1, self.conv1 = gn(cin, 1e-6), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = gn(cout, 1e-6), nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.nin_shortcut(x) + h


class VaeAttn(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.norm = gn(c, 1e-6)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        b, c, h, w = x.shape
        n = self.norm(x)
        tok = lambda t: t.flatten(2).transpose(1, 2)
        o = attention(tok(self.q(n)), tok(self.k(n)), tok(self.v(n)), 1)
        return x + self.proj_out(o.transpose(1, 2).reshape(b, c, h, w))


class VaeDecoder(nn.Module):
    """post_quant_conv + ldm Decoder: ch 128, mult [1,2,4,4], 2 res blocks (+1 per level), attention in the middle."""

    def __init__(self, ch=128, mult=(1, 2, 4, 4), nres=2, z=4):
        super().__init__()
        c = ch * mult[-1]
        self.post_quant_conv = nn.Conv2d(z, z, 1)
        self.conv_in = nn.Conv2d(z, c, 3, padding=1)
        self.mid = nn.Sequential(VaeResnet(c, c), VaeAttn(c), VaeResnet(c, c))
        ups = []
        for i in reversed(range(len(mult))):
            out = ch * mult[i]
            for _ in range(nres + 1):
                ups.append(VaeResnet(c, out))
                c = out
            if i != 0:
                ups.append(Upsample(c))
        self.up = nn.Sequential(*ups)
        self.norm_out, self.conv_out = gn(c, 1e-6), nn.Conv2d(c, 3, 3, padding=1)

    def forward(self, zt):
        h = self.up(self.mid(self.conv_in(self.post_quant_conv(zt / 0.18215))))
        return self.conv_out(F.silu(self.norm_out(h)))


# ----------------------------------------------------------------------------------------------- NAFNet

class LayerNorm2d(nn.Module):
    def __init__(self, c, eps=1e-6):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), eps

    def forward(self, x):
        mu = x.mean(1, keepdim=True)
        var = (x - mu).pow(2).mean(1, keepdim=True)
        return (x - mu) / (var + self.eps).sqrt() * self.weight[:, None, None] + self.bias[:, None, None]


class NAFBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        dw = 2 * c
        self.conv1 = nn.Conv2d(c, dw, 1)
        self.conv2 = nn.Conv2d(dw, dw, 3, padding=1, groups=dw)
        self.conv3 = nn.Conv2d(dw // 2, c, 1)
        self.sca = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(dw // 2, dw // 2, 1))
        self.conv4 = nn.Conv2d(c, 2 * c, 1)
        self.conv5 = nn.Conv2d(c, c, 1)
        self.norm1, self.norm2 = LayerNorm2d(c), LayerNorm2d(c)
        self.beta = nn.Parameter(torch.randn(1, c, 1, 1) * 0.1)
        self.gamma = nn.Parameter(torch.randn(1, c, 1, 1) * 0.1)

    @staticmethod
    def gate(x):
        a, b = x.chunk(2, dim=1)
        return a * b

    def forward(self, inp):
        x = self.gate(self.conv2(self.conv1(self.norm1(inp))))
        x = self.conv3(x * self.sca(x))
        y = inp + x * self.beta
        x = self.conv5(self.gate(self.conv4(self.norm2(y))))
        return y + x * self.gamma


class NAFNet(nn.Module):
    """NAFNet_Combine's network: 6 channels in ([I, x_dec]), width 64, enc [2,2,4,8], middle 12, dec [2,2,2,2],
    output ending(...) + inp[:, 3:6]."""

    def __init__(self, img=6, width=64, enc=(2, 2, 4, 8), mid=12, dec=(2, 2, 2, 2)):
        super().__init__()
        self.intro = nn.Conv2d(img, width, 3, padding=1)
        self.ending = nn.Conv2d(width, 3, 3, padding=1)
        self.encoders, self.downs, self.ups, self.decoders = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        c = width
        for n in enc:
            self.encoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))
            self.downs.append(nn.Conv2d(c, 2 * c, 2, 2))
            c *= 2
        self.middle = nn.Sequential(*[NAFBlock(c) for _ in range(mid)])
        for n in dec:
            self.ups.append(nn.Sequential(nn.Conv2d(c, c * 2, 1, bias=False), nn.PixelShuffle(2)))
            c //= 2
            self.decoders.append(nn.Sequential(*[NAFBlock(c) for _ in range(n)]))

    def forward(self, inp):
        x = self.intro(inp)
        skips = []
        for e, d in zip(self.encoders, self.downs):
            x = e(x)
            skips.append(x)
            x = d(x)
        x = self.middle(x)
        for dec, up, skip in zip(self.decoders, self.ups, skips[::-1]):
            x = dec(up(x) + skip)
        return self.ending(x) + inp[:, 3:6]


# ----------------------------------------------------------------------------------------------- timing

def bench(name, fn, iters, warmup, device):
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = []
        if device == "cuda":
            torch.cuda.synchronize()
            for _ in range(iters):
                s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                s.record()
                fn()
                e.record()
                e.synchronize()
                times.append(s.elapsed_time(e))
        else:
            for _ in range(iters):
                t0 = time.perf_counter()
                fn()
                times.append((time.perf_counter() - t0) * 1e3)
    ms = statistics.median(times)
    print(f"{name:<48} median {ms:9.3f} ms  min {min(times):9.3f} ms  (n={iters})", flush=True)
    return ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dry-run", action="store_true", help="CPU, float32, tiny sizes: checks that the modules run")
    ap.add_argument("--iters", type=int, default=20)
    args = ap.parse_args()
    dry = args.dry_run
    device = "cpu" if dry else "cuda"
    dtype = torch.float32 if dry else torch.float16
    iters, warmup = (1, 0) if dry else (args.iters, 3)
    torch.manual_seed(0)
    if not dry:
        torch.backends.cudnn.benchmark = True
        props = torch.cuda.get_device_properties(0)
        print(f"torch {torch.__version__} cuda {torch.version.cuda} cudnn {torch.backends.cudnn.version()} "
              f"on {props.name} ({props.multi_processor_count} SMs)", flush=True)
    results = []

    def run(name, fn):
        try:
            results.append((name, bench(name, fn, iters, warmup, device)))
        except Exception as e:  # one failing case must not hide the others
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
            results.append((name, float("nan")))
        if device == "cuda":
            torch.cuda.empty_cache()

    def mk(*shape):
        return torch.randn(*shape, device=device, dtype=dtype)

    s = 4 if dry else 1   # size divisor for the dry run

    # micro-shapes of CudaBench
    for (b, cin, h, w, cout, g) in [(1, 320, 64, 64, 320, 1), (1, 640, 32, 32, 640, 1), (1, 1280, 16, 16, 1280, 1),
                                    (2, 320, 96, 96, 320, 1), (1, 128, 512, 512, 128, 1), (1, 256, 256, 256, 256, 1),
                                    (1, 512, 128, 128, 512, 1), (1, 128, 512, 512, 128, 128)]:
        x, wt = mk(b, cin, h // s, w // s), mk(cout, cin // g, 3, 3)
        run(f"conv3x3 {b}x{cin}x{h}x{w}->{cout}" + (f" g{g}" if g > 1 else ""),
            lambda x=x, wt=wt, g=g: F.conv2d(x, wt, padding=1, groups=g))
    for (b, nq, nk, c, heads) in [(2, 4096, 4096, 320, 8), (2, 9216, 9216, 320, 8), (2, 4096, 77, 320, 8),
                                  (2, 1024, 1024, 640, 8), (2, 256, 256, 1280, 8), (8, 77, 77, 768, 12), (1, 257, 257, 1024, 16)]:
        q, k = mk(b, nq // s, c), mk(b, nk // s if nk > 300 else nk, c)
        run(f"attention B{b} Nq{nq} Nk{nk} d{c // heads} h{heads}", lambda q=q, k=k, heads=heads: attention(q, k, k, heads))
    for (m, kk, n) in [(8192, 320, 2560), (8192, 1280, 320), (2048, 640, 5120), (616, 768, 3072)]:
        x, wt, bias = mk(m // s, kk), mk(n, kk), mk(n)
        run(f"linear {m}x{kk}->{n}", lambda x=x, wt=wt, bias=bias: F.linear(x, wt, bias))

    # networks
    unet = UNet().to(device, dtype).eval()
    lat, tt, ctx = mk(1, 8, 64 // s, 64 // s), torch.tensor([981.37], device=device), mk(1, 77, 768)
    run("UNet SD-1.5/AutoDIR 64x64 latent B1", lambda: unet(lat, tt, ctx))
    lat2 = mk(2, 8, 96 // s, 96 // s)
    run("UNet SD-1.5/AutoDIR 96x96 latent B2 (768px CFG)", lambda: unet(lat2, tt.repeat(2), ctx.repeat(2, 1, 1)))
    del unet
    vae = VaeDecoder().to(device, dtype).eval()
    zl = mk(1, 4, 64 // s, 64 // s)
    run("VAE decode 512x512", lambda: vae(zl))
    del vae
    naf = NAFNet().to(device, dtype).eval()
    img = mk(1, 6, 512 // s, 512 // s)
    run("NAFNet w64 512x512", lambda: naf(img))
    del naf
    try:
        from transformers import CLIPVisionConfig, CLIPVisionModel
        cfg = CLIPVisionConfig(hidden_size=1024, intermediate_size=4096, num_hidden_layers=24, num_attention_heads=16,
                               image_size=224, patch_size=14, projection_dim=768, hidden_act="quick_gelu")
        clip = CLIPVisionModel(cfg).to(device, dtype).eval()
        pix = mk(1, 3, 224, 224)
        run("CLIP ViT-L/14 vision 224", lambda: clip(pixel_values=pix))
    except ImportError as e:
        print(f"CLIP ViT-L/14 vision: SKIPPED ({e})", flush=True)

    print("\n--- torch fp16 medians (ms) ---" if not dry else "\n--- dry run (CPU float32, tiny sizes) ---")
    for name, ms in results:
        print(f"{name:<48} {ms:9.3f}")
    failed = [n for n, ms in results if ms != ms]
    if failed:
        print(f"{len(failed)} case(s) failed: {failed}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
