#!/usr/bin/env python3
"""End-to-end check of `medburn convert` and `medburn info --json` against the fixtures.

    python tests/scripts/check_convert.py path/to/medburn [--only SUBSTR] [--keep]

For every entry of tests/fixtures/reference.json (made by make_fixtures.py) that SimpleITK,
nibabel or pydicom reads, it runs

    MEDBURN convert tests/fixtures/data/<path> <tmp>/<name>.nii.gz
    MEDBURN info --json tests/fixtures/data/<path>

and checks
  voxels  the output (nibabel, [i, j, k, ...]) against nibabel's get_fdata() of a NIfTI input,
          or SimpleITK's array of a DICOM input (transposed from [k, j, i(, c)]); where pydicom
          decodes the file too and the two readers disagree (MONOCHROME1 inversion, 1-bit SEG,
          palette, big-endian / RLE byte order bugs in GDCM), a match with pydicom's
          pixel_array * RescaleSlope + RescaleIntercept also passes and is said so.
          Integer data must match exactly; float data to max(1e-6 * range, 2^-23 * max|v|).
          Multi-component (RGB) output may carry the components in dim 4 ([i,j,k,c]) or in
          dim 5 with dim 4 == 1 (the NIfTI vector convention).
  affine  the output's RAS affine equals the input's to 1e-4: nibabel's affine for NIfTI, the
          one built from SimpleITK's origin/spacing/direction (LPS -> RAS) for DICOM, single
          slices included (their k spacing: SpacingBetweenSlices, else 1, as SimpleITK).
  info    size / spacing / origin / direction of `info --json` against the reference (SimpleITK
          geometry; nibabel's affine in LPS where SimpleITK cannot read a NIfTI file).
DICOM series that are not regular grids (series_check.expect_error) must make `convert`
exit non-zero and leave no file behind. A folder holding several series passes if convert
refuses it with an error or its output matches one of the regular series in it.

Prints one OK / FAIL / SKIP line per entry and `check_convert: N passed, M failed`;
exits 1 if anything failed.
"""

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import nibabel as nib
import SimpleITK as sitk
import pydicom

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
DATA = FIXTURES / "data"
TOL_GEOM = 1e-4
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


class Fail(Exception):
    pass


# ----------------------------------------------------------------------------- helpers

def run(cmd, timeout):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Fail(f"timed out after {timeout}s: {' '.join(cmd[-3:])}")
    except OSError as e:
        raise Fail(f"cannot run {cmd[0]}: {e}")
    return p


def last_line(text):
    lines = [ln for ln in (text or "").strip().splitlines() if ln.strip()]
    return lines[-1][:200] if lines else "(no message)"


def is_int_dtype(dt):
    return np.issubdtype(np.dtype(dt), np.integer)


SITK_INT_IDS = {
    getattr(sitk, n) for n in dir(sitk)
    if n.startswith(("sitkInt", "sitkUInt", "sitkVectorInt", "sitkVectorUInt"))
}


