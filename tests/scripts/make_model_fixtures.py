#!/usr/bin/env python3
"""Reference weights, inputs and outputs from MONAI for medburn-models and medburn-train.

Run: python3 tests/scripts/make_model_fixtures.py
(needs torch, monai, safetensors, numpy; writes tests/fixtures/models/)

Writes:
- `unet_<name>.safetensors`: the state_dict of a seeded `monai.networks.nets.UNet` (float32),
  exactly as `torch.save`-free MONAI users export it (`safetensors.torch.save_file`).
- `unet_<name>_input.bin`, `unet_<name>_output.bin`: float32 little-endian, C order. The output
  is the network in eval mode, evaluated in float64 (then rounded to float32), so the Rust side
  is compared with the exact result of the float32 weights.
- `unets.json`: for each network, its MONAI arguments, parameter count, files and shapes.
- `losses.json`: seeded logits and label maps with MONAI's DiceLoss, DiceCELoss (and its
  cross-entropy part) values and gradients with respect to the logits, and DiceMetric per
  sample and label (NaN written as null), computed in float64.
"""
import json
import pathlib

import numpy as np
import torch
from monai.losses import DiceCELoss, DiceLoss
from monai.metrics import DiceMetric
from monai.networks.nets import UNet
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "models"
SEED = 20261129

# name -> (MONAI UNet keyword arguments, input shape)
UNETS = {
    # The configuration of MONAI's 3D segmentation tutorials: 1,186,765 parameters.
    "a": (
        dict(in_channels=1, out_channels=2, channels=[16, 32, 64, 128], strides=[2, 2, 2],
             num_res_units=2),
        [1, 1, 16, 16, 16],
    ),
    # Several input channels and a batch of 2, a different size per axis.
    "b": (
        dict(in_channels=3, out_channels=5, channels=[8, 16, 32], strides=[2, 2],
             num_res_units=1, dropout=0.0),
        [2, 3, 16, 12, 20],
    ),
    # No residual units (plain Convolution blocks), kernel 5, a stride of 1, affine instance
    # norm and dropout (identity in eval mode).
    "c": (
        dict(in_channels=2, out_channels=3, channels=[4, 8, 16], strides=[2, 1],
             num_res_units=0, kernel_size=5, up_kernel_size=3, dropout=0.1,
             norm=("instance", {"affine": True})),
        [1, 2, 12, 10, 14],
    ),
}


def make_unet(name):
    kwargs, shape = UNETS[name]
    torch.manual_seed(SEED + ord(name))
    net = UNet(spatial_dims=3, **kwargs)
    # Move every parameter off its default so a key mapped to the wrong place shows up:
    # PReLU slopes differ per layer, instance-norm affines are not (1, 0).
    with torch.no_grad():
        for key, p in net.named_parameters():
            if key.endswith("adn.A.weight"):
                p.uniform_(0.05, 0.5)
            elif ".adn.N." in key:
                p.add_(0.2 * torch.randn_like(p))
    net.eval()
    x = torch.randn(*shape)
    with torch.no_grad():
        y = net.double()(x.double()).float()
    net.float()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(OUT / f"unet_{name}.safetensors"))
    (OUT / f"unet_{name}.safetensors").chmod(0o644)
    x.numpy().astype("<f4").tofile(OUT / f"unet_{name}_input.bin")
    y.numpy().astype("<f4").tofile(OUT / f"unet_{name}_output.bin")
    monai_args = {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}
    return {
        "name": name,
        "monai_args": monai_args,
        "num_params": sum(p.numel() for p in net.parameters()),
        "weights": f"unet_{name}.safetensors",
        "input": f"unet_{name}_input.bin",
        "output": f"unet_{name}_output.bin",
        "input_shape": shape,
        "output_shape": list(y.shape),
    }


def flat(t):
    return [None if np.isnan(v) else float(f"{v:.8g}") for v in t.detach().reshape(-1).tolist()]


