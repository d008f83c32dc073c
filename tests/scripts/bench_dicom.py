#!/usr/bin/env python3
"""medburn vs SimpleITK: reading a DICOM CT series into a volume, in one run, as a ratio.

    python tests/scripts/bench_dicom.py path/to/medburn [--slices 300] [--runs 7] [--rounds 3]

Writes a synthetic CT series (512 x 512 int16 slices, 0.7 mm pixels, 1.25 mm apart, with
RescaleIntercept -1024, shuffled file names) with pydicom, then alternates rounds of
SimpleITK's ImageSeriesReader (file names from GetGDCMSeriesFileNames, as users do) and
`medburn bench --only dicom`. Prints a Markdown table.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import tempfile
import time

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT = "1.2.840.10008.5.1.4.1.1.2"


def write_series(folder, slices):
    rng = np.random.default_rng(7)
    series, study, frame = generate_uid(), generate_uid(), generate_uid()
    names = list(range(slices))
    random.Random(3).shuffle(names)  # file order must not matter
    yy, xx = np.mgrid[0:512, 0:512]
    body = ((xx - 256) ** 2 / 200 ** 2 + (yy - 256) ** 2 / 150 ** 2) < 1
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CT, meta.MediaStorageSOPInstanceUID
        ds.Modality = "CT"
        ds.SeriesInstanceUID, ds.StudyInstanceUID, ds.FrameOfReferenceUID = series, study, frame
        ds.SeriesNumber, ds.InstanceNumber = 1, k + 1
        ds.ImagePositionPatient = [-179.2, -179.2, -200.0 + 1.25 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [0.7, 0.7]
        ds.SliceThickness = 1.25
        ds.Rows = ds.Columns = 512
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = -1024, 1
        img = np.where(body, 1064, 24) + rng.normal(0, 20, (512, 512))
        ds.PixelData = img.astype(np.int16).tobytes()
        ds.save_as(os.path.join(folder, f"IM{names[k]:05d}"), enforce_file_format=True)


def sitk_read(folder):
    r = sitk.ImageSeriesReader()
    r.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(folder))
    return r.Execute()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--slices", type=int, default=300)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_dicom_") as d:
        write_series(d, a.slices)
        sitk_read(d)  # warm the page cache for both
        s_med, m_med = [], []
        for _ in range(a.rounds):
            times = []
            for _ in range(a.runs):
                t = time.perf_counter()
                sitk_read(d)
                times.append(time.perf_counter() - t)
            s_med.append(statistics.median(times))
            out = subprocess.run([a.medburn, "bench", "--only", "dicom", "--json", "--runs", str(a.runs),
                                  "--dicom", d], check=True, capture_output=True, text=True).stdout
            m_med.append(json.loads(out)["results"][0]["median_s"])
            threads = json.loads(out)["threads"]
        s, m = statistics.median(s_med), statistics.median(m_med)
        print(f"{a.slices} slices of 512 x 512 int16, explicit VR little endian; SimpleITK {sitk.Version_VersionString()} "
              f"(ITK's own thread pool), medburn on {threads} threads; median of {a.rounds} rounds x {a.runs} runs")
        print()
        print("| operation | SimpleITK (s) | medburn (s) | SimpleITK / medburn |")
        print("|---|---|---|---|")
        print(f"| read the series into a volume | {s:.3f} | {m:.3f} | {s / m:.2f}x |")
        print()
        print("raw:", json.dumps({"sitk": s_med, "medburn": m_med}))


if __name__ == "__main__":
    main()
