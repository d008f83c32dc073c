#!/usr/bin/env python3
"""medburn register against SimpleITK's registration framework, side by side in one run.

    python tests/scripts/bench_registration.py path/to/medburn [--runs 3] [--json out.json]

Two synthetic pairs made here in NumPy (the anatomy of check_register.py), the moving image on
its own grid (other spacing, axis order k, i, j with j flipped, 8 degrees oblique):

  affine      the moving image is the anatomy under a known affine (rotation, scaling, shear,
              translation). medburn: `register FIXED MOVING --affine --linear-metric mse` (the whole
              command: reading, registering, writing warped.nii.gz, affine.tfm, PNGs, JSON).
              SimpleITK: ImageRegistrationMethod, mean squares, regular-step gradient descent
              (learning rate 1, relaxation 0.7, min step 1e-4, 200 iterations), 3 levels
              (shrink 4, 2, 1; smoothing 2, 1, 0 voxels), 5% random sampling, moments
              initializer, AffineTransform; also reading and writing its files.
  deformable  the anatomy under an affine and a smooth deformation (up to 2 mm). medburn: the
              default `register` (affine, then diffeomorphic). SimpleITK: the same affine stage,
              then a B-spline transform (mesh 6^3, mean squares, LBFGSB 100 iterations, 3 levels).

TRE: mean distance (mm) between the found and the true fixed -> moving map over the fixed
voxels inside the anatomy (every 2nd voxel per axis). Dice: mean over the 4 labels of the
warped moving label map against the fixed one. Times are medians of --runs runs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_register import anatomy, grid_points, image  # noqa: E402

A_TRUE = np.array([[1.04 * np.cos(0.12), -np.sin(0.12), 0.03],
                   [np.sin(0.12), 0.97 * np.cos(0.12), 0.0],
                   [0.02, 0.0, 1.02]])
B_TRUE = np.array([4.0, -3.0, 2.5])


def affine_back(y):
    """Moving point -> anatomy point (= fixed point) for the affine pair."""
    return (y - B_TRUE) @ np.linalg.inv(A_TRUE).T


def affine_truth(x):
    """Fixed point -> moving point."""
    return x @ A_TRUE.T + B_TRUE


A_DEF = np.array([[0.98, 0.06, 0.0], [-0.05, 1.03, 0.02], [0.01, 0.0, 0.99]])
B_DEF = np.array([2.5, -1.5, 1.0])


def w(y):
    q = y / 10.0
    return np.stack([2.0 * np.sin(1.2 * q[..., 1]) * np.cos(q[..., 2]),
                     -1.6 * np.sin(1.1 * q[..., 0] + 0.4),
                     1.4 * np.cos(0.9 * q[..., 0]) * np.sin(1.2 * q[..., 1])], -1)


def deformed_back(y):
    return (y + w(y)) @ A_DEF.T + B_DEF


def deformed_truth(x):
    z = (x - B_DEF) @ np.linalg.inv(A_DEF).T
    y = z.copy()
    for _ in range(200):
        y = z - w(y)
    assert np.abs(y + w(y) - z).max() < 1e-8
    return y


def make_pair(root, back, fsize, fspacing, scale):
    """Fixed image on a grid of `fsize` voxels of `fspacing` mm, the anatomy `scale` times
    check_register's (blobs within 28 mm, labels within 27 mm, times `scale`); the moving image
    on its own grid covering 5% more, axes k, i, j with j flipped, 8 degrees oblique."""
    fsize, fspacing = np.array(fsize), np.array(fspacing)
    forigin = -(fsize - 1) * fspacing / 2
    fpts = grid_points(fsize, forigin, fspacing, np.eye(3))
    fvals, flab = anatomy(fpts / scale)
    c, s = np.cos(np.radians(8)), np.sin(np.radians(8))
    mdir = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]) @ np.array(
        [[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    mspacing = fspacing[[2, 0, 1]] * np.array([1.15, 1.1, 1.05])
    msize = np.ceil((fsize * fspacing)[[2, 0, 1]] * 1.05 / mspacing).astype(int)
    morigin = -mdir @ ((msize - 1) * mspacing / 2)
    mvals, mlab = anatomy(back(grid_points(msize, morigin, mspacing, mdir)) / scale)
    root.mkdir(parents=True, exist_ok=True)
    files = {k: root / f"{k}.nii.gz" for k in ["fixed", "moving", "fixed_label", "moving_label"]}
    sitk.WriteImage(image(fvals, fsize, forigin, fspacing, np.eye(3)), str(files["fixed"]))
    sitk.WriteImage(image(mvals, msize, morigin, mspacing, mdir), str(files["moving"]))
    sitk.WriteImage(image(flab, fsize, forigin, fspacing, np.eye(3), np.uint8), str(files["fixed_label"]))
    sitk.WriteImage(image(mlab, msize, morigin, mspacing, mdir, np.uint8), str(files["moving_label"]))
    inside = np.sqrt((fpts ** 2).sum(-1)) < 27 * scale
    step = max(1, int(round(fsize.max() / 32)))
    pts = fpts[::step, ::step, ::step][inside[::step, ::step, ::step]]
    return files, pts


def tre(transform, pts, truth):
    found = np.array([transform.TransformPoint(tuple(p)) for p in pts])
    return float(np.sqrt(((found - truth(pts)) ** 2).sum(-1)).mean())


def mean_dice(warped_label, fixed_label):
    a, b = sitk.GetArrayFromImage(warped_label), sitk.GetArrayFromImage(fixed_label)
    ds = [2 * ((a == l) & (b == l)).sum() / ((a == l).sum() + (b == l).sum()) for l in range(1, 5)]
    return float(np.mean(ds))


def sitk_affine(files, out):
    fixed = sitk.ReadImage(str(files["fixed"]), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(files["moving"]), sitk.sitkFloat32)
    init = sitk.CenteredTransformInitializer(fixed, moving, sitk.AffineTransform(3),
                                             sitk.CenteredTransformInitializerFilter.MOMENTS)
    r = sitk.ImageRegistrationMethod()
    r.SetMetricAsMeanSquares()
    r.SetMetricSamplingStrategy(r.RANDOM)
    r.SetMetricSamplingPercentage(0.05, seed=1)
    r.SetInterpolator(sitk.sitkLinear)
    r.SetOptimizerAsRegularStepGradientDescent(learningRate=1.0, minStep=1e-4,
                                               numberOfIterations=200, relaxationFactor=0.7)
    r.SetOptimizerScalesFromPhysicalShift()
    r.SetShrinkFactorsPerLevel([4, 2, 1])
    r.SetSmoothingSigmasPerLevel([2, 1, 0])
    r.SmoothingSigmasAreSpecifiedInPhysicalUnitsOff()
    r.SetInitialTransform(init, inPlace=False)
    t = r.Execute(fixed, moving)
    out.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.Resample(moving, fixed, t, sitk.sitkLinear, 0.0), str(out / "warped.nii.gz"))
    sitk.WriteTransform(t, str(out / "affine.tfm"))
    return t


def sitk_bspline(files, affine, out):
    fixed = sitk.ReadImage(str(files["fixed"]), sitk.sitkFloat32)
    moving = sitk.ReadImage(str(files["moving"]), sitk.sitkFloat32)
    mesh = [6, 6, 6]
    bspline = sitk.BSplineTransformInitializer(fixed, mesh)
    r = sitk.ImageRegistrationMethod()
    r.SetMetricAsMeanSquares()
    r.SetMetricSamplingStrategy(r.RANDOM)
    r.SetMetricSamplingPercentage(0.2, seed=1)
    r.SetInterpolator(sitk.sitkLinear)
    r.SetOptimizerAsLBFGSB(gradientConvergenceTolerance=1e-5, numberOfIterations=100)
    r.SetShrinkFactorsPerLevel([4, 2, 1])
    r.SetSmoothingSigmasPerLevel([2, 1, 0])
    r.SetMovingInitialTransform(affine)
    r.SetInitialTransform(bspline, inPlace=True)
    r.Execute(fixed, moving)
    full = sitk.CompositeTransform([affine, bspline])
    out.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(sitk.Resample(moving, fixed, full, sitk.sitkLinear, 0.0), str(out / "warped.nii.gz"))
    return full


def medburn_transform(out):
    affine = sitk.ReadTransform(str(out / "affine.tfm"))
    field_path = out / "displacement.nii.gz"
    if field_path.exists():
        field = sitk.ReadImage(str(field_path), sitk.sitkVectorFloat64)
        return sitk.CompositeTransform([affine, sitk.DisplacementFieldTransform(field)])
    return affine


def bench_affine(args, root, name, size, spacing, scale, results):
    files, pts = make_pair(root / name, affine_back, size, spacing, scale)

    def medburn_affine():
        out = root / name / "medburn"
        subprocess.run([args.medburn, "register", files["fixed"], files["moving"], "--out", out,
                        "--affine", "--linear-metric", "mse"], check=True, capture_output=True)
        return out

    t_mb, out = timed(medburn_affine, args.runs)
    tre_mb = tre(medburn_transform(out), pts, affine_truth)
    t_sitk, t = timed(lambda: sitk_affine(files, root / name / "sitk"), args.runs)
    tre_sitk = tre(t, pts, affine_truth)
    unregistered = tre(sitk.AffineTransform(3), pts, affine_truth)
    results[name] = {"medburn_s": t_mb, "sitk_s": t_sitk, "speedup": t_sitk / t_mb,
                         "tre_medburn_mm": tre_mb, "tre_sitk_mm": tre_sitk,
                         "tre_unregistered_mm": unregistered}
    print(f"{name} {size}: medburn {t_mb:.2f} s TRE {tre_mb:.3f} mm | SimpleITK {t_sitk:.2f} s TRE "
          f"{tre_sitk:.3f} mm | unregistered {unregistered:.2f} mm | medburn {t_sitk / t_mb:.2f}x faster")


def timed(fn, runs):
    times, result = [], None
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--keep", type=Path)
    ap.add_argument("--only", choices=["affine_small", "affine", "deformable", "synth"])
    ap.add_argument("--synth-pairs", type=int, default=4,
                    help="medburn synth registration pairs to register (0: none)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = args.keep or Path(tmp.name)
    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(os.cpu_count())
    results = {"cpu": os.cpu_count()}

    # Affine pairs: a small one and a head-sized one at 1 mm.
    for name, size, spacing, scale in [("affine_small", [64, 60, 56], [1.0, 1.0, 1.15], 1.0),
                                       ("affine", [160, 192, 160], [1.0, 1.0, 1.0], 2.6)]:
        if args.only in (None, name):
            bench_affine(args, root, name, size, spacing, scale, results)
    if args.only == "synth":
        results["synth"] = synth_pairs(args, root)
        args.only = "done"
    if args.only not in (None, "deformable"):
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return

    # Deformable pair.
    files, pts = make_pair(root / "deformable", deformed_back, [64, 60, 56], [1.0, 1.0, 1.15], 1.0)
    fixed_label = sitk.ReadImage(str(files["fixed_label"]))
    moving_label = sitk.ReadImage(str(files["moving_label"]))

    def medburn_def(extra):
        out = root / "deformable" / ("medburn" + "".join(extra).replace("-", "_"))
        subprocess.run([args.medburn, "register", files["fixed"], files["moving"], "--out", out]
                       + extra, check=True, capture_output=True)
        return out

    t_mb_aff, out_aff = timed(lambda: medburn_def(["--affine"]), 1)
    t_mb_def, out_def = timed(lambda: medburn_def([]), args.runs)
    rows = {}
    fixed_img = sitk.ReadImage(str(files["fixed"]))
    for name, transform, secs in [
        ("none", sitk.AffineTransform(3), 0.0),
        ("medburn affine", medburn_transform(out_aff), t_mb_aff),
        ("medburn affine+diffeomorphic", medburn_transform(out_def), t_mb_def),
    ]:
        warped = sitk.Resample(moving_label, fixed_img, transform, sitk.sitkNearestNeighbor, 0)
        rows[name] = {"tre_mm": tre(transform, pts, deformed_truth),
                      "dice": mean_dice(warped, fixed_label), "seconds": secs}
    t0 = time.perf_counter()
    aff = sitk_affine(files, root / "deformable" / "sitk_affine")
    t_aff = time.perf_counter() - t0
    t_bs, full = timed(lambda: sitk_bspline(files, aff, root / "deformable" / "sitk_bspline"), 1)
    for name, transform, secs in [("SimpleITK affine", aff, t_aff),
                                  ("SimpleITK affine+B-spline", full, t_aff + t_bs)]:
        warped = sitk.Resample(moving_label, fixed_img, transform, sitk.sitkNearestNeighbor, 0)
        rows[name] = {"tre_mm": tre(transform, pts, deformed_truth),
                      "dice": mean_dice(warped, fixed_label), "seconds": secs}
    metrics = json.loads((out_def / "metrics.json").read_text())
    jac = [s for s in metrics["stages"] if s["stage"] == "deformable"][0]["jacobian"]
    results["deformable"] = {"rows": rows, "medburn_folding_fraction": jac["folding_fraction"]}
    for name, r in rows.items():
        print(f"deformable: {name:30s} TRE {r['tre_mm']:.3f} mm  Dice {r['dice']:.4f}  "
              f"{r['seconds']:.2f} s")
    print(f"deformable: medburn folding {jac['folding_fraction']:.2e} of voxels")
    if args.synth_pairs:
        results["synth"] = synth_pairs(args, root)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


def synth_pairs(args, root):
    """`medburn synth --task registration` pairs (brain MR, 96^3, each image on its own oblique
    grid): affine alone and affine + diffeomorphic on each; TRE over the true landmarks of the
    same-subject pairs, mean Dice of the 4 labels on every pair."""
    data = root / "synth"
    subprocess.run([args.medburn, "synth", "--task", "registration", "--out", data, "--pairs",
                    str(args.synth_pairs), "--size", "96", "--seed", "0"], check=True,
                   capture_output=True)
    pairs = json.loads((data / "pairs.json").read_text())["pairs"]
    rows = []
    for n, p in enumerate(pairs):
        f = {k: (data / v if v else None) for k, v in p["files"].items()}
        row = {"pair": n, "kind": p["kind"], "contrasts": f"{p['fixed_contrast']}->{p['moving_contrast']}"}
        for mode, extra in [("affine", ["--affine"]), ("deformable", [])]:
            out = data / f"out_{n}_{mode}"
            cmd = [args.medburn, "register", f["fixed"], f["moving"], "--out", out,
                   "--moving-label", f["moving_label"], "--fixed-label", f["fixed_label"]] + extra
            if f["true_landmarks"]:
                cmd += ["--landmarks", f["true_landmarks"]]
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True)
            m = json.loads((out / "metrics.json").read_text())
            row[f"{mode}_s"] = time.perf_counter() - t
            row["dice_before"] = m["labels"]["before"]["mean_dice"]
            row[f"dice_{mode}"] = m["labels"]["after"]["mean_dice"]
            tre = m.get("target_registration_error_mm")
            if tre:
                row["tre_before_mm"] = tre["before"]["mean"]
                row[f"tre_{mode}_mm"] = tre["after"]["mean"]
            jac = [s for s in m["stages"] if s["stage"] == "deformable"]
            if jac:
                row["folding"] = jac[0]["jacobian"]["folding_fraction"]
        rows.append(row)
        print("synth: " + ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                    for k, v in row.items()))
    return rows


if __name__ == "__main__":
    main()
