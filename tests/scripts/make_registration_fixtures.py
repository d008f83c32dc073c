#!/usr/bin/env python3
"""Reference values and gradients from MONAI's registration losses for medburn-register
(crates/register/tests/monai_losses.rs).

Run: python3 tests/scripts/make_registration_fixtures.py  (needs torch and monai; writes
tests/fixtures/monai/registration_losses.json)

Each case stores its options, inputs, the loss MONAI computes in float64 and the loss's
gradients with respect to each input, so the Rust side compares values and gradients in f64
and in f32.
"""
import json
import pathlib

import monai
import torch
from monai.losses import (
    BendingEnergyLoss,
    DiffusionLoss,
    GlobalMutualInformationLoss,
    LocalNormalizedCrossCorrelationLoss,
)

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "monai"
gen = torch.Generator().manual_seed(20261207)


def flat(t):
    return [float(f"{v:.12g}") for v in t.detach().reshape(-1).tolist()]


def smooth_pair(shape):
    """Two related images in [0, 1]: a smooth random field and a shifted, noisy copy, so that
    local correlations and joint histograms are neither trivial nor degenerate."""
    base = torch.rand(shape, generator=gen, dtype=torch.float64)
    base = torch.nn.functional.avg_pool3d(base, 3, stride=1, padding=1, count_include_pad=False)
    base = (base - base.min()) / (base.max() - base.min())
    other = torch.roll(base, shifts=1, dims=-1) * 0.8 + 0.2 * torch.rand(shape, generator=gen, dtype=torch.float64)
    return base, other


def image_loss_case(loss, name, options, shape):
    pred, target = smooth_pair(shape)
    pred.requires_grad_(True)
    target.requires_grad_(True)
    value = loss(pred, target)
    gp, gt = torch.autograd.grad(value, (pred, target), allow_unused=True)
    return {
        "loss": name,
        "options": options,
        "shape": list(shape),
        "pred": flat(pred),
        "target": flat(target),
        "value": float(value),
        "grad_pred": flat(gp),
        "grad_target": flat(gt) if gt is not None else None,
    }


def field_loss_case(loss, name, options, shape):
    ddf = (torch.randn(shape, generator=gen, dtype=torch.float64) * 2.0).requires_grad_(True)
    value = loss(ddf)
    (g,) = torch.autograd.grad(value, (ddf,))
    return {
        "loss": name,
        "options": options,
        "shape": list(shape),
        "ddf": flat(ddf),
        "value": float(value),
        "grad_ddf": flat(g),
    }


def main():
    cases = []
    for kernel_type in ["rectangular", "triangular", "gaussian"]:
        for kernel_size in [3, 5, 7]:
            for reduction in ["mean", "sum"]:
                opts = dict(kernel_size=kernel_size, kernel_type=kernel_type, reduction=reduction,
                            smooth_nr=0.0, smooth_dr=1e-5)
                loss = LocalNormalizedCrossCorrelationLoss(spatial_dims=3, **opts)
                batch = 2 if kernel_size == 5 else 1
                cases.append(image_loss_case(loss, "lncc", opts, (batch, 1, 7, 8, 9)))
    # Two channels and non-default smoothing.
    opts = dict(kernel_size=3, kernel_type="gaussian", reduction="mean", smooth_nr=1e-3, smooth_dr=1e-3)
    cases.append(image_loss_case(LocalNormalizedCrossCorrelationLoss(spatial_dims=3, **opts), "lncc", opts,
                                 (1, 2, 6, 7, 5)))
    for kernel_type in ["gaussian", "b-spline"]:
        for num_bins in [23, 8]:
            for reduction in ["mean", "sum"]:
                opts = dict(kernel_type=kernel_type, num_bins=num_bins, sigma_ratio=0.5, reduction=reduction,
                            smooth_nr=1e-7, smooth_dr=1e-7)
                loss = GlobalMutualInformationLoss(**opts)
                cases.append(image_loss_case(loss, "gmi", opts, (2, 1, 6, 7, 8)))
    opts = dict(kernel_type="gaussian", num_bins=16, sigma_ratio=1.0, reduction="mean", smooth_nr=1e-7,
                smooth_dr=1e-7)
    cases.append(image_loss_case(GlobalMutualInformationLoss(**opts), "gmi", opts, (1, 1, 5, 6, 7)))
    for normalize in [False, True]:
        for reduction in ["mean", "sum"]:
            opts = dict(normalize=normalize, reduction=reduction)
            cases.append(field_loss_case(BendingEnergyLoss(**opts), "bending_energy", opts, (2, 3, 5, 6, 7)))
            cases.append(field_loss_case(DiffusionLoss(**opts), "diffusion", opts, (2, 3, 5, 6, 7)))
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "registration_losses.json"
    path.write_text(json.dumps({"monai": monai.__version__, "torch": torch.__version__, "cases": cases}))
    print(f"{len(cases)} cases -> {path}")


if __name__ == "__main__":
    main()
