#!/usr/bin/env python3
"""Reference weights, inputs and outputs from MONAI for medburn-models' AutoEncoder and
VarAutoEncoder.

Run: ~/.cache/medburn-refvenv/bin/python tests/scripts/make_autoencoder_fixtures.py
(needs torch, monai, safetensors, numpy; writes tests/fixtures/models/autoencoder*; deterministic:
every random draw comes from a seeded generator)

As tests/scripts/make_voxelmorph_fixtures.py does for VoxelMorph, for each case below a seeded
`monai.networks.nets.AutoEncoder` or `VarAutoEncoder` (`spatial_dims=3`) is saved and run:
- `autoencoder_<name>.safetensors`: the network's state_dict, float32, as
  `safetensors.torch.save_file(net.state_dict(), path)` writes it (keys `encode.encode_0...`,
  `intermediate.inter_0...`, `decode.decode_0.conv...`, `decode.decode_0.resunit...`, and for the
  VAE `mu.*`, `logvar.*`, `decodeL.*`). Before saving, PReLU slopes and affine norms are moved
  off their initial values and every bias is shifted a little: a tensor loaded into the wrong
  place shows.
- `autoencoder_<name>_input.bin`: the input, smoothed seeded noise, float32 little-endian, C
  order `[N, C, D, H, W]`.
- `autoencoder_<name>_output.bin` (AutoEncoder: `forward(x)`; VarAutoEncoder: the
  reconstruction), and for the VAE `_mu.bin`, `_logvar.bin`, `_z.bin`: MONAI's outputs in eval
  mode, evaluated in float64 (then rounded to float32), so the Rust side is compared with the
  exact result of the float32 weights. In eval mode MONAI's `reparameterize` returns `mu + std`
  (`std = exp(logvar / 2)`), or `mu` with `use_mean_at_inference=True`: both are covered.
- `autoencoder.json`: for each case, the constructor and its arguments, parameter count, files
  and shapes; and `default_num_params`, the parameter counts of the default configurations
  `AutoEncoder(spatial_dims=3, in_channels=1, out_channels=1, channels=(16, 32, 64),
  strides=(2, 2, 2), num_res_units=2)` (388,840) and `VarAutoEncoder(spatial_dims=3,
  in_shape=(1, 64, 64, 64), out_channels=1, latent_size=64, channels=(16, 32, 64),
  strides=(2, 2, 2), num_res_units=2)` (6,713,192).

Sizes differ per axis, and two cases give an output of another size than their input (MONAI's
encoder rounds sizes up, explicit padding shrinks them), so that an axis mix-up shows.
"""
import json
import pathlib

import torch
import torch.nn.functional as F
from monai.networks.nets import AutoEncoder, VarAutoEncoder
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "models"
SEED = 20261211

# name -> (constructor, keyword arguments (spatial_dims=3 added), input shape)
CASES = {
    # The default configuration with narrow channels: residual units, PReLU, instance norm.
    "res": ("AutoEncoder",
            dict(in_channels=1, out_channels=1, channels=(4, 8, 16), strides=(2, 2, 2),
                 num_res_units=2),
            [2, 1, 16, 8, 24]),
    # Plain convolution blocks, an intermediate section of residual units with dilations, affine
    # instance norm, kernel 5 up, a stride of 1, more channels in and out.
    "inter": ("AutoEncoder",
              dict(in_channels=2, out_channels=3, channels=(4, 8), strides=(2, 1),
                   up_kernel_size=5, inter_channels=(8, 6), inter_dilations=(1, 2),
                   num_inter_units=2, norm=("instance", {"affine": True})),
              [1, 2, 12, 10, 8]),
    # Explicit zero padding (the encoder shrinks, the output has another size than the input),
    # an intermediate section of plain convolutions, leaky ReLU, dropout (identity in eval).
    "pad": ("AutoEncoder",
            dict(in_channels=1, out_channels=1, channels=(4, 8), strides=(2, 2), padding=0,
                 inter_channels=(8,), num_inter_units=0,
                 act=("leakyrelu", {"negative_slope": 0.1}), dropout=0.1),
            [1, 1, 21, 17, 15]),
    # The default VAE with narrow channels and a small volume: in eval mode z = mu + std.
    "vae": ("VarAutoEncoder",
            dict(in_shape=(1, 16, 16, 16), out_channels=1, latent_size=8, channels=(4, 8, 16),
                 strides=(2, 2, 2), num_res_units=2),
            [2, 1, 16, 16, 16]),
    # Plain blocks, two channels, no sigmoid, z = mu in eval mode, an intermediate unit, and a
    # size (10) the strides do not divide: the reconstruction has 12 voxels there.
    "vae_plain": ("VarAutoEncoder",
                  dict(in_shape=(2, 12, 8, 10), out_channels=2, latent_size=4, channels=(4, 8),
                       strides=(2, 2), inter_channels=(8,), num_inter_units=1,
                       use_sigmoid=False, use_mean_at_inference=True),
                  [3, 2, 12, 8, 10]),
}