def canonical(a):
    """[i,j,k, ...] -> drop the NIfTI vector convention's size-1 dim 4, then trailing 1s."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 5 and a.shape[3] == 1:
        a = a[:, :, :, 0, :]
    while a.ndim > 3 and a.shape[-1] == 1:
        a = a[..., 0]
    while a.ndim < 3:
        a = a[..., None]
    return a


def compare_voxels(got, want, exact, lossy=False):
    got, want = canonical(got), canonical(want)
    if got.shape != want.shape:
        return f"shape {list(got.shape)} != expected {list(want.shape)}"
    if want.size == 0:
        return None
    wf = want[np.isfinite(want)]
    nan_mismatch = np.any(np.isnan(got) != np.isnan(want))
    if nan_mismatch:
        return "NaN positions differ"
    mask = np.isfinite(want)
    diff = float(np.max(np.abs(got[mask] - want[mask]))) if mask.any() else 0.0
    if lossy:
        mean = float(np.mean(np.abs(got[mask] - want[mask]))) if mask.any() else 0.0
        if diff <= LOSSY_MAX_DIFF and mean <= LOSSY_MEAN_DIFF:
            return None
        return f"lossy codec: max|diff| {diff:.3g} (tol {LOSSY_MAX_DIFF}), mean {mean:.3g} (tol {LOSSY_MEAN_DIFF})"
    if exact:
        tol = 0.0
    else:
        rng = float(wf.max() - wf.min()) if wf.size else 0.0
        tol = max(1e-6 * rng, 2.0 ** -23 * float(np.max(np.abs(wf))) if wf.size else 0.0)
    if diff > tol:
        where = np.unravel_index(np.argmax(np.where(mask, np.abs(got - want), -1)), got.shape)
        return (f"max|diff| {diff:.6g} > tol {tol:.3g} at {list(map(int, where))} "
                f"(got {got[where]:.6g}, want {want[where]:.6g})")
    return None


def ras_affine_from_geometry(spacing, origin, direction):
    d = np.array(direction, dtype=np.float64).reshape(3, 3)
    a = np.eye(4)
    a[:3, :3] = LPS_TO_RAS @ d @ np.diag(spacing)
    a[:3, 3] = LPS_TO_RAS @ np.array(origin, dtype=np.float64)
    return a


def compare_affine(got, want, single_slice):
    """Return (error or None, remark or None)."""
    got, want = np.asarray(got, float), np.asarray(want, float)
    # Single slices too: medburn takes SimpleITK's k spacing (SpacingBetweenSlices, else 1).
    remark = None
    diff = float(np.max(np.abs(got - want)))
    if diff > TOL_GEOM:
        return (f"affine differs by {diff:.3g}:\n      got  {np.round(got, 5).tolist()}\n"
                f"      want {np.round(want, 5).tolist()}"), None
    return None, remark


# ----------------------------------------------------------------------------- references

def sitk_ijk(img):
    a = np.asarray(sitk.GetArrayFromImage(img), dtype=np.float64)
    comps = img.GetNumberOfComponentsPerPixel()
    if comps == 1:
        a = a[..., None]
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise Fail(f"unexpected SimpleITK array rank {a.ndim}")
    return a.transpose(2, 1, 0, 3), img.GetPixelID() in SITK_INT_IDS


def pydicom_ijk(path):
    import pydicom
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(str(path))
        a = np.asarray(ds.pixel_array, dtype=np.float64)
    frames = int(ds.get("NumberOfFrames", 1) or 1)
    spp = int(ds.get("SamplesPerPixel", 1))
    a = a.reshape(frames, int(ds.Rows), int(ds.Columns), spp)
    slope, inter = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    slope = 1.0 if slope in (None, "") else float(slope)
    inter = 0.0 if inter in (None, "") else float(inter)
    exact = slope == int(slope) and inter == int(inter)
    if spp == 1:
        a = a * slope + inter
    return a.transpose(2, 1, 0, 3), exact


def expected_voxels(entry, inp):
    """List of (label, array [i,j,k,...], exact)."""
    kind = entry["kind"]
    cands = []
    if kind == "nifti":
        img = nib.load(str(inp))
        slope, inter = img.header.get_slope_inter()
        scaled = not (slope in (None, 1.0) and inter in (None, 0.0))
        cands.append(("nibabel", img.get_fdata(dtype=np.float64),
                      is_int_dtype(img.get_data_dtype()) and not scaled))
        return cands
    if entry.get("sitk") is not None:
        sitk.ProcessObject_SetGlobalWarningDisplay(False)
        if kind == "dicom-series":
            r = sitk.ImageSeriesReader()
            r.SetFileNames([str(inp / f) for f in entry["files"]])
            img = r.Execute()
        else:
            img = sitk.ReadImage(str(inp))
        a, exact = sitk_ijk(img)
        cands.append(("SimpleITK", a, exact))
    if kind == "dicom-file" and entry.get("pydicom") is not None:
        a, exact = pydicom_ijk(inp)
        cands.append(("pydicom", a, exact))
    return cands


def expected_geometry(entry):
    """(size, spacing, origin, direction, components, source) or None."""
    s = entry.get("sitk")
    if s is not None:
        return s["size"], s["spacing"], s["origin"], s["direction"], s["components"], "SimpleITK"
    n = entry.get("nibabel")
    if n is not None:
        g = n["lps"]
        return n["shape"], g["spacing"], g["origin"], g["direction"], 1, "nibabel"
    return None


# ----------------------------------------------------------------------------- checks

def check_info(binary, inp, geom, timeout):
    size, spacing, origin, direction, comps, src = geom
    p = run(binary + ["info", "--json", str(inp)], timeout)
    if p.returncode != 0:
        raise Fail(f"info exited {p.returncode}: {last_line(p.stderr)}")
    try:
        info = json.loads(p.stdout)
    except json.JSONDecodeError as e:
        raise Fail(f"info --json printed no JSON ({e}): {p.stdout[:120]!r}")
    for key in ("size", "spacing", "origin", "direction"):
        if key not in info:
            raise Fail(f"info --json lacks '{key}'")
    got_size = [int(x) for x in info["size"]]
    rest, want_rest = got_size[3:], list(size[3:])
    ok_rest = rest == want_rest or (comps > 1 and not want_rest
                                   and int(np.prod(rest)) == comps)
    if got_size[:3] != list(size[:3]) or not ok_rest:
        raise Fail(f"info size {got_size} != {src} {list(size)} (components {comps})")
    single = size[2] == 1
    remark = None
    for key, want in (("spacing", spacing), ("origin", origin), ("direction", direction)):
        got = np.array(info[key], dtype=np.float64)
        want = np.array(want, dtype=np.float64)
        if got.shape != want.shape:
            raise Fail(f"info {key} has {got.size} numbers, expected {want.size}")
        if np.max(np.abs(got - want)) > TOL_GEOM:
            raise Fail(f"info {key} {got.tolist()} != {src} {want.tolist()}")
    return remark


def check_convert_output(binary, inp, out, entry, timeout):
    """Convert, then check voxels and affine; return list of remarks."""
    p = run(binary + ["convert", str(inp), str(out)], timeout)
    if p.returncode != 0:
        raise Fail(f"convert exited {p.returncode}: {last_line(p.stderr)}")
    if not out.exists():
        raise Fail("convert exited 0 but wrote no output")
    oimg = nib.load(str(out))
    got = oimg.get_fdata(dtype=np.float64)
    remarks = []

    errs, matched = [], None
    lossy = entry["kind"] == "dicom-file" and transfer_syntax(inp) in LOSSY_SYNTAXES
    if lossy:
        remarks.append("lossy codec: compared within a few grey levels")
    for label, want, exact in expected_voxels(entry, inp):
        err = compare_voxels(got, want, exact, lossy)
        if err is None:
            matched = label
            break
        errs.append(f"vs {label}: {err}")
    if matched is None:
        raise Fail("voxels " + "; ".join(errs) if errs else "no voxel reference")
    if errs:
        remarks.append(f"voxels match {matched}, not " + "; ".join(errs))

    if entry["kind"] == "nifti":
        want_aff = np.array(entry["nibabel"]["affine"])
        single = False
    elif entry.get("sitk") is not None:
        s = entry["sitk"]
        want_aff = ras_affine_from_geometry(s["spacing"], s["origin"], s["direction"])
        single = s["size"][2] == 1
    else:
        want_aff = None
        remarks.append("no SimpleITK geometry: affine not checked")
    if want_aff is not None:
        err, remark = compare_affine(oimg.affine, want_aff, single)
        if err:
            raise Fail(err)
        if remark:
            remarks.append(remark)
    return remarks, matched


def out_name(path):
    name = path.replace("/", "__")
    for ext in (".nii.gz", ".nii", ".hdr", ".dcm"):
        if name.endswith(ext):
            name = name[: -len(ext)]
    return name + ".nii.gz"


# Files medburn refuses on purpose, with the text its error must contain and why
# (kept in step with KNOWN_ERRORS in crates/io/src/dicom/tests.rs).
KNOWN_UNSUPPORTED = {
    "pydicom/JPEG-lossy.dcm": ("SamplePrecision(12)", "12-bit JPEG Extended: jpeg-decoder reads 8-bit JPEG only"),
    "pydicom/JPGExtended.dcm": ("SamplePrecision(12)", "12-bit JPEG Extended: jpeg-decoder reads 8-bit JPEG only"),
    "pydicom/SC_rgb_jpeg.dcm": ("claims 1230128452 bytes", "implicit-VR data set under an explicit-VR meta header"),
    "pydicom/badVR.dcm": ("NumberOfFrames (0028,0008)", 'NumberOfFrames is "1A", not a number'),
}

# Lossy codecs: GDCM's libjpeg / openjpeg and medburn's decoders (jpeg-decoder, charls,
# openjp2) may round the inverse DCT / wavelet differently by a few grey levels.
LOSSY_SYNTAXES = {
    "1.2.840.10008.1.2.4.50",  # JPEG baseline
    "1.2.840.10008.1.2.4.51",  # JPEG extended
    "1.2.840.10008.1.2.4.81",  # JPEG-LS near-lossless
    "1.2.840.10008.1.2.4.91",  # JPEG 2000 (possibly lossy)
}
LOSSY_MAX_DIFF = 8.0
LOSSY_MEAN_DIFF = 1.0


def transfer_syntax(path):
    try:
        return str(pydicom.dcmread(str(path), stop_before_pixels=True).file_meta.TransferSyntaxUID)
    except Exception:  # noqa: BLE001 - no syntax: not lossy
        return None


def check_entry(binary, entry, tmp, timeout):
    """Return (status, message) with status in OK / FAIL / SKIP."""
    inp = DATA / entry["path"]
    if entry.get("sitk") is None and entry.get("nibabel") is None \
            and entry.get("pydicom") is None:
        return "SKIP", "no reference reader reads it"
    out = tmp / out_name(entry["path"])
    if entry["path"] in KNOWN_UNSUPPORTED:
        needle, why = KNOWN_UNSUPPORTED[entry["path"]]
        p = run(binary + ["convert", str(inp), str(out)], timeout)
        if p.returncode == 0:
            return "FAIL", "now converts: remove it from KNOWN_UNSUPPORTED"
        if out.exists():
            return "FAIL", "failed but left an output file"
        if needle not in p.stderr:
            return "FAIL", f"expected an error about {needle!r}, got {last_line(p.stderr)}"
        return "OK", f"refused as documented ({why})"
    if entry["kind"] == "dicom-series" and entry["series_check"]["expect_error"]:
        before = set(tmp.iterdir())
        p = run(binary + ["convert", str(inp), str(out)], timeout)
        left = set(tmp.iterdir()) - before
        if p.returncode == 0:
            return "FAIL", ("convert accepted an irregular series "
                            f"({entry['series_check']}); it should refuse it")
        if left:
            return "FAIL", f"convert failed but left {sorted(x.name for x in left)}"
        return "OK", f"refused as expected: {last_line(p.stderr)}"
    remarks, _ = check_convert_output(binary, inp, out, entry, timeout)
    geom = expected_geometry(entry)
    if geom is not None:
        r = check_info(binary, inp, geom, timeout)
        if r:
            remarks.append(r)
    else:
        remarks.append("info not checked (no geometry reference)")
    out.unlink(missing_ok=True)
    return "OK", "; ".join(remarks)


def check_multi_series_folder(binary, entries, tmp, timeout):
    """A folder with several series: refuse, or match one regular series."""
    inp = DATA / entries[0]["path"]
    out = tmp / out_name(entries[0]["path"])
    before = set(tmp.iterdir())
    p = run(binary + ["convert", str(inp), str(out)], timeout)
    if p.returncode != 0:
        left = set(tmp.iterdir()) - before
        if left:
            return "FAIL", f"convert failed but left {sorted(x.name for x in left)}"
        return "OK", f"{len(entries)} series in folder; refused: {last_line(p.stderr)}"
    out.unlink(missing_ok=True)
    errs = []
    for e in entries:
        if e["series_check"]["expect_error"] or e.get("sitk") is None:
            continue
        try:
            remarks, _ = check_convert_output(binary, inp, out, e, timeout)
            geom = expected_geometry(e)
            r = check_info(binary, inp, geom, timeout)
            remarks += [r] if r else []
            out.unlink(missing_ok=True)
            return "OK", (f"{len(entries)} series in folder; matches series "
                          f"{e['series_uid']}" + ("; " + "; ".join(remarks) if remarks else ""))
        except Fail as f:
            errs.append(f"{e['series_uid'][-8:]}: {f}")
    return "FAIL", ("output matches none of the regular series in the folder: "
                    + " | ".join(errs) if errs else "folder has no regular series")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    ap.add_argument("binary", help="the medburn binary (or a command line, e.g. 'python x.py')")
    ap.add_argument("--reference", default=str(FIXTURES / "reference.json"))
    ap.add_argument("--only", default=None, help="check only paths containing this substring")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per command")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = ap.parse_args()

    binary = shlex.split(args.binary)
    ref = json.loads(Path(args.reference).read_text())
    entries = [e for e in ref["files"] if args.only is None or args.only in e["path"]]

    # group series by folder: a folder with several series is one check
    units, series_by_folder = [], {}
    for e in entries:
        if e["kind"] == "dicom-series" and e.get("series_in_folder", 1) > 1:
            if e["path"] not in series_by_folder:
                series_by_folder[e["path"]] = []
                units.append(("multi", e["path"]))
            series_by_folder[e["path"]].append(e)
        else:
            units.append(("one", e))

    passed = failed = 0
    tmpdir = tempfile.mkdtemp(prefix="medburn_check_")
    tmp = Path(tmpdir)
    try:
        for what, item in units:
            label = item if what == "multi" else f"{item['path']} [{item['kind']}]"
            try:
                if what == "multi":
                    status, msg = check_multi_series_folder(
                        binary, series_by_folder[item], tmp, args.timeout)
                    label = f"{item} [dicom-series x{len(series_by_folder[item])}]"
                else:
                    status, msg = check_entry(binary, item, tmp, args.timeout)
            except Fail as f:
                status, msg = "FAIL", str(f)
            except Exception as e:  # noqa: BLE001 - a crash in one check is one failure
                status, msg = "FAIL", f"{type(e).__name__}: {e}"
            if status == "OK":
                passed += 1
            elif status == "FAIL":
                failed += 1
            print(f"{status:4} {label}" + (f": {msg}" if msg else ""), flush=True)
    finally:
        if args.keep:
            print(f"(outputs kept in {tmpdir})")
        else:
            import shutil
            shutil.rmtree(tmpdir, ignore_errors=True)
    print(f"check_convert: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
