#!/usr/bin/env python3
"""Writes the HDF5 fixtures of tests/hdf5.rs with h5py: tests/fixtures/hdf5/*.h5 and hdf5.json.

    python tests/scripts/make_hdf5_fixtures.py      (needs numpy and h5py; seeded)

medburn's HDF5 layout (crates/io/src/hdf5.rs): one dataset per image, shape [C, k, j, i], with
attributes origin, spacing (3 floats, LPS mm), direction (9 floats, row-major), size
([i, j, k, further dims...]), rescale_slope, rescale_intercept, modality, subtype, metadata
(a JSON object of strings) and medburn_layout = 1.

Good files (read by medburn; hdf5.json lists what it must find in each):
  contiguous_f32.h5          float32, contiguous, every attribute as medburn writes it
                             (variable-length UTF-8 strings, uint64 size, uint32 layout)
  chunked_gzip_i16.h5        int16, chunked by slice, gzip 4, rescale slope/intercept
  chunked_shuffle_u8.h5      uint8, 5^3 chunks that do not divide the shape, shuffle + gzip 9
  two_channels_f64.h5        float64, 2 channels (size [i, j, k, 2]), gzip
  python_style_u16be.h5      big-endian uint16, attributes as plain Python values give them
                             (float64 list, int64 lists, float32 array, a fixed-length bytes
                             string), no medburn_layout, no metadata
  volume_3d_i32.h5           a 3-D int32 dataset [k, j, i] with only origin/spacing/direction
  bool_mask.h5               a numpy bool mask (h5py's FALSE/TRUE enum), read as uint8
  two_images.h5              datasets "ct" and "seg" (no "image")

Bad files (bad/; medburn must refuse each with the message in hdf5.json, never panic):
  complex64, float16, fixed-length strings, no origin, a 2-D dataset, a size attribute in
  [i, j, k] order against a dataset stored [i, j, k], an empty file, zero spacing, metadata
  that is not JSON, a file cut short, a layout version medburn does not know, a text file
  named .h5, and two images of which none is named "image".
"""

import json
from pathlib import Path

import h5py
import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE.parent / "fixtures" / "hdf5"
RNG = np.random.default_rng(20260527)


def oblique_direction():
    """A rotation about an oblique axis (columns: the i, j, k directions in LPS)."""
    a, b = 0.3, -0.2
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def values(dtype, shape):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return RNG.random(shape) < 0.3
    if np.issubdtype(dt, np.floating):
        return (RNG.standard_normal(shape) * 100.0).astype(dt)
    info = np.iinfo(dt)
    lo, hi = max(info.min, -30000), min(info.max, 30000)
    return RNG.integers(lo, hi, size=shape, endpoint=True).astype(dt)


def medburn_attrs(ds, origin, spacing, direction, size, slope=1.0, inter=0.0,
                  modality="unknown", subtype="", metadata=None):
    """The attributes exactly as medburn writes them."""
    ds.attrs["origin"] = np.asarray(origin, dtype="<f8")
    ds.attrs["spacing"] = np.asarray(spacing, dtype="<f8")
    ds.attrs["direction"] = np.asarray(direction, dtype="<f8").reshape(9)
    ds.attrs["size"] = np.asarray(size, dtype="<u8")
    ds.attrs["rescale_slope"] = np.float64(slope)
    ds.attrs["rescale_intercept"] = np.float64(inter)
    ds.attrs["medburn_layout"] = np.uint32(1)
    ds.attrs["modality"] = modality  # str: a variable-length UTF-8 string
    ds.attrs["subtype"] = subtype
    ds.attrs["metadata"] = json.dumps(metadata or {})


def samples(data, n=12):
    """n voxels [c, k, j, i, value], the corners first."""
    c, k, j, i = data.shape
    picks = [(0, 0, 0, 0), (c - 1, k - 1, j - 1, i - 1), (0, k - 1, 0, i - 1)]
    while len(picks) < n:
        picks.append(tuple(int(RNG.integers(0, s)) for s in data.shape))
    return [[*map(int, p), float(data[p])] for p in picks]


