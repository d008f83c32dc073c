//! HDF5 on the default build (pure Rust): files h5py wrote (`tests/fixtures/hdf5`, made by
//! `tests/scripts/make_hdf5_fixtures.py`) read with their values and geometry, medburn's
//! own files read back, and damaged files refused with an error, never a panic.
//! (`tests/scripts/check_hdf5.py` checks the other direction: h5py reading medburn's files.)

use std::path::{Path, PathBuf};

use medburn_core::{Direction, Geometry, Modality};
use medburn_io::hdf5::{image_names, read_hdf5, read_hdf5_image, write_hdf5_images};
use medburn_io::{IoErrorKind, Rescale, Volume, VoxelArray, VoxelType, WriteOptions};
use ndarray::{ArrayD, IxDyn};
use serde_json::Value;

fn hdf5_dir() -> PathBuf {
    medburn_e2e::fixtures_dir().join("hdf5")
}

fn manifest() -> Value {
    let path = hdf5_dir().join("hdf5.json");
    let text = std::fs::read_to_string(&path)
        .expect("tests/fixtures/hdf5/hdf5.json (run tests/scripts/make_hdf5_fixtures.py)");
    serde_json::from_str(&text).expect("hdf5.json is JSON")
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

/// The stored value at `[c, k, j, i]` as f64.
fn at(v: &Volume, idx: [usize; 4]) -> f64 {
    let ix = IxDyn(&idx);
    match &v.data {
        VoxelArray::U8(a) => a[ix] as f64,
        VoxelArray::I8(a) => a[ix] as f64,
        VoxelArray::I16(a) => a[ix] as f64,
        VoxelArray::U16(a) => a[ix] as f64,
        VoxelArray::I32(a) => a[ix] as f64,
        VoxelArray::U32(a) => a[ix] as f64,
        VoxelArray::I64(a) => a[ix] as f64,
        VoxelArray::U64(a) => a[ix] as f64,
        VoxelArray::F32(a) => a[ix] as f64,
        VoxelArray::F64(a) => a[ix],
    }
}

fn sum(v: &Volume) -> f64 {
    let s = v.data.shape().to_vec();
    let mut total = 0.0;
    for c in 0..s[0] {
        for k in 0..s[1] {
            for j in 0..s[2] {
                for i in 0..s[3] {
                    total += at(v, [c, k, j, i]);
                }
            }
        }
    }
    total
}

fn read_entry(e: &Value) -> medburn_io::Result<Volume> {
    let path = hdf5_dir().join(e["file"].as_str().unwrap());
    match e["dataset"].as_str() {
        Some(name) => read_hdf5_image(&path, name),
        None => medburn_io::read(&path),
    }
}

#[test]
fn h5py_files_read_with_values_geometry_and_metadata() {
    let m = manifest();
    let good = m["good"].as_array().unwrap();
    assert!(good.len() >= 8);
    for e in good {
        let name = format!("{} {}", e["file"], e["dataset"]);
        let v = read_entry(e).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(v.data.voxel_type().to_string(), e["dtype"], "{name}");
        let shape: Vec<usize> = serde_json::from_value(e["shape"].clone()).unwrap();
        assert_eq!(v.data.shape(), &shape[..], "{name}");
        let size: Vec<usize> = serde_json::from_value(e["size"].clone()).unwrap();
        assert_eq!(v.size(), size, "{name}");
        let g = &v.geometry;
        assert!(
            close(&g.origin(), &medburn_e2e::floats(&e["origin"]), 1e-12),
            "{name}: origin {:?}",
            g.origin()
        );
        assert!(
            close(&g.spacing(), &medburn_e2e::floats(&e["spacing"]), 1e-6),
            "{name}: spacing {:?}",
            g.spacing()
        );
        assert!(
            close(
                &g.direction().row_major(),
                &medburn_e2e::floats(&e["direction"]),
                1e-12
            ),
            "{name}: direction {:?}",
            g.direction()
        );
        let r = medburn_e2e::floats(&e["rescale"]);
        assert_eq!(
            v.rescale,
            Rescale {
                slope: r[0],
                inter: r[1]
            },
            "{name}"
        );
        assert_eq!(v.modality.to_string(), e["modality"], "{name}");
        assert_eq!(v.subtype.as_deref(), e["subtype"].as_str(), "{name}");
        let meta: std::collections::BTreeMap<String, String> =
            serde_json::from_value(e["metadata"].clone()).unwrap();
        assert_eq!(v.metadata, meta, "{name}");
        let want = e["sum"].as_f64().unwrap();
        assert!(
            (sum(&v) - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{name}: sum {} != {want}",
            sum(&v)
        );
        for s in e["samples"].as_array().unwrap() {
            let s = medburn_e2e::floats(s);
            let idx = [s[0] as usize, s[1] as usize, s[2] as usize, s[3] as usize];
            // serde_json parses decimals to within an ulp or so, not always exactly.
            let got = at(&v, idx);
            assert!(
                (got - s[4]).abs() <= 1e-14 * s[4].abs().max(1.0),
                "{name} at {idx:?}: {got} != {}",
                s[4]
            );
        }
        // And the file says the same after medburn writes it again.
        let dir = tempfile::tempdir().unwrap();
        let again = dir.path().join("again.h5");
        medburn_io::write(&v, &again, &WriteOptions::default()).unwrap();
        assert_eq!(read_hdf5(&again).unwrap(), v, "{name}");
    }
}

#[test]
fn h5py_two_images_are_listed_and_read_by_name() {
    let path = hdf5_dir().join("two_images.h5");
    assert_eq!(image_names(&path).unwrap(), ["ct", "seg"]);
    let ct = read_hdf5_image(&path, "ct").unwrap();
    let seg = read_hdf5_image(&path, "seg").unwrap();
    assert_eq!(ct.geometry, seg.geometry);
    assert_eq!(ct.modality, Modality::Ct);
    let err = read_hdf5_image(&path, "pet").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&path.display().to_string())
            && msg.contains("no dataset \"pet\"")
            && msg.contains("ct, seg"),
        "{msg}"
    );
}

