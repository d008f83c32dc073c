#!/usr/bin/env python3
"""Writes tiny data sets in the layouts `medburn_datasets::Manifest::open` reads, into
tests/fixtures/layouts/, with expected.json: what each must give (case ids, channels, labels,
the label values of each case and the grid of its first channel as SimpleITK reads it, in LPS).

    python tests/scripts/make_layout_fixtures.py   (numpy, nibabel, pydicom, SimpleITK; seeded)

Every volume is 8^3 voxels or smaller: a noisy background (int16) with a bright sphere, the
"lesion" (label 1). NIfTI files are gzipped with mtime 0, DICOM UIDs derived from names, so a
rerun writes the same bytes.

Good layouts:
  msd/                 Decathlon dataset.json with a training list; test entries as a path
                       (label from labelsTs/<same name>) and as an object with a label
  nnunet/              nnU-Net v2 raw: channel_names T1, FLAIR; imagesTr/brain_00X_000{0,1},
                       labelsTr/, imagesTs/ + labelsTs/, numTraining 3, no training list
  bids/                sub-01 (T1w, T2w, FLAIR), sub-02 with ses-1 and ses-2 (T1w, FLAIR);
                       FLAIR at 2 mm (4^3 voxels, same field of view); label maps in
                       derivatives/manual/ with dseg.tsv; participants.tsv; dataset_description
  dicom_series/        case01, case02: a localizer (3 slices), t1_mprage (8^3, 1 mm) and
                       flair_tra (4^3, 2 mm) series in one folder, file names not in slice order;
                       seg.nii.gz on the T1 grid; dicom_series.json picks T1 and FLAIR

Broken layouts (refused, or reported by `medburn data check`):
  nnunet_missing_channel/   brain_002_0001.nii.gz absent
  nnunet_num_training/      numTraining 3, two cases in imagesTr
  nnunet_bad_labels/        readable, but brain_001's label map holds 3 (not declared) and its
                            FLAIR a NaN voxel, brain_002's label map is empty, brain_003's
                            FLAIR lies on a 2 mm grid
  bids_no_shared_suffix/    sub-01 and sub-02 have T1w, sub-03 only T2w
"""

import gzip
import json
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, MRImageStorage, generate_uid

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "fixtures" / "layouts"
RNG = np.random.default_rng(20260601)
N = 8


def phantom(seed, n=N, spacing=1.0, bright=400.0, centre=(4.0, 3.5, 4.5), radius=2.2):
    """(image int16 [i, j, k], label uint8 [i, j, k]) on an n^3 grid of `spacing` mm whose
    field of view is the 8 mm cube: a sphere at `centre` (in 1 mm voxel units)."""
    rng = np.random.default_rng(seed)
    # Voxel centres in the units of the 1 mm grid (0 = its first voxel centre).
    c = (np.arange(n) + 0.5) * spacing - 0.5
    x, y, z = np.meshgrid(c, c, c, indexing="ij")
    inside = (x - centre[0]) ** 2 + (y - centre[1]) ** 2 + (z - centre[2]) ** 2 <= radius**2
    image = 100.0 + rng.normal(0.0, 5.0, size=(n, n, n)) + bright * inside
    return np.round(image).astype(np.int16), inside.astype(np.uint8)


def affine_ras(origin_lps, spacing):
    """A NIfTI affine (RAS) for an axis-aligned LPS grid: i to the left, j posterior, k superior."""
    a = np.diag([-spacing, -spacing, spacing, 1.0])
    a[:3, 3] = [-origin_lps[0], -origin_lps[1], origin_lps[2]]
    return a


