#!/usr/bin/env python3
"""MONAI's surface distances and Dice on small label maps, for medburn-register's
`surface_distances` and `dice` (crates/register/tests/surface_distance.rs).

Run: python3 tests/scripts/make_surface_fixture.py  (needs numpy, scipy, torch and MONAI 1.6;
writes tests/fixtures/monai/surface_distance.json)

Each case is a pair of seeded label maps (prediction, reference) of 16^3 to 24^3 voxels with an
anisotropic spacing, stored flat with i fastest (index i + ni (j + nj k), as NIfTI and medburn
hold them), with `size` = [ni, nj, nk] and `spacing` = [si, sj, sk]. MONAI sees them as arrays
of shape (nk, nj, ni) (the same memory in C order), one-hot [1, C, nk, nj, ni], spacing
[sk, sj, si]. For every label the fixture holds:

  monai    what MONAI computes, in float32 as it does: compute_hausdorff_distance(percentile=95)
           ("hd95"), compute_hausdorff_distance() ("hausdorff"),
           compute_average_surface_distance(symmetric=True) ("mean"), compute_dice ("dice");
           `null` where MONAI gives inf or nan, with the value's name in "monai_nonfinite";
  float64  the same definitions in float64: MONAI's own get_mask_edges for the surfaces,
           scipy's cKDTree for the distances (coordinates times spacing, as MONAI's CPU path),
           np.quantile (linear, as torch.quantile) per direction, the larger of the two; the
           pooled mean of both directions; counts of surface voxels.

Cases: overlapping blobs with labels 1..3; a label touching the grid's border; noisy shapes
with holes; a prediction missing a label and a reference missing one (MONAI: inf or nan); a
label in neither map (every case has one more label than it uses; MONAI: nan).
"""
import json
import pathlib
import warnings

import numpy as np
import torch
from scipy.spatial import cKDTree

import monai
from monai.metrics import (
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
)
from monai.metrics.utils import get_mask_edges

OUT = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "monai" / "surface_distance.json"


def blobs(rng, shape_kji, spacing_kji, count, labels):
    """A label map (nk, nj, ni) of random ellipsoids, later ones painted over earlier ones."""
    grid = np.stack(np.meshgrid(*[np.arange(n) * s for n, s in zip(shape_kji, spacing_kji)], indexing="ij"), -1)
    extent = np.array([n * s for n, s in zip(shape_kji, spacing_kji)])
    out = np.zeros(shape_kji, dtype=np.uint8)
    for n in range(count):
        centre = rng.uniform(0.2, 0.8, 3) * extent
        radii = rng.uniform(0.12, 0.3, 3) * extent.min() + 1.0
        inside = (((grid - centre) / radii) ** 2).sum(-1) <= 1.0
        out[inside] = labels[n % len(labels)]  # every label drawn at least once
    return out


def perturb(rng, label_map, flip_fraction, labels):
    """Changes a share of the voxels near the label boundaries and a few at random."""
    out = label_map.copy()
    boundary = np.zeros_like(out, dtype=bool)
    for axis in range(3):
        boundary |= out != np.roll(out, 1, axis)
    idx = np.argwhere(boundary)
    pick = idx[rng.random(len(idx)) < flip_fraction]
    out[tuple(pick.T)] = rng.choice(labels + [0], len(pick))
    noise = rng.random(out.shape) < 0.003
    out[noise] = rng.choice(labels, noise.sum())
    return out


def float64_reference(pred, ref, label, spacing_kji):
    edges_p, edges_r = get_mask_edges(pred == label, ref == label, crop=True)
    cp = np.argwhere(edges_p).astype(np.float64) * np.asarray(spacing_kji)
    cr = np.argwhere(edges_r).astype(np.float64) * np.asarray(spacing_kji)
    if len(cp) == 0 or len(cr) == 0:
        return None
    p2r = cKDTree(cr).query(cp, k=1)[0]
    r2p = cKDTree(cp).query(cr, k=1)[0]
    return {
        "hd95": float(max(np.quantile(p2r, 0.95), np.quantile(r2p, 0.95))),
        "hausdorff": float(max(p2r.max(), r2p.max())),
        "mean": float(np.concatenate([p2r, r2p]).mean()),
        "mean_prediction_to_reference": float(p2r.mean()),
        "mean_reference_to_prediction": float(r2p.mean()),
        "prediction_surface_voxels": int(len(cp)),
        "reference_surface_voxels": int(len(cr)),
    }


