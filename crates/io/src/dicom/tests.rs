//! Tests of the DICOM reader against the pydicom test files and the SimpleITK/pydicom
//! numbers in `tests/fixtures/reference.json` (made by `tests/scripts/make_fixtures.py`
//! with SimpleITK 2.5.7 and pydicom 3.0.2), plus broken series made on the fly.

use std::path::{Path, PathBuf};

use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataElement, VR};
use dicom_dictionary_std::tags;
use dicom_object::{open_file, InMemDicomObject};

use super::*;

/// The package folder of the checkout under test: cargo sets it when it runs the tests, so a
/// test binary built in another checkout (a shared target directory) reads this one's files.
fn manifest_dir() -> PathBuf {
    PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR")
            .unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_string()),
    )
}

pub(super) fn data_dir() -> PathBuf {
    manifest_dir().join("../../tests/fixtures/data")
}

fn reference_json() -> PathBuf {
    manifest_dir().join("../../tests/fixtures/reference.json")
}

fn pydicom(name: &str) -> PathBuf {
    data_dir().join("pydicom").join(name)
}

fn reference() -> serde_json::Value {
    let text = std::fs::read_to_string(reference_json()).expect("tests/fixtures/reference.json");
    serde_json::from_str(&text).expect("reference.json parses")
}

fn f64s(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .map(|a| a.iter().filter_map(|x| x.as_f64()).collect())
        .unwrap_or_default()
}

/// Real values (after rescale) of channel 0, in memory order.
fn channel0(v: &Volume) -> Vec<f64> {
    let all = v.data.rescaled_f64(v.rescale);
    let n = v.geometry.num_voxels();
    all[..n].to_vec()
}