def entry(name, data4, origin, spacing, direction, size, dtype, dataset=None, slope=1.0,
          inter=0.0, modality="unknown", subtype=None, metadata=None):
    return {
        "file": name,
        "dataset": dataset,
        "dtype": dtype,
        "shape": list(data4.shape),
        "size": list(size),
        "origin": list(map(float, origin)),
        "spacing": list(map(float, spacing)),
        "direction": [float(x) for x in np.asarray(direction).reshape(9)],
        "rescale": [float(slope), float(inter)],
        "modality": modality,
        "subtype": subtype,
        "metadata": metadata or {},
        "sum": float(data4.astype(np.float64).sum()),
        "samples": samples(data4),
    }


def good():
    files = []

    # 1. contiguous float32, every attribute as medburn writes it.
    shape = (1, 8, 9, 10)
    d = values("<f4", shape)
    o, s, r = [-12.5, 30.25, 7.0], [0.8, 0.9, 2.5], oblique_direction()
    meta = {"PatientID": "anon/1", "SeriesDescription": "h5py contiguous"}
    with h5py.File(OUT / "contiguous_f32.h5", "w") as f:
        ds = f.create_dataset("image", data=d)
        medburn_attrs(ds, o, s, r, [10, 9, 8], modality="CT", metadata=meta)
    files.append(entry("contiguous_f32.h5", d, o, s, r, [10, 9, 8], "float32",
                       modality="CT", metadata=meta))

    # 2. int16 chunked by slice, gzip, with a rescale.
    shape = (1, 12, 10, 8)
    d = values("<i2", shape)
    o, s, r = [100.0, -50.0, 0.5], [1.0, 1.0, 3.0], np.diag([-1.0, 1.0, 1.0])
    with h5py.File(OUT / "chunked_gzip_i16.h5", "w") as f:
        ds = f.create_dataset("image", data=d, chunks=(1, 1, 10, 8), compression="gzip",
                              compression_opts=4)
        medburn_attrs(ds, o, s, r, [8, 10, 12], slope=0.5, inter=-1024.0, modality="MR",
                      subtype="T1")
    files.append(entry("chunked_gzip_i16.h5", d, o, s, r, [8, 10, 12], "int16", slope=0.5,
                       inter=-1024.0, modality="MR", subtype="T1"))

    # 3. uint8 with chunks that do not divide the shape (partial edge chunks), shuffle + gzip.
    shape = (1, 16, 12, 10)
    d = values("u1", shape)
    o, s, r = [0.0, 0.0, 0.0], [0.5, 0.5, 0.5], np.eye(3)
    with h5py.File(OUT / "chunked_shuffle_u8.h5", "w") as f:
        ds = f.create_dataset("image", data=d, chunks=(1, 5, 5, 5), compression="gzip",
                              compression_opts=9, shuffle=True)
        medburn_attrs(ds, o, s, r, [10, 12, 16], modality="Seg")
    files.append(entry("chunked_shuffle_u8.h5", d, o, s, r, [10, 12, 16], "uint8",
                       modality="Seg"))

    # 4. float64, two channels.
    shape = (2, 8, 8, 8)
    d = values("<f8", shape)
    o, s, r = [1.0, 2.0, 3.0], [1.5, 1.5, 1.5], oblique_direction().T
    with h5py.File(OUT / "two_channels_f64.h5", "w") as f:
        ds = f.create_dataset("image", data=d, chunks=(1, 1, 8, 8), compression="gzip")
        medburn_attrs(ds, o, s, r, [8, 8, 8, 2], modality="PT", subtype="FDG")
    files.append(entry("two_channels_f64.h5", d, o, s, r, [8, 8, 8, 2], "float64",
                       modality="PT", subtype="FDG"))

    # 5. big-endian uint16, attributes as a Python user writes them.
    shape = (1, 8, 8, 8)
    d = values(">u2", shape)
    o, s, r = [4.0, 5.0, -6.0], [2.0, 2.0, 2.0], np.eye(3)
    with h5py.File(OUT / "python_style_u16be.h5", "w") as f:
        ds = f.create_dataset("image", data=d)
        ds.attrs["origin"] = o  # list of floats: float64
        ds.attrs["spacing"] = np.asarray(s, dtype=np.float32)
        ds.attrs["direction"] = [1, 0, 0, 0, 1, 0, 0, 0, 1]  # list of ints: int64
        ds.attrs["size"] = [8, 8, 8]  # int64
        ds.attrs["rescale_slope"] = 2  # int64 scalar
        ds.attrs["modality"] = np.bytes_(b"PT")  # fixed-length ASCII
    files.append(entry("python_style_u16be.h5", d, o, s, r, [8, 8, 8], "uint16", slope=2.0,
                       modality="PT"))

    # 6. a 3-D dataset [k, j, i] with geometry only.
    d3 = values("<i4", (8, 9, 10))
    o, s, r = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0], np.eye(3)
    with h5py.File(OUT / "volume_3d_i32.h5", "w") as f:
        ds = f.create_dataset("image", data=d3, compression="gzip")
        ds.attrs["origin"] = o
        ds.attrs["spacing"] = s
        ds.attrs["direction"] = np.eye(3).reshape(9)
    files.append(entry("volume_3d_i32.h5", d3[None], o, s, r, [10, 9, 8], "int32"))

    # 7. a numpy bool mask.
    m = values(np.bool_, (1, 8, 8, 8))
    o, s, r = [-1.0, -1.0, -1.0], [1.0, 1.0, 1.0], np.eye(3)
    with h5py.File(OUT / "bool_mask.h5", "w") as f:
        ds = f.create_dataset("image", data=m, compression="gzip")
        medburn_attrs(ds, o, s, r, [8, 8, 8], modality="Seg")
    files.append(entry("bool_mask.h5", m.astype(np.uint8), o, s, r, [8, 8, 8], "uint8",
                       modality="Seg"))

    # 8. two images in one file, no dataset named "image".
    ct = values("<i2", (1, 8, 8, 8))
    seg = values("u1", (1, 8, 8, 8))
    o, s, r = [10.0, 20.0, 30.0], [0.7, 0.7, 1.2], np.eye(3)
    with h5py.File(OUT / "two_images.h5", "w") as f:
        a = f.create_dataset("ct", data=ct, chunks=(1, 1, 8, 8), compression="gzip")
        medburn_attrs(a, o, s, r, [8, 8, 8], modality="CT")
        b = f.create_dataset("seg", data=seg, chunks=(1, 1, 8, 8), compression="gzip")
        medburn_attrs(b, o, s, r, [8, 8, 8], modality="Seg")
    files.append(entry("two_images.h5", ct, o, s, r, [8, 8, 8], "int16", dataset="ct",
                       modality="CT"))
    files.append(entry("two_images.h5", seg, o, s, r, [8, 8, 8], "uint8", dataset="seg",
                       modality="Seg"))
    return files


