//! The data set layouts of tests/fixtures/layouts (made by tests/scripts/make_layout_fixtures.py):
//! each opened by `Manifest::open` with its ids, channels and labels, one case read with its
//! grid as SimpleITK reads it, every file checked; broken layouts refused with the file named.

use std::path::{Path, PathBuf};

use medburn_core::{Device, Geometry, MedImage};
use medburn_datasets::{
    check_dataset, prepare_case_with, read_channels, read_channels_with, BidsOptions, CaseFiles,
    DicomSeriesRule, Manifest, PreprocessConfig, ReadOptions, Split,
};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/layouts")
        .join(name)
}

fn expected(layout: &str) -> Value {
    let text = std::fs::read_to_string(fixture("expected.json")).unwrap();
    let all: Value = serde_json::from_str(&text).unwrap();
    all[layout].clone()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
    }
}

fn ids(cases: &[CaseFiles]) -> Vec<String> {
    cases.iter().map(|c| c.id.clone()).collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// The grid equals SimpleITK's reading of the file (LPS).
fn assert_grid(g: &Geometry, e: &Value) {
    let nums = |k: &str| -> Vec<f64> {
        e[k].as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let size: Vec<f64> = g.size().iter().map(|&n| n as f64).collect();
    assert_eq!(size, nums("size"));
    for (a, b) in g.spacing().iter().zip(nums("spacing")) {
        assert!((a - b).abs() < 1e-6, "spacing {:?} vs {e}", g.spacing());
    }
    for (a, b) in g.origin().iter().zip(nums("origin")) {
        assert!((a - b).abs() < 1e-5, "origin {:?} vs {e}", g.origin());
    }
    for (a, b) in g.direction().row_major().iter().zip(nums("direction")) {
        assert!((a - b).abs() < 1e-6, "direction vs {e}");
    }
}

/// The layout's ids, channels and labels are those of expected.json.
fn assert_manifest(m: &Manifest, e: &Value) {
    assert_eq!(ids(&m.training), strings(&e["training"]));
    assert_eq!(ids(&m.test), strings(&e["test"]));
    assert_eq!(m.channel_names, strings(&e["channels"]));
    for (k, v) in e["labels"].as_object().unwrap() {
        assert_eq!(
            m.label_names[&k.parse::<u32>().unwrap()],
            v.as_str().unwrap()
        );
    }
    assert_eq!(m.label_names.len(), e["labels"].as_object().unwrap().len());
    for c in m.training.iter().chain(&m.test) {
        assert!(c.label.is_some(), "case {} has no label map", c.id);
    }
    assert!(m.test.iter().all(|c| c.split == Some(Split::Test)));
}

/// Every case's label values are those the script wrote, and the check finds no problem.
fn assert_clean(m: &Manifest, e: &Value, options: &ReadOptions) {
    let report = check_dataset(m, options, &|_| {});
    assert!(
        report.is_clean(),
        "{:?}",
        report.cases.iter().map(|c| &c.problems).collect::<Vec<_>>()
    );
    for c in &report.cases {
        let want: Vec<u32> = e["label_values"][&c.id]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(c.label_values, want, "case {}", c.id);
        assert_eq!(c.channels, m.channel_names.len());
    }
}

/// The lesion is bright in every channel: the mean over label 1 well above the mean elsewhere.
fn assert_lesion_bright(image: &MedImage, label: &[f32]) {
    let values = image.to_vec().unwrap();
    let n = label.len();
    for (c, channel) in values.chunks(n).enumerate() {
        let mean = |inside: bool| {
            let v: Vec<f32> = channel
                .iter()
                .zip(label)
                .filter(|(_, &l)| (l > 0.5) == inside)
                .map(|(&x, _)| x)
                .collect();
            v.iter().sum::<f32>() / v.len().max(1) as f32
        };
        assert!(
            mean(true) > mean(false) + 100.0,
            "channel {c}: lesion {} background {}",
            mean(true),
            mean(false)
        );
    }
}

fn read_label(path: &Path) -> Vec<f32> {
    medburn_io::read_image(path, &Device::flex())
        .unwrap()
        .to_vec()
        .unwrap()
}

#[test]
fn decathlon_test_cases_get_their_labels() {
    let e = expected("msd");
    let m = Manifest::open(&fixture("msd")).unwrap();
    assert_manifest(&m, &e);
    // m_003 is a path entry: its label map comes from labelsTs/ under the same name; m_004's
    // entry names its own.
    assert!(m.test[0]
        .label
        .as_ref()
        .unwrap()
        .ends_with("labelsTs/m_003.nii.gz"));
    assert!(m.test[1]
        .label
        .as_ref()
        .unwrap()
        .ends_with("labelsTs/m_004_seg.nii.gz"));
    let image = read_channels(&m.training[0], &Device::flex()).unwrap();
    assert_eq!(image.channels(), 1);
    assert_grid(image.geometry(), &e["grid"]);
    assert_lesion_bright(&image, &read_label(m.training[0].label.as_ref().unwrap()));
    assert_clean(&m, &e, &ReadOptions::default());
}

#[test]
fn nnunet_raw_layout_is_found_by_file_names() {
    let e = expected("nnunet");
    let m = Manifest::open(&fixture("nnunet")).unwrap();
    assert_manifest(&m, &e);
    let c = &m.training[0];
    assert!(c.images[0].ends_with("imagesTr/brain_001_0000.nii.gz"));
    assert!(c.images[1].ends_with("imagesTr/brain_001_0001.nii.gz"));
    assert!(c
        .label
        .as_ref()
        .unwrap()
        .ends_with("labelsTr/brain_001.nii.gz"));
    assert!(m.test[0]
        .label
        .as_ref()
        .unwrap()
        .ends_with("labelsTs/brain_004.nii.gz"));
    let image = read_channels(c, &Device::flex()).unwrap();
    assert_eq!(image.channels(), 2);
    assert_grid(image.geometry(), &e["grid"]);
    assert_lesion_bright(&image, &read_label(c.label.as_ref().unwrap()));
    assert_clean(&m, &e, &ReadOptions::default());
    // The same folder through dataset.json.
    let again = Manifest::open(&fixture("nnunet/dataset.json")).unwrap();
    assert_eq!(again, m);
}

#[test]
fn bids_subjects_sessions_and_derivatives() {
    let e = expected("bids");
    let m = Manifest::open(&fixture("bids")).unwrap();
    // T2w is only in sub-01: the shared suffixes are T1w and FLAIR.
    assert_manifest(&m, &e);
    assert_eq!(m.name, "TinyBIDS");
    for c in &m.training {
        let subject = c.id.split('_').next().unwrap();
        for k in ["age", "sex"] {
            assert_eq!(
                c.targets[k],
                e["participants"][subject][k].as_str().unwrap()
            );
        }
    }
    let c = &m.training[1];
    assert!(c.images[0].ends_with("sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz"));
    assert!(c
        .label
        .as_ref()
        .unwrap()
        .ends_with("derivatives/manual/sub-02/ses-1/anat/sub-02_ses-1_dseg.nii.gz"));
    // FLAIR is on a 2 mm grid: refused, naming both files and both grids...
    let err = read_channels(c, &Device::flex()).unwrap_err().to_string();
    for part in [
        "sub-02_ses-1_FLAIR.nii.gz",
        "sub-02_ses-1_T1w.nii.gz",
        "size 4x4x4, spacing 2x2x2 mm, origin (10.5, -19.5, 5.5) mm",
        "size 8x8x8, spacing 1x1x1 mm, origin (10, -20, 5) mm",
        "resample_channels",
    ] {
        assert!(err.contains(part), "{part:?} not in {err}");
    }
    // ... or resampled onto the T1w grid.
    let options = ReadOptions {
        resample_channels: true,
    };
    let image = read_channels_with(c, &Device::flex(), &options).unwrap();
    assert_eq!(image.channels(), 2);
    assert_grid(image.geometry(), &e["grid"]);
    assert_lesion_bright(&image, &read_label(c.label.as_ref().unwrap()));
    assert_clean(&m, &e, &options);
    let config = PreprocessConfig {
        normalize: false,
        ..Default::default()
    };
    let (prepared, _) = prepare_case_with(c, &config, &[], &options).unwrap();
    assert_eq!(
        (prepared.channels, prepared.geometry.size()),
        (2, [8, 8, 8])
    );
    assert!(prepared.label.unwrap().contains(&1));
    // Chosen channels, in the caller's order.
    let three = Manifest::from_bids_with(
        &fixture("bids"),
        &BidsOptions {
            channels: vec!["flair".into(), "T1w".into()],
        },
    )
    .unwrap();
    assert_eq!(three.channel_names, ["FLAIR", "T1w"]);
    assert!(three.training[0].images[0].ends_with("sub-01_FLAIR.nii.gz"));
    let err = Manifest::from_bids_with(
        &fixture("bids"),
        &BidsOptions {
            channels: vec!["T2w".into()],
        },
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("sub-02/ses-1/anat") && err.contains("no sub-02_ses-1_T2w.nii[.gz]"),
        "{err}"
    );
}

#[test]
fn dicom_case_folders_one_series_per_channel() {
    let e = expected("dicom_series");
    let m = Manifest::open(&fixture("dicom_series")).unwrap();
    assert_manifest(&m, &e);
    assert_eq!(m.name, "TinyDicom");
    // The rule file itself opens the same data set.
    let again = Manifest::open(&fixture("dicom_series/dicom_series.json")).unwrap();
    assert_eq!(again, m);
    let c = &m.training[0];
    assert_eq!(c.images, vec![fixture("dicom_series/case01"); 2]);
    assert_eq!(c.series.len(), 2);
    assert_ne!(c.series_of(0), c.series_of(1));
    let series = medburn_io::dicom::list_series(&fixture("dicom_series/case01")).unwrap();
    let description = |uid: &str| {
        series
            .iter()
            .find(|s| s.uid == uid)
            .and_then(|s| s.description.clone())
            .unwrap()
    };
    assert_eq!(description(c.series_of(0).unwrap()), "t1_mprage_sag");
    assert_eq!(description(c.series_of(1).unwrap()), "flair_tra");
    // FLAIR is on a 2 mm grid: resampled onto the T1 series' grid (as SimpleITK reads it).
    let err = read_channels(c, &Device::flex()).unwrap_err().to_string();
    assert!(
        err.contains("different grid") && err.contains("case01 (series"),
        "{err}"
    );
    let options = ReadOptions {
        resample_channels: true,
    };
    let image = read_channels_with(c, &Device::flex(), &options).unwrap();
    assert_eq!(image.channels(), 2);
    assert_grid(image.geometry(), &e["grid"]);
    assert_lesion_bright(&image, &read_label(c.label.as_ref().unwrap()));
    assert_clean(&m, &e, &options);
    // A rule that matches several series, or none, is refused with the series found.
    let rule = |text: &str| DicomSeriesRule {
        series: vec![("T1".into(), text.into())],
        ..Default::default()
    };
    let err = Manifest::from_dicom_series(&fixture("dicom_series"), &rule("a"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("case01") && err.contains("3 series match channel T1"),
        "{err}"
    );
    let err = Manifest::from_dicom_series(&fixture("dicom_series"), &rule("dwi"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no series for channel T1") && err.contains("\"localizer\""),
        "{err}"
    );
    // A SeriesInstanceUID picks its series (in a data set of that one case).
    let one = tempfile::tempdir().unwrap();
    copy_dir(&fixture("dicom_series/case01"), &one.path().join("case01"));
    let uid = c.series_of(1).unwrap().to_string();
    let by_uid = Manifest::from_dicom_series(one.path(), &rule(&uid)).unwrap();
    assert_eq!(by_uid.training[0].series_of(0), Some(uid.as_str()));
}

#[test]
fn broken_layouts_are_refused_naming_the_file() {
    let e = Manifest::open(&fixture("nnunet_missing_channel"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("imagesTr/brain_002_0001.nii.gz")
            && e.contains("missing: channel 1 (FLAIR) of case brain_002"),
        "{e}"
    );
    let e = Manifest::open(&fixture("nnunet_num_training"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("dataset.json")
            && e.contains("numTraining is 3 but imagesTr holds 2 case(s) (brain_001, brain_002)"),
        "{e}"
    );
    let e = Manifest::open(&fixture("bids_no_shared_suffix"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("sub-03/anat") && e.contains("sub-03 has T2w"),
        "{e}"
    );
    // Readable, but its files are wrong: every problem is found, each naming its file.
    let m = Manifest::open(&fixture("nnunet_bad_labels")).unwrap();
    let report = check_dataset(&m, &ReadOptions::default(), &|_| {});
    let problems: Vec<String> = report
        .cases
        .iter()
        .flat_map(|c| c.problems.iter().map(move |p| format!("{}: {p}", c.id)))
        .collect();
    assert_eq!(report.problem_count(), 4, "{problems:#?}");
    let has = |parts: &[&str]| problems.iter().any(|p| parts.iter().all(|s| p.contains(s)));
    assert!(
        has(&[
            "brain_001",
            "labelsTr/brain_001.nii.gz",
            "value(s) 3 not among the declared labels"
        ]),
        "{problems:#?}"
    );
    assert!(
        has(&["brain_001_0001.nii.gz", "1 voxel(s) are NaN"]),
        "{problems:#?}"
    );
    assert!(
        has(&["labelsTr/brain_002.nii.gz", "is empty"]),
        "{problems:#?}"
    );
    assert!(
        has(&[
            "brain_003_0001.nii.gz",
            "different grid than",
            "brain_003_0000.nii.gz"
        ]),
        "{problems:#?}"
    );
    assert_eq!(report.found_labels, vec![0, 1, 3]);
    // Resampling makes the grid a note.
    let report = check_dataset(
        &m,
        &ReadOptions {
            resample_channels: true,
        },
        &|_| {},
    );
    assert_eq!(report.problem_count(), 3);
    assert!(report.cases[2].notes[0].contains("resampled onto it (linear)"));
    // Training on it stops at the bad value too (read_channels refuses the NaN).
    let e = read_channels(&m.training[0], &Device::flex())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("brain_001_0001.nii.gz") && e.contains("NaN"),
        "{e}"
    );
}

#[test]
fn a_folder_that_fits_no_layout_says_what_was_looked_for() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scans")).unwrap();
    let e = Manifest::open(dir.path()).unwrap_err().to_string();
    for part in [
        "no data set layout fits this folder",
        "dataset.json (Decathlon or nnU-Net v2 raw)",
        "sub-* folders (BIDS)",
        "dicom_series.json",
    ] {
        assert!(e.contains(part), "{part:?} not in {e}");
    }
}