def loss_inputs(shape, seed):
    """Seeded logits and labels; some labels absent from the truth, one absent from both."""
    g = torch.Generator().manual_seed(seed)
    n, c = shape[0], shape[1]
    logits = torch.randn(*shape, generator=g, dtype=torch.float64) * 2.0
    labels = torch.randint(0, c, (n, 1, *shape[2:]), generator=g)
    if n >= 2 and c >= 3:
        # Sample 0: label c-2 is never true (the argmax still predicts it somewhere).
        labels[0][labels[0] == c - 2] = 0
        # Sample 1: label c-1 is neither true nor predicted.
        labels[1][labels[1] == c - 1] = 1
        logits[1, c - 1] -= 30.0
    return logits, labels


def dice_case(logits, labels, **kw):
    x = logits.clone().requires_grad_()
    dice = DiceLoss(to_onehot_y=True, softmax=True, **kw)(x, labels)
    (g,) = torch.autograd.grad(dice, x)
    return dict(kind="dice", options=kw, value=dice.item(), grad=flat(g))


def dice_ce_case(logits, labels, **kw):
    x = logits.clone().requires_grad_()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True, **kw)
    total = loss_fn(x, labels)
    (g,) = torch.autograd.grad(total, x)
    x2 = logits.clone().requires_grad_()
    ce = loss_fn.ce(x2, labels)
    (gce,) = torch.autograd.grad(ce, x2)
    return dict(kind="dice_ce", options=kw, value=total.item(), grad=flat(g),
                ce_value=ce.item(), ce_grad=flat(gce))


def metric_case(logits, labels, include_background, ignore_empty):
    c = logits.shape[1]
    pred = logits.argmax(dim=1, keepdim=True)
    metric = DiceMetric(include_background=include_background, reduction="none",
                        ignore_empty=ignore_empty, num_classes=c)
    d = metric(pred, labels)
    return dict(kind="metric", options=dict(include_background=include_background,
                                            ignore_empty=ignore_empty),
                num_classes=c, pred=pred.reshape(-1).tolist(), shape=list(d.shape),
                value=flat(d))


def loss_sets():
    sets = []
    # The main set: every combination of include_background and batch, both losses, metric.
    logits, labels = loss_inputs([2, 4, 6, 7, 8], SEED)
    cases = []
    for include_background in [True, False]:
        for batch in [False, True]:
            kw = dict(include_background=include_background, batch=batch)
            cases.append(dice_case(logits, labels, **kw))
            cases.append(dice_ce_case(logits, labels, **kw))
        for ignore_empty in [True, False]:
            cases.append(metric_case(logits, labels, include_background, ignore_empty))
    sets.append(dict(shape=list(logits.shape), logits=flat(logits),
                     labels=labels.reshape(-1).tolist(), cases=cases))
    # The other MONAI options medburn supports, on a smaller volume.
    logits, labels = loss_inputs([2, 3, 4, 5, 3], SEED + 1)
    cases = [
        dice_case(logits, labels, include_background=True, squared_pred=True),
        dice_case(logits, labels, include_background=False, jaccard=True, batch=True),
        dice_case(logits, labels, include_background=True, smooth_nr=0.0, smooth_dr=1e-3),
        dice_ce_case(logits, labels, include_background=False, lambda_dice=0.3, lambda_ce=1.7),
        dice_ce_case(logits, labels, include_background=True, label_smoothing=0.1,
                     squared_pred=True),
        metric_case(logits, labels, True, True),
    ]
    sets.append(dict(shape=list(logits.shape), logits=flat(logits),
                     labels=labels.reshape(-1).tolist(), cases=cases))
    return sets


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    unets = [make_unet(name) for name in UNETS]
    (OUT / "unets.json").write_text(json.dumps({"unets": unets}, indent=1) + "\n")
    with open(OUT / "losses.json", "w") as f:
        json.dump({"sets": loss_sets()}, f, allow_nan=False)
        f.write("\n")
    for u in unets:
        print(u["name"], u["num_params"], u["input_shape"], "->", u["output_shape"])
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
