#!/usr/bin/env python3
"""An ITK transform file written by SimpleITK, and where it maps a few points, for
medburn-register's reader and writer (crates/register/tests/itk_transform.rs).

Run: python3 tests/scripts/make_itk_transform_fixture.py  (needs SimpleITK; writes
tests/fixtures/itk/affine.tfm and tests/fixtures/itk/affine_points.json)
"""
import json
import pathlib

import SimpleITK as sitk

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "itk"


def main():
    t = sitk.AffineTransform(3)
    t.SetMatrix([1.05, -0.139, 0.03, 0.139, 0.97, 0.0, 0.02, 0.011, 1.02])
    t.SetTranslation([4.0, -3.0, 2.5])
    t.SetCenter([-1.5, 12.25, 30.0])
    OUT.mkdir(parents=True, exist_ok=True)
    sitk.WriteTransform(t, str(OUT / "affine.tfm"))
    points = [[0.0, 0.0, 0.0], [10.0, -20.0, 30.5], [-35.25, 44.0, -12.0], [100.0, 100.0, 100.0]]
    mapped = [list(t.TransformPoint(p)) for p in points]
    (OUT / "affine_points.json").write_text(json.dumps({"points": points, "mapped": mapped}))
    print(f"-> {OUT}")


if __name__ == "__main__":
    main()
