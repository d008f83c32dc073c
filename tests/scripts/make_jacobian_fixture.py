#!/usr/bin/env python3
"""Jacobian determinants of displacement fields from SimpleITK for medburn-register
(crates/register/tests/jacobian.rs).

Run: python3 tests/scripts/make_jacobian_fixture.py  (needs numpy and SimpleITK; writes
tests/fixtures/sitk_jacobian.json)

Each case is a smooth random displacement field in millimetres on a grid with its own spacing,
stored as medburn holds it ([3, D, H, W], components along D, H, W), and the determinant of
`I + du/dx` that SimpleITK's DisplacementFieldJacobianDeterminantFilter computes (the field
given to ITK as vectors along x = W, y = H, z = D, spacing used). ITK's derivative at the
border uses a zero-flux neighbour, so only the interior voxels are stored and compared.
"""
import json
import pathlib

import numpy as np
import SimpleITK as sitk

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "sitk_jacobian.json"


def smooth_field(rng, shape, amplitude):
    field = rng.standard_normal((3,) + shape)
    for _ in range(2):  # a few box blurs: smooth, but strong enough to fold somewhere
        for axis in (1, 2, 3):
            field = (np.roll(field, 1, axis) + field + np.roll(field, -1, axis)) / 3.0
    return field * amplitude


def main():
    rng = np.random.default_rng(20261207)
    cases = []
    for shape, spacing, amplitude in [
        ((6, 7, 8), (1.0, 1.0, 1.0), 0.5),
        ((7, 6, 9), (2.0, 1.5, 0.8), 1.5),
        ((5, 8, 6), (3.0, 1.0, 1.0), 10.0),  # large: some voxels fold (det <= 0)
    ]:
        u = smooth_field(rng, shape, amplitude)  # [3, D, H, W] in mm, components D, H, W
        vectors = np.stack([u[2], u[1], u[0]], axis=-1)  # ITK: x = W, y = H, z = D
        image = sitk.GetImageFromArray(vectors, isVector=True)
        image.SetSpacing((spacing[2], spacing[1], spacing[0]))
        f = sitk.DisplacementFieldJacobianDeterminantFilter()
        f.SetUseImageSpacing(True)
        det = sitk.GetArrayFromImage(f.Execute(image))  # [D, H, W]
        interior = det[1:-1, 1:-1, 1:-1]
        cases.append({
            "shape": list(shape),
            "spacing": list(spacing),
            "field": [float(v) for v in u.reshape(-1)],
            "interior_det": [float(v) for v in interior.reshape(-1)],
            "folding": float(np.mean(interior <= 0)),
        })
    OUT.write_text(json.dumps({"simpleitk": sitk.Version_VersionString(), "cases": cases}))
    print(f"{len(cases)} cases -> {OUT}; folding {[c['folding'] for c in cases]}")


if __name__ == "__main__":
    main()
