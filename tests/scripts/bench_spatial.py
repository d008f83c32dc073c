#!/usr/bin/env python3
"""medburn's spatial transforms vs SimpleITK on the same jobs, in one run, as ratios.

    python tests/scripts/bench_spatial.py path/to/medburn [--runs 3] [--rounds 3]

A 256 x 256 x 128 float32 volume (0.9 x 0.9 x 2 mm): resampled to half the spacing (linear,
B-spline) and rotated 15 degrees about z through its centre on its own grid (nearest, linear,
B-spline). SimpleITK uses its default threads (all cores), medburn its rayon threads (all
cores). medburn and SimpleITK alternate rounds; the summary is the median over rounds of each
round's median. Prints a Markdown table and the raw numbers.
"""
import argparse
import json
import math
import statistics
import subprocess

import numpy as np
import SimpleITK as sitk

from benchlib import median_time

INTERP = {"nearest": sitk.sitkNearestNeighbor, "linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}


def volume():
    arr = np.random.default_rng(0).normal(size=(128, 256, 256)).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing([0.9, 0.9, 2.0])
    img.SetOrigin([-115.0, -115.0, -128.0])
    return img


def cases(img):
    size, spacing = img.GetSize(), img.GetSpacing()
    half = [s / 2 for s in spacing]
    new_size = [math.ceil(size[a] * spacing[a] / half[a] * (1 - 1e-9)) for a in range(3)]
    centre = img.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in size])
    a = math.radians(15.0)
    rot = sitk.AffineTransform(3)
    # The content turns +15 degrees: resampling reads through the inverse rotation.
    rot.SetMatrix([math.cos(a), math.sin(a), 0, -math.sin(a), math.cos(a), 0, 0, 0, 1])
    rot.SetCenter(centre)
    out = {}
    for interp in ["linear", "bspline"]:
        out[f"resample_half_spacing_{interp}_256x256x128"] = lambda i=interp: sitk.Resample(
            img, new_size, sitk.Transform(), INTERP[i], img.GetOrigin(), half, img.GetDirection(), 0.0,
            sitk.sitkFloat32)
    for interp in ["nearest", "linear", "bspline"]:
        out[f"rotate15_{interp}_256x256x128"] = lambda i=interp: sitk.Resample(img, img, rot, INTERP[i], 0.0,
                                                                                sitk.sitkFloat32)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    img = volume()
    sitk_cases = cases(img)
    mb, st = {}, {}
    threads = None
    for _ in range(args.rounds):
        o = json.loads(subprocess.run([args.medburn, "bench", "--device", args.device, "--json", "--runs",
                                       str(args.runs), "--only", "256x256x128"], check=True,
                                      capture_output=True, text=True).stdout)
        threads = o["threads"]
        for r in o["results"]:
            mb.setdefault(r["name"], []).append(r["median_s"])
        for name, fn in sitk_cases.items():
            st.setdefault(name, []).append(median_time(fn, args.runs, warm_up=False))
    print(f"medburn on {args.device} with {threads} threads; SimpleITK {sitk.Version_VersionString()} with "
          f"{sitk.ProcessObject.GetGlobalDefaultNumberOfThreads()} threads; median of {args.rounds} rounds x "
          f"{args.runs} runs")
    print()
    print("| case | SimpleITK (s) | medburn (s) | SimpleITK / medburn |")
    print("|---|---|---|---|")
    for name in st:
        a, b = statistics.median(st[name]), statistics.median(mb[name])
        print(f"| {name} | {a:.3f} | {b:.3f} | **{a / b:.1f}x** |")
    print()
    print("raw:", json.dumps({"medburn": mb, "simpleitk": st}))


if __name__ == "__main__":
    main()
