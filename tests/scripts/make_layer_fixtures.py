#!/usr/bin/env python3
"""Reference values and gradients of torch.nn.functional.conv3d, conv_transpose3d, instance_norm
and prelu for medburn-ops (crates/ops/tests/conv.rs and layers.rs).

Run: python3 tests/scripts/make_layer_fixtures.py  (needs torch; writes
tests/fixtures/torch/conv3d.json, conv_transpose3d.json, instance_norm.json and prelu.json)

Each case stores the input, weight, bias and upstream gradient, and the output and the three
gradients PyTorch computes in float64. The cases cover stride, padding, dilation, groups,
kernels that are not cubes, odd sizes, a pointwise (1x1x1) convolution and a strided one.
"""
import json
import pathlib

import torch
import torch.nn.functional as F

DIR = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "torch"
torch.manual_seed(20261129)

CASES = [
    # (N, C_in, C_out, input DHW, kernel, stride, padding, dilation, groups, bias)
    (2, 3, 4, (5, 6, 7), (3, 3, 3), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, True),
    (1, 2, 3, (7, 5, 6), (3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), 1, True),
    (1, 4, 6, (6, 7, 5), (3, 2, 3), (1, 2, 1), (0, 1, 2), (1, 1, 1), 2, False),
    (2, 2, 2, (9, 8, 7), (3, 3, 3), (1, 1, 1), (2, 2, 2), (2, 2, 2), 1, True),
    (1, 3, 5, (4, 5, 6), (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), 1, True),
    (1, 4, 2, (5, 5, 5), (1, 1, 1), (2, 2, 2), (0, 0, 0), (1, 1, 1), 1, False),
    (1, 1, 4, (11, 10, 9), (7, 7, 7), (2, 2, 2), (3, 3, 3), (1, 1, 1), 1, True),
    (2, 6, 6, (5, 4, 6), (3, 3, 3), (1, 1, 2), (1, 1, 1), (1, 1, 1), 3, True),
    (1, 2, 3, (3, 4, 5), (2, 3, 4), (3, 1, 2), (1, 1, 2), (1, 2, 1), 1, True),
]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main():
    cases = []
    for n, ci, co, dhw, k, s, p, d, g, has_bias in CASES:
        x = torch.randn(n, ci, *dhw, dtype=torch.float64, requires_grad=True)
        w = torch.randn(co, ci // g, *k, dtype=torch.float64, requires_grad=True)
        b = torch.randn(co, dtype=torch.float64, requires_grad=True) if has_bias else None
        y = F.conv3d(x, w, b, stride=s, padding=p, dilation=d, groups=g)
        dy = torch.randn_like(y)
        inputs = (x, w) + ((b,) if has_bias else ())
        grads = torch.autograd.grad(y, inputs, dy)
        cases.append({
            "input_shape": list(x.shape), "weight_shape": list(w.shape),
            "stride": list(s), "padding": list(p), "dilation": list(d), "groups": g,
            "input": flat(x), "weight": flat(w), "bias": flat(b) if has_bias else None,
            "grad_output": flat(dy), "output_shape": list(y.shape), "output": flat(y),
            "grad_input": flat(grads[0]), "grad_weight": flat(grads[1]),
            "grad_bias": flat(grads[2]) if has_bias else None,
        })
    write("conv3d", cases)
    write("instance_norm", instance_norm_cases())
    write("prelu", prelu_cases())
    write("conv_transpose3d", conv_transpose_cases())


def write(name, cases):
    out = DIR / f"{name}.json"
    out.write_text(json.dumps({"torch": torch.__version__, "cases": cases}))
    print(f"{out}: {len(cases)} cases")


TRANSPOSED = [
    # (N, C_in, C_out, input DHW, kernel, stride, padding, output padding, dilation, groups,
    #  bias)
    # MONAI's U-Net up-sampling: kernel 3, stride 2, padding 1, output padding 1.
    (2, 4, 3, (3, 4, 5), (3, 3, 3), (2, 2, 2), (1, 1, 1), (1, 1, 1), (1, 1, 1), 1, True),
    # Kernel 2, stride 2 (no overlap).
    (1, 3, 2, (4, 3, 2), (2, 2, 2), (2, 2, 2), (0, 0, 0), (0, 0, 0), (1, 1, 1), 1, False),
    # Stride 1, "same" padding; groups.
    (1, 4, 6, (5, 6, 4), (3, 3, 3), (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 1, 1), 2, True),
    # Mixed strides, paddings, dilations, non-cubic kernel, odd sizes.
    (2, 2, 3, (3, 5, 4), (2, 3, 4), (3, 1, 2), (1, 0, 2), (2, 0, 1), (1, 2, 1), 1, True),
    # Output padding below the dilation but not the stride; pointwise kernel.
    (1, 3, 2, (4, 3, 5), (1, 1, 1), (1, 1, 1), (0, 0, 0), (1, 0, 1), (2, 1, 2), 1, True),
    # Stride 3, kernel 2: output voxels that no input reaches (bias only).
    (1, 2, 2, (3, 3, 3), (2, 2, 2), (3, 3, 3), (0, 0, 0), (2, 1, 0), (1, 1, 1), 1, True),
]


def conv_transpose_cases():
    cases = []
    for n, ci, co, dhw, k, s, p, op, d, g, has_bias in TRANSPOSED:
        x = torch.randn(n, ci, *dhw, dtype=torch.float64, requires_grad=True)
        w = torch.randn(ci, co // g, *k, dtype=torch.float64, requires_grad=True)
        b = torch.randn(co, dtype=torch.float64, requires_grad=True) if has_bias else None
        y = F.conv_transpose3d(x, w, b, stride=s, padding=p, output_padding=op, groups=g,
                               dilation=d)
        dy = torch.randn_like(y)
        inputs = (x, w) + ((b,) if has_bias else ())
        grads = torch.autograd.grad(y, inputs, dy)
        cases.append({
            "input_shape": list(x.shape), "weight_shape": list(w.shape),
            "stride": list(s), "padding": list(p), "output_padding": list(op),
            "dilation": list(d), "groups": g,
            "input": flat(x), "weight": flat(w), "bias": flat(b) if has_bias else None,
            "grad_output": flat(dy), "output_shape": list(y.shape), "output": flat(y),
            "grad_input": flat(grads[0]), "grad_weight": flat(grads[1]),
            "grad_bias": flat(grads[2]) if has_bias else None,
        })
    return cases


def prelu_cases():
    """One slope and one per channel; exact zeros in the input (the slope's side, as PyTorch)."""
    cases = []
    for shape, slopes in [((2, 3, 3, 4, 5), 1), ((1, 4, 2, 3, 5), 4)]:
        x = torch.randn(*shape, dtype=torch.float64)
        x[x.abs() < 0.2] = 0.0
        x.requires_grad_()
        a = (torch.rand(slopes, dtype=torch.float64) * 0.5).requires_grad_()
        y = F.prelu(x, a)
        dy = torch.randn_like(y)
        gx, ga = torch.autograd.grad(y, (x, a), dy)
        cases.append({"shape": list(shape), "input": flat(x), "alpha": flat(a),
                      "grad_output": flat(dy), "output": flat(y), "grad_input": flat(gx),
                      "grad_alpha": flat(ga)})
    return cases


def instance_norm_cases():
    """Without and with affine parameters; one volume offset by 1000 (CT-like values, where a
    naive E[x^2] - E[x]^2 in float32 would cancel); one of two voxels."""
    cases = []
    for shape, affine, offset, eps in [((2, 3, 4, 5, 6), False, 0.0, 1e-5),
                                       ((1, 2, 5, 3, 4), True, 1000.0, 1e-5),
                                       ((2, 2, 1, 1, 2), True, 0.0, 1e-3)]:
        x = (torch.randn(*shape, dtype=torch.float64) * 3 + offset).requires_grad_()
        c = shape[1]
        g = torch.randn(c, dtype=torch.float64, requires_grad=True) if affine else None
        b = torch.randn(c, dtype=torch.float64, requires_grad=True) if affine else None
        y = F.instance_norm(x, weight=g, bias=b, eps=eps)
        dy = torch.randn_like(y)
        grads = torch.autograd.grad(y, (x, g, b) if affine else (x,), dy)
        cases.append({
            "shape": list(shape), "epsilon": eps, "input": flat(x),
            "gamma": flat(g) if affine else None, "beta": flat(b) if affine else None,
            "grad_output": flat(dy), "output": flat(y), "grad_input": flat(grads[0]),
            "grad_gamma": flat(grads[1]) if affine else None,
            "grad_beta": flat(grads[2]) if affine else None,
        })
    return cases


if __name__ == "__main__":
    main()
