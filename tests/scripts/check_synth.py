#!/usr/bin/env python3
"""End-to-end check of `medburn synth` with independent readers.

    python tests/scripts/check_synth.py path/to/medburn [--cases 3] [--test-cases 1]
                                        [--size 32] [--seed 0] [--keep]

Runs `MEDBURN synth --out <tmp>/synth ...`, then checks
  layout   imagesTr/, labelsTr/, imagesTs/ and dataset.json with the Decathlon keys
           (numTraining, numTest, training, test, modality / channel_names, labels, file_ending);
  nibabel  every image is float32 of shape (X, Y, Z, 3); every label is uint8 (the header's
           datatype, not only the values) of shape (X, Y, Z) with values in 0..4; the label's
           affine equals its image's; labels 0..3 are in every case and 4 (lesion) in some;
  SimpleITK (when it imports) reads the label as 8-bit unsigned with the geometry nibabel gives;
  MONAI    (when it imports) load_decathlon_datalist + LoadImaged(keys=["image", "label"]) +
           EnsureChannelFirstd give image (3, X, Y, Z) and label (1, X, Y, Z) with equal
           spatial shapes, for training; images (3, X, Y, Z) for test.

Prints one line per check and `check_synth: OK` (exit 0) or the failures (exit 1).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import nibabel as nib

failures = []


def check(ok, what):
    print(("  ok    " if ok else "  FAIL  ") + what)
    if not ok:
        failures.append(what)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("medburn")
    ap.add_argument("--cases", type=int, default=3)
    ap.add_argument("--test-cases", type=int, default=1)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", action="store_true", help="keep the data set and print where")
    a = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="check_synth_")
    out = Path(tmp) / "synth"
    cmd = [a.medburn, "synth", "--out", str(out), "--cases", str(a.cases),
           "--test-cases", str(a.test_cases), "--size", str(a.size), "--seed", str(a.seed)]
    print("$ " + " ".join(cmd))
    t = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print(f"  ({time.time() - t:.1f} s) " + (p.stdout.strip().splitlines() or [""])[-1])
    if not check(p.returncode == 0, f"medburn synth exits 0 (stderr: {p.stderr.strip()[-300:]})"):
        return finish(out, a.keep)

    # Bad arguments: clear errors, non-zero exit.
    for args, expect in [
        (["--cases", "0"], "--cases"),
        (["--cases", "1", "--size", "8"], "size"),
    ]:
        q = subprocess.run([a.medburn, "synth", "--out", str(Path(tmp) / "bad")] + args,
                           capture_output=True, text=True, timeout=60)
        check(q.returncode != 0 and expect in q.stderr,
              f"synth {' '.join(args)} fails with a message naming {expect} ({q.stderr.strip()})")
    afile = Path(tmp) / "a_file"
    afile.write_text("x")
    q = subprocess.run([a.medburn, "synth", "--out", str(afile), "--cases", "1"],
                       capture_output=True, text=True, timeout=60)
    check(q.returncode != 0 and "not a directory" in q.stderr,
          f"synth --out <a file> fails ({q.stderr.strip()})")

    # Layout and dataset.json.
    for d in ["imagesTr", "labelsTr", "imagesTs"]:
        check((out / d).is_dir(), f"{d}/ exists")
    ds = json.loads((out / "dataset.json").read_text())
    for key in ["name", "description", "modality", "channel_names", "labels", "numTraining",
                "numTest", "training", "test", "file_ending"]:
        check(key in ds, f"dataset.json has {key!r}")
    check(ds.get("numTraining") == a.cases == len(ds.get("training", [])),
          f"numTraining == {a.cases} == len(training)")
    check(ds.get("numTest") == a.test_cases == len(ds.get("test", [])),
          f"numTest == {a.test_cases} == len(test)")
    check(ds.get("channel_names") == {"0": "T1", "1": "T2", "2": "FLAIR"}, "channel_names T1, T2, FLAIR")
    check(ds.get("modality") == ds.get("channel_names"), "modality == channel_names")
    check(ds.get("labels") == {"0": "background", "1": "CSF", "2": "grey matter",
                               "3": "white matter", "4": "lesion"}, "labels 0..4 named")
    check(ds.get("file_ending") == ".nii.gz", "file_ending .nii.gz")

    # nibabel (and SimpleITK) on every case.
    n = a.size
    try:
        import SimpleITK as sitk
    except Exception:  # noqa: BLE001
        sitk = None
        print("  skip  SimpleITK does not import")
    seen_labels = set()
    axcodes = []
    for entry in ds["training"]:
        ip, lp = out / entry["image"], out / entry["label"]
        img, lab = nib.load(str(ip)), nib.load(str(lp))
        name = Path(entry["image"]).name
        check(img.shape == (n, n, n, 3), f"{name}: image shape {img.shape} == {(n, n, n, 3)}")
        check(img.get_data_dtype() == np.float32, f"{name}: image dtype {img.get_data_dtype()}")
        check(lab.shape == (n, n, n), f"{name}: label shape {lab.shape}")
        check(lab.get_data_dtype() == np.uint8, f"{name}: label dtype {lab.get_data_dtype()} is uint8")
        values = set(np.unique(np.asanyarray(lab.dataobj)).tolist())
        seen_labels |= values
        check(values <= {0, 1, 2, 3, 4}, f"{name}: label values {sorted(values)} within 0..4")
        check({0, 1, 2, 3} <= values, f"{name}: labels 0..3 present")
        check(np.allclose(lab.affine, img.affine, atol=1e-5), f"{name}: label affine == image affine")
        axcodes.append("".join(nib.aff2axcodes(img.affine)))
        data = np.asanyarray(img.dataobj)
        check(np.isfinite(data).all() and data.min() >= 0, f"{name}: image finite, >= 0 (Rician)")
        if sitk is not None:
            s = sitk.ReadImage(str(lp))
            check(s.GetPixelIDTypeAsString() == "8-bit unsigned integer",
                  f"{name}: SimpleITK label pixel type {s.GetPixelIDTypeAsString()}")
            # SimpleITK is LPS: its origin is nibabel's RAS translation with x, y negated.
            ras = img.affine[:3, 3] * np.array([-1, -1, 1])
            check(np.allclose(s.GetOrigin(), ras, atol=1e-3),
                  f"{name}: SimpleITK origin {np.round(s.GetOrigin(), 3)} == nibabel's (LPS)")
            d = np.array(s.GetDirection()).reshape(3, 3) * np.array(s.GetSpacing())
            m = np.diag([-1, -1, 1]) @ img.affine[:3, :3]
            check(np.allclose(d, m, atol=1e-3), f"{name}: SimpleITK direction*spacing == nibabel's")
    check(4 in seen_labels, f"a lesion (label 4) in some training case (labels seen: {sorted(seen_labels)})")
    print(f"  info  orientations of the training cases: {', '.join(axcodes)}")
    for entry in ds["test"]:
        img = nib.load(str(out / entry))
        check(img.shape == (n, n, n, 3), f"{Path(entry).name}: test image shape {img.shape}")

    # MONAI.
    try:
        from monai.data import load_decathlon_datalist
        from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged
    except Exception as e:  # noqa: BLE001
        print(f"  skip  MONAI does not import ({e})")
        return finish(out, a.keep)
    train = load_decathlon_datalist(str(out / "dataset.json"), True, "training", str(out))
    load = Compose([LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"])])
    for item in train:
        d = load(item)
        name = Path(item["image"]).name
        im, lb = d["image"], d["label"]
        check(tuple(im.shape) == (3, n, n, n), f"MONAI {name}: image {tuple(im.shape)}")
        check(tuple(lb.shape) == (1, n, n, n), f"MONAI {name}: label {tuple(lb.shape)}")
        check(tuple(im.shape[1:]) == tuple(lb.shape[1:]), f"MONAI {name}: spatial shapes match")
        check(np.allclose(np.asarray(im.affine), np.asarray(lb.affine), atol=1e-5),
              f"MONAI {name}: image and label affines match")
    test = load_decathlon_datalist(str(out / "dataset.json"), False, "test", str(out))
    load_t = Compose([LoadImaged(keys=["image"]), EnsureChannelFirstd(keys=["image"])])
    for item in test:
        im = load_t(item)["image"]
        check(tuple(im.shape) == (3, n, n, n), f"MONAI test {Path(item['image']).name}: image {tuple(im.shape)}")
    return finish(out, a.keep)


def finish(out, keep):
    if keep:
        print(f"  kept  {out}")
    else:
        import shutil
        shutil.rmtree(out.parent, ignore_errors=True)
    if failures:
        print(f"check_synth: {len(failures)} FAILED")
        return 1
    print("check_synth: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
