#!/usr/bin/env python3
"""The broken-input corpus: small damaged or hostile inputs and the `medburn` commands that
must refuse them, each with its exit code and a piece of its one-line message.

Run: python3 tests/scripts/make_broken_corpus.py   (needs numpy and nibabel)
Writes tests/fixtures/broken/corpus/ (the files) and tests/fixtures/broken/corpus/cases.json.
crates/medburn/tests/broken_corpus.rs runs every case through the binary in a scratch folder
and checks the exit code, that stderr is one line holding the expected text, and that the
output the case names was not written (nor any folder for it).

In `args`, `{corpus}` is the corpus folder and `{out}` a fresh folder for outputs.
"""
import gzip
import json
import pathlib
import shutil

import nibabel as nib
import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
OUT = HERE.parent / "fixtures" / "broken" / "corpus"
DICOM_SERIES = HERE.parent / "fixtures" / "data" / "pydicom" / "dicomdirtests" / "98892001" / "CT5N"


def nifti_bytes(data, affine=None):
    img = nib.Nifti1Image(data, np.eye(4) if affine is None else affine)
    img.header.set_xyzt_units("mm")
    return img.to_bytes()


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rng = np.random.default_rng(20261207)
    image = (rng.random((12, 12, 12)) * 100).astype(np.float32)
    good = nifti_bytes(image)
    (OUT / "image.nii").write_bytes(good)
    cases = []

    def case(name, args, exit_code, stderr, output=None):
        cases.append(dict(name=name, args=args, exit=exit_code, stderr=stderr, output=output))

    # 1. Damaged gzip: the trailer's CRC-32 and ISIZE, a missing trailer, a second member.
    gz = bytearray(gzip.compress(good, compresslevel=6, mtime=0))
    for name, mutate in [
        ("gzip_bad_crc.nii.gz", lambda b: b.__setitem__(len(b) - 8, b[len(b) - 8] ^ 1)),
        ("gzip_bad_isize.nii.gz", lambda b: b.__setitem__(len(b) - 4, b[len(b) - 4] ^ 1)),
    ]:
        b = bytearray(gz)
        mutate(b)
        (OUT / name).write_bytes(bytes(b))
    (OUT / "gzip_no_trailer.nii.gz").write_bytes(bytes(gz[:-8]))
    two = bytearray(gzip.compress(good[:200], mtime=0) + gzip.compress(good[200:], mtime=0))
    two[-8] ^= 0x80
    (OUT / "gzip_bad_second_member.nii.gz").write_bytes(bytes(two))
    for name in ["gzip_bad_crc", "gzip_bad_isize", "gzip_no_trailer", "gzip_bad_second_member"]:
        case(name, ["convert", f"{{corpus}}/{name}.nii.gz", "{out}/x.nii.gz"], 1,
             "corrupt: gzip data", "x.nii.gz")

    # 2. NaN and infinite transform parameters.
    for name, args in [
        ("rotate_nan_angle", ["rotate", "{corpus}/image.nii", "{out}/x.nii", "--axis", "z",
                              "--angle", "nan"]),
        ("rotate_inf_angle", ["rotate", "{corpus}/image.nii", "{out}/x.nii", "--axis", "z",
                              "--angle", "inf"]),
    ]:
        case(name, args, 1, "the angle must be finite", "x.nii")
    case("rotate_nan_centre", ["rotate", "{corpus}/image.nii", "{out}/x.nii", "--axis", "z",
                               "--angle", "5", "--centre", "nan,0,0"], 2,
         "not a finite number", "x.nii")
    case("translate_nan_offset", ["translate", "{corpus}/image.nii", "{out}/x.nii", "--offset",
                                  "nan,0,0", "--resample"], 2, "not a finite number", "x.nii")

    # 3. A DICOM series whose last slice was cut, beside a file that is not DICOM.
    series = OUT / "dicom_cut_last_slice"
    series.mkdir()
    names = sorted(p.name for p in DICOM_SERIES.iterdir())
    for n in names:
        shutil.copy(DICOM_SERIES / n, series / n)
    last = series / names[-1]
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])
    (series / "README.txt").write_text("not an image\n")
    case("dicom_cut_last_slice", ["convert", "{corpus}/dicom_cut_last_slice", "{out}/x.nii.gz"],
         1, "look like DICOM but cannot be read", "x.nii.gz")

    # 4. Outputs larger than memory.
    case("resample_huge", ["resample", "{corpus}/image.nii", "{out}/x.nii", "--spacing",
                           "0.0001,0.0001,0.0001"], 1, "would need", "x.nii")
    case("pad_huge", ["pad", "{corpus}/image.nii", "{out}/x.nii", "--before",
                      "100000,100000,100000", "--after", "0,0,0"], 1, "would need", "x.nii")

    # 5. Labels that are not labels, and labels a data set does not declare.
    labels = np.zeros((12, 12, 12), np.float32)
    labels[3:6, 3:6, 3:6] = 0.5
    labels[8, 8, 8] = 1.7
    (OUT / "float_labels.nii").write_bytes(nifti_bytes(labels))
    case("resample_float_label", ["resample", "{corpus}/float_labels.nii", "{out}/x.nii",
                                  "--spacing", "2,2,2", "--label"], 1, "not a label map",
         "x.nii")
    case("augment_float_label", ["augment", "{corpus}/image.nii", "{out}/aug/x.nii",
                                 "--label", "{corpus}/float_labels.nii", "--label-out",
                                 "{out}/aug/l.nii"], 1, "not a label map", "aug")
    msd = OUT / "msd_undeclared_label"
    (msd / "imagesTr").mkdir(parents=True)
    (msd / "labelsTr").mkdir()
    training = []
    for k in range(3):
        (msd / "imagesTr" / f"c{k}.nii.gz").write_bytes(gzip.compress(good, mtime=0))
        lab = np.zeros((12, 12, 12), np.uint8)
        lab[2:6, 2:6, 2:6] = 1
        if k == 1:
            lab[8, 8, 8] = 9  # dataset.json declares 0 and 1
        (msd / "labelsTr" / f"c{k}.nii.gz").write_bytes(gzip.compress(nifti_bytes(lab), mtime=0))
        training.append({"image": f"./imagesTr/c{k}.nii.gz", "label": f"./labelsTr/c{k}.nii.gz"})
    (msd / "dataset.json").write_text(json.dumps({
        "name": "undeclared", "modality": {"0": "MR"},
        "labels": {"0": "background", "1": "tissue"}, "training": training, "test": []}))
    case("train_undeclared_label", ["train", "--data", "{corpus}/msd_undeclared_label", "--out",
                                    "{out}/run", "--steps", "2", "--set", "data.val_cases=1",
                                    "--set", "data.patch.patch_size=[8,8,8]", "--set",
                                    "model.channels=[4,8]", "--set", "model.strides=[2]"], 1,
         "label value 9 is not one of the data set's labels", "run")

    # 6. A NaN in a training image.
    nan_image = image.copy()
    nan_image[4, 4, 4] = np.nan
    msd_nan = OUT / "msd_nan_image"
    shutil.copytree(msd, msd_nan)
    (msd_nan / "labelsTr" / "c1.nii.gz").write_bytes(
        (msd / "labelsTr" / "c0.nii.gz").read_bytes())
    (msd_nan / "imagesTr" / "c2.nii.gz").write_bytes(gzip.compress(nifti_bytes(nan_image), mtime=0))
    case("train_nan_image", ["train", "--data", "{corpus}/msd_nan_image", "--out", "{out}/run",
                             "--steps", "2", "--set", "data.val_cases=1", "--set",
                             "data.patch.patch_size=[8,8,8]", "--set", "model.channels=[4,8]",
                             "--set", "model.strides=[2]"], 1, "NaN or infinite", "run")

    # 9. Messages that say which value is wrong.
    case("pad_negative_before", ["pad", "{corpus}/image.nii", "{out}/x.nii", "--before=-5,0,0",
                                 "--after", "0,0,0"], 2, 'the first value "-5"', "x.nii")
    case("crop_fractional_start", ["crop", "{corpus}/image.nii", "{out}/x.nii", "--start",
                                   "1.5,0,0", "--size", "2,2,2"], 2, 'the first value "1.5"',
         "x.nii")
    case("resample_negative_spacing", ["resample", "{corpus}/image.nii", "{out}/x.nii",
                                       "--spacing", "-1,1,1"], 1,
         "spacing must be positive and finite", "x.nii")
    dim9 = bytearray(good)
    dim9[40:42] = (9).to_bytes(2, "little")
    (OUT / "dim0_is_9.nii").write_bytes(bytes(dim9))
    case("nifti_dim0_9", ["convert", "{corpus}/dim0_is_9.nii", "{out}/x.nii.gz"], 1,
         "dim[0] is 9: the number of dimensions must be 1 to 7", "x.nii.gz")

    (OUT / "cases.json").write_text(json.dumps({"cases": cases}, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"{len(cases)} cases, {total / 1e3:.0f} kB in {OUT}")


if __name__ == "__main__":
    main()