def save_nii(path, data, origin_lps=(10.0, -20.0, 5.0), spacing=1.0):
    """Writes a gzipped NIfTI-1 file with mtime 0 (the same bytes on every run)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, affine_ras(origin_lps, spacing))
    img.header.set_xyzt_units("mm")
    img.set_qform(img.affine, code=1)
    img.set_sform(img.affine, code=1)
    raw = img.to_bytes()
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(raw, mtime=0))
    else:
        path.write_bytes(raw)


# The 2 mm grid covering the same 8 mm field of view: first voxel centre 0.5 mm further.
ORIGIN = (10.0, -20.0, 5.0)
ORIGIN_2MM = (ORIGIN[0] + 0.5, ORIGIN[1] + 0.5, ORIGIN[2] + 0.5)


def sitk_grid(path_or_files):
    """The grid SimpleITK reads (LPS): size, spacing, origin, direction (row-major)."""
    if isinstance(path_or_files, list):
        r = sitk.ImageSeriesReader()
        r.SetFileNames(path_or_files)
        img = r.Execute()
    else:
        img = sitk.ReadImage(str(path_or_files))
    return {
        "size": list(img.GetSize()),
        "spacing": list(img.GetSpacing()),
        "origin": list(img.GetOrigin()),
        "direction": list(img.GetDirection()),
    }


def label_values(data):
    return sorted(int(v) for v in np.unique(data))


def clean(folder):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def write_json(path, value):
    path.write_text(json.dumps(value, indent=2) + "\n")


def make_msd(expected):
    root = OUT / "msd"
    clean(root)
    cases = {}
    for n, name in enumerate(["m_001", "m_002", "m_003", "m_004"]):
        image, label = phantom(100 + n)
        folder = "Tr" if n < 2 else "Ts"
        save_nii(root / f"images{folder}/{name}.nii.gz", image, ORIGIN)
        label_name = f"{name}_seg.nii.gz" if name == "m_004" else f"{name}.nii.gz"
        save_nii(root / f"labels{folder}/{label_name}", label, ORIGIN)
        cases[name] = label_values(label)
    write_json(
        root / "dataset.json",
        {
            "name": "TinyMSD",
            "modality": {"0": "T1"},
            "labels": {"0": "background", "1": "lesion"},
            "numTraining": 2,
            "numTest": 2,
            "training": [
                {"image": f"./imagesTr/{c}.nii.gz", "label": f"./labelsTr/{c}.nii.gz"}
                for c in ["m_001", "m_002"]
            ],
            "test": [
                "./imagesTs/m_003.nii.gz",
                {"image": "./imagesTs/m_004.nii.gz", "label": "./labelsTs/m_004_seg.nii.gz"},
            ],
        },
    )
    expected["msd"] = {
        "training": ["m_001", "m_002"],
        "test": ["m_003", "m_004"],
        "channels": ["T1"],
        "labels": {"0": "background", "1": "lesion"},
        "label_values": cases,
        "grid": sitk_grid(root / "imagesTr/m_001.nii.gz"),
    }


def nnunet_json(num_training):
    return {
        "name": "TinyNnunet",
        "channel_names": {"0": "T1", "1": "FLAIR"},
        "labels": {"background": 0, "lesion": 1},
        "numTraining": num_training,
        "file_ending": ".nii.gz",
    }


def write_nnunet_case(root, folder, name, seed, flair_spacing=1.0, label_fix=None, nan=False):
    image, label = phantom(seed)
    save_nii(root / f"images{folder}/{name}_0000.nii.gz", image, ORIGIN)
    n = round(N / flair_spacing)
    flair, _ = phantom(seed + 50, n=n, spacing=flair_spacing, bright=600.0)
    origin = ORIGIN if flair_spacing == 1.0 else ORIGIN_2MM
    if nan:
        flair = flair.astype(np.float32)
        flair[1, 2, 3] = np.nan
    save_nii(root / f"images{folder}/{name}_0001.nii.gz", flair, origin, flair_spacing)
    if label_fix is not None:
        label = label_fix(label)
    save_nii(root / f"labels{folder}/{name}.nii.gz", label, ORIGIN)
    return label_values(label)


def make_nnunet(expected):
    root = OUT / "nnunet"
    clean(root)
    values = {}
    for n, name in enumerate(["brain_001", "brain_002", "brain_003"]):
        values[name] = write_nnunet_case(root, "Tr", name, 200 + n)
    values["brain_004"] = write_nnunet_case(root, "Ts", "brain_004", 210)
    write_json(root / "dataset.json", nnunet_json(3))
    expected["nnunet"] = {
        "training": ["brain_001", "brain_002", "brain_003"],
        "test": ["brain_004"],
        "channels": ["T1", "FLAIR"],
        "labels": {"0": "background", "1": "lesion"},
        "label_values": values,
        "grid": sitk_grid(root / "imagesTr/brain_001_0000.nii.gz"),
    }

    root = OUT / "nnunet_missing_channel"
    clean(root)
    write_nnunet_case(root, "Tr", "brain_001", 300)
    write_nnunet_case(root, "Tr", "brain_002", 301)
    (root / "imagesTr/brain_002_0001.nii.gz").unlink()
    write_json(root / "dataset.json", nnunet_json(2))

    root = OUT / "nnunet_num_training"
    clean(root)
    write_nnunet_case(root, "Tr", "brain_001", 310)
    write_nnunet_case(root, "Tr", "brain_002", 311)
    write_json(root / "dataset.json", nnunet_json(3))

    root = OUT / "nnunet_bad_labels"
    clean(root)

    def with_three(label):
        label = label.copy()
        label[0, 0, 0] = 3
        return label

    write_nnunet_case(root, "Tr", "brain_001", 320, label_fix=with_three, nan=True)
    write_nnunet_case(root, "Tr", "brain_002", 321, label_fix=np.zeros_like)
    write_nnunet_case(root, "Tr", "brain_003", 322, flair_spacing=2.0)
    write_json(root / "dataset.json", nnunet_json(3))


def make_bids(expected):
    root = OUT / "bids"
    clean(root)
    write_json(root / "dataset_description.json", {"Name": "TinyBIDS", "BIDSVersion": "1.9.0"})
    (root / "participants.tsv").write_text("participant_id\tage\tsex\nsub-01\t34.5\tF\nsub-02\t61\tM\n")
    units = [("sub-01", None, 400), ("sub-02", "ses-1", 401), ("sub-02", "ses-2", 402)]
    values = {}
    for sub, ses, seed in units:
        folder = root / sub / (ses or "") / "anat"
        stem = f"{sub}_{ses}" if ses else sub
        t1, label = phantom(seed)
        save_nii(folder / f"{stem}_T1w.nii.gz", t1, ORIGIN)
        flair, _ = phantom(seed + 50, n=4, spacing=2.0, bright=600.0)
        save_nii(folder / f"{stem}_FLAIR.nii.gz", flair, ORIGIN_2MM, 2.0)
        if sub == "sub-01":
            t2, _ = phantom(seed + 70, bright=300.0)
            save_nii(folder / f"{stem}_T2w.nii.gz", t2, ORIGIN)
        deriv = root / "derivatives" / "manual" / sub / (ses or "") / "anat"
        save_nii(deriv / f"{stem}_dseg.nii.gz", label, ORIGIN)
        values[stem] = label_values(label)
    (root / "derivatives/manual/dseg.tsv").write_text("index\tname\n0\tbackground\n1\tlesion\n")
    write_json(
        root / "derivatives/manual/dataset_description.json",
        {"Name": "manual lesion masks", "BIDSVersion": "1.9.0", "DatasetType": "derivative"},
    )
    expected["bids"] = {
        "training": ["sub-01", "sub-02_ses-1", "sub-02_ses-2"],
        "test": [],
        "channels": ["T1w", "FLAIR"],
        "labels": {"0": "background", "1": "lesion"},
        "label_values": values,
        "grid": sitk_grid(root / "sub-01/anat/sub-01_T1w.nii.gz"),
        "flair_grid": sitk_grid(root / "sub-01/anat/sub-01_FLAIR.nii.gz"),
        "participants": {"sub-01": {"age": "34.5", "sex": "F"}, "sub-02": {"age": "61", "sex": "M"}},
    }

    root = OUT / "bids_no_shared_suffix"
    clean(root)
    for sub, suffix, seed in [("sub-01", "T1w", 410), ("sub-02", "T1w", 411), ("sub-03", "T2w", 412)]:
        image, _ = phantom(seed, n=4, spacing=2.0)
        save_nii(root / sub / "anat" / f"{sub}_{suffix}.nii.gz", image, ORIGIN_2MM, 2.0)


def uid(*parts):
    return generate_uid(entropy_srcs=["medburn-layout-fixtures", *parts])


def write_series(folder, case, description, number, vol_kji, spacing, origin_lps, order):
    """One DICOM file per slice (MR, int16, explicit VR little endian), axial, i to the left,
    j posterior; files named by `order` (a permutation of the slices), not by slice."""
    series_uid = uid(case, description)
    nk, nj, ni = vol_kji.shape
    files = []
    for k in range(nk):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = MRImageStorage
        meta.MediaStorageSOPInstanceUID = uid(case, description, str(k))
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        name = folder / f"IM{number:02d}{order[k]:03d}.dcm"
        ds = FileDataset(str(name), {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID = MRImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = uid(case, "study")
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = uid(case, "frame")
        ds.PatientID = case
        ds.PatientName = case
        ds.Modality = "MR"
        ds.SeriesNumber = number
        ds.SeriesDescription = description
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(origin_lps[0]), float(origin_lps[1]), float(origin_lps[2] + k * spacing)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [float(spacing), float(spacing)]
        ds.SliceThickness = float(spacing)
        ds.Rows = nj
        ds.Columns = ni
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.PixelData = np.ascontiguousarray(vol_kji[k]).astype("<i2").tobytes()
        ds.save_as(str(name), enforce_file_format=True)
        files.append(str(name))
    return series_uid, files


def make_dicom(expected):
    root = OUT / "dicom_series"
    clean(root)
    cases = {}
    for n, case in enumerate(["case01", "case02"]):
        folder = root / case
        folder.mkdir()
        t1, label = phantom(500 + n)
        flair, _ = phantom(550 + n, n=4, spacing=2.0, bright=600.0)
        loc, _ = phantom(580 + n, n=4, spacing=2.0)
        # [i, j, k] -> [k, j, i] slices.
        to_kji = lambda v: np.transpose(v, (2, 1, 0))
        _, t1_files = write_series(folder, case, "t1_mprage_sag", 3, to_kji(t1), 1.0, ORIGIN, [5, 2, 7, 0, 3, 6, 1, 4])
        write_series(folder, case, "flair_tra", 4, to_kji(flair), 2.0, ORIGIN_2MM, [2, 0, 3, 1])
        write_series(folder, case, "localizer", 1, to_kji(loc)[:3], 2.0, ORIGIN_2MM, [1, 2, 0])
        save_nii(folder / "seg.nii.gz", label, ORIGIN)
        t1_files.sort(key=lambda f: pydicom.dcmread(f).ImagePositionPatient[2])
        cases[case] = {"label_values": label_values(label), "grid": sitk_grid(t1_files)}
    write_json(
        root / "dicom_series.json",
        {
            "name": "TinyDicom",
            "series": {"T1": "t1_mprage", "FLAIR": "FLAIR"},
            "label": "seg.nii.gz",
            "labels": {"background": 0, "lesion": 1},
            "test": ["case02"],
        },
    )
    expected["dicom_series"] = {
        "training": ["case01"],
        "test": ["case02"],
        "channels": ["T1", "FLAIR"],
        "labels": {"0": "background", "1": "lesion"},
        "label_values": {c: v["label_values"] for c, v in cases.items()},
        "grid": cases["case01"]["grid"],
        "seg_grid": sitk_grid(root / "case01/seg.nii.gz"),
    }


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {}
    make_msd(expected)
    make_nnunet(expected)
    make_bids(expected)
    make_dicom(expected)
    write_json(OUT / "expected.json", expected)
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {OUT} ({total} bytes)")


if __name__ == "__main__":
    main()
