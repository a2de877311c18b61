#!/usr/bin/python3
"""Fixtures for NeedResizeTest: the official script's --need-resize with PIL itself as the oracle.

eval_w_SCM.py (jiangyitong/AutoDIR) with --need-resize, at resolution R: an image with a side below R is resized
with ImageOps.fit(image, (W, H), method=Image.Resampling.LANCZOS), W = int((w*f)//64)*64, H = int((h*f)//64)*64,
f = ceil(min(w, h) * (R / min(w, h)) / 64) * 64 / min(w, h); then an R x R square is cropped at a random position
(np.random.randint). The engine cuts the centre square instead, ((W - R) // 2, (H - R) // 2); so does this script.
The arithmetic below is the official script's, line for line; the resampling is PIL's (Debian python3-pil 9.4).
Writes case_K_input.png and case_K_expected.png; R = 64 keeps the files small (the code path is the same as 768).

    /usr/bin/python3 src/test/python/need_resize_oracle.py --out src/test/resources/oracle/need_resize
"""
import argparse
import math
import os

import numpy as np
from PIL import Image, ImageOps

R = 64
SIZES = [(56, 40), (130, 50), (90, 70), (30, 100), (100, 60), (64, 64), (200, 45)]   # (width, height)


def official(img, resolution):
    width, height = img.size
    if width < resolution or height < resolution:
        factor = resolution / min(width, height)
        factor = math.ceil(min(width, height) * factor / 64) * 64 / min(width, height)
        width = int((width * factor) // 64) * 64
        height = int((height * factor) // 64) * 64
        img = ImageOps.fit(img, (width, height), method=Image.Resampling.LANCZOS)
    x, y = (width - resolution) // 2, (height - resolution) // 2   # the engine's deterministic crop
    return img.crop((x, y, x + resolution, y + resolution))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.RandomState(5)
    for k, (w, h) in enumerate(SIZES):
        yy, xx = np.mgrid[0:h, 0:w]
        base = np.stack([128 + 100 * np.sin(xx / (3.0 + c) + yy / (5.0 - c)) for c in range(3)], axis=-1)
        pixels = np.clip(base + rng.normal(0, 25, base.shape), 0, 255).astype(np.uint8)   # edges and noise: ringing shows
        img = Image.fromarray(pixels, "RGB")
        img.save(os.path.join(args.out, f"case_{k}_input.png"))
        official(img, R).save(os.path.join(args.out, f"case_{k}_expected.png"))
        print(k, (w, h), "->", official(img, R).size)


if __name__ == "__main__":
    main()
