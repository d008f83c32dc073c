#!/usr/bin/env python3
"""medburn's HDF5 files read by h5py, checked against nibabel's reading of the source NIfTI.

    python tests/scripts/check_hdf5.py path/to/medburn [--only SUBSTR] [--keep] [FILE.nii ...]

For every NIfTI file of tests/fixtures/reference.json (or the files given), it runs

    MEDBURN convert <input> <tmp>/<name>.h5
    MEDBURN convert <tmp>/<name>.h5 <tmp>/<name>_back.nii.gz

and checks with h5py (needs numpy, nibabel and h5py):
  layout    the file holds the dataset "image" of shape [C, k, j, i] in the input's stored
            type (nibabel's get_data_dtype(), any byte order), chunked and gzip-compressed,
            with the attributes origin, spacing, direction, size, rescale_slope,
            rescale_intercept, modality, subtype, metadata (a JSON object of strings) and
            medburn_layout = 1;
  voxels    image * rescale_slope + rescale_intercept, as [i, j, k, ...], against nibabel's
            get_fdata(): exact for unscaled integers, else to max(1e-6 * range, 2^-23 * max|v|);
  geometry  the RAS affine made from origin, spacing and direction (LPS) against nibabel's
            affine to 1e-4, and size against the NIfTI shape;
  back      the NIfTI that medburn writes from the .h5 has nibabel's voxels and affine again.

Prints one OK / FAIL line per file and `check_hdf5: N passed, M failed`; exits 1 on a failure.
"""

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np

# The voxel comparison (NaN positions, float tolerance) is check_convert's, so that both
# checks hold files to one rule.
from check_convert import compare_voxels  # noqa: E402

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
DATA = FIXTURES / "data"
TOL_GEOM = 1e-4
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])
ATTRS = ("origin", "spacing", "direction", "size", "rescale_slope", "rescale_intercept",
         "modality", "subtype", "metadata", "medburn_layout")


class Fail(Exception):
    pass


def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail(f"timed out after {timeout}s: {' '.join(cmd[-3:])}")
    if p.returncode != 0:
        lines = [ln for ln in p.stderr.strip().splitlines() if ln.strip()]
        raise Fail(f"{' '.join(cmd[1:2])} exited {p.returncode}: "
                   f"{lines[-1][:200] if lines else '(no message)'}")
    return p


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def h5_to_ijk(path):
    """(values [i, j, k, extra...] after rescale, RAS affine, dataset dtype, attrs) via h5py."""
    with h5py.File(path, "r") as f:
        if list(f.keys()) != ["image"]:
            raise Fail(f"datasets {list(f.keys())}, expected ['image']")
        ds = f["image"]
        missing = [k for k in ATTRS if k not in ds.attrs]
        if missing:
            raise Fail(f"attributes missing: {missing}")
        if ds.ndim != 4:
            raise Fail(f"dataset shape {ds.shape}, expected [C, k, j, i]")
        if ds.chunks is None or ds.compression != "gzip":
            raise Fail(f"chunks {ds.chunks}, compression {ds.compression}: expected gzip chunks")
        stored = ds[...]
        a = {k: ds.attrs[k] for k in ATTRS}
    if int(a["medburn_layout"]) != 1:
        raise Fail(f"medburn_layout {a['medburn_layout']}")
    origin = np.asarray(a["origin"], dtype=np.float64)
    spacing = np.asarray(a["spacing"], dtype=np.float64)
    direction = np.asarray(a["direction"], dtype=np.float64)
    size = [int(x) for x in np.asarray(a["size"])]
    if origin.shape != (3,) or spacing.shape != (3,) or direction.shape != (9,):
        raise Fail(f"origin/spacing/direction shapes {origin.shape} {spacing.shape} "
                   f"{direction.shape}")
    c, k, j, i = stored.shape
    if size[:3] != [i, j, k] or int(np.prod(size[3:], dtype=np.int64)) != c:
        raise Fail(f"size {size} does not fit the dataset shape {list(stored.shape)}")
    for key in ("modality", "subtype", "metadata"):
        if not isinstance(a[key], (str, bytes)):
            raise Fail(f"attribute {key} is {type(a[key]).__name__}, expected a string")
    meta = json.loads(text(a["metadata"]))
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise Fail("metadata is not a JSON object of strings")
    extra = size[3:]
    # [C, k, j, i] with C = t + T * u (NIfTI order) -> [i, j, k, t, u].
    full = stored.reshape(tuple(reversed(extra)) + (k, j, i))
    ijk = full.transpose(tuple(reversed(range(full.ndim))))
    slope, inter = float(a["rescale_slope"]), float(a["rescale_intercept"])
    values = ijk.astype(np.float64) * slope + inter
    aff = np.eye(4)
    aff[:3, :3] = LPS_TO_RAS @ direction.reshape(3, 3) @ np.diag(spacing)
    aff[:3, 3] = LPS_TO_RAS @ origin
    return values, aff, stored.dtype, (slope, inter)


