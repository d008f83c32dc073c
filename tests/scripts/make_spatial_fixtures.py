#!/usr/bin/env python3
"""SimpleITK references for medburn's spatial transforms (tests/spatial_reference.rs).

Run: python3 tests/scripts/make_spatial_fixtures.py  (needs SimpleITK and numpy)

Inputs: nibabel's anatomical.nii (a real MRI volume) and an oblique volume made here
(non-unit spacing, rotated direction, offset origin). Each case runs one SimpleITK filter
(ResampleImageFilter with the same output grid and transform, DICOMOrient, RegionOfInterest,
ConstantPad, ZeroFluxNeumannPad) and writes its output as float32 NIfTI next to a manifest.
"""
import json
import math
import pathlib

import numpy as np
import SimpleITK as sitk

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "spatial"
INTERP = {"nearest": sitk.sitkNearestNeighbor, "linear": sitk.sitkLinear, "bspline": sitk.sitkBSpline}


def rotation_matrix(axis, degrees):
    u = np.asarray(axis, dtype=float)
    u = u / np.linalg.norm(u)
    k = np.array([[0, -u[2], u[1]], [u[2], 0, -u[0]], [-u[1], u[0], 0]])
    a = math.radians(degrees)
    return np.eye(3) + math.sin(a) * k + (1 - math.cos(a)) * (k @ k)


def centre(img):
    return img.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2 for n in img.GetSize()])


def oblique_volume():
    rng = np.random.default_rng(20261121)
    k, j, i = np.meshgrid(np.arange(16), np.arange(20), np.arange(24), indexing="ij")
    arr = 100 * np.sin(i / 4.0) * np.cos(j / 5.0) + 3 * k + 5 * rng.normal(size=i.shape)
    img = sitk.GetImageFromArray(arr.astype(np.float32))
    img.SetSpacing([1.1, 0.9, 2.5])
    img.SetOrigin([-30.0, 12.0, 40.0])
    img.SetDirection(rotation_matrix([1, 2, 0.5], 20).reshape(-1).tolist())
    return img


