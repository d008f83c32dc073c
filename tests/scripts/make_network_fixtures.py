#!/usr/bin/env python3
"""Reference weights, inputs and outputs from MONAI for medburn-models' ResNet and Regressor.

Run: python3 tests/scripts/make_network_fixtures.py
(needs torch, monai, safetensors, numpy; writes tests/fixtures/models/; deterministic: every
random draw comes from a seeded generator)

Writes:
- `resnet_<name>.safetensors`, `regressor_<name>.safetensors`: the state_dict of a seeded
  `monai.networks.nets.ResNet` (through MONAI's `resnetXX` constructors) or `Regressor`, float32,
  as `safetensors.torch.save_file(net.state_dict(), path)` writes it (batch norms'
  `num_batches_tracked` included). Widths are reduced so that the files stay small; the
  full-size networks are checked by parameter count only (below).
  Before saving, batch norms get running statistics from a few seeded batches in training mode
  (so that activations keep a sensible scale in eval mode) and their weight and bias, like PReLU
  slopes, are moved off their initial values: a tensor loaded into the wrong place shows.
- `<file stem>_input.bin`, `<file stem>_output.bin`: float32 little-endian, C order. The output is
  the network in eval mode evaluated in float64 (then rounded to float32), so the Rust side is
  compared with the exact result of the float32 weights.
- `networks.json`: for each network, its MONAI constructor and keyword arguments, parameter and
  buffer counts (buffers without `num_batches_tracked`), files and shapes; and `param_counts`,
  the counts of the full-size networks (`resnet10` ... `resnet200` with `n_input_channels=1,
  num_classes=1`, the Regressor of MONAI's docs) for which no weights are written.
"""
import json
import pathlib

import numpy as np
import torch
from monai.networks import nets
from monai.networks.nets import Regressor
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "models"
SEED = 20261207

# name -> (MONAI constructor (`ResNet` or one of `resnet10` ...), keyword arguments, input shape)
RESNETS = {
    # resnet10 (shortcut B with a bias), widths 8, 16, 32, 64.
    "r10": ("resnet10", dict(n_input_channels=1, num_classes=2, widen_factor=0.125),
            [2, 1, 16, 16, 16]),
    # resnet18 with shortcut A (zero-padded channels), two input channels, three classes, a
    # different size per axis.
    "r18a": ("resnet18", dict(n_input_channels=2, num_classes=3, widen_factor=0.0625,
                              shortcut_type="A"),
             [2, 2, 12, 16, 20]),
    # The stem changed: kernel 5 with stride 2, no max pooling; shortcut B without bias; no fc
    # (the network returns the pooled features); the ResNet class itself, own block_inplanes.
    "r10s": ("ResNet", dict(block="basic", layers=[1, 1, 1, 1], block_inplanes=[4, 8, 12, 16],
                            n_input_channels=1, num_classes=5,
                            conv1_t_size=5, conv1_t_stride=2, no_max_pool=True,
                            bias_downsample=False, feed_forward=False),
             [1, 1, 16, 16, 16]),
    # Bottleneck blocks (resnet50-like), expansion 4: widths 4, 8, 16, 32 -> 128 features.
    "r50": ("resnet50", dict(n_input_channels=1, num_classes=2, widen_factor=0.0625),
            [2, 1, 16, 16, 16]),
}

# name -> (Regressor keyword arguments, input batch)
REGRESSORS = {
    # MONAI's documented configuration with smaller channels and volume.
    "a": (dict(in_shape=[1, 32, 32, 32], out_shape=[1], channels=[4, 8, 16, 32],
               strides=[2, 2, 2, 2]), 2),
    # Plain Convolution blocks, kernel 5, batch norm and leaky ReLU, dropout (identity in eval),
    # a stride of 1, a two-dimensional output.
    "b": (dict(in_shape=[2, 16, 12, 20], out_shape=[2, 3], channels=[4, 8], strides=[2, 1],
               kernel_size=5, num_res_units=0, norm="batch", act=("leakyrelu",
                                                                  {"negative_slope": 0.1}),
               dropout=0.2), 3),
}

FULL_SIZE = [
    ("resnet", "resnet10", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet18", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet34", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet50", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet101", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet152", dict(n_input_channels=1, num_classes=1)),
    ("resnet", "resnet200", dict(n_input_channels=1, num_classes=1)),
    ("regressor", "Regressor", dict(in_shape=[1, 64, 64, 64], out_shape=[1],
                                    channels=[16, 32, 64, 128], strides=[2, 2, 2, 2])),
]


def jsonable(kwargs):
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in kwargs.items()}


