#!/usr/bin/env python3
"""MONAI's UNet training step and inference against `medburn bench --only unet`, and MONAI's
resnet18 and Regressor against `medburn bench --only resnet`: same shapes, same threads, in one
run (alternating rounds, medians).

    .venv/bin/python tests/scripts/bench_models.py target/release/medburn [--rounds 3] [--runs 5]
        [--before OTHER_BUILD/medburn] [--only NAME_PART] [--threads N]

Needs torch and monai. Prints a table of medians and ratios (MONAI time / medburn time: above 1
means medburn is faster), where the training step's time goes (forward, backward, optimizer;
convolution forward and its two backward passes; normalization), the peak resident memory of
the step, inference and one convolution on each side (Linux), and the JSON of all sides.
"""
import argparse
import json
import os
import statistics
import subprocess

from benchlib import median_time


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

    cases = {"unet_train_step": step, "unet_inference": infer, "conv3d_16_fwd_bwd": conv}
    cases.update(breakdown_cases(net, loss, x, y))
    cases.update(whole_volume_cases())
    cases.update(voxelmorph_cases())
    cases.update(reconstruction_cases())
    return cases


def whole_volume_cases():
    """MONAI's resnet18 and Regressor on 2 x 1 x 64^3 with one target per case: the training
    step (forward, MSE, backward, AdamW), its forward and backward, and inference, as
    `medburn bench` (src/cli/bench/whole_volume.rs)."""
    import torch
    from monai.networks.nets import Regressor, resnet18

    def make(name):
        torch.manual_seed(0)
        if name == "resnet18":
            return resnet18(spatial_dims=3, n_input_channels=1, num_classes=1)
        return Regressor(in_shape=(1, 64, 64, 64), out_shape=(1,), channels=(16, 32, 64, 128),
                         strides=(2, 2, 2, 2))

    cases = {}
    for name in ["resnet18", "regressor"]:
        net = make(name)
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
        x = torch.randn(2, 1, 64, 64, 64)
        y = torch.randn(2, 1)

        def step(net=net, opt=opt, x=x, y=y):
            opt.zero_grad()
            l = ((net(x) - y) ** 2).mean()
            l.backward()
            opt.step()

        def loss_forward(net=net, x=x, y=y):
            ((net(x) - y) ** 2).mean().item()

        def loss_backward(net=net, x=x, y=y):
            net.zero_grad()
            ((net(x) - y) ** 2).mean().backward()

        infer_net = make(name).eval()

        def infer(infer_net=infer_net, x=x):
            with torch.no_grad():
                infer_net(x).sum().item()

        cases[f"{name}_train_step"] = step
        cases[f"{name}_loss_forward"] = loss_forward
        cases[f"{name}_loss_backward"] = loss_backward
        cases[f"{name}_inference"] = infer
    return cases


def voxelmorph_cases():
    """MONAI's VoxelMorph() on one pair of 1 x 128^3: the training step (forward, LNCC with
    9-voxel windows + DiffusionLoss of the displacement, backward, AdamW) and inference, as
    `medburn bench` (src/cli/bench/voxelmorph.rs)."""
    import torch
    from monai.losses import DiffusionLoss, LocalNormalizedCrossCorrelationLoss
    from monai.networks.nets import VoxelMorph

    torch.manual_seed(0)
    net = VoxelMorph()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    moving, fixed = torch.rand(1, 1, 128, 128, 128), torch.rand(1, 1, 128, 128, 128)
    similarity = LocalNormalizedCrossCorrelationLoss(kernel_size=9)
    smoothness = DiffusionLoss()

    def step():
        opt.zero_grad()
        warped, ddf = net(moving, fixed)
        l = similarity(warped, fixed) + smoothness(ddf)
        l.backward()
        opt.step()

    infer_net = VoxelMorph().eval()

    def infer():
        with torch.no_grad():
            infer_net(moving, fixed)[1].sum().item()

    return {"voxelmorph_train_step": step, "voxelmorph_inference": infer}


