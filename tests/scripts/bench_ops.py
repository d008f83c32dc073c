#!/usr/bin/env python3
"""medburn's sampling ops vs PyTorch on the same jobs, in one run, as ratios.

    python tests/scripts/bench_ops.py path/to/medburn [--device cpu|wgpu|cuda] [--runs 7] [--rounds 3]

medburn (`medburn bench --json`) and PyTorch run the same cases in alternating rounds so that
machine noise hits both alike; each round reports medians, the summary takes the median over
rounds. PyTorch uses as many threads as medburn reports (torch.set_num_threads). Every case ends
by reading one scalar back, in both tools. Prints a Markdown table and the raw numbers.
"""
import argparse
import json
import math
import statistics
import subprocess

import torch
import torch.nn.functional as F

from benchlib import median_time


def theta(n):
    a = math.radians(5.0)
    c, s = math.cos(a), math.sin(a)
    t = torch.tensor([[c, -s, 0.0, 0.05], [s, c, 0.0, -0.03], [0.0, 0.0, 1.0, 0.02]])
    return t.expand(n, 3, 4).contiguous()


def grid(n, side):
    return F.affine_grid(theta(n), [n, 1, side, side, side], align_corners=False)


def sample_case(n, side, mode, backward):
    x0 = torch.rand(n, 1, side, side, side)
    g0 = grid(n, side)
    if backward:
        def run():
            x = x0.clone().requires_grad_()
            g = g0.clone().requires_grad_()
            y = F.grid_sample(x, g, mode=mode, padding_mode="zeros", align_corners=False)
            y.sum().backward()
            return x.grad.sum().item() + g.grad.sum().item()
    else:
        def run():
            return F.grid_sample(x0, g0, mode=mode, padding_mode="zeros", align_corners=False).sum().item()
    return run


def max_pool_backward(x0):
    x = x0.clone().requires_grad_()
    F.max_pool3d(x, 3, 2, 1).sum().backward()
    return x.grad.sum().item()


def cases():
    x128 = torch.rand(1, 1, 128, 128, 128)
    th = theta(1)
    return {
        "grid_sample_linear_fwd_1x128": sample_case(1, 128, "bilinear", False),
        "grid_sample_linear_fwd_bwd_1x128": sample_case(1, 128, "bilinear", True),
        "grid_sample_linear_fwd_2x96": sample_case(2, 96, "bilinear", False),
        "grid_sample_linear_fwd_bwd_2x96": sample_case(2, 96, "bilinear", True),
        "grid_sample_nearest_fwd_1x128": sample_case(1, 128, "nearest", False),
        # PyTorch has no fused path: affine_grid then grid_sample is the same job.
        "affine_sample_linear_fwd_1x128": lambda: F.grid_sample(
            x128, F.affine_grid(th, [1, 1, 128, 128, 128], align_corners=False),
            mode="bilinear", align_corners=False).sum().item(),
        "max_pool3d_k3s2p1_1x128": lambda: F.max_pool3d(x128, 3, 2, 1).sum().item(),
        "max_pool3d_k3s2p1_fwd_bwd_1x128": lambda: max_pool_backward(x128),
        "interpolate_trilinear_1x128_to_192": lambda: F.interpolate(
            x128, size=(192, 192, 192), mode="trilinear", align_corners=False).sum().item(),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    torch_cases = cases()
    mb_rounds, pt_rounds = {}, {}
    extra = {}
    threads = None
    for _ in range(args.rounds):
        out = subprocess.run([args.medburn, "bench", "--device", args.device, "--json", "--runs", str(args.runs),
                              "--only", "_1x128"], check=True, capture_output=True, text=True).stdout
        out2 = subprocess.run([args.medburn, "bench", "--device", args.device, "--json", "--runs", str(args.runs),
                               "--only", "_2x96"], check=True, capture_output=True, text=True).stdout
        for o in (json.loads(out), json.loads(out2)):
            threads = o["threads"]
            for r in o["results"]:
                mb_rounds.setdefault(r["name"], []).append(r["median_s"])
                extra[r["name"]] = r.get("peak_host_bytes")
        torch.set_num_threads(threads)
        for name, fn in torch_cases.items():
            pt_rounds.setdefault(name, []).append(median_time(fn, args.runs))
    print(f"device {args.device}, {threads} threads (torch {torch.__version__}, "
          f"torch.get_num_threads() = {torch.get_num_threads()}); median of {args.rounds} rounds x {args.runs} runs")
    print()
    print("| case | PyTorch (s) | medburn (s) | PyTorch / medburn | medburn peak host alloc (MiB) |")
    print("|---|---|---|---|---|")
    for name in sorted(mb_rounds):
        mb = statistics.median(mb_rounds[name])
        peak = extra.get(name)
        peak_s = f"{peak / 2**20:.1f}" if peak is not None else "-"
        if name in pt_rounds:
            pt = statistics.median(pt_rounds[name])
            print(f"| {name} | {pt:.4f} | {mb:.4f} | **{pt / mb:.2f}x** | {peak_s} |")
        else:
            print(f"| {name} | (no PyTorch op) | {mb:.4f} | - | {peak_s} |")
    print()
    print("raw:", json.dumps({"medburn": mb_rounds, "torch": pt_rounds}))


if __name__ == "__main__":
    main()
