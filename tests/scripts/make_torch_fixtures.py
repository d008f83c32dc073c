#!/usr/bin/env python3
"""Reference values and gradients from PyTorch for medburn-ops (crates/ops/tests/torch_reference.rs).

Run: python3 tests/scripts/make_torch_fixtures.py  (needs torch; writes tests/fixtures/torch/*.json)

Every case stores its inputs, the upstream gradient, the output and the gradients PyTorch
computes in float64, so the Rust side can compare in f32 (1e-5) and in f64.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "torch"
torch.manual_seed(20261121)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def case(**kw):
    return {k: (flat(v) if torch.is_tensor(v) else v) for k, v in kw.items()}


def grid_sample_cases():
    cases = []
    for mode in ["nearest", "bilinear"]:
        for padding in ["zeros", "border", "reflection"]:
            for align in [False, True]:
                x = torch.randn(2, 3, 4, 5, 6, dtype=torch.float64, requires_grad=True)
                # Points inside and outside the volume.
                grid = (torch.rand(2, 3, 4, 2, 3, dtype=torch.float64) * 2.8 - 1.4).requires_grad_()
                y = F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=align)
                dy = torch.randn_like(y)
                gx, gg = torch.autograd.grad(y, (x, grid), dy)
                cases.append(case(mode=mode, padding=padding, align_corners=align,
                                  input_shape=list(x.shape), grid_shape=list(grid.shape),
                                  input=x, grid=grid, grad_output=dy, output=y,
                                  grad_input=gx, grad_grid=gg))
    # Rows of 37 points, mostly inside with one in five pushed out: medburn's CPU samples runs
    # of 8 points inside the volume in blocks, the rest point by point; both meet PyTorch here.
    # A generator of its own keeps the cases above unchanged.
    wide = torch.Generator().manual_seed(20261129)
    for padding in ["zeros", "border", "reflection"]:
        for align in [False, True]:
            x = torch.randn(1, 2, 5, 6, 9, generator=wide, dtype=torch.float64).requires_grad_()
            grid = torch.rand(1, 2, 3, 37, 3, generator=wide, dtype=torch.float64) * 1.4 - 0.7
            out = torch.rand(1, 2, 3, 37, 1, generator=wide, dtype=torch.float64) < 0.2
            grid = torch.where(out, grid * 2.2, grid).requires_grad_()
            y = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=align)
            dy = torch.randn(y.shape, generator=wide, dtype=torch.float64)
            gx, gg = torch.autograd.grad(y, (x, grid), dy)
            cases.append(case(mode="bilinear", padding=padding, align_corners=align,
                              input_shape=list(x.shape), grid_shape=list(grid.shape),
                              input=x, grid=grid, grad_output=dy, output=y,
                              grad_input=gx, grad_grid=gg))
    return cases


def affine_cases():
    cases = []
    for mode in ["nearest", "bilinear"]:
        for padding in ["zeros", "border", "reflection"]:
            for align in [False, True]:
                x = torch.randn(2, 2, 5, 4, 6, dtype=torch.float64, requires_grad=True)
                theta = torch.eye(3, 4, dtype=torch.float64).repeat(2, 1, 1)
                theta = (theta + 0.25 * torch.randn(2, 3, 4, dtype=torch.float64)).requires_grad_()
                size = [2, 2, 3, 7, 5]
                grid = F.affine_grid(theta, size, align_corners=align)
                y = F.grid_sample(x, grid, mode=mode, padding_mode=padding, align_corners=align)
                dy = torch.randn_like(y)
                gx, gt = torch.autograd.grad(y, (x, theta), dy)
                cases.append(case(mode=mode, padding=padding, align_corners=align,
                                  input_shape=list(x.shape), output_size=size[2:],
                                  input=x, theta=theta, grid=grid, grad_output=dy, output=y,
                                  grad_input=gx, grad_theta=gt))
    return cases


def pool_cases():
    cases = []
    configs = [
        dict(kernel=[2, 2, 2], stride=[2, 2, 2], padding=[0, 0, 0], dilation=[1, 1, 1], ceil=False),
        dict(kernel=[3, 2, 3], stride=[2, 1, 2], padding=[1, 1, 1], dilation=[1, 1, 1], ceil=True),
        dict(kernel=[3, 3, 2], stride=[1, 2, 2], padding=[1, 0, 1], dilation=[1, 1, 1], ceil=False),
        dict(kernel=[2, 3, 2], stride=[2, 2, 3], padding=[0, 1, 1], dilation=[2, 1, 2], ceil=True),
    ]
    for cfg in configs:
        for kind in ["max", "avg_include", "avg_exclude"]:
            if kind != "max" and cfg["dilation"] != [1, 1, 1]:
                continue
            x = torch.randn(2, 3, 7, 6, 9, dtype=torch.float64, requires_grad=True)
            if kind == "max":
                y = F.max_pool3d(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"],
                                 ceil_mode=cfg["ceil"])
            else:
                y = F.avg_pool3d(x, cfg["kernel"], cfg["stride"], cfg["padding"], ceil_mode=cfg["ceil"],
                                 count_include_pad=(kind == "avg_include"))
            dy = torch.randn_like(y)
            (gx,) = torch.autograd.grad(y, (x,), dy)
            cases.append(case(kind=kind, **cfg, input_shape=list(x.shape), output_shape=list(y.shape),
                              input=x, grad_output=dy, output=y, grad_input=gx))
    # Ties: values from {0, 1, 2}, so most windows hold several maxima and PyTorch's rule (the
    # first in (d, h, w) order) decides which voxel gets the gradient. A generator of their own
    # keeps the cases above unchanged.
    ties = torch.Generator().manual_seed(20261129)
    for cfg in configs:
        x = torch.randint(0, 3, (2, 3, 7, 6, 9), generator=ties).double().requires_grad_()
        y = F.max_pool3d(x, cfg["kernel"], cfg["stride"], cfg["padding"], cfg["dilation"],
                         ceil_mode=cfg["ceil"])
        dy = torch.randn(y.shape, generator=ties, dtype=torch.float64)
        (gx,) = torch.autograd.grad(y, (x,), dy)
        cases.append(case(kind="max", **cfg, input_shape=list(x.shape), output_shape=list(y.shape),
                          input=x, grad_output=dy, output=y, grad_input=gx))
    return cases


def interpolate_cases():
    cases = []
    specs = [
        ("nearest", None, [6, 3, 11], None),
        ("nearest", None, None, [1.5, 0.5, 2.0]),
        ("nearest-exact", None, [9, 5, 4], None),
        ("trilinear", False, [6, 3, 11], None),
        ("trilinear", True, [6, 3, 11], None),
        ("trilinear", False, None, [1.5, 0.7, 2.0]),
        ("trilinear", True, [1, 8, 2], None),
    ]
    for mode, align, size, scale in specs:
        x = torch.randn(2, 2, 4, 5, 7, dtype=torch.float64, requires_grad=True)
        y = F.interpolate(x, size=size, scale_factor=scale, mode=mode, align_corners=align)
        dy = torch.randn_like(y)
        (gx,) = torch.autograd.grad(y, (x,), dy)
        cases.append(case(mode=mode, align_corners=bool(align), size=size, scale_factor=scale,
                          input_shape=list(x.shape), output_shape=list(y.shape),
                          input=x, grad_output=dy, output=y, grad_input=gx))
    return cases


def warp_cases():
    """VoxelMorph's SpatialTransformer, with medburn's channel order (x, y, z) = (W, H, D)."""
    cases = []
    for padding in ["zeros", "border"]:
        x = torch.randn(2, 2, 5, 6, 7, dtype=torch.float64, requires_grad=True)
        disp = (1.5 * torch.randn(2, 3, 5, 6, 7, dtype=torch.float64)).requires_grad_()
        shape = x.shape[2:]
        vectors = [torch.arange(0, s, dtype=torch.float64) for s in shape]
        ident = torch.stack(torch.meshgrid(vectors, indexing="ij")).unsqueeze(0)  # (z, y, x)
        flow_zyx = disp[:, [2, 1, 0]]
        locs = ident + flow_zyx
        locs = torch.stack([2 * (locs[:, i] / (shape[i] - 1) - 0.5) for i in range(3)], 1)
        grid = locs.permute(0, 2, 3, 4, 1)[..., [2, 1, 0]]
        y = F.grid_sample(x, grid, mode="bilinear", padding_mode=padding, align_corners=True)
        dy = torch.randn_like(y)
        gx, gd = torch.autograd.grad(y, (x, disp), dy)
        cases.append(case(padding=padding, input_shape=list(x.shape), input=x, displacement=disp,
                          grad_output=dy, output=y, grad_input=gx, grad_displacement=gd))
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    meta = {"torch": torch.__version__, "script": "tests/scripts/make_torch_fixtures.py"}
    for name, make in [("grid_sample", grid_sample_cases), ("affine", affine_cases),
                       ("pool", pool_cases), ("interpolate", interpolate_cases),
                       ("warp", warp_cases)]:
        data = {"meta": meta, "cases": make()}
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(data))
        print(f"{path}: {len(data['cases'])} cases")


if __name__ == "__main__":
    main()
