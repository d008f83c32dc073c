#!/usr/bin/env python3
"""End-to-end check of `medburn register` and `medburn apply-transform` with SimpleITK.

    python tests/scripts/check_register.py path/to/medburn [--keep DIR]

Makes a pair in NumPy (nothing of medburn's): a textured phantom on a fixed grid, and the same
anatomy on a moving grid of other spacing, axis order, a flipped axis and an oblique direction,
moved by an affine and a smooth deformation. Then:

  1. `medburn register FIXED MOVING --out DIR --moving-label L --fixed-label L` (affine, then
     diffeomorphic); SimpleITK reads DIR/affine.tfm (ReadTransform) and DIR/displacement.nii.gz
     (DisplacementFieldTransform), composes them as CompositeTransform([affine, displacement])
     and resamples the moving image onto the fixed grid: it must equal medburn's
     DIR/warped.nii.gz to 1e-3 of the fixed image's intensity range (max over voxels at least
     one voxel inside the moving image's support, where both read the same samples).
     The warped label map (label-linear) must agree with SimpleITK's sitkLabelLinear on
     >= 99.5% of voxels; the Dice of the warped labels must rise over the unregistered ones.
  2. `medburn apply-transform MOVING --transform DIR --like FIXED` equals DIR/warped.nii.gz.
  3. Refusals: a moving image 500 mm away (no overlap), one with a NaN voxel and an empty
     --fixed-mask make `register` exit non-zero with one line on stderr and no output folder.

Prints what it measured and `check_register: N passed, M failed`; exits 1 on a failure.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk


def grid_points(size, origin, spacing, direction):
    """Physical (LPS) points of every voxel, array [k, j, i, 3]."""
    i, j, k = np.meshgrid(*[np.arange(n) for n in size], indexing="ij")
    idx = np.stack([i, j, k], -1).reshape(-1, 3).astype(np.float64)
    d = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    pts = origin + (idx * spacing) @ d.T
    return pts.reshape(size[0], size[1], size[2], 3).transpose(2, 1, 0, 3)


rng = np.random.default_rng(5)
BLOBS = [(rng.uniform(-28, 28, 3), rng.uniform(2.5, 5.0), rng.uniform(0.3, 1.0)) for _ in range(140)]


def anatomy(p):
    """Textured phantom: Gaussian blobs, and a label map of the three largest regions."""
    v = np.zeros(p.shape[:-1])
    for c, s, w in BLOBS:
        v += w * np.exp(-((p - c) ** 2).sum(-1) / (2 * s * s))
    r = np.sqrt((p ** 2).sum(-1))
    label = np.where(r < 12, 1, np.where(r < 20, 2, np.where(r < 27, 3, 0)))
    label = np.where((p[..., 0] > 4) & (label == 2), 4, label)
    return v + 0.3 * (r < 27), label


def warp_back(y):
    """Moving point -> anatomy point: an affine and a smooth deformation."""
    a = np.array([[0.98, 0.06, 0.0], [-0.05, 1.03, 0.02], [0.01, 0.0, 0.99]])
    q = y / 10.0
    w = np.stack(
        [
            2.0 * np.sin(1.2 * q[..., 1]) * np.cos(q[..., 2]),
            -1.6 * np.sin(1.1 * q[..., 0] + 0.4),
            1.4 * np.cos(0.9 * q[..., 0]) * np.sin(1.2 * q[..., 1]),
        ],
        -1,
    )
    return (y + w) @ a.T + np.array([2.5, -1.5, 1.0])


def image(values, size, origin, spacing, direction, dtype=np.float32):
    img = sitk.GetImageFromArray(values.astype(dtype))
    img.SetOrigin(tuple(origin))
    img.SetSpacing(tuple(spacing))
    img.SetDirection(tuple(np.asarray(direction, dtype=float).ravel()))
    return img


def run(cmd, expect_ok=True):
    t = time.perf_counter()
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    dt = time.perf_counter() - t
    if expect_ok and p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(map(str, cmd))}\n{p.stdout}\n{p.stderr}")
    return p, dt


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--keep", type=Path, help="keep the files in this folder")
    args = ap.parse_args()
    passed, failed = 0, 0

    def check(ok, what):
        nonlocal passed, failed
        print(("OK   " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    tmp = tempfile.TemporaryDirectory()
    root = args.keep or Path(tmp.name)
    root.mkdir(parents=True, exist_ok=True)

    fsize, fspacing = np.array([44, 40, 36]), np.array([1.5, 1.5, 1.8])
    fdir = np.eye(3)
    forigin = -(fsize - 1) * fspacing / 2
    fpts = grid_points(fsize, forigin, fspacing, fdir)
    fvals, flab = anatomy(fpts)
    c, s = np.cos(np.radians(8)), np.sin(np.radians(8))
    # Moving grid: axes k, i, j with j flipped, oblique by 8 degrees about S.
    perm = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    mdir = rot @ perm
    msize, mspacing = np.array([34, 44, 38]), np.array([1.9, 1.6, 1.7])
    morigin = -mdir @ ((msize - 1) * mspacing / 2)
    mpts = grid_points(msize, morigin, mspacing, mdir)
    mvals, mlab = anatomy(warp_back(mpts))

    fixed, moving = root / "fixed.nii.gz", root / "moving.nii.gz"
    fixed_label, moving_label = root / "fixed_label.nii.gz", root / "moving_label.nii.gz"
    sitk.WriteImage(image(fvals, fsize, forigin, fspacing, fdir), str(fixed))
    sitk.WriteImage(image(mvals, msize, morigin, mspacing, mdir), str(moving))
    sitk.WriteImage(image(flab, fsize, forigin, fspacing, fdir, np.uint8), str(fixed_label))
    sitk.WriteImage(image(mlab, msize, morigin, mspacing, mdir, np.uint8), str(moving_label))

    out = root / "registration"
    p, dt = run([args.medburn, "register", fixed, moving, "--out", out,
                 "--moving-label", moving_label, "--fixed-label", fixed_label])
    print(p.stdout.strip())
    print(f"     medburn register: {dt:.1f} s")
    metrics = json.loads((out / "metrics.json").read_text())

    # 1. SimpleITK applies medburn's transform files.
    f_img = sitk.ReadImage(str(fixed))
    m_img = sitk.ReadImage(str(moving), sitk.sitkFloat64)
    affine = sitk.ReadTransform(str(out / "affine.tfm"))
    field = sitk.ReadImage(str(out / "displacement.nii.gz"), sitk.sitkVectorFloat64)
    composite = sitk.CompositeTransform([affine, sitk.DisplacementFieldTransform(field)])
    ref = sitk.GetArrayFromImage(sitk.Resample(m_img, f_img, composite, sitk.sitkLinear, 0.0))
    ours = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "warped.nii.gz")))
    # Where the moving image's support ends, a half-voxel difference in where "outside" begins
    # decides between a sample and 0: compare where both read the inside.
    ones = sitk.Image(m_img.GetSize(), sitk.sitkFloat64)
    ones.CopyInformation(m_img)
    ones = ones + 1.0
    support = sitk.GetArrayFromImage(sitk.Resample(ones, f_img, composite, sitk.sitkLinear, 0.0))
    inner = support > 0.999
    span = float(fvals.max() - fvals.min())
    err = np.abs(ours - ref)[inner].max() / span
    check(err <= 1e-3, f"SimpleITK's resampling through affine.tfm + displacement.nii.gz "
                       f"equals warped.nii.gz: max error {err:.2e} of the range "
                       f"({inner.mean():.1%} of voxels inside)")
    lab = sitk.ReadImage(str(moving_label))
    ref_lab = sitk.GetArrayFromImage(sitk.Resample(lab, f_img, composite, sitk.sitkLabelLinear, 0))
    our_lab = sitk.GetArrayFromImage(sitk.ReadImage(str(out / "warped_label.nii.gz")))
    agree = float((ref_lab == our_lab)[inner].mean())
    check(agree >= 0.995, f"warped labels agree with SimpleITK's label-linear on {agree:.4%}")
    before = metrics["labels"]["before"]["mean_dice"]
    after = metrics["labels"]["after"]["mean_dice"]
    check(after > before + 0.05, f"mean Dice of warped labels {before:.3f} -> {after:.3f}")
    jac = [s for s in metrics["stages"] if s["stage"] == "deformable"][0]["jacobian"]
    check(jac["folding_fraction"] < 1e-3, f"folding {jac['folding_fraction']:.2e} of voxels")

    # 2. apply-transform gives the same image.
    applied = root / "applied.nii.gz"
    run([args.medburn, "apply-transform", moving, "--transform", out, "--like", fixed,
         "--out", applied])
    a = sitk.GetArrayFromImage(sitk.ReadImage(str(applied)))
    d = float(np.abs(a - ours).max())
    check(d <= 1e-6 * span, f"apply-transform equals warped.nii.gz (max diff {d:.2e})")

    # 3. Refusals leave nothing.
    far = root / "far.nii.gz"
    sitk.WriteImage(image(mvals, msize, morigin + 500.0, mspacing, mdir), str(far))
    bad = mvals.copy()
    bad[3, 4, 5] = np.nan
    nan = root / "nan.nii.gz"
    sitk.WriteImage(image(bad, msize, morigin, mspacing, mdir), str(nan))
    empty = root / "empty_mask.nii.gz"
    sitk.WriteImage(image(np.zeros_like(fvals), fsize, forigin, fspacing, fdir, np.uint8), str(empty))
    for name, path, extra in [("no overlap", far, ["--init", "identity"]), ("NaN voxel", nan, []),
                              ("empty mask", moving, ["--fixed-mask", empty])]:
        o = root / f"refused_{name.replace(' ', '_')}"
        p, _ = run([args.medburn, "register", fixed, path, "--out", o] + extra, expect_ok=False)
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        check(p.returncode != 0 and len(lines) == 1 and not o.exists(),
              f"{name}: refused (exit {p.returncode}): {lines[-1] if lines else ''}")

    print(f"check_register: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
