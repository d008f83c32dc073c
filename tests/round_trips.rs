//! Write then read every datatype through every format medburn writes.

use medburn_core::{Direction, Geometry, Modality};
use medburn_io::nifti::{read_nifti, read_nifti_header, NiftiVersion};
use medburn_io::{Rescale, Volume, VoxelArray, VoxelType, WriteOptions};
use ndarray::{ArrayD, IxDyn};

fn oblique_geometry(size: [usize; 3]) -> Geometry {
    let (s, c) = 25f64.to_radians().sin_cos();
    // A rotation about y combined with a flip of j: improper and oblique.
    let d = Direction::from_row_major([c, 0.0, s, 0.0, -1.0, 0.0, -s, 0.0, c]);
    Geometry::new(size, [-12.5, 30.25, 7.0], [0.9, 1.2, 2.5], d).unwrap()
}

/// A volume of type `t` whose values reach both ends of the type's range.
fn volume_of(t: VoxelType, channels: usize) -> Volume {
    let size = [5, 4, 3];
    let n = channels * 60;
    let (lo, hi) = t.range();
    let vals: Vec<f64> = (0..n)
        .map(|i| match i % 7 {
            0 => lo,
            1 => hi,
            2 => 0.0,
            _ => {
                if t.is_float() {
                    (i as f64) * 0.37 - 5.0
                } else {
                    (i as f64 % 100.0) - if lo < 0.0 { 50.0 } else { 0.0 }
                }
            }
        })
        .collect();
    let src = VoxelArray::F64(ArrayD::from_shape_vec(IxDyn(&[channels, 3, 4, 5]), vals).unwrap());
    let data = src.convert(t, Rescale::IDENTITY, true).unwrap();
    let mut v = Volume::new(data, oblique_geometry(size)).unwrap();
    if channels > 1 {
        v.extra_dims = vec![channels];
    }
    v.modality = Modality::Mr;
    v
}

fn assert_same_geometry(a: &Geometry, b: &Geometry, tol: f64) {
    assert_eq!(a.size(), b.size());
    let pairs = [
        (a.origin().to_vec(), b.origin().to_vec()),
        (a.spacing().to_vec(), b.spacing().to_vec()),
        (
            a.direction().row_major().to_vec(),
            b.direction().row_major().to_vec(),
        ),
    ];
    for (x, y) in pairs {
        for (p, q) in x.iter().zip(&y) {
            assert!((p - q).abs() <= tol, "{x:?} vs {y:?}");
        }
    }
}