#[test]
fn bad_h5py_files_give_clear_errors() {
    let m = manifest();
    let bad = m["bad"].as_array().unwrap();
    assert!(bad.len() >= 12);
    for e in bad {
        let path = hdf5_dir().join(e["file"].as_str().unwrap());
        let expect = e["expect"].as_str().unwrap();
        let err = match medburn_io::read(&path) {
            Ok(v) => panic!(
                "{}: read {:?} instead of an error",
                path.display(),
                v.size()
            ),
            Err(err) => err,
        };
        let msg = err.to_string();
        assert!(
            msg.starts_with(&path.display().to_string()) && msg.contains(expect),
            "{}: expected {expect:?} in {msg:?}",
            path.display()
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
}

fn oblique_geometry(size: [usize; 3]) -> Geometry {
    let (s, c) = 25f64.to_radians().sin_cos();
    let d = Direction::from_row_major([c, 0.0, s, 0.0, -1.0, 0.0, -s, 0.0, c]);
    Geometry::new(size, [-12.5, 30.25, 7.0], [0.9, 1.2, 2.5], d).unwrap()
}

/// A volume of type `t` with `channels` channels whose values reach both ends of its range.
fn volume(t: VoxelType, channels: usize) -> Volume {
    let (lo, hi) = t.range();
    let n = channels * 7 * 6 * 5;
    let vals: Vec<f64> = (0..n)
        .map(|i| match i % 5 {
            0 => lo,
            1 => hi,
            _ => (i % 90) as f64 * if t.is_float() { 0.37 } else { 1.0 },
        })
        .collect();
    let src = VoxelArray::F64(ArrayD::from_shape_vec(IxDyn(&[channels, 7, 6, 5]), vals).unwrap());
    let data = src.convert(t, Rescale::IDENTITY, true).unwrap();
    let mut v = Volume::new(data, oblique_geometry([5, 6, 7])).unwrap();
    v.modality = Modality::Other("US".into());
    v.subtype = Some("Doppler ü".into());
    v.metadata
        .insert("PatientName".into(), "Doe^J \"quoted\"".into());
    v
}

#[test]
fn medburn_files_round_trip_every_type_with_and_without_compression() {
    let dir = tempfile::tempdir().unwrap();
    for t in VoxelType::ALL {
        for level in [0, 2, 9] {
            let mut v = volume(t, 1);
            v.rescale = Rescale {
                slope: 0.25,
                inter: -7.0,
            };
            let path = dir.path().join(format!("{t}_{level}.h5"));
            let opts = WriteOptions {
                compression_level: level,
                ..Default::default()
            };
            medburn_io::write(&v, &path, &opts).unwrap();
            assert_eq!(medburn_io::read(&path).unwrap(), v, "{t} level {level}");
        }
    }
    // Six channels as t = 2, u = 3 keep their dimensions.
    let mut v = volume(VoxelType::F32, 6);
    v.extra_dims = vec![2, 3];
    let path = dir.path().join("5d.hdf5");
    medburn_io::write(&v, &path, &WriteOptions::default()).unwrap();
    let back = medburn_io::read(&path).unwrap();
    assert_eq!(back.size(), vec![5, 6, 7, 2, 3]);
    assert_eq!(back, v);
    // A type change on writing stores the real values with the identity rescale.
    let mut v = volume(VoxelType::I16, 1);
    v.rescale = Rescale {
        slope: 2.0,
        inter: 1.0,
    };
    let opts = WriteOptions {
        dtype: Some(VoxelType::F64),
        ..Default::default()
    };
    let path = dir.path().join("f64.h5");
    medburn_io::write(&v, &path, &opts).unwrap();
    let back = medburn_io::read(&path).unwrap();
    assert_eq!(back.rescale, Rescale::IDENTITY);
    assert_eq!(back.data, v.real_values(VoxelType::F64, false).unwrap());
}

#[test]
fn several_images_share_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pair.h5");
    let ct = volume(VoxelType::I16, 1);
    let seg = volume(VoxelType::U8, 1);
    write_hdf5_images(
        &[("ct", &ct), ("seg", &seg)],
        &path,
        &WriteOptions::default(),
    )
    .unwrap();
    assert_eq!(image_names(&path).unwrap(), ["ct", "seg"]);
    assert_eq!(read_hdf5_image(&path, "seg").unwrap(), seg);
    assert_eq!(read_hdf5_image(&path, "ct").unwrap(), ct);
    let msg = read_hdf5(&path).unwrap_err().to_string();
    assert!(msg.contains("read one by name"), "{msg}");
    // A name HDF5 cannot hold fails before anything is written.
    let bad = dir.path().join("bad.h5");
    assert!(write_hdf5_images(&[("a/b", &ct)], &bad, &WriteOptions::default()).is_err());
    assert!(!bad.exists());
}

/// Every file cut at every length is refused, never read as something else, and never panics.
#[test]
fn truncated_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.h5");
    medburn_io::write(&volume(VoxelType::I16, 1), &ours, &WriteOptions::default()).unwrap();
    let files: Vec<PathBuf> = vec![
        ours,
        hdf5_dir().join("chunked_gzip_i16.h5"),
        hdf5_dir().join("contiguous_f32.h5"),
        hdf5_dir().join("python_style_u16be.h5"),
    ];
    let cut = dir.path().join("cut.h5");
    for file in &files {
        let full = std::fs::read(file).unwrap();
        let mut truncated = 0;
        for len in 0..full.len() {
            std::fs::write(&cut, &full[..len]).unwrap();
            let err = match medburn_io::read(&cut) {
                Ok(_) => panic!("{} cut to {len} bytes was read", file.display()),
                Err(e) => e,
            };
            if matches!(err.kind, IoErrorKind::Truncated { .. }) {
                truncated += 1;
            }
        }
        // Past the superblock, the file is known to be short.
        assert!(truncated + 200 >= full.len(), "{}", file.display());
    }
}

