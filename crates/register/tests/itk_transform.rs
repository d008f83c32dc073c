//! ITK transform files: one written by SimpleITK (tests/fixtures/itk, made by
//! tests/scripts/make_itk_transform_fixture.py) maps points as SimpleITK does; what medburn
//! writes reads back to the same map; a registration's result goes through the file unchanged;
//! malformed files are refused.

use medburn_register::{AffineRegistration, ItkAffine};
use serde_json::Value;

mod common;

fn fixtures() -> std::path::PathBuf {
    common::fixtures_dir().join("itk")
}

fn point(v: &Value) -> [f64; 3] {
    let v: Vec<f64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect();
    [v[0], v[1], v[2]]
}

#[test]
fn a_simpleitk_file_maps_points_as_simpleitk() {
    let t = ItkAffine::read(&fixtures().join("affine.tfm")).unwrap();
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("affine_points.json")).unwrap(),
    )
    .unwrap();
    let (points, mapped) = (
        json["points"].as_array().unwrap(),
        json["mapped"].as_array().unwrap(),
    );
    assert_eq!(points.len(), 4);
    for (p, want) in points.iter().zip(mapped) {
        let got = t.apply(point(p));
        let want = point(want);
        for k in 0..3 {
            assert!(
                (got[k] - want[k]).abs() < 1e-9,
                "{got:?} vs SimpleITK {want:?}"
            );
        }
    }
    // Written again, it is SimpleITK's text, number for number.
    let ours = t.to_tfm();
    let theirs = std::fs::read_to_string(fixtures().join("affine.tfm")).unwrap();
    let numbers = |s: &str| -> Vec<f64> {
        s.split_whitespace()
            .filter_map(|w| w.parse::<f64>().ok())
            .collect()
    };
    assert_eq!(numbers(&ours), numbers(&theirs));
    assert_eq!(ours.lines().count(), theirs.trim_end().lines().count());
}

#[test]
fn a_registration_goes_through_a_file_unchanged() {
    let r = AffineRegistration {
        matrix: [
            [0.98, 0.1, -0.02, 3.5],
            [-0.1, 1.01, 0.0, -7.25],
            [0.03, 0.0, 0.99, 12.0],
        ],
        centre: [10.0, -4.0, 22.0],
        levels: vec![],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("affine.tfm");
    r.to_itk().write(&path).unwrap();
    let back = ItkAffine::read(&path).unwrap();
    assert_eq!(back.centre, r.centre);
    for p in [[0.0, 0.0, 0.0], [-50.0, 20.0, 75.5]] {
        let (a, b) = (r.apply(p), back.apply(p));
        for k in 0..3 {
            assert!((a[k] - b[k]).abs() < 1e-12, "{a:?} {b:?}");
        }
    }
}

#[test]
fn malformed_files_are_refused() {
    let good = std::fs::read_to_string(fixtures().join("affine.tfm")).unwrap();
    for (text, says) in [
        (good.replace("#Insight Transform File V1.0", ""), "header"),
        (
            good.replace("AffineTransform_double_3_3", "BSplineTransform_double_3_3"),
            "BSplineTransform",
        ),
        (
            good.replace("Parameters: 1.05", "Parameters: nan"),
            "finite",
        ),
        (
            good.replace("FixedParameters: ", "FixedParameters: 1 "),
            "3 finite numbers",
        ),
        (
            format!("{good}#Transform 1\nTransform: AffineTransform_double_3_3\n"),
            "composite",
        ),
    ] {
        let e = ItkAffine::from_tfm(&text).unwrap_err().to_string();
        assert!(e.contains(says), "{e}");
    }
    let dir = tempfile::tempdir().unwrap();
    assert!(ItkAffine::read(&dir.path().join("missing.tfm")).is_err());
}
