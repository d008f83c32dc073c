#!/usr/bin/env python3
"""medburn vs nibabel: reading and writing a 256^3 int16 .nii.gz, in one run, as ratios.

    python tests/scripts/bench_io.py path/to/medburn [--runs 7] [--rounds 3]

Both tools read the same file (made by bench_nibabel.py, deterministic). The two are
run in alternating rounds so that machine noise hits both alike; each round reports
medians, and the summary takes the median over rounds. Prints a Markdown table.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("medburn")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="bench_io_") as d:
        made = subprocess.run([py, os.path.join(HERE, "bench_nibabel.py"), "--out-dir", d, "--make-only"],
                              check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1]
        path = made if os.path.exists(made) else os.path.join(d, "bench_256.nii.gz")
        rows = {"read": {"nib": [], "mb": [], "mb_image": []}, "write": {"nib": [], "mb": [], "mb1": []}}
        meta = {}
        for _ in range(args.rounds):
            nib = json.loads(subprocess.run([py, os.path.join(HERE, "bench_nibabel.py"), "--out-dir", d,
                                             "--runs", str(args.runs)], check=True, capture_output=True,
                                            text=True).stdout)
            mb = json.loads(subprocess.run([args.medburn, "bench", "--only", "nifti", "--json", "--runs",
                                            str(args.runs), "--input", path], check=True, capture_output=True,
                                           text=True).stdout)
            res = {r["name"]: r["median_s"] for r in mb["results"]}
            sizes = {r["name"]: r.get("output_bytes") for r in mb["results"]}
            rows["read"]["nib"].append(nib["read_median_s"])
            rows["read"]["mb"].append(res["nifti_read_gz"])
            rows["read"]["mb_image"].append(res["nifti_read_gz_to_flex_image"])
            rows["write"]["nib"].append(nib["write_median_s"])
            rows["write"]["mb"].append(res["nifti_write_gz"])
            rows["write"]["mb1"].append(res["nifti_write_gz_1thread"])
            meta = {"mb_bytes": sizes.get("nifti_write_gz"), "nibabel": nib.get("nibabel"), "zlib": nib.get("zlib"), "compresslevel": nib.get("compresslevel"),
                    "threads": mb["threads"], "bytes": mb["input_bytes"]}
        med = {k: {t: statistics.median(v) for t, v in d2.items()} for k, d2 in rows.items()}
        print(f"256^3 int16 .nii.gz ({meta['bytes']} bytes), nibabel {meta['nibabel']} (zlib {meta['zlib']}, "
              f"compresslevel {meta['compresslevel']}), medburn on {meta['threads']} threads; "
              f"median of {args.rounds} rounds x {args.runs} runs")
        print()
        print("| operation | nibabel (s) | medburn (s) | nibabel / medburn |")
        print("|---|---|---|---|")
        r, w = med["read"], med["write"]
        print(f"| read to int16 array | {r['nib']:.3f} | {r['mb']:.3f} | {r['nib'] / r['mb']:.2f}x |")
        print(f"| read to float32 MedImage on Flex | {r['nib']:.3f} | {r['mb_image']:.3f} | {r['nib'] / r['mb_image']:.2f}x |")
        print(f"| write .nii.gz (all threads) | {w['nib']:.3f} | {w['mb']:.3f} | {w['nib'] / w['mb']:.2f}x |")
        print(f"| write .nii.gz (1 thread) | {w['nib']:.3f} | {w['mb1']:.3f} | {w['nib'] / w['mb1']:.2f}x |")
        print()
        print(f"written file: nibabel {meta['bytes']} bytes (compresslevel {meta['compresslevel']}), "
              f"medburn {meta['mb_bytes']} bytes (default level)")
        print("raw:", json.dumps(rows))


if __name__ == "__main__":
    main()
