#!/usr/bin/env python3
"""Build medburn's reader fixtures from the test data shipped with nibabel and pydicom.

    python tests/scripts/make_fixtures.py

Needs numpy, nibabel, SimpleITK and pydicom (`pip install numpy nibabel SimpleITK pydicom`).
It is rerunnable: it clears and refills

    tests/fixtures/data/nibabel/   NIfTI-1/2 volumes from nibabel/tests/data
    tests/fixtures/data/pydicom/   pydicom test files with decodable PixelData,
                                   plus the multi-slice series folders of dicomdirtests/

and rewrites tests/fixtures/reference.json with what SimpleITK, nibabel and pydicom read
from each copied file and from each DICOM series (one entry per series UID per folder).

Conventions (DESIGN.md section 4): world space LPS mm; index (i, j, k) 0-based, i fastest;
origin = centre of voxel (0,0,0); direction = 9 numbers row-major as SimpleITK's
GetDirection() (columns are the axis directions); size = [i, j, k, ...].
Entry schema: see SCHEMA below (also written into reference.json as "schema").
"""

import gzip
import json
import math
import os
import platform
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import nibabel as nib
import pydicom
import SimpleITK as sitk

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
DATA = FIXTURES / "data"
REFERENCE = FIXTURES / "reference.json"

NIB_DATA = Path(nib.__file__).resolve().parent / "tests" / "data"
PYDICOM_DATA = Path(pydicom.__file__).resolve().parent / "data" / "test_files"

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_TOTAL_BYTES = 15 * 1024 * 1024
CIFTI_SUFFIXES = (".dconn", ".dtseries", ".dscalar", ".dlabel", ".pconn", ".ptseries",
                  ".pscalar", ".dpconn", ".pdconn", ".fiberTEMP", ".dfan", ".dfibersamp")

SCHEMA = {
    "path": "relative to tests/fixtures/data, forward slashes (a folder for dicom-series)",
    "kind": "nifti | dicom-file | dicom-series",
    "series_uid": "dicom-series only: SeriesInstanceUID (a folder may hold several series)",
    "files": "dicom-series only: the series' files (relative to path) in SimpleITK/GDCM order",
    "series_in_folder": "dicom-series only: number of series UIDs GDCM finds in the folder",
    "sitk": "null if SimpleITK cannot read it, else {dimension, size [i,j,k,..] (2D padded "
            "to 3 with 1), spacing[3], origin[3], direction[9] row-major (spatial 3x3 block "
            "for 4D), components, pixel_id, sum, sumsq, min, max (float64, FIRST component "
            "only when components > 1), sum_all_components (components > 1 only), samples "
            "[[[i,j,k(,t)], value], ...] (value of the first component)}",
    "nibabel": "nifti only; null if nibabel fails, else {class, shape, affine (RAS, 4x4 as "
               "nibabel returns), dtype (img.get_data_dtype()), sform_code, qform_code, "
               "scl_slope, scl_inter (null if nan), sum, sumsq, min, max of get_fdata() "
               "(float64, scaled), samples [[[full-rank index], value], ...], lps {spacing[3], "
               "origin[3], direction[9]} derived from affine[:3] with rows 0,1 negated}",
    "pydicom": "dicom-file only; null if pydicom cannot decode PixelData, else {rows, columns, "
               "frames, samples_per_pixel, photometric, transfer_syntax, bits_allocated, "
               "bits_stored, pixel_representation, rescale_slope, rescale_intercept (null if "
               "absent), raw_sum, raw_min, raw_max of ds.pixel_array as pydicom returns it "
               "(before rescale; pydicom 3 converts YBR_FULL* to RGB by default)}",
    "series_check": "dicom-series only, from pydicom headers: {n_slices, have_positions, "
                    "consistent_orientation, slice_spacings (sorted along the normal), "
                    "uniform_spacing, expect_error (n>1 and positions missing / mixed "
                    "orientation / non-uniform or zero spacing: DESIGN.md 6 wants a clear "
                    "error)}",
    "notes": "list of strings: disagreements between readers worth knowing",
}

# Fractions of (n-1) per axis for the deterministic sample indices.
SAMPLE_FRACTIONS = [
    (0.0, 0.0, 0.0, 0.0), (1.0, 1.0, 1.0, 1.0), (0.5, 0.5, 0.5, 0.5),
    (1.0, 0.0, 0.0, 0.0), (0.0, 1.0, 0.0, 1.0), (0.0, 0.0, 1.0, 0.0),
    (0.25, 0.75, 0.5, 1.0), (0.8, 0.3, 0.6, 0.0), (0.6, 0.4, 0.2, 0.5),
]


