#!/usr/bin/env python3
"""Reference weights, inputs and outputs from MONAI for medburn-models' VoxelMorph.

Run: python3 tests/scripts/make_voxelmorph_fixtures.py
(needs torch, monai, safetensors, numpy; writes tests/fixtures/models/voxelmorph*; deterministic:
every random draw comes from a seeded generator)

As tests/scripts/make_network_fixtures.py does for the ResNet and the Regressor, for each case
below a seeded `monai.networks.nets.VoxelMorph` (with a `VoxelMorphUNet` backbone) is saved and
run:
- `voxelmorph_<name>.safetensors`: the network's state_dict, float32, as
  `safetensors.torch.save_file(net.state_dict(), path)` writes it (keys `backbone.net...`).
  Before saving, the last convolution's weights are scaled so that the displacements reach a few
  voxels (MONAI's initialization gives fractions of a voxel, which would leave the warps and the
  integration's zero padding barely tested), and PReLU slopes and affine norms are moved off
  their initial values: a tensor loaded into the wrong place shows.
- `voxelmorph_<name>_moving.bin`, `_fixed.bin`: the input pair, smoothed seeded noise, float32
  little-endian, C order `[N, C, D, H, W]`.
- `voxelmorph_<name>_ddf.bin`, `_warped.bin`: MONAI's `forward(moving, fixed)` outputs,
  `(warped, ddf)`, evaluated in float64 in eval mode (then rounded to float32), so the Rust side
  is compared with the exact result of the float32 weights. The ddf is MONAI's: `[N, 3, D, H, W]`
  in voxels, components in the order of the spatial axes (D, H, W).
- `voxelmorph.json`: for each case, the constructor arguments, parameter count, files and
  shapes; and `default_num_params`, the parameter count of `VoxelMorph()` (244,323).

The spatial sizes differ per axis, so that a mix-up of the field's component order shows.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from monai.networks.nets import VoxelMorph, VoxelMorphUNet
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "models"
SEED = 20261209

# name -> (VoxelMorphUNet kwargs (spatial_dims=3), VoxelMorph kwargs, input shape per image,
#          largest displacement wanted, in voxels)
CASES = {
    # MONAI's VoxelMorph() itself: the paper's backbone, 7 integration steps, full resolution.
    "default": (dict(in_channels=2, unet_out_channels=32, channels=(16, 32, 32, 32, 32, 32),
                     final_conv_channels=(16, 16)),
                dict(integration_steps=7, half_res=False),
                [1, 1, 16, 16, 24], 4.0),
    # Strided convolutions instead of max pooling, two channels per image, instance norm with
    # affine parameters, PReLU, "NA" ordering, kernel 5 up, integration at half resolution.
    "small": (dict(in_channels=4, unet_out_channels=8, channels=(4, 8, 8, 8),
                   final_conv_channels=(6,), act="prelu", final_conv_act="prelu",
                   norm=("instance", {"affine": True}), use_maxpool=False, adn_ordering="NA",
                   up_kernel_size=5),
              dict(integration_steps=4, half_res=True),
              [2, 2, 8, 12, 16], 3.0),
    # No integration (the backbone's output is the displacement), dropout (identity in eval),
    # a single level.
    "direct": (dict(in_channels=2, unet_out_channels=4, channels=(4, 8), final_conv_channels=(),
                    dropout=0.2),
               dict(integration_steps=0),
               [1, 1, 6, 10, 8], 2.5),
}


def jsonable(value):
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def smooth_noise(shape, gen):
    """Seeded noise smoothed by a 3x3x3 box filter twice, scaled to unit standard deviation."""
    x = torch.randn(*shape, generator=gen, dtype=torch.float64)
    n, c = shape[:2]
    x = x.reshape(n * c, 1, *shape[2:])
    box = torch.ones(1, 1, 3, 3, 3, dtype=torch.float64) / 27.0
    for _ in range(2):
        x = F.conv3d(F.pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"), box)
    x = x.reshape(*shape)
    return (x / x.std()).float()


def perturb(net, gen):
    with torch.no_grad():
        for key, p in net.named_parameters():
            if key.endswith("adn.A.weight"):  # PReLU slopes
                p.copy_(torch.empty(p.shape).uniform_(0.05, 0.5, generator=gen))
            elif ".adn.N." in key and key.endswith("weight"):
                p.mul_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            elif ".adn.N." in key and key.endswith("bias"):
                p.add_(0.2 * torch.randn(p.shape, generator=gen))


def make(name, index):
    unet_kwargs, vm_kwargs, shape, reach = CASES[name]
    torch.manual_seed(SEED + index)
    gen = torch.Generator().manual_seed(SEED + 100 + index)
    backbone = VoxelMorphUNet(spatial_dims=3, **unet_kwargs)
    net = VoxelMorph(backbone=backbone, **vm_kwargs)
    perturb(net, gen)
    moving = smooth_noise(shape, gen)
    fixed = smooth_noise(shape, gen)
    net.eval()
    # Scale the last convolution so that the largest displacement is about `reach` voxels.
    with torch.no_grad():
        _, ddf = net.double()(moving.double(), fixed.double())
        # The last convolution, or its normalization where it has one (a norm after it would
        # undo any scaling of the convolution).
        modules = dict(net.named_modules())
        out = [k for k in modules if k.endswith("final_conv_out")][0]
        last = modules.get(f"{out}.adn.N", modules[f"{out}.conv"])
        factor = reach / float(ddf.abs().max())
        for _ in range(6):  # the integration is not linear in the weights: iterate
            last.weight.mul_(factor)
            last.bias.mul_(factor)
            _, ddf = net(moving.double(), fixed.double())
            factor = reach / float(ddf.abs().max())
        warped, ddf = net(moving.double(), fixed.double())
    net.float()
    stem = f"voxelmorph_{name}"
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(OUT / f"{stem}.safetensors"))
    (OUT / f"{stem}.safetensors").chmod(0o644)
    files = {}
    for part, t in [("moving", moving), ("fixed", fixed), ("ddf", ddf.float()),
                    ("warped", warped.float())]:
        path = f"{stem}_{part}.bin"
        t.numpy().astype("<f4").tofile(OUT / path)
        files[part] = path
    return {
        "name": name,
        "unet_args": jsonable(unet_kwargs),
        "voxelmorph_args": jsonable(vm_kwargs),
        "num_params": sum(p.numel() for p in net.parameters()),
        "weights": f"{stem}.safetensors",
        "files": files,
        "input_shape": list(moving.shape),
        "ddf_shape": list(ddf.shape),
        "ddf_max_abs": float(ddf.abs().max()),
        "warped_max_abs": float(warped.abs().max()),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    cases = [make(name, i) for i, name in enumerate(CASES)]
    default = sum(p.numel() for p in VoxelMorph().parameters())
    index = {"cases": cases, "default_num_params": default}
    (OUT / "voxelmorph.json").write_text(json.dumps(index, indent=1) + "\n")
    for c in cases:
        print(c["name"], c["num_params"], c["input_shape"], f"max |ddf| {c['ddf_max_abs']:.3g}",
              f"max |warped| {c['warped_max_abs']:.3g}")
    print("VoxelMorph()", default)
    ours = [p for p in OUT.iterdir() if p.name.startswith("voxelmorph")]
    total = sum(p.stat().st_size for p in ours)
    print(f"{total / 1e6:.2f} MB in {len(ours)} files")


if __name__ == "__main__":
    main()