def counts(net):
    params = sum(p.numel() for p in net.parameters())
    buffers = sum(b.numel() for k, b in net.named_buffers()
                  if not k.endswith("num_batches_tracked"))
    return params, buffers


def perturb(net, gen, shape):
    """Running statistics from seeded batches, then every affine and slope off its default."""
    bns = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if bns:
        for m in bns:
            m.momentum = None  # cumulative average over the batches
        net.train()
        with torch.no_grad():
            for _ in range(3):
                net(torch.randn(4, *shape[1:], generator=gen))
        for m in bns:
            m.momentum = 0.1
    with torch.no_grad():
        for m in bns:
            m.weight.mul_(1.0 + 0.2 * torch.randn(m.weight.shape, generator=gen))
            m.bias.add_(0.2 * torch.randn(m.bias.shape, generator=gen))
        for key, p in net.named_parameters():
            if key.endswith("adn.A.weight"):
                p.copy_(torch.empty(p.shape).uniform_(0.05, 0.5, generator=gen))
    net.eval()


def save(net, stem, x):
    with torch.no_grad():
        y = net.double()(x.double()).float()
    net.float()
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(OUT / f"{stem}.safetensors"))
    (OUT / f"{stem}.safetensors").chmod(0o644)
    x.numpy().astype("<f4").tofile(OUT / f"{stem}_input.bin")
    y.numpy().astype("<f4").tofile(OUT / f"{stem}_output.bin")
    params, buffers = counts(net)
    return {
        "num_params": params,
        "num_buffers": buffers,
        "weights": f"{stem}.safetensors",
        "input": f"{stem}_input.bin",
        "output": f"{stem}_output.bin",
        "input_shape": list(x.shape),
        "output_shape": list(y.shape),
        "output_max_abs": float(y.abs().max()),
    }


def make_resnet(name, index):
    constructor, kwargs, shape = RESNETS[name]
    torch.manual_seed(SEED + index)
    gen = torch.Generator().manual_seed(SEED + 100 + index)
    net = getattr(nets, constructor)(spatial_dims=3, **kwargs)
    perturb(net, gen, shape)
    x = torch.randn(*shape, generator=gen)
    entry = {"name": name, "constructor": constructor, "monai_args": jsonable(kwargs)}
    entry.update(save(net, f"resnet_{name}", x))
    return entry


def make_regressor(name, index):
    kwargs, batch = REGRESSORS[name]
    torch.manual_seed(SEED + 50 + index)
    gen = torch.Generator().manual_seed(SEED + 150 + index)
    net = Regressor(**kwargs)
    shape = [batch, *kwargs["in_shape"]]
    perturb(net, gen, shape)
    x = torch.randn(*shape, generator=gen)
    entry = {"name": name, "constructor": "Regressor", "monai_args": jsonable(kwargs)}
    entry.update(save(net, f"regressor_{name}", x))
    return entry


def full_size():
    out = []
    for network, constructor, kwargs in FULL_SIZE:
        if network == "resnet":
            net = getattr(nets, constructor)(spatial_dims=3, **kwargs)
        else:
            net = Regressor(**kwargs)
        params, buffers = counts(net)
        out.append({"network": network, "constructor": constructor,
                    "monai_args": jsonable(kwargs), "num_params": params,
                    "num_buffers": buffers})
        print(constructor, params, buffers)
        del net
    return out


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    resnets = [make_resnet(name, i) for i, name in enumerate(RESNETS)]
    regressors = [make_regressor(name, i) for i, name in enumerate(REGRESSORS)]
    index = {"resnets": resnets, "regressors": regressors, "param_counts": full_size()}
    (OUT / "networks.json").write_text(json.dumps(index, indent=1) + "\n")
    for n in resnets + regressors:
        print(n["constructor"], n["name"], n["num_params"], n["input_shape"], "->",
              n["output_shape"], f"max |y| {n['output_max_abs']:.3g}")
    ours = [p for p in OUT.iterdir() if p.name.startswith(("resnet_", "regressor_", "networks"))]
    total = sum(p.stat().st_size for p in ours)
    print(f"{total / 1e6:.2f} MB in {len(ours)} files")


if __name__ == "__main__":
    main()