def sample_indices(shape):
    out, seen = [], set()
    for fr in SAMPLE_FRACTIONS:
        idx = tuple(int(round(fr[d % len(fr)] * (n - 1))) for d, n in enumerate(shape))
        if idx not in seen:
            seen.add(idx)
            out.append(idx)
    return out


def fnum(x):
    """float64 -> JSON number, non-finite -> None."""
    x = float(x)
    return x if math.isfinite(x) else None


def stats(a):
    a = np.asarray(a, dtype=np.float64)
    return {"sum": fnum(a.sum()), "sumsq": fnum((a * a).sum()),
            "min": fnum(a.min()), "max": fnum(a.max())}


# ----------------------------------------------------------------------------- SimpleITK

def sitk_quiet():
    sitk.ProcessObject_SetGlobalWarningDisplay(False)


def sitk_describe(img):
    dim = img.GetDimension()
    comps = img.GetNumberOfComponentsPerPixel()
    size = list(img.GetSize())
    spacing = list(img.GetSpacing())
    origin = list(img.GetOrigin())
    d = np.array(img.GetDirection(), dtype=np.float64).reshape(dim, dim)
    direction = np.eye(3)
    m = min(dim, 3)
    direction[:m, :m] = d[:m, :m]
    while len(size) < 3:
        size.append(1)
        spacing.append(1.0)
        origin.append(0.0)
    arr = sitk.GetArrayViewFromImage(img)  # [.., k, j, i(, c)]
    first = arr[..., 0] if comps > 1 else arr
    first = first.reshape(tuple(reversed(size)))  # padded 2D -> [1, j, i]
    res = {
        "dimension": dim,
        "size": [int(s) for s in size],
        "spacing": [float(s) for s in spacing[:3]],
        "origin": [float(o) for o in origin[:3]],
        "direction": [float(x) for x in direction.reshape(-1)],
        "components": comps,
        "pixel_id": img.GetPixelIDTypeAsString(),
    }
    res.update(stats(first))
    if comps > 1:
        res["sum_all_components"] = fnum(np.asarray(arr, dtype=np.float64).sum())
    res["samples"] = [[list(idx), fnum(first[tuple(reversed(idx))])]
                      for idx in sample_indices(size)]
    return res, arr


def sitk_read_file(path):
    try:
        img = sitk.ReadImage(str(path))
    except Exception as e:  # noqa: BLE001
        return None, None, str(e).strip().splitlines()[-1][:200]
    d, arr = sitk_describe(img)
    return d, np.array(arr), None


# ----------------------------------------------------------------------------- nibabel

