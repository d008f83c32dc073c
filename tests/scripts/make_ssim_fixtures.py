#!/usr/bin/env python3
"""scikit-image's 3D SSIM and PSNR of seeded volume pairs, for train/tests/image_quality.rs.

Run: python3 tests/scripts/make_ssim_fixtures.py  (needs numpy, scipy and scikit-image)

Each case is a batch `[N, C, D, H, W]` of volume pairs `x` (the reference) and `y`, stored
flat in C order as float32 values (written in their shortest float32 form), with one
`ssim` and one `psnr` per sample: `structural_similarity(x[n], y[n], data_range=R,
channel_axis=0 if C > 1)` (its defaults: win_size 7, uniform window, sample covariance, K1 0.01,
K2 0.03, the SSIM map's mean over the volume cropped by 3 voxels on each side, the mean over
channels) and `peak_signal_noise_ratio(x[n], y[n], data_range=R)` over all voxels and channels
of the sample. skimage computes in float64 on the float32 values widened. A PSNR of `null`
is infinite (identical volumes: the MSE is 0).
"""
import json
import pathlib

import numpy as np
import scipy.ndimage as ndi
import skimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "metrics" / "ssim.json"
rng = np.random.default_rng(20260611)


def smooth_volume(shape, sigma, low, high):
    """Gaussian-smoothed noise rescaled to [low, high]."""
    v = ndi.gaussian_filter(rng.normal(size=shape), sigma)
    v = (v - v.min()) / (v.max() - v.min())
    return low + (high - low) * v


def blurred_noisy(x, sigma, noise):
    """`x` blurred per volume over its spatial axes, plus Gaussian noise of std `noise`."""
    return ndi.gaussian_filter(x, [0, 0, sigma, sigma, sigma]) + rng.normal(scale=noise, size=x.shape)


def f32_list(a):
    """The float32 values of `a` as their shortest decimal strings turned to numbers, checked
    to read back (decimal -> float64 -> float32, as serde_json and the test do) to the same
    float32."""
    a = np.asarray(a, dtype=np.float32).reshape(-1)
    text = [np.format_float_positional(v, unique=True, trim="-") for v in a]
    back = np.array([float(t) for t in text]).astype(np.float32)
    assert np.array_equal(back, a), "a float32 value does not read back"
    return [float(t) if "." in t else int(t) for t in text]


def case(name, x, y, data_range):
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.float32)
    n, c = x.shape[:2]
    ssim, psnr = [], []
    for i in range(n):
        xi = x[i].astype(np.float64)
        yi = y[i].astype(np.float64)
        if c > 1:
            s = structural_similarity(xi, yi, data_range=data_range, channel_axis=0)
        else:
            s = structural_similarity(xi[0], yi[0], data_range=data_range)
        with np.errstate(divide="ignore"):
            p = peak_signal_noise_ratio(xi, yi, data_range=data_range)
        ssim.append(float(s))
        psnr.append(float(p) if np.isfinite(p) else None)
    print(f"{name}: shape {list(x.shape)}, data range {data_range}: ssim {ssim}, psnr {psnr}")
    return {
        "name": name,
        "shape": list(x.shape),
        "data_range": data_range,
        "x": f32_list(x),
        "y": f32_list(y),
        "ssim": ssim,
        "psnr": psnr,
    }


def main():
    cases = []

    # Uniform noise and a noisy copy, sides 9, 10, 11 (a crop of 3, 4, 5 voxels per axis).
    x = rng.uniform(0.0, 1.0, size=(1, 1, 9, 10, 11))
    y = np.clip(x + rng.normal(scale=0.1, size=x.shape), 0.0, 1.0)
    cases.append(case("noise_9x10x11", x, y, 1.0))

    # A smooth 8-bit-like volume against its blurred, noisy copy.
    x = smooth_volume((1, 1, 16, 16, 16), 2.0, 0.0, 255.0)
    y = blurred_noisy(x, 1.0, 8.0)
    cases.append(case("blurred_noisy_16", x, y, 255.0))

    # Two channels in [-1, 1] (channel_axis=0: the mean of the channels' SSIM), two samples.
    x = np.stack([smooth_volume((2, 8, 9, 10), 1.5, -1.0, 1.0) for _ in range(2)])
    y = blurred_noisy(x, 0.8, 0.05)
    y[:, 1] = -0.5 * y[:, 1] + 0.1  # an anti-correlated channel (negative SSIM in sample 0)
    cases.append(case("two_channels", x, y, 2.0))

    # Sides of exactly 7 on two axes (one voxel left after the crop there); sample 0 is
    # identical to its reference (SSIM 1, PSNR infinite), sample 1 is not.
    x = rng.uniform(0.0, 1.0, size=(2, 1, 7, 7, 8))
    y = x.copy()
    y[1] = np.clip(x[1] + rng.normal(scale=0.2, size=x[1].shape), 0.0, 1.0)
    cases.append(case("identical_and_minimal", x, y, 1.0))

    # CT-like Hounsfield units with a large offset (data range 4000): the float32 variances.
    x = smooth_volume((1, 1, 12, 12, 12), 1.5, -1000.0, 3000.0)
    y = blurred_noisy(x, 0.7, 40.0)
    cases.append(case("ct_hounsfield", x, y, 4000.0))

    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "source": "tests/scripts/make_ssim_fixtures.py",
        "skimage": skimage.__version__,
        "numpy": np.__version__,
        "note": "x, y flat [N, C, D, H, W] float32; ssim, psnr per sample; psnr null = infinite",
        "cases": cases,
    }
    OUT.write_text(json.dumps(doc, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
