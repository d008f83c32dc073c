#!/usr/bin/env python3
"""SimpleITK B-spline (sitkBSpline, cubic with prefilter) resampling of a volume through an
affine, for crates/ops/tests/simpleitk_bspline.rs.

Run: python3 tests/scripts/make_bspline_fixture.py  (needs SimpleITK and numpy)

The image has unit spacing, zero origin and identity direction, so physical points are voxel
indices and the ITK affine (centre 0) is exactly medburn's voxel matrix.
"""
import json
import pathlib

import numpy as np
import SimpleITK as sitk

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "sitk_bspline.json"
rng = np.random.default_rng(20261121)


def main():
    cases = []
    # A smooth volume plus noise, [D, H, W] = (7, 9, 11).
    k, j, i = np.meshgrid(np.arange(7), np.arange(9), np.arange(11), indexing="ij")
    smooth = np.sin(i / 3.0) * np.cos(j / 4.0) + 0.1 * k
    for name, volume in [("smooth", smooth), ("noise", rng.normal(size=(7, 9, 11)))]:
        volume = volume.astype(np.float64)
        image = sitk.GetImageFromArray(volume)
        for angle in [0.0, 0.35]:
            c, s = np.cos(angle), np.sin(angle)
            matrix = np.array([[c, -s, 0.05], [s, c, 0.0], [0.0, 0.1, 1.0]])
            translation = np.array([0.7, -0.4, 0.3])
            transform = sitk.AffineTransform(3)
            transform.SetMatrix(matrix.reshape(-1).tolist())
            transform.SetTranslation(translation.tolist())
            out_size = [10, 8, 6]  # (i, j, k)
            resampled = sitk.Resample(image, out_size, transform, sitk.sitkBSpline,
                                      [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], np.eye(3).reshape(-1).tolist(),
                                      0.0, sitk.sitkFloat64)
            voxel_matrix = np.concatenate([matrix, translation[:, None]], axis=1)
            cases.append({
                "name": f"{name} angle {angle}",
                "input_shape": [1, 1, *volume.shape],
                "input": volume.reshape(-1).tolist(),
                "matrix": voxel_matrix.reshape(-1).tolist(),
                "output_size": out_size[::-1],
                "output": sitk.GetArrayFromImage(resampled).reshape(-1).tolist(),
            })
    OUT.write_text(json.dumps({"meta": {"SimpleITK": sitk.Version_VersionString()}, "cases": cases}))
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