#[test]
fn every_datatype_round_trips_through_every_nifti_flavour() {
    let dir = tempfile::tempdir().unwrap();
    for t in VoxelType::ALL {
        let v = volume_of(t, 1);
        for (name, version) in [
            ("a.nii", None),
            ("a.nii.gz", None),
            ("a.hdr", None),
            ("a2.nii.gz", Some(NiftiVersion::Two)),
            ("a2.hdr", Some(NiftiVersion::Two)),
        ] {
            let path = dir.path().join(format!("{t}_{name}"));
            let opts = WriteOptions {
                nifti_version: version,
                ..Default::default()
            };
            medburn_io::write(&v, &path, &opts).unwrap();
            let back = medburn_io::read(&path).unwrap();
            assert_eq!(back.data, v.data, "{t} {name}");
            // NIfTI-1 stores the affine in f32.
            assert_same_geometry(
                &back.geometry,
                &v.geometry,
                if version.is_some() { 1e-12 } else { 1e-5 },
            );
            let (h, _) = read_nifti_header(&path).unwrap();
            assert_eq!(h.version, version.unwrap_or(NiftiVersion::One));
            assert_eq!(h.sform_code, 1);
            assert_eq!(h.qform_code, 1);
            // sform and qform describe the same grid.
            let (s, q) = (h.sform_affine(), h.qform_affine());
            for r in 0..3 {
                for c in 0..4 {
                    assert!(
                        (s[r][c] - q[r][c]).abs() < 1e-4,
                        "{t} {name}: sform {s:?} qform {q:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn every_datatype_round_trips_through_hdf5() {
    let dir = tempfile::tempdir().unwrap();
    for t in VoxelType::ALL {
        let mut v = volume_of(t, 2);
        v.rescale = Rescale {
            slope: 0.5,
            inter: -3.0,
        };
        v.subtype = Some("T2".into());
        v.metadata.insert("PatientID".into(), "anon/1".into());
        let path = dir.path().join(format!("{t}.h5"));
        medburn_io::write(&v, &path, &WriteOptions::default()).unwrap();
        let back = medburn_io::read(&path).unwrap();
        assert_eq!(back, v, "{t}");
    }
}

#[test]
fn four_and_five_dimensional_images_become_channels_and_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = VoxelArray::F32(ArrayD::from_shape_fn(IxDyn(&[6, 3, 4, 5]), |i| {
        (i[0] * 1000 + i[1] * 100 + i[2] * 10 + i[3]) as f32
    }));
    let mut v = Volume::new(data, oblique_geometry([5, 4, 3])).unwrap();
    v.extra_dims = vec![2, 3]; // t = 2, u = 3
    let path = dir.path().join("5d.nii.gz");
    medburn_io::write(&v, &path, &WriteOptions::default()).unwrap();
    let back = read_nifti(&path).unwrap();
    assert_eq!(back.size(), vec![5, 4, 3, 2, 3]);
    assert_eq!(back.data, v.data);
    let img = back.to_image(&medburn_core::Device::flex()).unwrap();
    assert_eq!(img.voxels().dims(), [1, 6, 3, 4, 5]);
    // A float32 MedImage written and read again keeps the 5D shape.
    let again = dir.path().join("again.nii");
    medburn_io::write_image(&img, &again).unwrap();
    assert_eq!(read_nifti(&again).unwrap().size(), vec![5, 4, 3, 2, 3]);
}

#[test]
fn scaling_is_kept_or_applied_as_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = volume_of(VoxelType::I16, 1);
    v.rescale = Rescale {
        slope: 0.25,
        inter: 100.0,
    };
    let kept = dir.path().join("kept.nii.gz");
    medburn_io::write(&v, &kept, &WriteOptions::default()).unwrap();
    let back = read_nifti(&kept).unwrap();
    assert_eq!(back.data.voxel_type(), VoxelType::I16);
    assert_eq!(back.rescale, v.rescale);
    let applied = dir.path().join("applied.nii");
    let opts = WriteOptions {
        dtype: Some(VoxelType::F64),
        ..Default::default()
    };
    medburn_io::write(&v, &applied, &opts).unwrap();
    let back2 = read_nifti(&applied).unwrap();
    assert!(back2.rescale.is_identity());
    assert_eq!(
        back2.data.rescaled_f64(Rescale::IDENTITY),
        v.data.rescaled_f64(v.rescale)
    );
    // Values that do not fit the asked type: an error and no file.
    let bad = dir.path().join("bad.nii");
    let opts = WriteOptions {
        dtype: Some(VoxelType::U8),
        ..Default::default()
    };
    let err = medburn_io::write(&v, &bad, &opts).unwrap_err();
    assert!(
        err.to_string().contains("cannot be stored exactly"),
        "{err}"
    );
    assert!(!bad.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        2,
        "no temporary file left behind"
    );
}

#[test]
fn extensions_are_kept_or_dropped_and_the_file_stays_valid() {
    let dir = tempfile::tempdir().unwrap();
    let mut v = volume_of(VoxelType::U16, 1);
    // An extension as a reader would carry it (code 6 = comment), 21 bytes: needs padding.
    let payload = b"acquired on a phantom";
    let hex: String = payload.iter().map(|b| format!("{b:02x}")).collect();
    v.metadata.insert("nifti:extension:0:6".into(), hex);
    let kept = dir.path().join("kept.nii.gz");
    medburn_io::write(&v, &kept, &WriteOptions::default()).unwrap();
    let (h, exts) = read_nifti_header(&kept).unwrap();
    assert_eq!(exts.len(), 1);
    assert_eq!(exts[0].code, 6);
    assert_eq!(&exts[0].data[..payload.len()], payload);
    assert_eq!(h.vox_offset as usize, 352 + 32);
    assert_eq!(read_nifti(&kept).unwrap().data, v.data);
    let dropped = dir.path().join("dropped.nii");
    medburn_io::write(
        &v,
        &dropped,
        &WriteOptions {
            keep_extensions: false,
            ..Default::default()
        },
    )
    .unwrap();
    let (h, exts) = read_nifti_header(&dropped).unwrap();
    assert!(exts.is_empty());
    assert_eq!(h.vox_offset, 352.0);
    assert_eq!(std::fs::metadata(&dropped).unwrap().len(), 352 + 60 * 2);
    assert_eq!(read_nifti(&dropped).unwrap().data, v.data);
}

#[test]
fn big_endian_files_are_read() {
    // Write little-endian, then swap header fields and data to make a big-endian twin.
    let dir = tempfile::tempdir().unwrap();
    let v = volume_of(VoxelType::I32, 1);
    let le = dir.path().join("le.nii");
    medburn_io::write(&v, &le, &WriteOptions::default()).unwrap();
    let mut b = std::fs::read(&le).unwrap();
    let swap = |b: &mut Vec<u8>, at: usize, n: usize| b[at..at + n].reverse();
    swap(&mut b, 0, 4);
    for n in 0..8 {
        swap(&mut b, 40 + 2 * n, 2);
    }
    for at in [68, 70, 72, 74, 252, 254] {
        swap(&mut b, at, 2);
    }
    for n in 0..8 {
        swap(&mut b, 76 + 4 * n, 4);
    }
    for at in (108..148).step_by(4).chain((256..328).step_by(4)) {
        swap(&mut b, at, 4);
    }
    for at in (352..b.len()).step_by(4) {
        swap(&mut b, at, 4);
    }
    let be = dir.path().join("be.nii");
    std::fs::write(&be, &b).unwrap();
    let (h, _) = read_nifti_header(&be).unwrap();
    assert!(!h.little_endian);
    let back = read_nifti(&be).unwrap();
    assert_eq!(back.data, v.data);
    assert_same_geometry(&back.geometry, &v.geometry, 1e-5);
}