fn value_at(v: &Volume, vals: &[f64], [i, j, k]: [usize; 3]) -> f64 {
    let [ni, nj, _] = v.geometry.size();
    vals[(k * nj + j) * ni + i]
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// Files whose values legitimately differ from SimpleITK, with why; compared with
/// pydicom's raw numbers instead when it could decode them.
const VALUES_NOT_SIMPLEITK: &[(&str, &str)] = &[
    (
        "SC_rgb_rle_16bit.dcm",
        "GDCM mis-decodes 16-bit RGB RLE; pydicom agrees with medburn",
    ),
    (
        "SC_rgb_rle_16bit_2frame.dcm",
        "GDCM mis-decodes 16-bit RGB RLE; pydicom agrees with medburn",
    ),
    (
        "SC_rgb_rle_32bit.dcm",
        "GDCM mis-decodes 32-bit RGB RLE; pydicom agrees with medburn",
    ),
    (
        "SC_rgb_rle_32bit_2frame.dcm",
        "GDCM mis-decodes 32-bit RGB RLE; pydicom agrees with medburn",
    ),
    (
        "rtdose_expb.dcm",
        "GDCM swaps 16-bit words of big-endian 32-bit OW data; pydicom agrees with medburn",
    ),
    (
        "liver_1frame.dcm",
        "1-bit segmentation: medburn and pydicom give 0/1, SimpleITK 0/255",
    ),
    (
        "liver_expb_1frame.dcm",
        "1-bit segmentation: medburn and pydicom give 0/1, SimpleITK 0/255",
    ),
];

/// Files medburn refuses, with the error expected and why.
const KNOWN_ERRORS: &[(&str, &str, &str)] = &[
    (
        "JPEG-lossy.dcm",
        "SamplePrecision(12)",
        "12-bit JPEG Extended: jpeg-decoder reads 8-bit JPEG only",
    ),
    (
        "JPGExtended.dcm",
        "SamplePrecision(12)",
        "12-bit JPEG Extended: jpeg-decoder reads 8-bit JPEG only",
    ),
    (
        "SC_rgb_jpeg.dcm",
        "claims 1230128452 bytes",
        "data set in implicit VR although the meta group says explicit VR (pydicom guesses)",
    ),
    (
        "badVR.dcm",
        "NumberOfFrames (0028,0008)",
        "NumberOfFrames is \"1A\", not an integer",
    ),
];

/// Lossy codecs: another decoder (libjpeg in GDCM vs jpeg-decoder, charls, openjpeg) may
/// round differently; values must agree to within this many grey levels on the samples,
/// and the sums to 1%.
const LOSSY_TS: &[&str] = &[
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.91",
];

#[derive(Default)]
struct Tally {
    ok: Vec<String>,
    failed: Vec<String>,
    expected_errors: Vec<String>,
}

#[test]
fn reference_fixtures_match_simpleitk() {
    let reference = reference();
    let mut tally = Tally::default();
    let mut worst_geometry = 0.0f64;
    for entry in reference["files"].as_array().expect("files") {
        let kind = entry["kind"].as_str().unwrap_or("");
        if kind != "dicom-file" && kind != "dicom-series" {
            continue;
        }
        let rel = entry["path"].as_str().expect("path");
        let path = data_dir().join(rel);
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let select = match entry["series_uid"].as_str() {
            Some(uid) => SeriesSelector::Uid(uid.to_string()),
            None => SeriesSelector::First,
        };
        let label = format!("{rel} {select:?}");
        let result = read_dicom(&path, &select);
        // Without the opt-in `jpeg-ls` feature, JPEG-LS files must say which feature reads them.
        let jpeg_ls = entry["transfer_syntax"].as_str().map_or(
            name.starts_with("JPEGLS") || name.contains("jpeg_ls") || name.contains("_jls_"),
            |ts| ts.starts_with("1.2.840.10008.1.2.4.8"),
        );
        if !cfg!(feature = "jpeg-ls") && jpeg_ls {
            match result {
                Err(e) if e.to_string().contains("`jpeg-ls` feature") => tally
                    .expected_errors
                    .push(format!("{label}: built without jpeg-ls: {e}")),
                other => tally.failed.push(format!(
                    "{label}: expected the jpeg-ls feature error, got {:?}",
                    other.err()
                )),
            }
            continue;
        }
        if let Some((_, want, why)) = KNOWN_ERRORS.iter().find(|(n, _, _)| *n == name) {
            match result {
                Err(e) if e.to_string().contains(want) => {
                    tally.expected_errors.push(format!("{label}: {why}: {e}"))
                }
                Err(e) => tally.failed.push(format!(
                    "{label}: expected an error about {want:?}, got {e}"
                )),
                Ok(_) => tally
                    .failed
                    .push(format!("{label}: now reads: remove it from KNOWN_ERRORS")),
            }
            continue;
        }
        let expect_error = entry["series_check"]["expect_error"]
            .as_bool()
            .unwrap_or(false);
        if expect_error {
            match result {
                Err(e) => {
                    let msg = e.to_string();
                    assert!(!msg.contains('\n'), "{msg}");
                    tally.expected_errors.push(format!("{label}: {msg}"));
                }
                Ok(_) => tally.failed.push(format!(
                    "{label}: read although the series is not a regular grid"
                )),
            }
            continue;
        }
        let vol = match result {
            Ok(v) => v,
            Err(e) => {
                tally.failed.push(format!("{label}: {e}"));
                continue;
            }
        };
        let sitk = &entry["sitk"];
        if sitk.is_null() {
            tally.ok.push(format!("{label}: read (SimpleITK cannot)"));
            continue;
        }
        // Geometry.
        let g = vol.geometry;
        let size: Vec<usize> = sitk["size"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap() as usize)
            .collect();
        let mut problems = Vec::new();
        if g.size().to_vec() != size[..3].to_vec() {
            problems.push(format!("size {:?} vs {:?}", g.size(), size));
        }
        let spacing = f64s(&sitk["spacing"]);
        let want_spacing = [spacing[0], spacing[1], spacing[2]];
        for (a, (b, what)) in g
            .spacing()
            .iter()
            .chain(g.origin().iter())
            .chain(g.direction().row_major().iter())
            .zip(
                want_spacing
                    .iter()
                    .map(|x| (*x, "spacing"))
                    .chain(f64s(&sitk["origin"]).into_iter().map(|x| (x, "origin")))
                    .chain(
                        f64s(&sitk["direction"])
                            .into_iter()
                            .map(|x| (x, "direction")),
                    ),
            )
        {
            let d = (a - b).abs();
            worst_geometry = worst_geometry.max(d);
            if d > 1e-5 * (1.0 + b.abs()) {
                problems.push(format!("{what} {a} vs {b}"));
            }
        }
        let comps = sitk["components"].as_u64().unwrap_or(1) as usize;
        if vol.channels() != comps {
            problems.push(format!("channels {} vs {comps}", vol.channels()));
        }
        // Values.
        let vals = channel0(&vol);
        let exception = VALUES_NOT_SIMPLEITK.iter().find(|(n, _)| *n == name);
        let lossy = LOSSY_TS.contains(
            &vol.metadata
                .get("TransferSyntaxUID")
                .map(|s| s.as_str())
                .unwrap_or(""),
        );
        if let Some((_, why)) = exception {
            let pd = &entry["pydicom"];
            if !pd.is_null() {
                let all = vol.data.rescaled_f64(Rescale::IDENTITY);
                let (sum, min, max) = stats(&all);
                let (psum, pmin, pmax) = (
                    pd["raw_sum"].as_f64().unwrap(),
                    pd["raw_min"].as_f64().unwrap(),
                    pd["raw_max"].as_f64().unwrap(),
                );
                if !(close(sum, psum, 1e-9) && min == pmin && max == pmax) {
                    problems.push(format!(
                        "raw sum/min/max {sum}/{min}/{max} vs pydicom {psum}/{pmin}/{pmax}"
                    ));
                }
            }
            if problems.is_empty() {
                tally.ok.push(format!(
                    "{label}: geometry = SimpleITK, values = pydicom ({why})"
                ));
            }
        } else {
            let (sum, min, max) = stats(&vals);
            let (ssum, smin, smax) = (
                sitk["sum"].as_f64().unwrap(),
                sitk["min"].as_f64().unwrap(),
                sitk["max"].as_f64().unwrap(),
            );
            let (stol, vtol) = if lossy { (1e-2, 8.0) } else { (1e-9, 1e-6) };
            if !close(sum, ssum, stol) || (min - smin).abs() > vtol || (max - smax).abs() > vtol {
                problems.push(format!(
                    "sum/min/max {sum}/{min}/{max} vs SimpleITK {ssum}/{smin}/{smax}"
                ));
            }
            for s in sitk["samples"].as_array().unwrap() {
                let idx: Vec<usize> = s[0]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_u64().unwrap() as usize)
                    .collect();
                let want = s[1].as_f64().unwrap();
                let got = value_at(&vol, &vals, [idx[0], idx[1], idx[2]]);
                if (got - want).abs() > vtol {
                    problems.push(format!("value at {idx:?} {got} vs {want}"));
                }
            }
            if problems.is_empty() {
                tally.ok.push(format!(
                    "{label}: = SimpleITK{}",
                    if lossy {
                        " (lossy, within tolerance)"
                    } else {
                        ""
                    }
                ));
            }
        }
        if !problems.is_empty() {
            tally
                .failed
                .push(format!("{label}: {}", problems.join("; ")));
        }
    }
    println!("worst geometry difference from SimpleITK: {worst_geometry:e}");
    for s in &tally.ok {
        println!("ok    {s}");
    }
    for s in &tally.expected_errors {
        println!("error {s}");
    }
    for s in &tally.failed {
        println!("FAIL  {s}");
    }
    assert!(
        tally.failed.is_empty(),
        "{} fixture(s) disagree:\n{}",
        tally.failed.len(),
        tally.failed.join("\n")
    );
}

