#!/usr/bin/python3
"""Fixtures for VAEOddSizesTest: the official ldm Encoder on sizes that are not multiples of its factor.

The official Downsample pads (0, 1, 0, 1) and applies a 3x3 stride-2 convolution, so the encoder takes any size
(H -> floor(H / 2) per level). This runs ldm's own Encoder (stable_diffusion/ldm/modules/diffusionmodules/model.py of
jiangyitong/AutoDIR @e342544), quant_conv and DiagonalGaussianDistribution on
- golden set A's VAE (ch 32, ch_mult [1, 2]) at [1, 3, 22, 38] and [1, 3, 50, 66], from src/test/resources/golden/A;
- a VAE of the official depth (ch_mult [1, 1, 1, 1]: three downsamplings, so odd sizes at inner levels too; ch 32,
  one res block; seeded random weights written beside the cases) at [1, 3, 22, 38], [1, 3, 50, 66] and [1, 3, 17, 21].
Writes src/test/resources/oracle/vae_odd/*.safetensors. einops is stubbed when missing (the vanilla attention does not
use it). Run:  /usr/bin/python3 src/test/python/vae_encoder_oracle.py --autodir /path/to/AutoDIR
"""
import argparse
import importlib
import os
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_io import read_safetensors, write_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--autodir", required=True, help="AutoDIR source tree (holds stable_diffusion/ldm)")
    ap.add_argument("--out", default=os.path.join(ROOT, "src", "test", "resources", "oracle", "vae_odd"))
    args = ap.parse_args()
    try:
        importlib.import_module("einops")
    except ImportError:
        m = types.ModuleType("einops")
        m.rearrange = m.repeat = lambda *a, **k: (_ for _ in ()).throw(RuntimeError("einops stand-in called"))
        sys.modules["einops"] = m
    sys.path.insert(0, os.path.join(args.autodir, "stable_diffusion"))
    from ldm.modules.diffusionmodules.model import Encoder
    from ldm.modules.distributions.distributions import DiagonalGaussianDistribution
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)

    def vae(ch_mult, state):
        dd = dict(double_z=True, z_channels=4, resolution=256, in_channels=3, out_ch=3, ch=32, ch_mult=ch_mult,
                  num_res_blocks=1, attn_resolutions=[], dropout=0.0)
        enc = Encoder(**dd).eval()
        quant = torch.nn.Conv2d(8, 8, 1)
        if state is None:
            g = torch.Generator().manual_seed(11)
            state = {}
            for k, v in list(enc.state_dict().items()):
                state["first_stage_model.encoder." + k] = (torch.rand(v.shape, generator=g) * 2 - 1) * (
                    1.0 / max(1, v[0].numel()) ** 0.5 if v.dim() > 1 else 0.1) + (1.0 if k.endswith("norm1.weight") or
                    k.endswith("norm2.weight") or k.endswith("norm.weight") or k.endswith("norm_out.weight") else 0.0)
            for k, v in quant.state_dict().items():
                state["first_stage_model.quant_conv." + k] = (torch.rand(v.shape, generator=g) * 2 - 1) * 0.3
        enc.load_state_dict({k[len("first_stage_model.encoder."):]: v for k, v in state.items()
                             if k.startswith("first_stage_model.encoder.")})
        quant.load_state_dict({k[len("first_stage_model.quant_conv."):]: v for k, v in state.items()
                               if k.startswith("first_stage_model.quant_conv.")})
        return enc, quant, state

    set_a = read_safetensors(os.path.join(ROOT, "src", "test", "resources", "golden", "A", "weights.safetensors"))
    models = {"setA": vae([1, 2], set_a), "deep": vae([1, 1, 1, 1], None)}
    enc, quant, state = models["deep"]
    write_safetensors(os.path.join(args.out, "deep_vae_weights.safetensors"),
                      {k: v.float() for k, v in state.items()}, {"ch": 32, "ch_mult": "[1, 1, 1, 1]", "num_res_blocks": 1})
    g = torch.Generator().manual_seed(3)
    cases = {"setA": [(22, 38), (50, 66)], "deep": [(22, 38), (50, 66), (17, 21)]}
    for name, sizes in cases.items():
        enc, quant, _ = models[name]
        for h, w in sizes:
            x = torch.rand((1, 3, h, w), generator=g) * 2 - 1
            with torch.no_grad():
                moments = quant(enc(x))
                post = DiagonalGaussianDistribution(moments)
            path = os.path.join(args.out, f"{name}_{h}x{w}.safetensors")
            write_safetensors(path, {"input_image": x, "output_moments": moments, "output_mean": post.mode(),
                                     "output_logvar_clamped": post.logvar})
            print(path, tuple(moments.shape))


if __name__ == "__main__":
    main()
