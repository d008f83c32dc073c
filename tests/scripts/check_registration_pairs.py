#!/usr/bin/env python3
"""Checks `medburn synth --task registration` pairs with SimpleITK and nibabel.

    python tests/scripts/check_registration_pairs.py DIR
    python tests/scripts/check_registration_pairs.py --medburn path/to/medburn [--pairs 4]
                                                     [--size 64] [--seed 0] [--clean] [--keep]

With DIR, checks the pairs already there (DIR/pairs.json); with --medburn, runs
`MEDBURN synth --task registration --out <tmp> --pairs N --size S --seed K` first (with
--clean, without bias fields and noise, so that only partial volume and interpolation differ).

For every same-subject pair it reads the truth as a SimpleITK user would:
  u = DisplacementFieldTransform(ReadImage(true_displacement.nii.gz, sitkVectorFloat64))
  A = ReadTransform(true_affine.tfm)
  T = CompositeTransform([A, u])        (u first: x -> A(x + u(x)))
and reports
  field     nibabel: intent code 1007 (vector), dims (x, y, z, 1, 3); SimpleITK: 3 components on
            the fixed image's grid;
  landmarks |T(x) - y| over true_landmarks.csv (exact pairs x, y = T(x)); only the
            interpolation of u between voxel centres separates them; and the same with A alone;
  images    Resample(moving, fixed, T, linear) against the fixed image over the brain
            (fixed_label > 0, inside the moving grid): correlation and mean |difference| / mean
            fixed value for same-contrast pairs (the identity transform alongside, as a baseline);
  labels    Resample(moving_label, fixed, T, nearest) against fixed_label: Dice of labels 1..4
            (identity alongside).
For every different-subject pair: the files, label values, and the Dice under the identity.

Prints the numbers and `check_registration_pairs: OK` (exit 0) or the failures (exit 1).
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk

failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


def dice(a, b, label):
    x, y = a == label, b == label
    s = x.sum() + y.sum()
    return None if y.sum() == 0 else 2.0 * (x & y).sum() / s


def compare(pair_dir, entry, transform, name):
    """Resamples the moving image and labels through `transform` onto the fixed grid."""
    fixed = sitk.ReadImage(str(pair_dir / "fixed.nii.gz"), sitk.sitkFloat64)
    moving = sitk.ReadImage(str(pair_dir / "moving.nii.gz"), sitk.sitkFloat64)
    fixed_label = sitk.ReadImage(str(pair_dir / "fixed_label.nii.gz"))
    moving_label = sitk.ReadImage(str(pair_dir / "moving_label.nii.gz"))
    warped = sitk.Resample(moving, fixed, transform, sitk.sitkLinear, 0.0)
    ones = sitk.Image(moving.GetSize(), sitk.sitkFloat64) + 1.0
    ones.CopyInformation(moving)
    covered = sitk.GetArrayFromImage(sitk.Resample(ones, fixed, transform, sitk.sitkLinear, 0.0)) > 0.999
    f = sitk.GetArrayFromImage(fixed)
    w = sitk.GetArrayFromImage(warped)
    lw = sitk.GetArrayFromImage(sitk.Resample(moving_label, fixed, transform, sitk.sitkNearestNeighbor, 0))
    lf = sitk.GetArrayFromImage(fixed_label)
    # The brain (air is not zero under Rician noise, and would dominate a head mask).
    head = (lf > 0) & covered
    corr = float(np.corrcoef(f[head], w[head])[0, 1])
    err = float(np.abs(f[head] - w[head]).mean() / f[head].mean())
    dices = {l: dice(lw, lf, l) for l in range(1, 5)}
    present = [d for l, d in dices.items() if d is not None and l <= 3]
    return {
        "name": name,
        "correlation": corr,
        "relative_error": err,
        "voxels": int(head.sum()),
        "dice": dices,
        "mean_dice": float(np.mean(present)),
    }


def show(r):
    d = " ".join(f"{l}:{'-' if v is None else f'{v:.3f}'}" for l, v in r["dice"].items())
    print(f"    {r['name']:<9} correlation {r['correlation']:.4f}  mean |diff|/mean {r['relative_error']:.4f}"
          f"  ({r['voxels']} voxels)  Dice {d}  mean(1-3) {r['mean_dice']:.3f}")


def check_same_subject(root, entry):
    pair_dir = root / Path(entry["files"]["fixed"]).parent
    files = entry["files"]
    fixed = sitk.ReadImage(str(root / files["fixed"]))

    # The displacement field file: nibabel's view of the header, SimpleITK's of the image.
    nii = nib.load(str(root / files["true_displacement"]))
    check(int(nii.header["intent_code"]) == 1007 and nii.shape == tuple(fixed.GetSize()) + (1, 3),
          f"{entry['name']}: true_displacement has intent 1007 and dims {nii.shape}")
    field = sitk.ReadImage(str(root / files["true_displacement"]), sitk.sitkVectorFloat64)
    same_grid = (field.GetSize() == fixed.GetSize()
                 and np.allclose(field.GetOrigin(), fixed.GetOrigin(), atol=1e-4)
                 and np.allclose(field.GetSpacing(), fixed.GetSpacing(), atol=1e-6)
                 and np.allclose(field.GetDirection(), fixed.GetDirection(), atol=1e-6))
    check(field.GetNumberOfComponentsPerPixel() == 3 and same_grid,
          f"{entry['name']}: SimpleITK reads a 3-vector field on the fixed grid")
    u_max = float(np.linalg.norm(sitk.GetArrayFromImage(field), axis=-1).max())

    affine = sitk.ReadTransform(str(root / files["true_affine"]))
    composite = sitk.CompositeTransform([affine, sitk.DisplacementFieldTransform(field)])

    with open(root / files["true_landmarks"]) as fh:
        rows = [[float(v) for v in r] for r in list(csv.reader(fh))[1:]]
    pts = np.array(rows)
    tre = np.array([np.linalg.norm(np.array(composite.TransformPoint(tuple(p[:3]))) - p[3:]) for p in pts])
    tre_affine = np.array([np.linalg.norm(np.array(affine.TransformPoint(tuple(p[:3]))) - p[3:]) for p in pts])
    print(f"    landmarks: {len(pts)}, |T(x) - y| mean {tre.mean():.4f} max {tre.max():.4f} mm "
          f"(affine alone: mean {tre_affine.mean():.2f} max {tre_affine.max():.2f} mm); max |u| {u_max:.2f} mm")
    check(len(pts) >= 10 and tre.max() < 0.25,
          f"{entry['name']}: the composite transform maps the landmarks to within 0.25 mm")
    check(tre_affine.mean() > 5 * tre.mean(), f"{entry['name']}: the displacement matters (affine alone is worse)")

    truth = compare(pair_dir, entry, composite, "truth")
    ident = compare(pair_dir, entry, sitk.Transform(3, sitk.sitkIdentity), "identity")
    show(truth)
    show(ident)
    same_contrast = entry["fixed_contrast"] == entry["moving_contrast"]
    if same_contrast:
        check(truth["correlation"] > 0.85 and truth["correlation"] > ident["correlation"] + 0.1,
              f"{entry['name']}: moving resampled through the truth correlates with fixed "
              f"({truth['correlation']:.3f}, identity {ident['correlation']:.3f})")
    # Nearest-neighbour labels between two grids of 3 to 8 mm voxels lose thin CSF and cortex.
    check(truth["mean_dice"] > 0.65 and truth["mean_dice"] > ident["mean_dice"] + 0.1,
          f"{entry['name']}: labels through the truth overlap (mean Dice {truth['mean_dice']:.3f}, "
          f"identity {ident['mean_dice']:.3f})")
    return truth, tre


def check_different_subject(root, entry):
    files = entry["files"]
    labels = [sitk.GetArrayFromImage(sitk.ReadImage(str(root / files[k]))) for k in ("fixed_label", "moving_label")]
    check(all(set(np.unique(l)) <= set(range(5)) and 3 in l for l in labels),
          f"{entry['name']}: labels in 0..4 with white matter in both")
    check(files["true_displacement"] is None and not (root / Path(files["fixed"]).parent / "true_affine.tfm").exists(),
          f"{entry['name']}: no truth for two subjects")
    ident = compare(root / Path(files["fixed"]).parent, entry, sitk.Transform(3, sitk.sitkIdentity), "identity")
    show(ident)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?")
    ap.add_argument("--medburn")
    ap.add_argument("--pairs", type=int, default=4)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clean", action="store_true",
                    help="generate without bias fields and noise (--config), to see the resampling alone")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    if (a.dir is None) == (a.medburn is None):
        ap.error("give DIR or --medburn")
    tmp = None
    if a.medburn:
        tmp = tempfile.mkdtemp(prefix="check_registration_pairs_")
        root = Path(tmp) / "pairs"
        cmd = [a.medburn, "synth", "--task", "registration", "--out", str(root), "--pairs", str(a.pairs),
               "--size", str(a.size), "--seed", str(a.seed)]
        if a.clean:
            cfg = Path(tmp) / "clean.json"
            cfg.write_text(json.dumps({"noise": [0.0, 0.0], "bias": [0.0, 0.0]}))
            cmd += ["--config", str(cfg)]
        print("$ " + " ".join(cmd))
        t = time.time()
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
        print(f"  ({time.time() - t:.1f} s) " + " / ".join(p.stdout.strip().splitlines()[-1:]))
        if not check(p.returncode == 0, f"medburn synth exits 0 (stderr: {p.stderr.strip()[-300:]})"):
            return finish(tmp, a.keep)
    else:
        root = Path(a.dir)
    j = json.loads((root / "pairs.json").read_text())
    print(f"{root}: {j['numPairs']} pairs, {j['numSameSubject']} same-subject "
          f"(SimpleITK {sitk.Version_VersionString()}, nibabel {nib.__version__})")
    all_tre = []
    for entry in j["pairs"]:
        mg, fg = entry["moving_grid"], entry["fixed_grid"]
        print(f"  {entry['name']}: {entry['kind']}, {entry['fixed_contrast']} -> {entry['moving_contrast']}, "
              f"fixed {fg['orientation']} {np.round(fg['spacing'], 2).tolist()}, "
              f"moving {mg['orientation']} {np.round(mg['spacing'], 2).tolist()}")
        for key in ("fixed", "moving", "fixed_label", "moving_label"):
            if not check((root / entry["files"][key]).is_file(), f"{entry['name']}: {key} exists"):
                return finish(tmp, a.keep)
        if entry["kind"] == "same-subject":
            _, tre = check_same_subject(root, entry)
            all_tre.extend(tre.tolist())
        else:
            check_different_subject(root, entry)
    if all_tre:
        print(f"  all landmarks: {len(all_tre)}, |T(x) - y| mean {np.mean(all_tre):.4f} mm, max {np.max(all_tre):.4f} mm")
    return finish(tmp, a.keep)


def finish(tmp, keep):
    if tmp and keep:
        print(f"kept {tmp}")
    elif tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"check_registration_pairs: {len(failures)} FAILED")
        return 1
    print("check_registration_pairs: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
