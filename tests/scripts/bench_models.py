#!/usr/bin/env python3
"""MONAI's UNet training step and inference against `medburn bench --only unet`, same shapes,
same threads, in one run (alternating rounds, medians).

    .venv/bin/python tests/scripts/bench_models.py target/release/medburn [--rounds 3] [--runs 5]

Needs torch and monai. Prints a table of medians and ratios (MONAI time / medburn time: above 1
means medburn is faster) and the JSON of both sides.
"""
import argparse
import json
import os
import statistics
import subprocess
import time


def torch_cases(threads):
    import torch
    from monai.losses import DiceCELoss
    from monai.networks.nets import UNet

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(16, 32, 64, 128),
               strides=(2, 2, 2), num_res_units=2)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    loss = DiceCELoss(to_onehot_y=True, softmax=True)
    x = torch.randn(2, 1, 64, 64, 64)
    y = (torch.rand(2, 1, 64, 64, 64) > 0.5).long()

    def step():
        opt.zero_grad()
        l = loss(net(x), y)
        l.backward()
        opt.step()

    infer_net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=(16, 32, 64, 128),
                     strides=(2, 2, 2), num_res_units=2).eval()

    def infer():
        with torch.no_grad():
            infer_net(x).sum().item()

    xc = torch.rand(2, 16, 64, 64, 64, requires_grad=True)
    wc = torch.rand(16, 16, 3, 3, 3, requires_grad=True)

    def conv():
        y = torch.nn.functional.conv3d(xc, wc, padding=1)
        y.sum().backward()

    return {"unet_train_step": step, "unet_inference": infer, "conv3d_16_fwd_bwd": conv}


def median_time(fn, runs):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    cases = torch_cases(a.threads)
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    ref = {k: [] for k in cases}
    ours = {k: [] for k in cases}
    for _ in range(a.rounds):
        for k, fn in cases.items():
            ref[k].append(median_time(fn, a.runs))
        # `--only` takes one pattern: run the three names one by one.
        for k in cases:
            out = subprocess.run([a.medburn, "bench", "--only", k, "--json", "--runs", str(a.runs)],
                                 capture_output=True, text=True, env=env, check=True)
            j = json.loads(out.stdout)
            ours[k].append(next(r["median_s"] for r in j["results"] if r["name"] == k))
    import torch
    print(f"threads {a.threads}, torch {torch.__version__}")
    print(f"{'case':<22} {'MONAI/PyTorch s':>16} {'medburn s':>10} {'ratio':>7}")
    rows = {}
    for k in cases:
        r, o = statistics.median(ref[k]), statistics.median(ours[k])
        rows[k] = {"reference_s": r, "medburn_s": o, "ratio": r / o}
        print(f"{k:<22} {r:>16.4f} {o:>10.4f} {r / o:>7.2f}x")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
