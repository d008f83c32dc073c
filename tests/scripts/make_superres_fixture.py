#!/usr/bin/env python3
"""Reference low-resolution images for medburn_spatial::simulate_low_resolution.

Run: python3 tests/scripts/make_superres_fixture.py
(needs numpy, scipy, SimpleITK; writes tests/fixtures/spatial/superres/; deterministic)

A smooth seeded volume on an oblique, flipped grid (`hr.nii.gz`, float32) is read back (so that
both sides start from the file's float32 geometry), then for each factor triple (per axis
i, j, k) the acquisition's lower resolution is made independently of medburn:
- the slice profile: scipy.ndimage.gaussian_filter along each axis with a factor above 1,
  sigma = f / (2 sqrt(2 ln 2)) voxels (FWHM = the new spacing), truncate 4, mode "nearest"
  (edge values repeated);
- the coarse grid by its definition: n // f voxels, spacing s * f, the same direction, origin
  at the physical point of the fine continuous index (f - 1) / 2 (the centre of the first
  coarse voxel's fine voxels), from SimpleITK's TransformContinuousIndexToPhysicalPoint;
- SimpleITK's Resample (linear, default value 0) of the blurred volume onto that grid.
Written as `lr_<i>x<j>x<k>.nii.gz`; `superres.json` lists the cases.
"""
import json
import pathlib

import numpy as np
import scipy.ndimage as ndi
import SimpleITK as sitk

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "spatial" / "superres"
FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(20261207)
    size = (20, 18, 24)  # i, j, k
    arr = ndi.gaussian_filter(rng.normal(size=size[::-1]), 1.5) * 400.0 + 300.0
    c, s = np.cos(0.3), np.sin(0.3)
    rot = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    direction = rot @ np.diag([1.0, -1.0, 1.0])  # oblique and flipped
    hr = sitk.GetImageFromArray(arr.astype(np.float32))
    hr.SetOrigin((12.5, -40.0, 3.25))
    hr.SetSpacing((0.9, 1.1, 1.3))
    hr.SetDirection(direction.flatten().tolist())
    sitk.WriteImage(hr, str(OUT / "hr.nii.gz"))
    hr = sitk.ReadImage(str(OUT / "hr.nii.gz"), sitk.sitkFloat32)
    values = sitk.GetArrayFromImage(hr).astype(np.float64)  # (k, j, i)
    cases = []
    for factors in ([1, 1, 4], [2, 2, 2], [3, 1, 2]):
        sigma = [f / FWHM_PER_SIGMA if f > 1 else 0.0 for f in factors[::-1]]
        blurred = ndi.gaussian_filter(values, sigma=sigma, mode="nearest", truncate=4.0)
        blurred = sitk.GetImageFromArray(blurred.astype(np.float32))
        blurred.CopyInformation(hr)
        lsize = [n // f for n, f in zip(hr.GetSize(), factors)]
        spacing = [sp * f for sp, f in zip(hr.GetSpacing(), factors)]
        origin = hr.TransformContinuousIndexToPhysicalPoint([(f - 1) / 2.0 for f in factors])
        lr = sitk.Resample(blurred, lsize, sitk.Transform(), sitk.sitkLinear, origin, spacing,
                           hr.GetDirection(), 0.0, sitk.sitkFloat32)
        name = f"lr_{factors[0]}x{factors[1]}x{factors[2]}.nii.gz"
        sitk.WriteImage(lr, str(OUT / name))
        cases.append({"factors": factors, "file": name, "size": lsize,
                      "origin": list(origin), "spacing": spacing})
    (OUT / "superres.json").write_text(json.dumps({"input": "hr.nii.gz", "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main()
