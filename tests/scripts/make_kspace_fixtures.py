#!/usr/bin/env python3
"""Fixtures of the MR k-space artifacts: TorchIO's Ghosting and Spike, and a motion built with
NumPy's FFT, on small volumes with odd and even sizes.

    python tests/scripts/make_kspace_fixtures.py   # writes tests/fixtures/torchio/kspace.json

Volumes are stored flattened in medburn's order ([k][j][i], i fastest); TorchIO holds them as
[C, i, j, k].
"""
import json
import pathlib

import numpy as np
import torch
import torchio as tio
from torchio.transforms.augmentation.intensity.random_ghosting import Ghosting
from torchio.transforms.augmentation.intensity.random_spike import Spike

SIZE = (8, 7, 6)  # (i, j, k)


def flat(a):
    """[i, j, k] -> medburn's [k][j][i] order."""
    return a.transpose(2, 1, 0).ravel().astype(float).tolist()


def main():
    rng = np.random.default_rng(20261129)
    image = rng.normal(size=SIZE).astype(np.float32) + 2.0
    subject = lambda: tio.Subject(image=tio.ScalarImage(tensor=torch.from_numpy(image[None].copy())))
    cases = []
    for num_ghosts, axis, intensity, restore in [(3, 0, 0.7, 0.3), (2, 1, 1.0, 0.02), (4, 2, 0.5, 0.5)]:
        out = Ghosting(num_ghosts=num_ghosts, axis=axis, intensity=intensity, restore=restore)(subject())
        cases.append({"kind": "ghosting", "num_ghosts": num_ghosts, "axis": axis, "intensity": intensity,
                      "restore": restore, "output": flat(out["image"].data[0].numpy())})
    for positions, intensity in [([[0.2, 0.7, 0.4]], 1.5), ([[0.9, 0.1, 0.5], [0.5, 0.5, 0.99]], 0.8)]:
        out = Spike(spikes_positions=np.array(positions), intensity=intensity)(subject())
        cases.append({"kind": "spike", "positions": positions, "intensity": intensity,
                      "output": flat(out["image"].data[0].numpy())})
    # Motion as TorchIO composes it: the content moved +2 voxels along i (0 where it came from
    # outside), k-space along k from the moved copy before `time` and the original after it
    # (the original holds the centre).
    moved = np.zeros_like(image)
    moved[2:] = image[:-2]
    for time in [0.3, 0.7]:
        spectra = [np.fft.fftshift(np.fft.fftn(a)) for a in (image, moved)]
        if time > 0.5:  # the first segment holds the centre: the original goes there
            spectra = spectra[::-1]
        cut = int(time * SIZE[2])
        out = np.concatenate([spectra[1][..., :cut], spectra[0][..., cut:]], axis=2)
        out = np.fft.ifftn(np.fft.ifftshift(out)).real
        cases.append({"kind": "motion", "translation_mm": [2.0, 0.0, 0.0], "time": time, "output": flat(out)})
    path = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "torchio" / "kspace.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"size": SIZE, "input": flat(image), "torchio": tio.__version__, "cases": cases}))
    print(path)


if __name__ == "__main__":
    main()