def check_file(binary, inp, tmp, timeout):
    name = inp.name.split(".")[0]
    h5 = tmp / f"{name}.h5"
    back = tmp / f"{name}_back.nii.gz"
    img = nib.load(str(inp))
    want = img.get_fdata(dtype=np.float64)
    # The proxy's scaling is what get_fdata applies (the header's may say None).
    nslope = float(getattr(img.dataobj, "slope", 1.0))
    ninter = float(getattr(img.dataobj, "inter", 0.0))
    dtype = img.get_data_dtype()
    exact = np.issubdtype(dtype, np.integer) and nslope == 1.0 and ninter == 0.0

    run(binary + ["convert", str(inp), str(h5)], timeout)
    got, aff, stored, (slope, inter) = h5_to_ijk(h5)
    if (stored.kind, stored.itemsize) != (dtype.kind, dtype.itemsize):
        raise Fail(f"stored type {stored} != NIfTI's {dtype}")
    if (slope, inter) != (nslope, ninter):
        raise Fail(f"rescale {slope}, {inter} != NIfTI's {nslope}, {ninter}")
    err = compare_voxels(got, want, exact)
    if err:
        raise Fail("voxels: " + err)
    d = float(np.max(np.abs(aff - img.affine)))
    if d > TOL_GEOM:
        raise Fail(f"affine differs from nibabel's by {d:.3g}: {np.round(aff, 5).tolist()} "
                   f"vs {np.round(img.affine, 5).tolist()}")

    run(binary + ["convert", str(h5), str(back)], timeout)
    bimg = nib.load(str(back))
    err = compare_voxels(bimg.get_fdata(dtype=np.float64), want, exact)
    if err:
        raise Fail("back to NIfTI, voxels: " + err)
    d = float(np.max(np.abs(bimg.affine - img.affine)))
    if d > TOL_GEOM:
        raise Fail(f"back to NIfTI, affine differs by {d:.3g}")
    size = h5.stat().st_size
    h5.unlink()
    back.unlink()
    return f"{stored} {list(got.shape)}, {size} bytes"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("binary", help="the medburn binary (or a command line)")
    ap.add_argument("files", nargs="*", help="NIfTI files (default: those of reference.json)")
    ap.add_argument("--only", default=None, help="check only paths containing this substring")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per command")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    binary = shlex.split(args.binary)
    if args.files:
        inputs = [Path(p) for p in args.files]
    else:
        ref = json.loads((FIXTURES / "reference.json").read_text())
        inputs = [DATA / e["path"] for e in ref["files"]
                  if e["kind"] == "nifti" and e.get("nibabel") is not None]
    inputs = [p for p in inputs if args.only is None or args.only in str(p)]
    if not inputs:
        print("check_hdf5: no input files", file=sys.stderr)
        return 1

    tmp = Path(tempfile.mkdtemp(prefix="check_hdf5_"))
    passed = failed = 0
    for inp in inputs:
        try:
            msg = check_file(binary, inp, tmp, args.timeout)
            print(f"OK    {inp.relative_to(DATA) if DATA in inp.parents else inp}: {msg}")
            passed += 1
        except Fail as e:
            print(f"FAIL  {inp}: {e}")
            failed += 1
    if args.keep:
        print(f"check_hdf5: files kept in {tmp}")
    else:
        for p in sorted(tmp.iterdir()):
            p.unlink()
        tmp.rmdir()
    print(f"check_hdf5: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
