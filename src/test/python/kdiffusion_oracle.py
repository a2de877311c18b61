#!/usr/bin/python3
"""Fixtures for SamplerOracleTest: k-diffusion's own samplers, and ldm's own DDIMSampler, run as the oracle.

Each sampler of the engine (--sampler euler_a, euler, heun, dpmpp_2m, dpmpp_sde, ddim) under each schedule
(--schedule default, karras, exponential) is driven here by the real functions of crowsonkb/k-diffusion
(sampling.sample_*, get_sigmas_karras, get_sigmas_exponential, external.CompVisDenoiser) and, for ddim with the
default schedule, by ldm's DDIMSampler (stable_diffusion/ldm/models/diffusion/ddim.py of jiangyitong/AutoDIR), with
a small analytic eps-model over the official ldm schedule and fixed noise. Every step's x and denoised, the sigmas
and the result go into src/test/resources/oracle/samplers/<sampler>-<schedule>.safetensors.

The sources are inputs, never copied into the repository: pass checkouts (or `git archive` extracts) of
k-diffusion @4601bf0 and AutoDIR @e342544. Run with Debian's PyTorch (apt-get install python3-torch python3-scipy
python3-tqdm):

    /usr/bin/python3 src/test/python/kdiffusion_oracle.py --k-diffusion /path/to/k-diffusion \\
        --autodir /path/to/AutoDIR --out src/test/resources/oracle/samplers

What is stubbed, and why it cannot change a result:
- k_diffusion/__init__.py imports the training side (models, evaluation, augmentation); the package is loaded as
  a bare skeleton holding the real utils.py, sampling.py and external.py.
- utils.py imports safetensors and torchvision at the top; stand-ins are installed only when they are missing
  (the functions used here, append_dims, need neither).
- sampling.py imports torchdiffeq and torchsde at the top: used by log_likelihood and by the default
  BrownianTreeNoiseSampler only; here every sampler gets an explicit noise_sampler.
- ldm's modules import einops at the top (only the attention code uses it): a stand-in when missing.
- DDIMSampler.register_buffer moves every buffer to CUDA: a subclass keeps them on the CPU.
"""
import argparse
import importlib.util
import math
import os
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from oracle_io import write_safetensors  # noqa: E402

STEPS = 6
SHAPE = (1, 4, 6, 5)
SAMPLERS = ["euler_a", "euler", "heun", "dpmpp_2m", "dpmpp_sde", "ddim"]
SCHEDULES = ["default", "karras", "exponential"]


def stub_missing(name, **attrs):
    try:
        importlib.import_module(name)
    except ImportError:
        m = types.ModuleType(name)
        for k, v in attrs.items():
            setattr(m, k, v)
        sys.modules[name] = m


def load_module(qualified, path):
    spec = importlib.util.spec_from_file_location(qualified, path)
    m = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = m
    spec.loader.exec_module(m)
    return m


def unused(*_a, **_k):
    raise RuntimeError("a stand-in was called: the oracle would not be the real code")


def load_kdiffusion(root):
    stub_missing("safetensors")
    if importlib.util.find_spec("torchvision") is None:
        tv = types.ModuleType("torchvision")
        tr = types.ModuleType("torchvision.transforms")
        fn = types.ModuleType("torchvision.transforms.functional")
        tv.transforms, tr.functional = tr, fn
        sys.modules.update({"torchvision": tv, "torchvision.transforms": tr, "torchvision.transforms.functional": fn})
    stub_missing("torchdiffeq", odeint=unused)
    stub_missing("torchsde", BrownianTree=unused)
    pkg = types.ModuleType("k_diffusion")
    pkg.__path__ = [os.path.join(root, "k_diffusion")]
    sys.modules["k_diffusion"] = pkg
    utils = load_module("k_diffusion.utils", os.path.join(root, "k_diffusion", "utils.py"))
    pkg.utils = utils
    sampling = load_module("k_diffusion.sampling", os.path.join(root, "k_diffusion", "sampling.py"))
    pkg.sampling = sampling
    external = load_module("k_diffusion.external", os.path.join(root, "k_diffusion", "external.py"))
    return sampling, external


def load_ldm(autodir):
    stub_missing("einops", rearrange=unused, repeat=unused)
    sys.path.insert(0, os.path.join(autodir, "stable_diffusion"))
    from ldm.models.diffusion.ddim import DDIMSampler
    from ldm.modules.diffusionmodules.util import make_beta_schedule
    return DDIMSampler, make_beta_schedule


class AnalyticModel(torch.nn.Module):
    """An eps-model over ldm's schedule with LatentDiffusion's attributes: eps = tanh(x)·(0.5 + t/2000) + 0.1·x."""

    def __init__(self, make_beta_schedule):
        super().__init__()
        import numpy as np
        betas = make_beta_schedule("linear", 1000, linear_start=0.00085, linear_end=0.012)   # ldm's register_schedule
        alphas_cumprod = np.cumprod(1. - betas, axis=0)
        alphas_cumprod_prev = np.append(1., alphas_cumprod[:-1])
        to_torch = lambda a: torch.tensor(a, dtype=torch.float32)
        self.register_buffer("betas", to_torch(betas))
        self.register_buffer("alphas_cumprod", to_torch(alphas_cumprod))
        self.register_buffer("alphas_cumprod_prev", to_torch(alphas_cumprod_prev))
        self.num_timesteps = 1000
        self.device = torch.device("cpu")

    def apply_model(self, x, t, cond=None):
        t = t.float().reshape(-1, 1, 1, 1)
        return torch.tanh(x) * (0.5 + t / 2000) + 0.1 * x