def nifti_magic(path):
    """Return 'ni1'/'n+1'/'ni2'/'n+2' or None (Analyze or not a header)."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            head = f.read(548)
    except OSError:
        return None
    if len(head) >= 348 and head[344:348] in (b"ni1\0", b"n+1\0"):
        return head[344:347].decode()
    if len(head) >= 12 and head[4:8] in (b"ni2\0", b"n+2\0"):
        return head[4:7].decode()
    return None


def nib_describe(img):
    hdr = img.header
    data = img.get_fdata(dtype=np.float64)
    aff = np.asarray(img.affine, dtype=np.float64)
    slope, inter = hdr.get_slope_inter()
    lps = np.diag([-1.0, -1.0, 1.0]) @ aff[:3, :4]
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    res = {
        "class": type(img).__name__,
        "shape": [int(s) for s in img.shape],
        "affine": [[float(x) for x in row] for row in aff],
        "dtype": str(img.get_data_dtype()),
        "sform_code": int(hdr["sform_code"]),
        "qform_code": int(hdr["qform_code"]),
        "scl_slope": None if slope is None else fnum(slope),
        "scl_inter": None if inter is None else fnum(inter),
    }
    res.update(stats(data))
    res["samples"] = [[list(idx), fnum(data[idx])] for idx in sample_indices(data.shape)]
    res["lps"] = {
        "spacing": [float(s) for s in spacing],
        "origin": [float(x) for x in lps[:3, 3]],
        "direction": [float(x) for x in (lps[:3, :3] / spacing).reshape(-1)],
    }
    return res, data


def collect_nifti():
    """Copy NIfTI volumes; return list of (relpath, companion relpaths)."""
    out_dir = DATA / "nibabel"
    picked = []
    for src in sorted(NIB_DATA.iterdir()):
        name = src.name
        if not src.is_file():
            continue
        if not (name.endswith(".nii") or name.endswith(".nii.gz") or name.endswith(".hdr")):
            continue
        stem = name[:-len(".nii.gz")] if name.endswith(".nii.gz") else src.stem
        if any(stem.endswith(s) for s in CIFTI_SUFFIXES):
            print(f"skip {name}: CIFTI")
            continue
        companions = []
        if name.endswith(".hdr"):
            img_file = src.with_suffix(".img")
            if not img_file.exists():
                print(f"skip {name}: no .img beside it")
                continue
            companions.append(img_file)
        if any(p.stat().st_size > MAX_FILE_BYTES for p in [src] + companions):
            print(f"skip {name}: > 2 MB")
            continue
        magic = nifti_magic(src)
        if magic is None:
            print(f"skip {name}: not NIfTI (Analyze or unknown magic)")
            continue
        if name.endswith(".hdr") and magic not in ("ni1", "ni2"):
            print(f"skip {name}: .hdr with single-file magic {magic}")
            continue
        try:
            img = nib.load(str(src))
        except Exception as e:  # noqa: BLE001
            print(f"skip {name}: nibabel cannot load ({e})")
            continue
        if type(img) not in (nib.Nifti1Image, nib.Nifti2Image, nib.Nifti1Pair, nib.Nifti2Pair):
            print(f"skip {name}: loads as {type(img).__name__}")
            continue
        if 3000 <= int(img.header["intent_code"]) < 3100:
            print(f"skip {name}: CIFTI intent code")
            continue
        for p in [src] + companions:
            shutil.copyfile(p, out_dir / p.name)
        picked.append(f"nibabel/{name}")
    return picked


def nifti_entry(rel):
    path = DATA / rel
    entry = {"path": rel, "kind": "nifti", "notes": []}
    try:
        img = nib.load(str(path))
        entry["nibabel"], ndata = nib_describe(img)
    except Exception as e:  # noqa: BLE001
        entry["nibabel"], ndata = None, None
        entry["notes"].append(f"nibabel: {e}")
    entry["sitk"], sarr, serr = sitk_read_file(path)
    if serr:
        entry["notes"].append(f"SimpleITK: {serr}")
    if entry["sitk"] and entry["nibabel"]:
        s, n = entry["sitk"], entry["nibabel"]
        for key in ("spacing", "origin", "direction"):
            diff = np.max(np.abs(np.array(s[key]) - np.array(n["lps"][key])))
            if diff > 1e-4:
                entry["notes"].append(
                    f"geometry: SimpleITK {key} {s[key]} != nibabel affine (LPS) "
                    f"{[round(x, 6) for x in n['lps'][key]]} (max diff {diff:.3g}; "
                    f"sform_code={n['sform_code']}, qform_code={n['qform_code']})")
        if s["components"] == 1:
            st = np.asarray(sarr, dtype=np.float64).transpose(
                tuple(range(sarr.ndim - 1, -1, -1)))
            if st.shape == ndata.shape:
                diff = float(np.max(np.abs(st - ndata))) if st.size else 0.0
                if diff > 1e-6 * max(1.0, float(np.max(np.abs(ndata)))):
                    entry["notes"].append(f"values: SimpleITK vs nibabel max|diff| {diff:.6g}")
            else:
                entry["notes"].append(
                    f"shape: SimpleITK {list(st.shape)} vs nibabel {list(ndata.shape)}")
    if entry["sitk"] is None and entry["nibabel"] is None:
        entry["error"] = "; ".join(entry["notes"])
    return entry


# ----------------------------------------------------------------------------- pydicom

def pydicom_decode(path):
    """Return (description, pixel_array) or (None, None, error)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path))
            a = ds.pixel_array
    except Exception as e:  # noqa: BLE001
        return None, None, f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    def opt(key):
        v = ds.get(key)
        return None if v is None or v == "" else float(v)
    desc = {
        "rows": int(ds.Rows),
        "columns": int(ds.Columns),
        "frames": int(ds.get("NumberOfFrames", 1) or 1),
        "samples_per_pixel": int(ds.get("SamplesPerPixel", 1)),
        "photometric": str(ds.PhotometricInterpretation),
        "transfer_syntax": str(ds.file_meta.TransferSyntaxUID),
        "bits_allocated": int(ds.BitsAllocated),
        "bits_stored": int(ds.get("BitsStored", ds.BitsAllocated)),
        "pixel_representation": int(ds.PixelRepresentation),
        "rescale_slope": opt("RescaleSlope"),
        "rescale_intercept": opt("RescaleIntercept"),
    }
    af = np.asarray(a, dtype=np.float64)
    desc.update({"raw_sum": fnum(af.sum()), "raw_min": fnum(af.min()), "raw_max": fnum(af.max())})
    return desc, a, None


