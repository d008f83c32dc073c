//! A corpus of broken inputs, made here from a valid file: each must give a clear
//! one-line error naming the file, never a panic, and never a huge allocation.

use std::io::Write;
use std::path::{Path, PathBuf};

use medburn_core::Geometry;
use medburn_io::{Volume, VoxelArray, WriteOptions};
use ndarray::{ArrayD, IxDyn};

fn valid_nifti(dir: &Path) -> (PathBuf, Vec<u8>) {
    let data = VoxelArray::I16(ArrayD::from_shape_fn(IxDyn(&[1, 4, 5, 6]), |i| {
        (i[1] * 30 + i[2] * 6 + i[3]) as i16
    }));
    let v = Volume::new(data, Geometry::unit([6, 5, 4]).unwrap()).unwrap();
    let p = dir.join("valid.nii");
    medburn_io::write(&v, &p, &WriteOptions::default()).unwrap();
    let bytes = std::fs::read(&p).unwrap();
    (p, bytes)
}

fn put_i16(b: &mut [u8], at: usize, v: i16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_f32(b: &mut [u8], at: usize, v: f32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Reads `bytes` written as `name` and checks the error mentions the file and `needle`.
fn expect_error(dir: &Path, name: &str, bytes: &[u8], needle: &str) {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    let err = match medburn_io::read(&p) {
        Ok(v) => panic!("{name}: read succeeded with size {:?}", v.size()),
        Err(e) => e.to_string(),
    };
    assert!(!err.contains('\n'), "{name}: multi-line error {err:?}");
    assert!(
        err.starts_with(&p.display().to_string()),
        "{name}: error does not name the file: {err}"
    );
    assert!(
        err.contains(needle),
        "{name}: expected {needle:?} in {err:?}"
    );
}

#[test]
fn broken_nifti_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_, good) = valid_nifti(dir.path());
    let d = dir.path();

    expect_error(
        d,
        "truncated_data.nii",
        &good[..good.len() - 10],
        "truncated",
    );
    expect_error(d, "header_only.nii", &good[..348], "truncated");
    expect_error(
        d,
        "half_header.nii",
        &good[..200],
        "truncated: the NIfTI header needs 348 bytes",
    );
    expect_error(d, "empty.nii", &[], "needs 348 bytes");

    let mut more = good.clone();
    put_i16(&mut more, 42, 600); // dim[1]: 600 instead of 6 -> claims 100x more data
    expect_error(d, "claims_more.nii", &more, "truncated");

    for (name, dim, needle) in [
        ("dim_zero.nii", 0, "dim[1] is 0"),
        ("dim_negative.nii", -6, "dim[1] is -6"),
    ] {
        let mut b = good.clone();
        put_i16(&mut b, 42, dim);
        expect_error(d, name, &b, needle);
    }
    let mut b = good.clone();
    put_i16(&mut b, 40, 0);
    expect_error(d, "ndim_zero.nii", &b, "dim[0] is 0");

    // Absurdly large dims in a tiny file: refused before any allocation.
    let mut b = good.clone();
    put_i16(&mut b, 40, 7);
    for n in 1..=7 {
        put_i16(&mut b, 40 + 2 * n, 32767);
    }
    expect_error(d, "absurd_dims.nii", &b, "2^40");
    // Large but below the cap, in a gzip file: must fail as truncated, not allocate gigabytes.
    let mut b = good.clone();
    put_i16(&mut b, 40, 4);
    for n in 1..=4 {
        put_i16(&mut b, 40 + 2 * n, 1000);
    }
    expect_error(d, "huge_dims.nii.gz", &gzip(&b), "truncated");

    for (name, v, needle) in [
        ("nan_pixdim.nii", f32::NAN, "pixdim[2] is NaN"),
        ("zero_pixdim.nii", 0.0, "pixdim[2] is 0"),
    ] {
        let mut b = good.clone();
        put_i16(&mut b, 254, 0); // sform_code 0: the qform (and so pixdim) decides
        put_f32(&mut b, 84, v);
        expect_error(d, name, &b, needle);
    }

    let mut b = good.clone();
    b[344..348].copy_from_slice(b"abc\0");
    expect_error(d, "wrong_magic.nii", &b, "magic");
    let mut b = good.clone();
    b[0..4].copy_from_slice(&1234i32.to_le_bytes());
    expect_error(d, "wrong_sizeof_hdr.nii", &b, "not a NIfTI file");

    let mut b = good.clone();
    put_i16(&mut b, 70, 32); // complex64
    expect_error(
        d,
        "complex.nii",
        &b,
        "unsupported: NIfTI datatype complex64",
    );
    let mut b = good.clone();
    put_i16(&mut b, 70, 3);
    expect_error(d, "bad_datatype.nii", &b, "datatype code 3");

    let mut b = good.clone();
    put_f32(&mut b, 108, 100.0);
    expect_error(d, "vox_offset_inside_header.nii", &b, "vox_offset");

    let gz = gzip(&good);
    expect_error(d, "gzip_ends_early.nii.gz", &gz[..gz.len() / 2], "");
    expect_error(d, "gzip_header_only.nii.gz", &gz[..12], "");
    let mut corrupt = gz.clone();
    let mid = corrupt.len() / 2;
    for byte in &mut corrupt[mid..mid + 20] {
        *byte ^= 0x5a;
    }
    expect_error(d, "gzip_corrupt.nii.gz", &corrupt, "");

    // An impossible number of dimensions is named as such (not as a vox_offset problem).
    let mut b = good.clone();
    put_i16(&mut b, 40, 9);
    expect_error(
        d,
        "dim0_9.nii",
        &b,
        "dim[0] is 9: the number of dimensions must be 1 to 7",
    );

    // A pair whose image file is missing.
    let mut hdr = good[..348].to_vec();
    hdr[344..348].copy_from_slice(b"ni1\0");
    put_f32(&mut hdr, 108, 0.0);
    expect_error(d, "lonely.hdr", &hdr, "lonely.img is missing");

    // Sheared sform with no qform to fall back on.
    let mut b = good.clone();
    put_i16(&mut b, 252, 0);
    put_f32(&mut b, 284, 0.7); // srow_x[1]
    expect_error(d, "sheared.nii", &b, "not orthonormal");
}