def oblique_28_slices():
    """28 slices of 2 mm on an oblique grid: stored in float32, the sform's column norms carry
    noise (2.000000007) that pixdim and SimpleITK do not; resampled to 1.6 mm, the slice count
    must be ceil(28 * 2 / 1.6) = 35, and nearest ties must fall as SimpleITK's do."""
    rng = np.random.default_rng(20261129)
    arr = rng.integers(0, 5, size=(28, 10, 12)).astype(np.float32)
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing([0.9, 0.9, 2.0])
    img.SetOrigin([12.0, -40.0, 25.0])
    img.SetDirection(rotation_matrix([1, 0, 0], 25).reshape(-1).tolist())
    return img


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    inputs = {
        "anatomical": sitk.Cast(sitk.ReadImage(str(ROOT / "fixtures/data/nibabel/anatomical.nii")), sitk.sitkFloat32),
        "oblique": oblique_volume(),
    }
    cases = []

    def add(name, inp, op, params, interp, out):
        path = f"{name}.nii.gz"
        sitk.WriteImage(sitk.Cast(out, sitk.sitkFloat32), str(OUT / path))
        # NIfTI stores geometry in float32: keep SimpleITK's own (double) output geometry here.
        geometry = {"size": list(out.GetSize()), "origin": list(out.GetOrigin()),
                    "spacing": list(out.GetSpacing()), "direction": list(out.GetDirection())}
        cases.append({"name": name, "input": f"{inp}.nii.gz", "op": op, "params": params,
                      "interp": interp, "output": path, "geometry": geometry})

    for name, img in list(inputs.items()):
        # Work on what the NIfTI file holds (float32 geometry), which medburn reads too.
        sitk.WriteImage(img, str(OUT / f"{name}.nii.gz"))
        img = sitk.ReadImage(str(OUT / f"{name}.nii.gz"))
        size, spacing = img.GetSize(), img.GetSpacing()
        c = centre(img)
        for interp, code in INTERP.items():
            new_spacing = [0.7, 1.3, 1.6] if name == "oblique" else [1.7, 2.3, 1.4]
            new_size = [math.ceil(size[a] * spacing[a] / new_spacing[a] * (1 - 1e-6)) for a in range(3)]
            out = sitk.Resample(img, new_size, sitk.Transform(), code, img.GetOrigin(), new_spacing,
                                img.GetDirection(), 0.0, sitk.sitkFloat32)
            add(f"{name}_spacing_{interp}", name, "resample_to_spacing", {"spacing": new_spacing}, interp, out)
            for axis, deg in [("z", 15.0), ("x", -30.0), ([1.0, 1.0, 0.5], 40.0)]:
                vec = {"x": [1, 0, 0], "y": [0, 1, 0], "z": [0, 0, 1]}.get(axis, axis) if isinstance(axis, str) else axis
                t = sitk.AffineTransform(3)
                t.SetMatrix(rotation_matrix(vec, deg).T.reshape(-1).tolist())
                t.SetCenter(c)
                out = sitk.Resample(img, img, t, code, 0.0, sitk.sitkFloat32)
                tag = axis if isinstance(axis, str) else "vec"
                add(f"{name}_rotate_{tag}_{interp}", name, "rotate", {"axis": vec, "degrees": deg}, interp, out)
        # Onto another grid with another orientation: flipped i and k, other spacing, shifted.
        fixed = sitk.Image([20, 22, 14], sitk.sitkFloat32)
        fixed.SetSpacing([1.2, 1.0, 1.9])
        d = np.array(img.GetDirection()).reshape(3, 3) @ np.diag([-1, 1, -1])
        fixed.SetDirection(d.reshape(-1).tolist())
        fixed.SetOrigin([c[0] + 10.0, c[1] - 14.0, c[2] + 12.0])
        sitk.WriteImage(fixed, str(OUT / f"{name}_fixed_grid.nii.gz"))
        fixed = sitk.ReadImage(str(OUT / f"{name}_fixed_grid.nii.gz"))
        for interp, code in INTERP.items():
            out = sitk.Resample(img, fixed, sitk.Transform(), code, 0.0, sitk.sitkFloat32)
            add(f"{name}_like_{interp}", name, "resample_to_image", {"like": f"{name}_fixed_grid.nii.gz"}, interp, out)
        st = sitk.ScaleTransform(3, [1 / 1.3] * 3)
        st.SetCenter(c)
        add(f"{name}_scale", name, "scale", {"factor": [1.3, 1.3, 1.3]}, "linear",
            sitk.Resample(img, img, st, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        offset = [5.5, -3.2, 7.1]
        tt = sitk.TranslationTransform(3, [-v for v in offset])
        add(f"{name}_translate", name, "translate", {"offset": offset}, "linear",
            sitk.Resample(img, img, tt, sitk.sitkLinear, 0.0, sitk.sitkFloat32))
        a = rotation_matrix([0.3, -1, 0.2], 12) @ np.diag([1.1, 0.95, 1.05])
        tvec = [2.0, -1.5, 3.0]
        at = sitk.AffineTransform(a.reshape(-1).tolist(), tvec, [0, 0, 0])
        m = np.eye(4)
        m[:3, :3] = a
        m[:3, 3] = tvec
        add(f"{name}_affine", name, "affine", {"matrix": m.tolist()}, "bspline",
            sitk.Resample(img, img, at, sitk.sitkBSpline, 0.0, sitk.sitkFloat32))
        for code in ["RAS", "LPS", "LPI", "PIR", "SAL", "ILA"]:
            add(f"{name}_orient_{code}", name, "orient", {"code": code}, "none", sitk.DICOMOrient(img, code))
        add(f"{name}_crop", name, "crop", {"start": [2, 3, 1], "size": [10, 9, 7]}, "none",
            sitk.RegionOfInterest(img, [10, 9, 7], [2, 3, 1]))
        add(f"{name}_pad_constant", name, "pad", {"before": [2, 0, 1], "after": [1, 3, 0], "fill": "constant", "value": -5.0},
            "none", sitk.ConstantPad(img, [2, 0, 1], [1, 3, 0], -5.0))
        add(f"{name}_pad_edge", name, "pad", {"before": [0, 2, 2], "after": [3, 1, 0], "fill": "edge"},
            "none", sitk.ZeroFluxNeumannPad(img, [0, 2, 2], [3, 1, 0]))
    img = oblique_28_slices()
    sitk.WriteImage(img, str(OUT / "oblique28.nii.gz"))
    img = sitk.ReadImage(str(OUT / "oblique28.nii.gz"))
    new_spacing = [0.9, 0.9, 1.6]
    new_size = [math.ceil(img.GetSize()[a] * img.GetSpacing()[a] / new_spacing[a] * (1 - 1e-6))
                for a in range(3)]
    assert new_size[2] == 35, new_size
    for interp in ["nearest", "linear"]:
        out = sitk.Resample(img, new_size, sitk.Transform(), INTERP[interp], img.GetOrigin(),
                            new_spacing, img.GetDirection(), 0.0, sitk.sitkFloat32)
        add(f"oblique28_spacing_{interp}", "oblique28", "resample_to_spacing",
            {"spacing": new_spacing}, interp, out)
    (OUT / "manifest.json").write_text(json.dumps({"SimpleITK": sitk.Version_VersionString(), "cases": cases}, indent=1))
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