fn stats(v: &[f64]) -> (f64, f64, f64) {
    let sum = v.iter().sum();
    let min = v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (sum, min, max)
}

// ---------------------------------------------------------------------------
// Single files and transfer syntaxes.

#[test]
fn ct_small_geometry_and_values() {
    // SimpleITK 2.5.7 ReadImage("CT_small.dcm"): size (128, 128, 1), spacing
    // (0.661468, 0.661468, 5.0), origin (-158.135803, -179.035797, -75.699997),
    // identity direction, int32 values in [-896, 1167], sum -1950906.
    let v = read_dicom(&pydicom("CT_small.dcm"), &SeriesSelector::First).unwrap();
    assert_eq!(v.geometry.size(), [128, 128, 1]);
    assert_eq!(v.geometry.spacing(), [0.661468, 0.661468, 5.0]);
    assert_eq!(v.geometry.origin(), [-158.135803, -179.035797, -75.699997]);
    assert_eq!(v.geometry.direction(), medburn_core::Direction::identity());
    assert_eq!(v.data.voxel_type(), VoxelType::I16);
    assert_eq!(
        v.rescale,
        Rescale {
            slope: 1.0,
            inter: -1024.0
        }
    );
    let (sum, min, max) = stats(&channel0(&v));
    assert_eq!((sum, min, max), (-1950906.0, -896.0, 1167.0));
    assert_eq!(v.modality, Modality::Ct);
    assert_eq!(v.metadata.get("Modality").map(String::as_str), Some("CT"));
    assert_eq!(
        v.metadata.get("TransferSyntaxUID").map(String::as_str),
        Some("1.2.840.10008.1.2.1")
    );
    assert_eq!(v.metadata.get("dicom:files").map(String::as_str), Some("1"));
    assert!(v.metadata.contains_key("PatientID") && v.metadata.contains_key("SeriesInstanceUID"));
}

#[test]
fn mr_small_geometry() {
    // SimpleITK: size (64, 64, 1), spacing (0.3125, 0.3125, 1.0), origin
    // (-83.9063, -91.2, 6.6406), identity. MR_small has SliceThickness 0.8 and no
    // SpacingBetweenSlices: its single-slice k spacing is 1, as SimpleITK says.
    let v = read_dicom(&pydicom("MR_small.dcm"), &SeriesSelector::First).unwrap();
    assert_eq!(v.geometry.size(), [64, 64, 1]);
    assert_eq!(v.geometry.spacing(), [0.3125, 0.3125, 1.0]);
    assert_eq!(v.geometry.origin(), [-83.9063, -91.2, 6.6406]);
    assert_eq!(v.data.voxel_type(), VoxelType::I16);
    assert!(v.rescale.is_identity());
    assert_eq!(v.modality, Modality::Mr);
}

#[test]
fn mr_small_transfer_syntaxes_give_identical_voxels() {
    let reference = read_dicom(&pydicom("MR_small.dcm"), &SeriesSelector::First).unwrap();
    for name in [
        "MR_small_implicit.dcm",
        "MR_small_bigendian.dcm",
        "MR_small_expb.dcm",
        "MR_small_RLE.dcm",
        "MR_small_jp2klossless.dcm",
        "MR_small_jpeg_ls_lossless.dcm",
        "MR_small_padded.dcm",
    ] {
        if name.contains("jpeg_ls") && !cfg!(feature = "jpeg-ls") {
            let e = read_dicom(&pydicom(name), &SeriesSelector::First).unwrap_err();
            assert!(e.to_string().contains("`jpeg-ls` feature"), "{name}: {e}");
            continue;
        }
        let v = read_dicom(&pydicom(name), &SeriesSelector::First)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.geometry, reference.geometry, "{name}");
        assert_eq!(v.data, reference.data, "{name}");
        assert_eq!(v.rescale, reference.rescale, "{name}");
    }
}

