#!/usr/bin/env python3
"""nibabel reference timings for .nii.gz read / write, to set beside `medburn bench`.

    python tests/scripts/bench_nibabel.py [--out-dir DIR] [--runs N] [--make-only]

Makes a 256^3 int16 CT-like phantom (fixed seed: a body ellipsoid of soft tissue in air,
lungs, bones, a contrast-filled organ, Gaussian-smoothed edges, plus N(0, 20) noise), writes
it with nibabel as bench_256.nii.gz and times, N times each (median reported):
  read   np.asanyarray(nib.load(p).dataobj)  (full gunzip + int16 array)
  write  nib.save(img, out)                  (.nii.gz at nibabel's default compresslevel)
Prints one JSON line. With --make-only it writes the input file and prints its path.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import zlib

import numpy as np
import nibabel as nib
from nibabel.openers import Opener

N = 256
SEED = 20240607


def smooth_box(x, edge):
    """Soft indicator of x <= 1 with a transition `edge` wide (logistic)."""
    return 1.0 / (1.0 + np.exp(np.clip((x - 1.0) / edge, -50, 50)))


def phantom(n=N, seed=SEED):
    rng = np.random.default_rng(seed)
    ax = np.linspace(-1.0, 1.0, n, dtype=np.float32)
    x, y, z = ax[:, None, None], ax[None, :, None], ax[None, None, :]  # [i, j, k]

    def ell(cx, cy, cz, rx, ry, rz):
        return ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 + ((z - cz) / rz) ** 2

    vol = np.full((n, n, n), -1000.0, dtype=np.float32)                       # air
    body = smooth_box(ell(0, 0, 0, 0.85, 0.65, 0.95), 0.02)
    vol += body * (1040.0)                                                      # ~40 HU
    for cx in (-0.38, 0.38):                                                    # lungs
        lung = smooth_box(ell(cx, -0.05, 0.25, 0.28, 0.38, 0.5), 0.03)
        vol += lung * -900.0                                                  # ~-860 HU
    spine = smooth_box(ell(0, 0.45, 0, 0.1, 0.1, 0.95), 0.02)
    vol += spine * 900.0                                                        # bone
    for cx in (-0.6, 0.6):                                                      # ribs-ish
        vol += smooth_box(ell(cx, 0.1, 0.1, 0.06, 0.35, 0.7), 0.02) * 700.0
    liver = smooth_box(ell(-0.25, 0.05, -0.45, 0.35, 0.3, 0.3), 0.03)
    vol += liver * 20.0
    kidney = smooth_box(ell(0.3, 0.25, -0.5, 0.1, 0.12, 0.2), 0.02)
    vol += kidney * 1900.0                                                      # contrast
    vol += rng.normal(0.0, 20.0, size=vol.shape).astype(np.float32)
    return np.clip(np.rint(vol), -1024, 3071).astype(np.int16)


def make_input(out_dir):
    path = os.path.join(out_dir, f"bench_{N}.nii.gz")
    affine = np.diag([-0.8, -0.8, 1.0, 1.0])  # RAS affine of an LPS 0.8 x 0.8 x 1 mm grid
    affine[:3, 3] = [102.0, 102.0, -128.0]
    img = nib.Nifti1Image(phantom(), affine)
    img.header.set_xyzt_units("mm")
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, path)
    return path


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("--out-dir", default=None, help="where to write the test file "
                    "(default: a temporary directory, removed afterwards)")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--make-only", action="store_true",
                    help="only write the input file and print its path")
    args = ap.parse_args()

    tmp = None  # a temporary directory to remove at the end
    out_dir = args.out_dir
    if out_dir is None:
        out_dir = tempfile.mkdtemp(prefix="bench_nibabel_")
        if not args.make_only:  # --make-only: the caller wants the file, keep it
            tmp = out_dir
    os.makedirs(out_dir, exist_ok=True)

    path = make_input(out_dir)
    if args.make_only:
        print(path)
        return 0

    try:
        reads, writes = [], []
        arr = None
        for _ in range(args.runs):
            t0 = time.perf_counter()
            arr = np.asanyarray(nib.load(path).dataobj)
            reads.append(time.perf_counter() - t0)
        assert arr.dtype == np.int16 and arr.shape == (N, N, N)
        img = nib.load(path)
        img = nib.Nifti1Image(arr, img.affine, img.header)
        out = os.path.join(out_dir, f"bench_{N}_out.nii.gz")
        for _ in range(args.runs):
            t0 = time.perf_counter()
            nib.save(img, out)
            writes.append(time.perf_counter() - t0)
        os.remove(out)
        print(json.dumps({
            "read_median_s": statistics.median(reads),
            "write_median_s": statistics.median(writes),
            "runs": args.runs,
            "read_s": reads,
            "write_s": writes,
            "nibabel": nib.__version__,
            "numpy": np.__version__,
            "zlib": zlib.ZLIB_RUNTIME_VERSION,
            "compresslevel": Opener.default_compresslevel,
            "shape": [N, N, N],
            "dtype": "int16",
            "file": path,
            "bytes": os.path.getsize(path),
        }))
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