def pydicom_as_ijk(desc, a):
    """pydicom pixel_array -> float64 [i, j, k, c] with rescale applied (c == 1 only)."""
    a = np.asarray(a, dtype=np.float64).reshape(
        desc["frames"], desc["rows"], desc["columns"], desc["samples_per_pixel"])
    if desc["samples_per_pixel"] == 1:
        slope = desc["rescale_slope"] if desc["rescale_slope"] is not None else 1.0
        inter = desc["rescale_intercept"] if desc["rescale_intercept"] is not None else 0.0
        a = a * slope + inter
    return a.transpose(2, 1, 0, 3)


def sitk_as_ijk(sarr, comps):
    a = np.asarray(sarr, dtype=np.float64)
    if comps == 1:
        a = a[..., None]
    if a.ndim == 3:  # 2D image with components: [j, i, c]
        a = a[None]
    return a.transpose(2, 1, 0, 3)


def has_pixel_data(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(path), force=True, stop_before_pixels=False)
        return "PixelData" in ds
    except Exception:  # noqa: BLE001
        return False


def dicom_file_entry(rel):
    path = DATA / rel
    entry = {"path": rel, "kind": "dicom-file", "nibabel": None, "notes": []}
    entry["sitk"], sarr, serr = sitk_read_file(path)
    if serr:
        entry["notes"].append(f"SimpleITK: {serr}")
    entry["pydicom"], parr, perr = pydicom_decode(path)
    if perr:
        entry["notes"].append(f"pydicom: {perr}")
    if entry["sitk"] and entry["pydicom"]:
        s, p = entry["sitk"], entry["pydicom"]
        if s["components"] != p["samples_per_pixel"]:
            entry["notes"].append(
                f"components: SimpleITK {s['components']} ({s['pixel_id']}) vs pydicom "
                f"samples_per_pixel {p['samples_per_pixel']} ({p['photometric']})")
        else:
            a = sitk_as_ijk(sarr, s["components"])
            b = pydicom_as_ijk(p, parr)
            if a.shape != b.shape:
                entry["notes"].append(
                    f"shape: SimpleITK [i,j,k,c] {list(a.shape)} vs pydicom {list(b.shape)}")
            else:
                diff = float(np.max(np.abs(a - b)))
                if diff > 0:
                    entry["notes"].append(
                        f"values: SimpleITK vs pydicom (rescaled) max|diff| {diff:.6g}; "
                        f"SimpleITK range [{s['min']}, {s['max']}], pydicom raw range "
                        f"[{p['raw_min']}, {p['raw_max']}]")
    if entry["sitk"] is None and entry["pydicom"] is None:
        entry["error"] = "; ".join(entry["notes"])
    return entry


def collect_dicom_files():
    out_dir = DATA / "pydicom"
    picked = []
    for src in sorted(PYDICOM_DATA.glob("*.dcm")):
        name = src.name
        if "truncated" in name.lower():
            print(f"skip {name}: deliberately truncated")
            continue
        if src.stat().st_size > MAX_FILE_BYTES:
            print(f"skip {name}: > 2 MB")
            continue
        if not has_pixel_data(src):
            continue
        sd, _, _ = sitk_read_file(src)
        pd_, _, _ = pydicom_decode(src)
        if sd is None and pd_ is None:
            print(f"skip {name}: neither SimpleITK nor pydicom decodes it")
            continue
        shutil.copyfile(src, out_dir / name)
        picked.append(f"pydicom/{name}")
    return picked


def collect_dicomdir_series():
    """Copy the dicomdirtests series folders (those with image files holding PixelData)."""
    src_root = PYDICOM_DATA / "dicomdirtests"
    dst_root = DATA / "pydicom" / "dicomdirtests"
    files, folders = [], set()
    for src in sorted(p for p in src_root.rglob("*") if p.is_file()):
        relp = src.relative_to(src_root)
        if src.name.startswith("DICOMDIR") or src.name.startswith("README") \
                or src.suffix in (".txt", ".py"):
            continue
        if src.stat().st_size > MAX_FILE_BYTES or not has_pixel_data(src):
            continue
        dst = dst_root / relp
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        files.append(f"pydicom/dicomdirtests/{relp.as_posix()}")
        folders.add(dst.parent)
    return files, sorted(folders)