#[test]
fn multiframe_rtdose_uses_grid_frame_offsets() {
    // SimpleITK: size (10, 10, 15), spacing (10, 10, 5), origin (189.43125, 199.43125, -761.87).
    for name in ["rtdose.dcm", "rtdose_rle.dcm", "rtdose_expb.dcm"] {
        let v = read_dicom(&pydicom(name), &SeriesSelector::First).unwrap();
        assert_eq!(v.geometry.size(), [10, 10, 15], "{name}");
        assert_eq!(v.geometry.spacing(), [10.0, 10.0, 5.0], "{name}");
        assert_eq!(
            v.geometry.origin(),
            [189.43125, 199.43125, -761.87],
            "{name}"
        );
        assert_eq!(v.data.voxel_type(), VoxelType::U32);
        assert!(
            v.metadata["dicom:positions"].contains("GridFrameOffsetVector"),
            "{name}"
        );
    }
    let a = read_dicom(&pydicom("rtdose.dcm"), &SeriesSelector::First).unwrap();
    for name in ["rtdose_rle.dcm", "rtdose_expb.dcm"] {
        assert_eq!(
            read_dicom(&pydicom(name), &SeriesSelector::First)
                .unwrap()
                .data,
            a.data,
            "{name}"
        );
    }
}

#[test]
fn rgb_files_have_three_channels() {
    let a = read_dicom(&pydicom("SC_rgb_rle_2frame.dcm"), &SeriesSelector::First).unwrap();
    assert_eq!(a.data.shape(), &[3, 2, 100, 100]);
    // Planar configuration 1, big endian: as pydicom and SimpleITK.
    let b = read_dicom(&pydicom("ExplVR_BigEnd.dcm"), &SeriesSelector::First).unwrap();
    assert_eq!(b.data.shape(), &[3, 1, 60, 80]);
    let VoxelArray::U8(arr) = &b.data else {
        panic!("u8")
    };
    // SimpleITK GetArrayFromImage(...)[0, 0, 0:3] = [171, 171, 171], [173, ...]
    assert_eq!(
        [arr[[0, 0, 0, 0]], arr[[1, 0, 0, 0]], arr[[2, 0, 0, 0]]],
        [171, 171, 171]
    );
    assert_eq!(arr[[0, 0, 0, 1]], 173);
}

#[test]
fn monochrome1_is_inverted_like_simpleitk() {
    // CR1/6154: MONOCHROME1, BitsStored 12, slope 0.684, intercept 200; pydicom raw
    // range [1994, 2802]; SimpleITK range [1084.412, 1637.084] = 0.684 * (4095 - raw) + 200.
    let v = read_dicom(
        &pydicom("dicomdirtests/77654033/CR1/6154"),
        &SeriesSelector::First,
    )
    .unwrap();
    let (_, min, max) = stats(&channel0(&v));
    assert!(
        (min - 1084.412).abs() < 1e-9 && (max - 1637.084).abs() < 1e-9,
        "{min} {max}"
    );
    assert!(v.metadata.contains_key("dicom:monochrome1"));
    // ImagerPixelSpacing, no position or orientation.
    assert_eq!(v.geometry.spacing(), [0.1, 0.1, 1.0]);
    assert_eq!(v.geometry.origin(), [0.0; 3]);
}

// ---------------------------------------------------------------------------
// Folders.

#[test]
fn ct5n_series_matches_simpleitk_series_reader() {
    // SimpleITK ImageSeriesReader on dicomdirtests/98892001/CT5N: size (16, 16, 5),
    // spacing (0.488281, 0.488281, 2.5), origin (-72.199997, -143.0, -1.2375), identity.
    let v = read_dicom(
        &pydicom("dicomdirtests/98892001/CT5N"),
        &SeriesSelector::First,
    )
    .unwrap();
    assert_eq!(v.geometry.size(), [16, 16, 5]);
    let s = v.geometry.spacing();
    assert_eq!(&s[..2], &[0.488281, 0.488281]);
    assert!((s[2] - 2.5).abs() < 1e-9);
    assert_eq!(v.geometry.origin(), [-72.199997, -143.0, -1.2375]);
    assert_eq!(v.metadata["dicom:files"], "5");
    // Value checks (SimpleITK sum -177320, samples [[0,0,0] -33], [[15,15,4] -729]).
    let vals = channel0(&v);
    assert_eq!(stats(&vals).0, -177320.0);
    assert_eq!(value_at(&v, &vals, [0, 0, 0]), -33.0);
    assert_eq!(value_at(&v, &vals, [15, 15, 4]), -729.0);
}