def monai_values(pred, ref, n_labels, spacing_kji):
    onehot = lambda m: torch.from_numpy(np.stack([m == c for c in range(n_labels)])[None].astype(np.float32))
    yp, y = onehot(pred), onehot(ref)
    sp = [float(s) for s in spacing_kji]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hd95 = compute_hausdorff_distance(yp, y, include_background=True, percentile=95, spacing=sp)[0]
        hd = compute_hausdorff_distance(yp, y, include_background=True, spacing=sp)[0]
        asd = compute_average_surface_distance(yp, y, include_background=True, symmetric=True, spacing=sp)[0]
        dice = compute_dice(yp, y, include_background=True)[0]
    return {"hd95": hd95, "hausdorff": hd, "mean": asd, "dice": dice}


def main():
    rng = np.random.default_rng(20261209)
    specs = [
        # name, size [ni, nj, nk], spacing [si, sj, sk], labels
        ("blobs", [16, 18, 20], [0.8, 1.3, 2.1], [1, 2, 3]),
        ("touching_border", [24, 24, 24], [1.0, 1.0, 3.0], [1, 2]),
        ("noisy_holes", [20, 16, 22], [0.5, 2.0, 1.2], [1, 2, 3]),
        ("missing_in_prediction", [18, 20, 16], [1.1, 0.9, 1.7], [1, 2]),
        ("missing_in_reference", [16, 20, 18], [2.0, 1.0, 1.4], [1, 2]),
        ("absent_label", [16, 16, 16], [1.0, 1.5, 2.5], [1]),
    ]
    cases = []
    for name, size, spacing, labels in specs:
        shape_kji = (size[2], size[1], size[0])
        spacing_kji = (spacing[2], spacing[1], spacing[0])
        ref = blobs(rng, shape_kji, spacing_kji, 6, labels)
        if name == "touching_border":
            ref[:, :, :4] = 1  # label 1 fills the i < 4 slab, on the border of the grid
            ref[-3:, 5:15, 6:12] = 2
        if name == "noisy_holes":
            ref[rng.random(shape_kji) < 0.05] = 0  # holes: surfaces inside the shapes
        pred = perturb(rng, ref, 0.4, labels)
        if name == "touching_border":
            pred = np.roll(pred, 1, axis=0)
        if name == "missing_in_prediction":
            pred[pred == 2] = 0
            assert (ref == 2).any()
        if name == "missing_in_reference":
            ref[ref == 2] = 0
            assert (pred == 2).any()
        n_labels = max(labels) + 2  # one label more than used: absent from both maps
        mon = monai_values(pred, ref, n_labels, spacing_kji)
        per_label = []
        for label in range(1, n_labels):
            entry = {"label": label, "monai": {}, "monai_nonfinite": {}}
            for key, values in mon.items():
                v = float(values[label])
                if np.isfinite(v):
                    entry["monai"][key] = v
                else:
                    entry["monai"][key] = None
                    entry["monai_nonfinite"][key] = "inf" if np.isinf(v) else "nan"
            entry["float64"] = float64_reference(pred, ref, label, spacing_kji)
            p, r = (pred == label).sum(), (ref == label).sum()
            entry["dice_float64"] = None if p + r == 0 else float(2.0 * ((pred == label) & (ref == label)).sum() / (p + r))
            per_label.append(entry)
        cases.append({
            "name": name,
            "size": size,
            "spacing": spacing,
            # C-order flattening of (nk, nj, ni): i fastest.
            "prediction": pred.reshape(-1).tolist(),
            "reference": ref.reshape(-1).tolist(),
            "labels": per_label,
        })
        print(name, [(e["label"], e["monai"]["hd95"], e["monai"]["mean"], e["monai_nonfinite"]) for e in per_label])
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "generator": "tests/scripts/make_surface_fixture.py",
        "monai": monai.__version__,
        "torch": torch.__version__,
        "cases": cases,
    }) + "\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