/// Bytes changed at random: a clear error or a volume, never a panic or an abort.
#[test]
fn damaged_files_never_panic() {
    // A damaged header may claim any shape; the reader refuses those above this limit before
    // allocating (a chunk never written reads as the fill value, so the file size bounds
    // nothing). Every other test of this binary reads a few kB.
    std::env::set_var("MEDBURN_MAX_BYTES", "64M");
    let mut files = vec![hdf5_dir().join("chunked_shuffle_u8.h5")];
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("ours.h5");
    medburn_io::write(&volume(VoxelType::F32, 2), &ours, &WriteOptions::default()).unwrap();
    files.push(ours);
    let damaged = dir.path().join("damaged.h5");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let (mut ok, mut refused) = (0, 0);
    for file in &files {
        let full = std::fs::read(file).unwrap();
        for _ in 0..1500 {
            let mut bytes = full.clone();
            for _ in 0..1 + next() % 4 {
                let at = (next() % bytes.len() as u64) as usize;
                bytes[at] = next() as u8;
            }
            std::fs::write(&damaged, &bytes).unwrap();
            match medburn_io::read(&damaged) {
                Ok(_) => ok += 1,
                Err(e) => {
                    assert!(!e.to_string().is_empty());
                    refused += 1;
                }
            }
        }
    }
    assert!(
        refused > 0 && ok + refused == 3000,
        "{ok} read, {refused} refused"
    );
}

#[test]
fn a_file_that_is_not_hdf5_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("text.h5");
    std::fs::write(&path, "not HDF5 at all").unwrap();
    let err = medburn_io::read(&path).unwrap_err();
    assert!(matches!(err.kind, IoErrorKind::BadHeader(_)), "{err}");
    let missing = Path::new("/nonexistent/missing.h5");
    let msg = medburn_io::read(missing).unwrap_err().to_string();
    assert!(msg.contains("No such file"), "{msg}");
}