#[test]
fn list_series_of_dicomdir_tests() {
    let all = list_series(&pydicom("dicomdirtests")).unwrap();
    // GDCM finds 1 + 1 + 1 + 1 (77654033) + 1 + 1 (98892001) + 3 + 3 + 1 (98892003)... by UID:
    let uids: std::collections::BTreeSet<&str> = all.iter().map(|s| s.uid.as_str()).collect();
    assert_eq!(uids.len(), all.len());
    let total: usize = all.iter().map(|s| s.files.len()).sum();
    assert_eq!(total, 31);
    for w in all.windows(2) {
        assert!(
            (w[0].number.is_none(), w[0].number, &w[0].uid)
                <= (w[1].number.is_none(), w[1].number, &w[1].uid)
        );
    }
    let ct5n = all
        .iter()
        .find(|s| s.uid == "1.3.6.1.4.1.5962.1.1.0.0.0.1194734704.16302.0.6")
        .unwrap();
    assert_eq!((ct5n.slices, ct5n.rows, ct5n.columns), (5, 16, 16));
    assert_eq!(ct5n.modality, Modality::Ct);
    // Selecting by index and by UID gives the same series.
    let idx = all.iter().position(|s| s.uid == ct5n.uid).unwrap();
    let a = read_dicom(&pydicom("dicomdirtests"), &SeriesSelector::Index(idx)).unwrap();
    let b = read_dicom(
        &pydicom("dicomdirtests"),
        &SeriesSelector::Uid(ct5n.uid.clone()),
    )
    .unwrap();
    assert_eq!(a, b);
    let e = read_dicom(&pydicom("dicomdirtests"), &SeriesSelector::Index(999)).unwrap_err();
    assert!(e.to_string().contains("series found"), "{e}");
}

#[test]
fn irregular_fixture_series_are_errors() {
    // CT2: positions -99.48, 103.02, 104.27, 105.52: a 202.5 mm jump.
    let e = read_dicom(
        &pydicom("dicomdirtests/77654033/CT2"),
        &SeriesSelector::First,
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("between slice k=0") && m.contains("202.5"),
        "{m}"
    );
    // CT2N: two orientations.
    let e = read_dicom(
        &pydicom("dicomdirtests/98892001/CT2N"),
        &SeriesSelector::First,
    )
    .unwrap_err();
    let m = e.to_string();
    assert!(
        m.contains("mixed orientations") && m.contains("6293") && m.contains("6924"),
        "{m}"
    );
}

// ---------------------------------------------------------------------------
// Synthetic series made from CT_small.dcm (IOP identity, so the normal is +z).

const CT_Z0: f64 = -75.699997;

fn ds(values: &[f64]) -> PrimitiveValue {
    PrimitiveValue::Strs(values.iter().map(|v| format!("{v:.6}")).collect())
}

/// A copy of CT_small.dcm at slice position `z`, first pixel set to `marker`.
fn ct_slice(k: usize, z: f64, marker: u16) -> dicom_object::DefaultDicomObject {
    let mut obj = open_file(pydicom("CT_small.dcm")).unwrap();
    let uid = format!("1.2.826.0.1.3680043.8.498.1{k:03}");
    obj.put(DataElement::new(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        PrimitiveValue::from(uid.as_str()),
    ));
    obj.meta_mut().media_storage_sop_instance_uid = uid;
    obj.put(DataElement::new(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        ds(&[-158.135803, -179.035797, z]),
    ));
    // InstanceNumber deliberately against the spatial order.
    obj.put(DataElement::new(
        tags::INSTANCE_NUMBER,
        VR::IS,
        PrimitiveValue::from(format!("{}", 100 - k)),
    ));
    let pixels = obj.element(tags::PIXEL_DATA).unwrap().clone();
    let new = match pixels.value() {
        Value::Primitive(PrimitiveValue::U16(v)) => {
            let mut v = v.clone();
            v[0] = marker;
            PrimitiveValue::U16(v)
        }
        Value::Primitive(PrimitiveValue::U8(v)) => {
            let mut v = v.clone();
            v[0] = marker as u8;
            v[1] = (marker >> 8) as u8;
            PrimitiveValue::U8(v)
        }
        other => panic!("unexpected pixel data {other:?}"),
    };
    obj.put(DataElement::new(tags::PIXEL_DATA, pixels.vr(), new));
    obj
}

/// Writes slices k in `ks` at z = z0 + 2.5 k, named so that file order is against
/// the spatial order.
fn write_series(dir: &Path, ks: &[usize]) {
    for &k in ks {
        ct_slice(k, CT_Z0 + 2.5 * k as f64, 1000 + k as u16)
            .write_to_file(dir.join(format!("img{:02}.dcm", 20 - k)))
            .unwrap();
    }
}