class RecordedNoise:
    """A noise_sampler returning fixed draws in call order; dpmpp_sde's second value of a step is the Brownian
    bridge of the engine (KDiffusionSamplers.BrownianStep) built from draws 2i and 2i + 1 and the sigmas it is given."""

    def __init__(self, draws, brownian):
        self.draws, self.brownian, self.calls, self.first = draws, brownian, 0, None

    def __call__(self, sigma, sigma_next):
        k = self.calls
        self.calls += 1
        if not self.brownian:
            return self.draws[k]
        if k % 2 == 0:
            self.first = (float(sigma), float(sigma_next))
            return self.draws[k]
        st, ss = self.first
        assert float(sigma) == st, "the two noise calls of a step start at the same sigma"
        sn = float(sigma_next)
        span = st - sn
        wa, wb = math.sqrt((st - ss) / span), math.sqrt((ss - sn) / span)
        return self.draws[k - 1] * wa + self.draws[k] * wb


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k-diffusion", required=True, help="k-diffusion source tree (holds k_diffusion/sampling.py)")
    ap.add_argument("--autodir", required=True, help="AutoDIR source tree (holds stable_diffusion/ldm)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    torch.set_num_threads(1)
    sampling, external = load_kdiffusion(args.k_diffusion)
    DDIMSampler, make_beta_schedule = load_ldm(args.autodir)

    class CpuDDIMSampler(DDIMSampler):
        def register_buffer(self, name, attr):
            setattr(self, name, attr)

    inner = AnalyticModel(make_beta_schedule)
    model = external.CompVisDenoiser(inner)
    sigma_min, sigma_max = model.sigmas[0].item(), model.sigmas[-1].item()
    os.makedirs(args.out, exist_ok=True)
    for si, sampler in enumerate(SAMPLERS):
        for ki, schedule in enumerate(SCHEDULES):
            g = torch.Generator().manual_seed(1000 + 10 * si + ki)
            noise0 = torch.randn(SHAPE, generator=g)
            draws = torch.randn((2 * STEPS,) + SHAPE, generator=g)
            xs, dens = [], []

            def record(d):
                xs.append(d["x"].clone())
                dens.append(d["denoised"].clone())

            if sampler == "ddim" and schedule == "default":
                ddim = CpuDDIMSampler(inner)
                z, inter = ddim.sample(STEPS, SHAPE[0], SHAPE[1:], conditioning=None, x_T=noise0.clone(), eta=0.,
                                       log_every_t=1, verbose=False)
                alphas = ddim.ddim_alphas.double()
                n = alphas.shape[0]
                ts = list(reversed(ddim.ddim_timesteps.tolist()))
                # ldm units (x_t = √ᾱ·x_σ) to k-diffusion's σ space, step by step from the last DDIM timestep
                for i in range(n):
                    a = alphas[n - 1 - i]
                    xs.append((inter["x_inter"][i].double() / a.sqrt()).float())
                    dens.append(inter["pred_x0"][i + 1])
                sigmas = torch.tensor([((1 - inner.alphas_cumprod[t]) / inner.alphas_cumprod[t]) ** 0.5 for t in ts]
                                      + [((1 - inner.alphas_cumprod[0]) / inner.alphas_cumprod[0]) ** 0.5])
                x_in = noise0 * sigmas[0]
                used = 0
            else:
                if schedule == "default":
                    sigmas = model.get_sigmas(STEPS)
                elif schedule == "karras":
                    sigmas = sampling.get_sigmas_karras(STEPS, sigma_min, sigma_max)
                else:
                    sigmas = sampling.get_sigmas_exponential(STEPS, sigma_min, sigma_max)
                x_in = noise0 * sigmas[0]
                noise = RecordedNoise(draws, brownian=sampler == "dpmpp_sde")
                if sampler == "euler_a":
                    z = sampling.sample_euler_ancestral(model, x_in, sigmas, callback=record, disable=True, noise_sampler=noise)
                elif sampler == "euler":
                    z = sampling.sample_euler(model, x_in, sigmas, callback=record, disable=True)
                elif sampler == "heun":
                    z = sampling.sample_heun(model, x_in, sigmas, callback=record, disable=True)
                elif sampler == "dpmpp_2m":
                    z = sampling.sample_dpmpp_2m(model, x_in, sigmas, callback=record, disable=True)
                elif sampler == "dpmpp_sde":
                    z = sampling.sample_dpmpp_sde(model, x_in, sigmas, callback=record, disable=True, noise_sampler=noise)
                else:
                    # ddim on another schedule: the DDIM update is the Euler step in σ space, from ldm's x_T ~ N(0, I)
                    # (σ-space variance σ_0² + 1), ending in ldm's units (a no-op here: these schedules end at σ = 0)
                    start = noise0 * math.sqrt(sigmas[0].item() ** 2 + 1)
                    z = sampling.sample_euler(model, start, sigmas, callback=record, disable=True)
                used = noise.calls
            tensors = {
                "input_x": x_in,
                "input_noise": draws,
                "sigmas": sigmas.float(),
                "x_steps": torch.stack(xs),
                "denoised_steps": torch.stack(dens),
                "output_z": z,
            }
            meta = {"sampler": sampler, "schedule": schedule, "steps": STEPS, "noise_draws_used": used,
                    "k_diffusion": "crowsonkb/k-diffusion sampling.py / external.py",
                    "oracle": "ldm DDIMSampler (eta 0)" if sampler == "ddim" and schedule == "default" else "k-diffusion"}
            path = os.path.join(args.out, f"{sampler}-{schedule}.safetensors")
            write_safetensors(path, tensors, meta)
            print(f"{path}: {len(xs)} steps, {used} noise draws, z std {z.std().item():.4f}")


if __name__ == "__main__":
    main()