#[test]
fn gzip_trailers_are_checked_for_every_member() {
    let dir = tempfile::tempdir().unwrap();
    let (_, good) = valid_nifti(dir.path());
    let d = dir.path();
    let gz = gzip(&good);
    let n = gz.len();
    // The trailer is CRC-32 then ISIZE, four bytes each, little-endian.
    let mut bad_crc = gz.clone();
    bad_crc[n - 8] ^= 0x01;
    expect_error(d, "bad_crc.nii.gz", &bad_crc, "corrupt: gzip data");
    let mut bad_size = gz.clone();
    bad_size[n - 4] ^= 0x01;
    expect_error(d, "bad_isize.nii.gz", &bad_size, "corrupt: gzip data");
    expect_error(d, "no_trailer.nii.gz", &gz[..n - 8], "corrupt: gzip data");
    // Two members (as `cat a.gz b.gz` makes): read whole when both are sound, refused when
    // the second's trailer is damaged.
    let (head, tail) = good.split_at(200);
    let mut two = gzip(head);
    two.extend(gzip(tail));
    let p = d.join("two_members.nii.gz");
    std::fs::write(&p, &two).unwrap();
    let v = medburn_io::read(&p).unwrap();
    assert_eq!(v.size(), vec![6, 5, 4]);
    let last = two.len() - 8;
    two[last] ^= 0x80;
    expect_error(d, "two_members_bad.nii.gz", &two, "corrupt: gzip data");
    // Trailing bytes after the voxels inside a sound stream are fine.
    let mut longer = good.clone();
    longer.extend_from_slice(&[0u8; 16]);
    let p = d.join("longer.nii.gz");
    std::fs::write(&p, gzip(&longer)).unwrap();
    assert!(medburn_io::read(&p).is_ok());
}

#[test]
fn unknown_and_missing_inputs_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("notes.txt");
    std::fs::write(&p, b"hello").unwrap();
    let err = medburn_io::read(&p).unwrap_err().to_string();
    assert!(err.contains("unknown format"), "{err}");
    let missing = dir.path().join("missing.nii.gz");
    let err = medburn_io::read(&missing).unwrap_err().to_string();
    assert!(
        err.starts_with(&missing.display().to_string()) && err.contains("No such file"),
        "{err}"
    );
    let err = medburn_io::read(dir.path()).unwrap_err().to_string();
    assert!(err.contains("no DICOM"), "{err}");
}

#[test]
fn failed_writes_leave_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = VoxelArray::F32(ArrayD::from_elem(IxDyn(&[1, 2, 2, 2]), 1.5));
    let v = Volume::new(data, Geometry::unit([2, 2, 2]).unwrap()).unwrap();
    // 1.5 is not an integer: asking for int16 without --lossy must fail, for every format.
    for name in ["x.nii", "x.nii.gz", "x.hdr", "x.h5"] {
        let opts = WriteOptions {
            dtype: Some(medburn_io::VoxelType::I16),
            ..Default::default()
        };
        assert!(
            medburn_io::write(&v, &dir.path().join(name), &opts).is_err(),
            "{name}"
        );
    }
    // A folder that does not exist.
    assert!(medburn_io::write(
        &v,
        &dir.path().join("no/such/dir.nii"),
        &WriteOptions::default()
    )
    .is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Files found by the `dicom_file` fuzzer. `dicom_huge_element_*` declare an element of
/// 2 to 4 GB in a file of a few kB; `dicom_j2k_huge_codestream` is a JPEG 2000 frame whose
/// header claims 9699584 x 1024 pixels. Both must be refused before any allocation.
#[test]
fn fuzzer_found_dicom_files_with_huge_sizes_are_refused() {
    let dir = medburn_e2e::fixtures_dir().join("broken");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let needle = if name.starts_with("dicom_huge_element") {
            "remain in the file"
        } else if name.starts_with("dicom_j2k_huge_codestream") {
            "the codestream declares 9699584 x 1024 pixels"
        } else {
            continue;
        };
        let err = medburn_io::read(&p).unwrap_err().to_string();
        assert!(err.contains(needle), "{name}: {err}");
        n += 1;
    }
    assert!(n >= 7);
}
