#!/usr/bin/env python3
"""PyTorch's conv3d against `medburn bench --only conv_`: every convolution shape of the U-Net
and of MONAI's resnet18, and the U-Net's transposed convolutions (conv_transpose3d;
crates/medburn/src/cli/bench/conv.rs lists the same shapes), batch 2,
forward and forward + backward (gradients to input and weight), same threads, one run
(alternating rounds, medians).

    .venv/bin/python tests/scripts/bench_conv.py target/release/medburn [--rounds 3] [--runs 5]
        [--threads N] [--only NAME_PART]

Prints one row per case: PyTorch seconds, medburn seconds, ratio (PyTorch / medburn: above 1
means medburn is faster), then the geometric mean of the ratios and the JSON of both sides.
"""
import argparse
import json
import math
import os
import statistics
import subprocess

from benchlib import median_time

# (in, out, edge, kernel, stride), padding kernel // 2: the order of conv.rs's CONV_SHAPES.
SHAPES = [
    (16, 16, 64, 3, 1), (32, 32, 32, 3, 1), (1, 16, 64, 3, 1),
    (1, 16, 64, 3, 2), (16, 16, 32, 3, 1), (16, 32, 32, 3, 2), (32, 64, 16, 3, 2),
    (64, 64, 8, 3, 1), (64, 128, 8, 3, 1), (128, 128, 8, 3, 1), (64, 128, 8, 1, 1),
    (2, 2, 64, 3, 1),
    (1, 64, 64, 7, 2), (64, 64, 16, 3, 1), (64, 128, 16, 3, 2), (64, 128, 16, 1, 2),
    (128, 256, 8, 3, 2), (256, 256, 4, 3, 1), (256, 512, 4, 3, 2), (512, 512, 2, 3, 1),
]
# conv.rs's CONV_TRANSPOSE_SHAPES: padding kernel // 2, output padding stride - 1.
TRANSPOSE_SHAPES = [(192, 32, 8, 3, 2), (64, 16, 16, 3, 2), (32, 2, 32, 3, 2)]


def name(shape, transposed, backward):
    cin, cout, n, k, s = shape
    op = "conv_transpose" if transposed else "conv"
    return f"{op}_{cin}_{cout}_{n}_k{k}_s{s}_{'fwdbwd' if backward else 'fwd'}"


def torch_cases():
    import torch
    import torch.nn.functional as F
    torch.manual_seed(0)
    cases = {}
    shapes = [(s, False) for s in SHAPES] + [(s, True) for s in TRANSPOSE_SHAPES]
    for shape, transposed in shapes:
        cin, cout, n, k, s = shape
        for backward in (False, True):
            x = torch.rand(2, cin, n, n, n, requires_grad=backward)
            w_shape = (cin, cout, k, k, k) if transposed else (cout, cin, k, k, k)
            w = torch.rand(*w_shape, requires_grad=backward)

            def conv(x, w, s=s, k=k, transposed=transposed):
                if transposed:
                    return F.conv_transpose3d(x, w, stride=s, padding=k // 2,
                                              output_padding=s - 1)
                return F.conv3d(x, w, stride=s, padding=k // 2)

            def run(x=x, w=w, conv=conv, backward=backward):
                if backward:
                    conv(x, w).sum().backward()
                    (x.grad.sum() + w.grad.sum()).item()
                    x.grad = None
                    w.grad = None
                else:
                    with torch.no_grad():
                        conv(x, w).sum().item()
            cases[name(shape, transposed, backward)] = run
    return cases


def medburn_medians(binary, only, runs, env):
    out = subprocess.run([binary, "bench", "--only", only, "--json", "--runs", str(runs)],
                         capture_output=True, text=True, env=env, check=True)
    return {r["name"]: r["median_s"] for r in json.loads(out.stdout)["results"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", default="conv_", help="only the cases whose name contains this")
    a = ap.parse_args()
    import torch
    torch.set_num_threads(a.threads)
    cases = {k: f for k, f in torch_cases().items() if a.only in k}
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    times = {"pytorch": {k: [] for k in cases}, "medburn": {k: [] for k in cases}}
    for _ in range(a.rounds):
        for k, fn in cases.items():
            times["pytorch"][k].append(median_time(fn, a.runs))
        got = medburn_medians(a.medburn, a.only, a.runs, env)
        missing = [k for k in cases if k not in got]
        if missing:
            raise SystemExit(f"medburn has no case {missing}: the shape lists differ")
        for k in cases:
            times["medburn"][k].append(got[k])
    print(f"threads {a.threads}, torch {torch.__version__}")
    print(f"{'case':<30} {'PyTorch s':>10} {'medburn s':>10} {'ratio':>7}")
    rows, ratios = {}, []
    for k in cases:
        p, m = statistics.median(times["pytorch"][k]), statistics.median(times["medburn"][k])
        ratios.append(p / m)
        rows[k] = {"pytorch_s": p, "medburn_s": m, "ratio": p / m}
        print(f"{k:<30} {p:>10.4f} {m:>10.4f} {p / m:>6.2f}x")
    gm = math.exp(sum(map(math.log, ratios)) / len(ratios))
    print(f"geometric mean of the ratios: {gm:.2f}x")
    print(json.dumps({"threads": a.threads, "torch": torch.__version__, "cases": rows}))


if __name__ == "__main__":
    main()
