#!/usr/bin/env python3
"""PyTorch on the CPU (float32) computing the same AutoDIR networks as `autodir bench`, for the side-by-side ratio
the cpu backend is measured against. Random weights of the official sizes; inputs of the bench's sizes.

The UNet, VAE decoder and NAFNet modules come from benchmarks/gpu/torch_bench.py (one definition for the GPU and
the CPU comparisons); the VAE encoder and the CLIP towers are written here in plain PyTorch (no diffusers or
transformers on this machine). Use the Debian build (PyTorch 1.13 with oneDNN): /usr/bin/python3.

  /usr/bin/python3 benchmarks/torch/networks_cpu.py --threads 2 --runs 3 [--networks unet,vae-decode,...]
"""
import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "gpu"))
from torch_bench import UNet, VaeDecoder, VaeResnet, VaeAttn, NAFNet, gn, attention  # noqa: E402


class VaeEncoder(nn.Module):
    """ldm Encoder + quant_conv: ch 128, mult [1,2,4,4], 2 res blocks, pad (0,1,0,1) + 3x3 stride-2 downsampling."""

    def __init__(self, ch=128, mult=(1, 2, 4, 4), nres=2, z=4):
        super().__init__()
        self.conv_in = nn.Conv2d(3, ch, 3, padding=1)
        layers, c = [], ch
        for i, m in enumerate(mult):
            for _ in range(nres):
                layers.append(VaeResnet(c, ch * m))
                c = ch * m
            if i != len(mult) - 1:
                layers.append(Down(c))
        self.down = nn.Sequential(*layers)
        self.mid = nn.Sequential(VaeResnet(c, c), VaeAttn(c), VaeResnet(c, c))
        self.norm_out, self.conv_out = gn(c, 1e-6), nn.Conv2d(c, 2 * z, 3, padding=1)
        self.quant_conv = nn.Conv2d(2 * z, 2 * z, 1)

    def forward(self, x):
        h = self.mid(self.down(self.conv_in(x)))
        return self.quant_conv(self.conv_out(F.silu(self.norm_out(h))))


class Down(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 0, 1)))


class ClipLayer(nn.Module):
    def __init__(self, d, heads, inter):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.fc1, self.fc2 = nn.Linear(d, inter), nn.Linear(inter, d)

    def forward(self, x, causal):
        h = self.ln1(x)
        q, k, v = self.q(h), self.k(h), self.v(h)
        b, n, c = q.shape
        d = c // self.heads
        q, k, v = (t.view(b, n, self.heads, d).transpose(1, 2) for t in (q, k, v))
        s = (q * d ** -0.5) @ k.transpose(-1, -2)
        if causal:
            s = s + torch.full((n, n), float("-inf")).triu(1)
        x = x + self.o((s.softmax(-1) @ v).transpose(1, 2).reshape(b, n, c))
        h = self.fc1(self.ln2(x))
        return x + self.fc2(h * torch.sigmoid(1.702 * h))


class ClipVision(nn.Module):
    def __init__(self, d=1024, layers=24, heads=16, inter=4096, image=224, patch=14, proj=768):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, stride=patch, bias=False)
        self.cls = nn.Parameter(torch.randn(d))
        self.pos = nn.Parameter(torch.randn((image // patch) ** 2 + 1, d) * 0.02)
        self.pre, self.post = nn.LayerNorm(d), nn.LayerNorm(d)
        self.layers = nn.ModuleList(ClipLayer(d, heads, inter) for _ in range(layers))
        self.proj = nn.Linear(d, proj, bias=False)

    def forward(self, px):
        x = self.patch(px).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], 1, -1), x], 1) + self.pos
        x = self.pre(x)
        for layer in self.layers:
            x = layer(x, False)
        return self.proj(self.post(x[:, 0]))


class ClipText(nn.Module):
    def __init__(self, vocab=49408, d=768, layers=12, heads=12, inter=3072, n=77):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Parameter(torch.randn(n, d) * 0.01)
        self.layers = nn.ModuleList(ClipLayer(d, heads, inter) for _ in range(layers))
        self.final = nn.LayerNorm(d)

    def forward(self, ids):
        x = self.tok(ids) + self.pos
        for layer in self.layers:
            x = layer(x, True)
        return self.final(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--networks", default="unet,vae-encode,vae-decode,scm,clip-vision,clip-text")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    s, lat = args.size, args.size // 8
    cases = {
        "unet": lambda: (UNet(), (torch.randn(1, 8, lat, lat), torch.tensor([500.5]), torch.randn(1, 77, 768))),
        "vae-encode": lambda: (VaeEncoder(), (torch.rand(1, 3, s, s) * 2 - 1,)),
        "vae-decode": lambda: (VaeDecoder(), (torch.randn(1, 4, lat, lat),)),
        "scm": lambda: (NAFNet(), (torch.rand(1, 6, s, s) * 2 - 1,)),
        "clip-vision": lambda: (ClipVision(), (torch.randn(1, 3, 224, 224),)),
        "clip-text": lambda: (ClipText(), (torch.randint(0, 49407, (8, 77)),)),
    }
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} mkldnn {torch.backends.mkldnn.is_available()} float32")
    for name in args.networks.split(","):
        net, inputs = cases[name]()
        net.eval()
        with torch.inference_mode():
            net(*inputs)                                  # warm-up
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                net(*inputs)
                times.append((time.perf_counter() - t0) * 1e3)
        print(f"{name:12s} size {s:4d}  median {statistics.median(times):10.1f} ms  min {min(times):10.1f}  max {max(times):10.1f}  ({args.runs} runs)",
              flush=True)
        del net


if __name__ == "__main__":
    main()