#[test]
fn series_sorted_by_position_not_name_or_instance_number() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), &[0, 1, 2, 3, 4]);
    std::fs::write(dir.path().join("notes.txt"), "not DICOM").unwrap();
    let v = read_dicom(dir.path(), &SeriesSelector::First).unwrap();
    assert_eq!(v.geometry.size(), [128, 128, 5]);
    assert!((v.geometry.spacing()[2] - 2.5).abs() < 1e-9);
    assert!((v.geometry.origin()[2] - CT_Z0).abs() < 1e-9);
    let VoxelArray::I16(a) = &v.data else {
        panic!("i16")
    };
    for k in 0..5 {
        assert_eq!(a[[0, k, 0, 0]], 1000 + k as i16);
    }
    let series = list_series(dir.path()).unwrap();
    assert_eq!(series.len(), 1);
    assert_eq!(series[0].slices, 5);
}

#[test]
fn missing_slice_is_a_gap_error_naming_positions() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), &[0, 1, 3, 4, 5]);
    let e = read_dicom(dir.path(), &SeriesSelector::First).unwrap_err();
    let m = e.to_string();
    assert_eq!(e.path, dir.path());
    assert!(matches!(e.kind, IoErrorKind::Dicom(_)));
    assert!(!m.contains('\n'));
    assert!(
        m.contains("gap (1 missing slice?) between slice k=1"),
        "{m}"
    );
    assert!(m.contains("z=-73.2 mm") && m.contains("z=-68.2 mm"), "{m}");
    assert!(m.contains("spacing 5 mm, expected 2.5 mm"), "{m}");
    assert!(m.contains("img19.dcm") && m.contains("img17.dcm"), "{m}");
}

#[test]
fn duplicate_position_is_an_error_naming_files() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), &[0, 1, 2]);
    ct_slice(7, CT_Z0 + 2.5, 7)
        .write_to_file(dir.path().join("extra.dcm"))
        .unwrap();
    let m = read_dicom(dir.path(), &SeriesSelector::First)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("duplicate position") && m.contains("extra.dcm") && m.contains("img19.dcm"),
        "{m}"
    );
}

#[test]
fn mixed_orientation_is_an_error_naming_files() {
    let dir = tempfile::tempdir().unwrap();
    write_series(dir.path(), &[0, 1, 2]);
    let mut odd = ct_slice(3, CT_Z0 + 7.5, 3);
    odd.put(DataElement::new(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        ds(&[1.0, 0.0, 0.0, 0.0, 0.0, -1.0]),
    ));
    odd.write_to_file(dir.path().join("coronal.dcm")).unwrap();
    let m = read_dicom(dir.path(), &SeriesSelector::First)
        .unwrap_err()
        .to_string();
    assert!(
        m.contains("mixed orientations") && m.contains("coronal.dcm"),
        "{m}"
    );
}

#[test]
fn different_rescales_are_applied_per_slice() {
    let dir = tempfile::tempdir().unwrap();
    for k in 0..3usize {
        let mut o = ct_slice(k, CT_Z0 + 2.5 * k as f64, 1000);
        o.put(DataElement::new(
            tags::RESCALE_SLOPE,
            VR::DS,
            ds(&[0.5 * (k + 1) as f64]),
        ));
        o.write_to_file(dir.path().join(format!("s{k}.dcm")))
            .unwrap();
    }
    let v = read_dicom(dir.path(), &SeriesSelector::First).unwrap();
    assert!(v.rescale.is_identity());
    assert!(v.metadata.contains_key("dicom:rescale"));
    let VoxelArray::F32(a) = &v.data else {
        panic!("f32, got {:?}", v.data.voxel_type())
    };
    for k in 0..3 {
        assert_eq!(a[[0, k, 0, 0]], 1000.0 * 0.5 * (k + 1) as f32 - 1024.0);
    }
}

