#!/usr/bin/env python3
"""scipy.ndimage.gaussian_filter of a volume, for crates/ops/tests/smoothing_reference.rs.

Run: python3 tests/scripts/make_smoothing_fixture.py  (needs numpy and scipy)

medburn's paddings map onto scipy's modes: zeros = "constant" (cval 0), border = "nearest",
reflection = "mirror" (no repeated edge). Both truncate at 4 standard deviations.
"""
import json
import pathlib

import numpy as np
import scipy
from scipy.ndimage import gaussian_filter

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "scipy_gaussian.json"


def main():
    rng = np.random.default_rng(20261121)
    volume = rng.normal(size=(9, 10, 12))  # [D, H, W]
    cases = []
    for padding, mode in [("zeros", "constant"), ("border", "nearest"), ("reflection", "mirror")]:
        for sigma in [(1.0, 1.5, 0.7), (0.0, 2.0, 1.2)]:
            out = gaussian_filter(volume, sigma=sigma, mode=mode, cval=0.0, truncate=4.0)
            cases.append({"padding": padding, "sigma": list(sigma), "input_shape": [1, 1, *volume.shape],
                          "input": volume.reshape(-1).tolist(), "output": out.reshape(-1).tolist()})
    OUT.write_text(json.dumps({"meta": {"scipy": scipy.__version__}, "cases": cases}))
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