DEFAULTS = {
    "AutoEncoder": dict(in_channels=1, out_channels=1, channels=(16, 32, 64), strides=(2, 2, 2),
                        num_res_units=2),
    "VarAutoEncoder": dict(in_shape=(1, 64, 64, 64), out_channels=1, latent_size=64,
                           channels=(16, 32, 64), strides=(2, 2, 2), num_res_units=2),
}


def jsonable(value):
    if isinstance(value, (tuple, list)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def smooth_noise(shape, gen):
    """Seeded noise smoothed by a 3x3x3 box filter, scaled to unit standard deviation."""
    x = torch.randn(*shape, generator=gen, dtype=torch.float64)
    n, c = shape[:2]
    x = x.reshape(n * c, 1, *shape[2:])
    box = torch.ones(1, 1, 3, 3, 3, dtype=torch.float64) / 27.0
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
            elif key.endswith("bias"):
                p.add_(0.05 * torch.randn(p.shape, generator=gen))


def build(constructor, kwargs):
    cls = {"AutoEncoder": AutoEncoder, "VarAutoEncoder": VarAutoEncoder}[constructor]
    return cls(spatial_dims=3, **kwargs)


def make(name, index):
    constructor, kwargs, shape = CASES[name]
    torch.manual_seed(SEED + index)
    gen = torch.Generator().manual_seed(SEED + 100 + index)
    net = build(constructor, kwargs)
    perturb(net, gen)
    x = smooth_noise(shape, gen)
    net.eval()
    with torch.no_grad():
        out = net.double()(x.double())
    net.float()
    stem = f"autoencoder_{name}"
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(OUT / f"{stem}.safetensors"))
    (OUT / f"{stem}.safetensors").chmod(0o644)
    parts = [("input", x)]
    if constructor == "AutoEncoder":
        parts.append(("output", out))
    else:
        recon, mu, logvar, z = out
        parts += [("output", recon), ("mu", mu), ("logvar", logvar), ("z", z)]
    files, shapes, max_abs = {}, {}, {}
    for part, t in parts:
        path = f"{stem}_{part}.bin"
        t.float().numpy().astype("<f4").tofile(OUT / path)
        files[part] = path
        shapes[part] = list(t.shape)
        max_abs[part] = float(t.abs().max())
    return {
        "name": name,
        "constructor": constructor,
        "monai_args": jsonable(kwargs),
        "num_params": sum(p.numel() for p in net.parameters()),
        "weights": f"{stem}.safetensors",
        "files": files,
        "shapes": shapes,
        "max_abs": max_abs,
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    cases = [make(name, i) for i, name in enumerate(CASES)]
    defaults = [
        {"constructor": c, "monai_args": jsonable(kw),
         "num_params": sum(p.numel() for p in build(c, kw).parameters())}
        for c, kw in DEFAULTS.items()
    ]
    index = {"cases": cases, "default_num_params": defaults}
    (OUT / "autoencoder.json").write_text(json.dumps(index, indent=1) + "\n")
    for c in cases:
        print(c["name"], c["constructor"], c["num_params"], c["shapes"], c["max_abs"])
    for d in defaults:
        print(d["constructor"], d["num_params"])
    ours = [p for p in OUT.iterdir() if p.name.startswith("autoencoder")]
    total = sum(p.stat().st_size for p in ours)
    print(f"{total / 1e3:.0f} kB in {len(ours)} files")


if __name__ == "__main__":
    main()