#[test]
fn enhanced_multiframe_takes_per_frame_positions() {
    // Three frames of CT_small in one file, positions given per frame, out of order.
    let mut obj = open_file(pydicom("CT_small.dcm")).unwrap();
    let Value::Primitive(PrimitiveValue::U16(px)) =
        obj.element(tags::PIXEL_DATA).unwrap().value().clone()
    else {
        panic!("OW pixel data")
    };
    let mut all = Vec::new();
    for f in 0..3u16 {
        let mut p = px.clone();
        p[0] = 2000 + f;
        all.extend_from_slice(&p);
    }
    obj.put(DataElement::new(
        tags::PIXEL_DATA,
        VR::OW,
        PrimitiveValue::U16(all.into_iter().collect()),
    ));
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("3"),
    ));
    let zs = [10.0, 4.0, 7.0]; // frame f at zs[f]: spatial order is frames 1, 2, 0
    let frame_item = |z: f64| {
        let mut pos = InMemDicomObject::new_empty();
        pos.put(DataElement::new(
            tags::IMAGE_POSITION_PATIENT,
            VR::DS,
            ds(&[-158.135803, -179.035797, z]),
        ));
        let mut item = InMemDicomObject::new_empty();
        item.put(DataElement::new(
            tags::PLANE_POSITION_SEQUENCE,
            VR::SQ,
            dicom_core::value::DataSetSequence::from(vec![pos]),
        ));
        item
    };
    obj.put(DataElement::new(
        tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::from(
            zs.iter().map(|&z| frame_item(z)).collect::<Vec<_>>(),
        ),
    ));
    let mut measures = InMemDicomObject::new_empty();
    measures.put(DataElement::new(
        tags::PIXEL_SPACING,
        VR::DS,
        ds(&[0.5, 0.25]),
    ));
    let mut shared = InMemDicomObject::new_empty();
    shared.put(DataElement::new(
        tags::PIXEL_MEASURES_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::from(vec![measures]),
    ));
    obj.put(DataElement::new(
        tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE,
        VR::SQ,
        dicom_core::value::DataSetSequence::from(vec![shared]),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enhanced.dcm");
    obj.write_to_file(&path).unwrap();
    let v = read_dicom(&path, &SeriesSelector::First).unwrap();
    assert_eq!(v.geometry.size(), [128, 128, 3]);
    // PixelSpacing (0.5 between rows, 0.25 between columns) -> spacing (i, j) = (0.25, 0.5).
    let s = v.geometry.spacing();
    assert_eq!(&s[..2], &[0.25, 0.5]);
    assert!((s[2] - 3.0).abs() < 1e-9);
    assert!((v.geometry.origin()[2] - 4.0).abs() < 1e-9);
    let VoxelArray::I16(a) = &v.data else {
        panic!("i16")
    };
    assert_eq!(
        [a[[0, 0, 0, 0]], a[[0, 1, 0, 0]], a[[0, 2, 0, 0]]],
        [2001, 2002, 2000]
    );
}

// ---------------------------------------------------------------------------
// Bad input: errors, never panics.

#[test]
fn no_pixel_data_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut obj = open_file(pydicom("CT_small.dcm")).unwrap();
    obj.remove_element(tags::PIXEL_DATA);
    let path = dir.path().join("nopixels.dcm");
    obj.write_to_file(&path).unwrap();
    let e = read_dicom(&path, &SeriesSelector::First).unwrap_err();
    assert_eq!(e.path, path);
    assert!(
        e.to_string().contains("has no pixel data (0x7FE0,0x0010)"),
        "{e}"
    );
    // A folder of such files holds no image.
    let e = list_series(dir.path()).unwrap_err();
    assert!(e.to_string().contains("holds no DICOM image"), "{e}");
    assert!(e.to_string().contains("without pixel data"), "{e}");
    // Files without pixel data are skipped next to images.
    write_series(dir.path(), &[0, 1]);
    assert_eq!(list_series(dir.path()).unwrap()[0].slices, 2);
}

#[test]
fn not_dicom_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.dcm");
    std::fs::write(&path, b"hello, not dicom at all").unwrap();
    let e = read_dicom(&path, &SeriesSelector::First).unwrap_err();
    assert!(e.to_string().contains("not a DICOM file"), "{e}");
    assert!(list_series(dir.path())
        .unwrap_err()
        .to_string()
        .contains("holds no DICOM image"));
    assert!(matches!(
        read_dicom(&dir.path().join("missing"), &SeriesSelector::First)
            .unwrap_err()
            .kind,
        IoErrorKind::Os(_)
    ));
}

#[test]
fn truncated_and_corrupt_files_give_errors_not_panics() {
    let bytes = std::fs::read(pydicom("CT_small.dcm")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.dcm");
    // Truncated at many lengths, in the header and in the pixel data.
    let mut lengths: Vec<usize> = (0..bytes.len()).step_by(97).collect();
    lengths.push(bytes.len() - 1);
    for len in lengths {
        std::fs::write(&path, &bytes[..len]).unwrap();
        match read_dicom(&path, &SeriesSelector::First) {
            Ok(_) => panic!("truncated to {len} bytes but read"),
            Err(e) => assert!(!e.to_string().contains('\n')),
        }
    }
    // Half the pixel data missing: a clear message.
    std::fs::write(&path, &bytes[..bytes.len() - 16000]).unwrap();
    let m = read_dicom(&path, &SeriesSelector::First)
        .unwrap_err()
        .to_string();
    println!("{m}");
    assert!(m.contains("truncated"), "{m}");
    // Random byte corruption (a fixed pseudo-random sequence).
    let mut state = 0x9E3779B97F4A7C15u64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..4 {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let pos = (state >> 33) as usize % 2000.min(b.len());
            b[pos] = (state >> 17) as u8;
        }
        std::fs::write(&path, &b).unwrap();
        let _ = read_dicom(&path, &SeriesSelector::First);
    }
}

