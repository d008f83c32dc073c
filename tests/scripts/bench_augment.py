#!/usr/bin/env python3
"""medburn's augmentation chain vs MONAI and TorchIO on the same chain, in one run, as ratios.

    python tests/scripts/bench_augment.py path/to/medburn [--runs 3] [--rounds 3]

The chain (every probability 1, as `medburn bench --only augment`): random affine (+-15 degrees
per axis, scale 0.85-1.15, +-5 mm), elastic deformation, left-right flip, Gaussian noise (std up
to 0.1), gamma (0.7-1.5), on a batch of 2 x 1 x 128^3 float32 images with label maps (1 mm
voxels). MONAI: RandAffined, Rand3DElasticd (sigma 5-7 voxels, magnitude 50-150; its own field
model), RandFlipd, RandGaussianNoised, RandAdjustContrastd, per sample as a MONAI DataLoader
worker does. TorchIO: RandomAffine, RandomElasticDeformation (7 control points, 6 mm: medburn's
24 mm control spacing on 128 mm), RandomFlip, RandomNoise, RandomGamma on a Subject with a
LabelMap. Both on the CPU with torch's default threads (all cores), medburn with its rayon
threads (all cores). Rounds alternate; the summary is the median over rounds of each round's
median, as volumes per second. Prints a Markdown table and the raw numbers.
"""
import argparse
import json
import math
import statistics
import subprocess
import time

import numpy as np
import torch


def monai_chain():
    from monai.transforms import (Compose, RandAdjustContrastd, RandAffined, Rand3DElasticd, RandFlipd,
                                  RandGaussianNoised)
    keys = ["image", "label"]
    t = Compose([
        RandAffined(keys, prob=1.0, rotate_range=[math.radians(15)] * 3, scale_range=[0.15] * 3,
                    translate_range=[5] * 3, mode=("bilinear", "nearest"), padding_mode="zeros"),
        Rand3DElasticd(keys, sigma_range=(5, 7), magnitude_range=(50, 150), prob=1.0,
                       mode=("bilinear", "nearest"), padding_mode="zeros"),
        RandFlipd(keys, prob=1.0, spatial_axis=0),
        RandGaussianNoised("image", prob=1.0, std=0.1),
        RandAdjustContrastd("image", prob=1.0, gamma=(0.7, 1.5)),
    ])
    t.set_random_state(0)
    return t


def torchio_chain():
    import torchio as tio
    return tio.Compose([
        tio.RandomAffine(scales=0.15, degrees=15, translation=5, image_interpolation="linear"),
        tio.RandomElasticDeformation(num_control_points=7, max_displacement=6),
        tio.RandomFlip(axes=(0,), flip_probability=1.0),
        tio.RandomNoise(std=(0, 0.1)),
        tio.RandomGamma(log_gamma=(math.log(0.7), math.log(1.5))),
    ])


def batch():
    rng = np.random.default_rng(0)
    images = [rng.random((1, 128, 128, 128), dtype=np.float32) for _ in range(2)]
    labels = [np.floor(i * 4).astype(np.int64) for i in images]
    return images, labels


def time_monai(t, images, labels, runs):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for img, lab in zip(images, labels):
            out = t({"image": torch.from_numpy(img), "label": torch.from_numpy(lab).float()})
            float(out["image"].sum()) + float(out["label"].sum())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_torchio(t, images, labels, runs):
    import torchio as tio
    subjects = [tio.Subject(image=tio.ScalarImage(tensor=torch.from_numpy(i)),
                            label=tio.LabelMap(tensor=torch.from_numpy(l))) for i, l in zip(images, labels)]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        for s in subjects:
            out = t(s)
            float(out["image"].data.sum()) + float(out["label"].data.sum())
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    images, labels = batch()
    mt, tt = monai_chain(), torchio_chain()
    mb, mo, ti = [], [], []
    threads = None
    for _ in range(args.rounds):
        o = json.loads(subprocess.run([args.medburn, "bench", "--device", args.device, "--json", "--runs",
                                       str(args.runs), "--only", "augment_standard_chain"], check=True,
                                      capture_output=True, text=True).stdout)
        threads = o["threads"]
        mb.append(o["results"][0]["median_s"])
        mo.append(time_monai(mt, images, labels, args.runs))
        ti.append(time_torchio(tt, images, labels, args.runs))
    m, mon, tio_ = statistics.median(mb), statistics.median(mo), statistics.median(ti)
    vps = lambda s: 2.0 / s
    print(f"medburn {args.device} ({threads} rayon threads), torch {torch.__version__} ({torch.get_num_threads()} threads)\n")
    print("| chain, 2 x 1 x 128^3 with labels | medburn volumes/s | MONAI volumes/s | TorchIO volumes/s | vs MONAI | vs TorchIO |")
    print("|---|---|---|---|---|---|")
    print(f"| affine, elastic, flip, noise, gamma | {vps(m):.2f} | {vps(mon):.2f} | {vps(tio_):.2f} | "
          f"**{mon / m:.1f}x** | **{tio_ / m:.1f}x** |")
    print()
    print(json.dumps({"medburn_s": mb, "monai_s": mo, "torchio_s": ti}))


if __name__ == "__main__":
    main()