def reconstruction_cases():
    """Training steps on 2 x 1 x 64^3 (forward, loss, backward, AdamW), as `medburn bench`
    (src/cli/bench/reconstruction.rs): MONAI's AutoEncoder (16/32/64, strides 2, two residual
    units; MSE), its VarAutoEncoder (latent 64; summed binary cross-entropy of the sigmoid output
    + the batch mean of the summed KL), and the x[1, 1, 4] super-resolution network built from
    MONAI's blocks (head Convolution 1 -> 32 with PReLU, four ResidualUnits 32 -> 32 without
    norm, a 3x3x3 convolution to 4 channels and the pixel shuffle along D, added to the
    upsampled input; L1). MONAI has no B-spline resize: the PyTorch side's baseline is trilinear
    (medburn's is the cubic B-spline, a prefilter and 64 taps per voxel)."""
    import torch
    import torch.nn.functional as F
    from monai.networks.blocks import Convolution, ResidualUnit
    from monai.networks.nets import AutoEncoder, VarAutoEncoder

    torch.manual_seed(0)
    x = torch.rand(2, 1, 64, 64, 64)

    def stepper(net, loss):
        opt = torch.optim.AdamW(net.parameters(), lr=1e-4)

        def step():
            opt.zero_grad()
            l = loss(net)
            l.backward()
            opt.step()
        return step

    ae = AutoEncoder(spatial_dims=3, in_channels=1, out_channels=1, channels=(16, 32, 64),
                     strides=(2, 2, 2), num_res_units=2)
    vae = VarAutoEncoder(spatial_dims=3, in_shape=(1, 64, 64, 64), out_channels=1, latent_size=64,
                         channels=(16, 32, 64), strides=(2, 2, 2), num_res_units=2)

    def vae_loss(net):
        recon, mu, logvar, _ = net(x)
        bce = F.binary_cross_entropy(recon.clamp(1e-6, 1 - 1e-6), x, reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / x.shape[0]
        return bce + kld

    class SuperRes(torch.nn.Module):
        def __init__(self, features=32, units=4, factor=4):
            super().__init__()
            self.factor = factor
            self.head = Convolution(3, 1, features, act="PRELU", norm=None)
            self.body = torch.nn.Sequential(*[ResidualUnit(3, features, features, act="PRELU",
                                                           norm=None) for _ in range(units)])
            self.tail = torch.nn.Conv3d(features, factor, 3, padding=1)

        def forward(self, low):
            n, _, d, h, w = low.shape
            r = self.tail(self.body(self.head(low)))
            r = r.reshape(n, 1, self.factor, d, h, w).permute(0, 1, 3, 2, 4, 5)
            r = r.reshape(n, 1, d * self.factor, h, w)
            base = F.interpolate(low, size=(d * self.factor, h, w), mode="trilinear",
                                 align_corners=False)
            return base + r

    low = torch.rand(2, 1, 16, 64, 64)
    return {
        "autoencoder_train_step": stepper(ae, lambda net: F.mse_loss(net(x), x)),
        "autoencoder_vae_train_step": stepper(vae, vae_loss),
        "superres_train_step": stepper(SuperRes(), lambda net: (net(low) - x).abs().mean()),
    }


# The U-Net's 18 convolutions (in, out, input edge, stride, kernel, transposed) and its 13
# normalized activations (channels, edge), as `medburn bench` lists them (bench_models.rs).
UNET_CONVS = [
    (1, 16, 64, 2, 3, False), (16, 16, 32, 1, 3, False), (1, 16, 64, 2, 3, False),
    (16, 32, 32, 2, 3, False), (32, 32, 16, 1, 3, False), (16, 32, 32, 2, 3, False),
    (32, 64, 16, 2, 3, False), (64, 64, 8, 1, 3, False), (32, 64, 16, 2, 3, False),
    (64, 128, 8, 1, 3, False), (128, 128, 8, 1, 3, False), (64, 128, 8, 1, 1, False),
    (192, 32, 8, 2, 3, True), (32, 32, 16, 1, 3, False), (64, 16, 16, 2, 3, True),
    (16, 16, 32, 1, 3, False), (32, 2, 32, 2, 3, True), (2, 2, 64, 1, 3, False),
]
UNET_NORMS = [(16, 32), (16, 32), (32, 16), (32, 16), (64, 8), (64, 8), (128, 8), (128, 8),
              (32, 16), (32, 16), (16, 32), (16, 32), (2, 64)]


def breakdown_cases(net, loss, x, y):
    """The step's parts: forward with loss, plus backward; each layer kind on its own."""
    import torch
    import torch.nn.functional as F

    def loss_forward():
        # Recording the graph, as the step's forward does (and medburn's autodiff forward).
        loss(net(x), y).item()

    def loss_backward():
        net.zero_grad()
        loss(net(x), y).backward()

    def convs(dx, dw):
        layers = []
        for cin, cout, n, s, k, t in UNET_CONVS:
            xi = torch.rand(2, cin, n, n, n, requires_grad=dx)
            w = torch.rand(*((cin, cout) if t else (cout, cin)), k, k, k, requires_grad=dw)
            layers.append((xi, w, s, k, t))

        def run():
            for xi, w, s, k, t in layers:
                if t:
                    out = F.conv_transpose3d(xi, w, stride=s, padding=k // 2, output_padding=s - 1)
                else:
                    out = F.conv3d(xi, w, stride=s, padding=k // 2)
                if dx or dw:
                    out.sum().backward()
                else:
                    out.sum().item()
        return run

    def norms(backward):
        layers = [(torch.rand(2, c, n, n, n, requires_grad=backward), torch.nn.PReLU())
                  for c, n in UNET_NORMS]

        def run():
            for xi, act in layers:
                out = act(F.instance_norm(xi, eps=1e-5))
                if backward:
                    out.sum().backward()
                else:
                    out.sum().item()
        return run

    def no_grad(fn):
        def run():
            with torch.no_grad():
                fn()
        return run

    return {
        "unet_loss_forward": loss_forward,
        "unet_loss_backward": loss_backward,
        "unet_convs_forward": no_grad(convs(False, False)),
        "unet_convs_input_grad": convs(True, False),
        "unet_convs_weight_grad": convs(False, True),
        "unet_norms_forward": no_grad(norms(False)),
        "unet_norms_backward": norms(True),
    }


STEP_PARTS = ["unet_train_step", "unet_loss_forward", "unet_loss_backward", "unet_convs_forward",
              "unet_convs_input_grad", "unet_convs_weight_grad", "unet_norms_forward",
              "unet_norms_backward"]


def breakdown(t):
    """Split the training step into parts by differences of medians (seconds)."""
    return {
        "forward with loss": t["unet_loss_forward"],
        "backward": t["unet_loss_backward"] - t["unet_loss_forward"],
        "optimizer (AdamW)": t["unet_train_step"] - t["unet_loss_backward"],
        "convolutions forward": t["unet_convs_forward"],
        "convolutions input gradient": t["unet_convs_input_grad"] - t["unet_convs_forward"],
        "convolutions weight gradient": t["unet_convs_weight_grad"] - t["unet_convs_forward"],
        "norm+PReLU forward": t["unet_norms_forward"],
        "norm+PReLU backward": t["unet_norms_backward"] - t["unet_norms_forward"],
    }


def wanted(name, only):
    """`--only`'s match: a substring, and `resnet` also takes the Regressor (as medburn's)."""
    return not only or any(o in name or (o == "resnet" and name.startswith("regressor_"))
                           for o in only.split(",") if o)


def medburn_record(binary, name, runs, env):
    out = subprocess.run([binary, "bench", "--only", name, "--json", "--runs", str(runs)],
                         capture_output=True, text=True, env=env, check=True)
    return next(r for r in json.loads(out.stdout)["results"] if r["name"] == name)


def status_bytes(field):
    with open("/proc/self/status") as f:
        line = next(l for l in f if l.startswith(field))
    return int(line.split()[1]) * 1024


def peak_rss(fn):
    """Peak resident memory of one call beyond the resident set before it, as `medburn bench`
    measures its own (src/cli/bench/rss.rs): VmHWM after resetting it through clear_refs."""
    import gc
    fn()
    gc.collect()
    before = status_bytes("VmRSS:")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    fn()
    return status_bytes("VmHWM:") - before


# Cases whose peak memory is compared.
MEMORY_CASES = ["unet_train_step", "unet_inference", "conv3d_16_fwd_bwd", "resnet18_train_step",
                "regressor_train_step"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--before", help="a second medburn binary (another build) timed in the same "
                    "rounds, e.g. one built without Burn's rayon and simd features")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--only", help="only the cases whose name contains this")
    a = ap.parse_args()
    cases = {k: f for k, f in torch_cases(a.threads).items() if wanted(k, a.only)}
    env = dict(os.environ, RAYON_NUM_THREADS=str(a.threads))
    binaries = {"medburn": a.medburn}
    if a.before:
        binaries["before"] = a.before
    times = {side: {k: [] for k in cases} for side in ["reference", *binaries]}
    memory = {}
    for _ in range(a.rounds):
        for k, fn in cases.items():
            times["reference"][k].append(median_time(fn, a.runs))
        # `--only` matches by substring and no case name contains another: run them one by one.
        for side, binary in binaries.items():
            for k in cases:
                r = medburn_record(binary, k, a.runs, env)
                times[side][k].append(r["median_s"])
                memory.setdefault(k, {})[side] = (r.get("peak_rss_bytes"), r["peak_host_bytes"])
    import torch
    print(f"threads {a.threads}, torch {torch.__version__}")
    head = f"{'case':<24} {'MONAI/PyTorch s':>16} {'medburn s':>10} {'ratio':>7}"
    if a.before:
        head += f" {'before s':>10} {'ratio':>7}"
    print(head)
    rows = {}
    for k in cases:
        r = statistics.median(times["reference"][k])
        rows[k] = {"reference_s": r}
        line = f"{k:<24} {r:>16.4f}"
        for side in binaries:
            o = statistics.median(times[side][k])
            rows[k][f"{side}_s"] = o
            rows[k][f"{side}_ratio"] = r / o
            line += f" {o:>10.4f} {r / o:>7.2f}x"
        print(line)
    for net in ["resnet18", "regressor"]:
        names = [f"{net}_{p}" for p in ["train_step", "loss_forward", "loss_backward"]]
        if all(k in rows for k in names):
            print(f"\n{net}: where the step goes, seconds: {' / '.join(['reference', *binaries])}")
            for side in ["reference", *binaries]:
                t = {p: rows[f"{net}_{p}"][f"{side}_s"] for p in
                     ["train_step", "loss_forward", "loss_backward"]}
                parts = {"forward with loss": t["loss_forward"],
                         "backward": t["loss_backward"] - t["loss_forward"],
                         "optimizer (AdamW)": t["train_step"] - t["loss_backward"]}
                rows.setdefault(f"{net}_breakdown", {})[side] = parts
                print(f"  {side:<10} " + "  ".join(f"{k} {v:.4f}" for k, v in parts.items()))
    if all(k in rows for k in STEP_PARTS):
        parts = {side: breakdown({k: rows[k][f"{side}_s"] for k in STEP_PARTS})
                 for side in ["reference", *binaries]}
        print(f"\nwhere the step goes, seconds: {' / '.join(parts)}")
        for k in parts["reference"]:
            print(f"{k:<30} " + " / ".join(f"{parts[side][k]:>8.4f}" for side in parts))
        rows["breakdown"] = parts
    mib = 1 << 20
    print("\npeak memory beyond the inputs and model, MiB: PyTorch resident / medburn resident "
          "(medburn heap allocation)")
    for k in MEMORY_CASES:
        if k not in cases:
            continue
        ref = peak_rss(cases[k])
        rows[k]["reference_peak_rss_bytes"] = ref
        line = f"{k:<24} {ref / mib:>8.1f}"
        for side in binaries:
            rss, heap = memory[k][side]
            rows[k][f"{side}_peak_rss_bytes"] = rss
            rows[k][f"{side}_peak_host_bytes"] = heap
            line += f" / {rss / mib if rss is not None else float('nan'):>8.1f} ({heap / mib:.1f})"
        print(line)
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