#[test]
fn absurd_header_sizes_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    for (rows, cols, frames) in [
        (65535u16, 65535u16, "100000"),
        (512, 512, "1"),
        (128, 128, "2147483647"),
    ] {
        let mut obj = open_file(pydicom("CT_small.dcm")).unwrap();
        obj.put(DataElement::new(
            tags::ROWS,
            VR::US,
            PrimitiveValue::from(rows),
        ));
        obj.put(DataElement::new(
            tags::COLUMNS,
            VR::US,
            PrimitiveValue::from(cols),
        ));
        obj.put(DataElement::new(
            tags::NUMBER_OF_FRAMES,
            VR::IS,
            PrimitiveValue::from(frames),
        ));
        let path = dir.path().join("big.dcm");
        obj.write_to_file(&path).unwrap();
        let m = read_dicom(&path, &SeriesSelector::First)
            .unwrap_err()
            .to_string();
        assert!(m.contains("truncated: PixelData needs"), "{m}");
    }
    // The same for compressed data.
    let mut obj = open_file(pydicom("MR_small_RLE.dcm")).unwrap();
    obj.put(DataElement::new(
        tags::ROWS,
        VR::US,
        PrimitiveValue::from(65535u16),
    ));
    obj.put(DataElement::new(
        tags::COLUMNS,
        VR::US,
        PrimitiveValue::from(65535u16),
    ));
    obj.put(DataElement::new(
        tags::NUMBER_OF_FRAMES,
        VR::IS,
        PrimitiveValue::from("1000"),
    ));
    let path = dir.path().join("rle.dcm");
    obj.write_to_file(&path).unwrap();
    let m = read_dicom(&path, &SeriesSelector::First)
        .unwrap_err()
        .to_string();
    assert!(m.contains("compressed pixel data holds only"), "{m}");
}

#[test]
fn jpeg_rgb_without_colour_transform() {
    // RGB components without an APP14 or JFIF marker: not YCbCr. pydicom's pixel
    // reference (Pillow) and SimpleITK: arr[29, 77:81] of SC_jpeg_no_color_transform.dcm.
    let v = read_dicom(
        &pydicom("SC_jpeg_no_color_transform.dcm"),
        &SeriesSelector::First,
    )
    .unwrap();
    let VoxelArray::U8(a) = &v.data else {
        panic!("u8")
    };
    let got: Vec<[u8; 3]> = (77..81)
        .map(|i| [a[[0, 0, 29, i]], a[[1, 0, 29, i]], a[[2, 0, 29, i]]])
        .collect();
    assert_eq!(
        got,
        vec![
            [240, 243, 246],
            [214, 210, 213],
            [150, 134, 134],
            [244, 244, 244]
        ]
    );
}

/// Timing on a folder named by `MEDBURN_DICOM_BENCH` (not run by default):
/// `MEDBURN_DICOM_BENCH=/tmp/perfct cargo test --release -p medburn-io dicom_read_timing -- --ignored --nocapture`.
#[test]
#[ignore]
fn dicom_read_timing() {
    let Ok(dir) = std::env::var("MEDBURN_DICOM_BENCH") else {
        return;
    };
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let n = list_series(Path::new(&dir)).unwrap().len();
        let t_list = t.elapsed();
        let t = std::time::Instant::now();
        let v = read_dicom(Path::new(&dir), &SeriesSelector::First).unwrap();
        println!(
            "list_series {t_list:?} ({n} series), read_dicom {:?}: {:?} {:?}",
            t.elapsed(),
            v.size(),
            v.geometry.spacing()
        );
    }
}

#[test]
fn signed_monochrome1_is_inverted() {
    // CT_small is signed 16-bit with BitsStored 16: MONOCHROME1 gives -v - 1.
    let plain = read_dicom(&pydicom("CT_small.dcm"), &SeriesSelector::First).unwrap();
    let mut obj = open_file(pydicom("CT_small.dcm")).unwrap();
    obj.put(DataElement::new(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        PrimitiveValue::from("MONOCHROME1"),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m1.dcm");
    obj.write_to_file(&path).unwrap();
    let inv = read_dicom(&path, &SeriesSelector::First).unwrap();
    let (VoxelArray::I16(a), VoxelArray::I16(b)) = (&plain.data, &inv.data) else {
        panic!("i16")
    };
    assert!(a.iter().zip(b.iter()).all(|(x, y)| *y == -*x - 1));
    assert_eq!(inv.rescale, plain.rescale);
}

#[test]
fn subtype_from_series_description() {
    let meta = |d: &str| {
        let mut m = std::collections::BTreeMap::new();
        m.insert("SeriesDescription".to_string(), d.to_string());
        m
    };
    assert_eq!(
        metadata::subtype("MR", &meta("AX T2 FLAIR")).as_deref(),
        Some("FLAIR")
    );
    assert_eq!(
        metadata::subtype("MR", &meta("t1_mprage_sag")).as_deref(),
        Some("T1")
    );
    assert_eq!(
        metadata::subtype("MR", &meta("T2W_TSE")).as_deref(),
        Some("T2")
    );
    assert_eq!(
        metadata::subtype("MR", &meta("ep2d_diff_b1000")).as_deref(),
        Some("DWI")
    );
    assert_eq!(metadata::subtype("MR", &meta("localizer")), None);
    assert_eq!(metadata::subtype("CT", &meta("T1")), None);
    let mut pet = meta("WB");
    pet.insert("Radiopharmaceutical".into(), "Fluorodeoxyglucose".into());
    assert_eq!(metadata::subtype("PT", &pet).as_deref(), Some("FDG"));
}
