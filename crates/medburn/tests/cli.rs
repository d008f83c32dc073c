//! The `medburn` binary as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn medburn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medburn"))
        .args(args)
        .output()
        .expect("run medburn")
}

fn fixture(rel: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/data")
        .join(rel)
        .display()
        .to_string()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn info_json_reports_simpleitk_geometry() {
    // SimpleITK 2.5 on anatomical.nii: origin (-32, 40, -16), direction diag(1, -1, 1).
    let o = medburn(&["info", "--json", &fixture("nibabel/anatomical.nii")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["size"], serde_json::json!([33, 41, 25]));
    assert_eq!(j["spacing"], serde_json::json!([2.0, 2.0, 2.0]));
    assert_eq!(j["origin"], serde_json::json!([-32.0, 40.0, -16.0]));
    assert_eq!(
        j["direction"],
        serde_json::json!([1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0])
    );
    assert_eq!(j["orientation"], "LAS");
    assert_eq!(j["dtype"], "int16");
    let text = medburn(&["info", &fixture("nibabel/anatomical.nii")]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("orientation  LAS"));
}

#[test]
fn info_lists_the_series_of_a_dicom_folder() {
    let o = medburn(&[
        "info",
        "--json",
        &fixture("pydicom/dicomdirtests/98892003/MR1"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["series"].as_array().unwrap().len(), 3);
    assert_eq!(j["modality"], "MR");
}

#[test]
fn convert_then_info_keeps_geometry_and_values() {
    let dir = tempfile::tempdir().unwrap();
    for out in ["ct.nii.gz", "ct.h5", "ct.nii"] {
        let out = dir.path().join(out).display().to_string();
        let o = medburn(&[
            "convert",
            &fixture("pydicom/dicomdirtests/98892001/CT5N"),
            &out,
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let j: serde_json::Value =
            serde_json::from_slice(&medburn(&["info", "--json", &out]).stdout).unwrap();
        assert_eq!(j["size"], serde_json::json!([16, 16, 5]));
        // CT values after RescaleIntercept fit int16 exactly.
        assert_eq!(j["dtype"], "int16");
        let spacing: Vec<f64> = j["spacing"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert!((spacing[2] - 2.5).abs() < 1e-4, "{spacing:?}");
    }
}

#[test]
fn bad_input_fails_with_one_line_and_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.nii");
    std::fs::write(&bad, vec![7u8; 400]).unwrap();
    let out = dir.path().join("out.nii.gz");
    let o = medburn(&["convert", bad.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.nii") && err.contains("not a NIfTI file"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("backtrace"));
    // Values that do not fit the asked type: refused, nothing written.
    let o = medburn(&[
        "convert",
        &fixture("nibabel/anatomical.nii"),
        out.to_str().unwrap(),
        "--dtype",
        "uint8",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot be stored exactly"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "only bad.nii remains"
    );
    // Missing file, unknown output extension.
    let o = medburn(&["info", "/no/such/file.nii"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).starts_with("medburn: /no/such/file.nii:"));
    let o = medburn(&[
        "convert",
        &fixture("nibabel/anatomical.nii"),
        dir.path().join("x.png").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown format"));
}

#[test]
fn demo_runs_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let o = medburn(&[
        "demo",
        "--size",
        "24",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("medburn demo: OK"), "{out}");
    assert!(dir.path().join("phantom.nii.gz").exists() && dir.path().join("phantom.h5").exists());
}