def bad():
    b = OUT / "bad"
    b.mkdir(exist_ok=True)
    cases = []
    geom = dict(origin=[0, 0, 0], spacing=[1, 1, 1], direction=np.eye(3), size=[4, 4, 4])

    def plain(name, data, expect, **attrs):
        with h5py.File(b / name, "w") as f:
            ds = f.create_dataset("image", data=data)
            a = dict(geom)
            a.update(attrs)
            medburn_attrs(ds, **a)
        cases.append({"file": "bad/" + name, "expect": expect})

    plain("complex64.h5", np.zeros((1, 4, 4, 4), np.complex64), "unsupported: dataset \"image\": HDF5 element type")
    plain("float16.h5", np.zeros((1, 4, 4, 4), np.float16), "unsupported: dataset \"image\": HDF5 element type")
    plain("zero_spacing.h5", np.zeros((1, 4, 4, 4), np.float32), "invalid geometry", spacing=[1, 0, 1])
    plain("metadata_not_json.h5", np.zeros((1, 4, 4, 4), np.float32), "not a JSON object",
          metadata=None)
    with h5py.File(b / "metadata_not_json.h5", "a") as f:
        f["image"].attrs["metadata"] = "PatientID=anon"
    # stored [i, j, k] (nibabel's order) with medburn's size: i=4, j=5, k=6
    plain("size_mismatch.h5", np.zeros((1, 4, 5, 6), np.float32), "attribute \"size\"", size=[4, 5, 6])
    plain("layout_2.h5", np.zeros((1, 4, 4, 4), np.float32), "medburn_layout")
    with h5py.File(b / "layout_2.h5", "a") as f:
        f["image"].attrs["medburn_layout"] = np.uint32(2)

    plain("strings.h5", np.array([b"not", b"voxels"] * 32).reshape(1, 4, 4, 4),
          "unsupported: dataset \"image\": HDF5 element type string")
    with h5py.File(b / "plane_2d.h5", "w") as f:
        f.create_dataset("image", data=np.zeros((4, 4), np.float32))
    cases.append({"file": "bad/plane_2d.h5", "expect": "shape [4, 4]"})
    with h5py.File(b / "no_origin.h5", "w") as f:
        ds = f.create_dataset("image", data=np.zeros((1, 4, 4, 4), np.float32))
        ds.attrs["spacing"] = [1.0, 1.0, 1.0]
        ds.attrs["direction"] = np.eye(3).reshape(9)
    cases.append({"file": "bad/no_origin.h5", "expect": "no attribute \"origin\""})
    with h5py.File(b / "no_dataset.h5", "w") as f:
        f.create_group("empty")
    cases.append({"file": "bad/no_dataset.h5", "expect": "no dataset in the file"})

    # A gzip-chunked file cut short: the last third of it is gone.
    full = (OUT / "chunked_gzip_i16.h5").read_bytes()
    (b / "truncated.h5").write_bytes(full[: len(full) * 2 // 3])
    cases.append({"file": "bad/truncated.h5", "expect": "truncated"})
    (b / "not_hdf5.h5").write_text("origin,spacing\n0,1\n")
    cases.append({"file": "bad/not_hdf5.h5", "expect": "not an HDF5 file"})
    # Several images and none named "image": read_hdf5 must say how to pick one.
    cases.append({"file": "two_images.h5", "expect": "none named \"image\": read one by name"})
    return cases


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    good_files = good()
    bad_files = bad()
    doc = {
        "made_by": "tests/scripts/make_hdf5_fixtures.py",
        "h5py": h5py.version.version,
        "hdf5": h5py.version.hdf5_version,
        "numpy": np.__version__,
        "good": good_files,
        "bad": bad_files,
    }
    # One line per file: short enough to read, and diffs stay per file.
    lines = ["{"]
    for key in ("made_by", "h5py", "hdf5", "numpy"):
        lines.append(f' "{key}": {json.dumps(doc[key])},')
    for key in ("good", "bad"):
        lines.append(f' "{key}": [')
        lines.append(",\n".join("  " + json.dumps(e) for e in doc[key]))
        lines.append(" ]," if key == "good" else " ]")
    lines.append("}")
    (OUT / "hdf5.json").write_text("\n".join(lines) + "\n")
    total = sum(p.stat().st_size for p in OUT.rglob("*.h5"))
    print(f"make_hdf5_fixtures: {len(good_files)} images, {len(bad_files)} bad inputs, "
          f"{total} bytes of .h5 in {OUT}")


if __name__ == "__main__":
    main()