def series_check(paths):
    iops, ipps = [], []
    for p in paths:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds = pydicom.dcmread(str(p), stop_before_pixels=True)
        iop = ds.get("ImageOrientationPatient")
        ipp = ds.get("ImagePositionPatient")
        iops.append(None if iop is None else [float(x) for x in iop])
        ipps.append(None if ipp is None else [float(x) for x in ipp])
    n = len(paths)
    have = all(x is not None for x in iops) and all(x is not None for x in ipps)
    res = {"n_slices": n, "have_positions": have, "consistent_orientation": None,
           "slice_spacings": None, "uniform_spacing": None}
    if have:
        iop0 = np.array(iops[0])
        res["consistent_orientation"] = bool(all(
            np.max(np.abs(np.array(x) - iop0)) < 1e-4 for x in iops))
        normal = np.cross(iop0[:3], iop0[3:])
        proj = np.sort(np.array([np.dot(normal, x) for x in ipps]))
        sp = np.diff(proj)
        res["slice_spacings"] = [float(x) for x in sp]
        if n > 1:
            med = float(np.median(sp))
            res["uniform_spacing"] = bool(med > 1e-6 and np.max(np.abs(sp - med))
                                          <= max(1e-3, 1e-3 * med))
    res["expect_error"] = bool(n > 1 and not (
        have and res["consistent_orientation"] and res["uniform_spacing"]))
    return res


def dicom_series_entries(folder):
    reader = sitk.ImageSeriesReader()
    uids = sorted(reader.GetGDCMSeriesIDs(str(folder)))
    entries = []
    rel = folder.relative_to(DATA).as_posix()
    for uid in uids:
        names = list(reader.GetGDCMSeriesFileNames(str(folder), uid))
        entry = {"path": rel, "kind": "dicom-series", "series_uid": uid,
                 "series_in_folder": len(uids),
                 "files": [Path(n).relative_to(folder).as_posix() for n in names],
                 "nibabel": None, "pydicom": None, "notes": []}
        try:
            reader.SetFileNames(names)
            img = reader.Execute()
            entry["sitk"], _ = sitk_describe(img)
        except Exception as e:  # noqa: BLE001
            entry["sitk"] = None
            entry["error"] = str(e).strip().splitlines()[-1][:200]
        entry["series_check"] = series_check(names)
        sc = entry["series_check"]
        if sc["expect_error"] and entry["sitk"] is not None:
            entry["notes"].append(
                "SimpleITK reads this series although it is not a regular grid "
                f"(consistent_orientation={sc['consistent_orientation']}, "
                f"uniform_spacing={sc['uniform_spacing']}, spacings={sc['slice_spacings']})")
        entries.append(entry)
    return entries


# ----------------------------------------------------------------------------- main

def main():
    sitk_quiet()
    for sub in ("nibabel", "pydicom"):
        shutil.rmtree(DATA / sub, ignore_errors=True)
        (DATA / sub).mkdir(parents=True)

    nifti = collect_nifti()
    dcm = collect_dicom_files()
    series_files, series_folders = collect_dicomdir_series()

    entries = [nifti_entry(r) for r in nifti]
    entries += [dicom_file_entry(r) for r in dcm + series_files]
    for folder in series_folders:
        entries += dicom_series_entries(folder)
    entries.sort(key=lambda e: (e["path"], e["kind"], e.get("series_uid", "")))

    for e in entries:  # no machine-specific paths in the messages
        e["notes"] = [n.replace(str(DATA) + os.sep, "") for n in e["notes"]]
        if "error" in e:
            e["error"] = e["error"].replace(str(DATA) + os.sep, "")

    generator = (f"tests/scripts/make_fixtures.py; python {platform.python_version()}, "
                 f"numpy {np.__version__}, nibabel {nib.__version__}, "
                 f"SimpleITK {sitk.Version_VersionString()}, pydicom {pydicom.__version__}")
    doc = {"generator": generator, "schema": SCHEMA, "files": entries}
    REFERENCE.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")

    total = sum(p.stat().st_size for p in DATA.rglob("*") if p.is_file())
    print(f"{len(entries)} entries ({len(nifti)} nifti, {len(dcm) + len(series_files)} "
          f"dicom files, {sum(e['kind'] == 'dicom-series' for e in entries)} series); "
          f"data {total / 1e6:.2f} MB -> {REFERENCE}")
    if total > MAX_TOTAL_BYTES:
        print("WARNING: fixture data exceeds 15 MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
