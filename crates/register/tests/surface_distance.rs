//! Surface distances, Dice and target registration error: against MONAI 1.6's
//! compute_hausdorff_distance (percentile 95 and max), compute_average_surface_distance
//! (symmetric) and compute_dice on seeded label maps with anisotropic spacing
//! (tests/fixtures/monai/surface_distance.json, made by tests/scripts/make_surface_fixture.py),
//! and on shapes whose distances are known.

use std::time::Instant;

use medburn_core::{Direction, Geometry};
use medburn_register::metrics::{
    dice, surface_distances, target_registration_error, SurfaceDistances,
};
use medburn_register::RegistrationError;
use serde_json::Value;

mod common;
use common::floats;

fn labels(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect()
}

fn geometry(size: [usize; 3], spacing: [f64; 3], direction: Direction) -> Geometry {
    Geometry::new(size, [3.0, -7.0, 11.0], spacing, direction).unwrap()
}

/// An oblique, flipped direction: distances must not depend on it.
fn oblique() -> Direction {
    let (s, c) = 0.3f64.sin_cos();
    Direction::from_rows([[c, -s, 0.0], [0.0, 0.0, -1.0], [s, c, 0.0]])
}

#[test]
fn surface_distances_and_dice_match_monai() {
    let fixture = common::json("monai/surface_distance.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    let (mut worst_monai, mut worst_monai_rel, mut worst_f64) = (0.0f64, 0.0f64, 0.0f64);
    let (mut compared, mut undefined) = (0, 0);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let size: [usize; 3] = floats(&case["size"])
            .iter()
            .map(|v| *v as usize)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let spacing: [f64; 3] = floats(&case["spacing"]).try_into().unwrap();
        let pred = labels(&case["prediction"]);
        let reference = labels(&case["reference"]);
        for entry in case["labels"].as_array().unwrap() {
            let label = entry["label"].as_u64().unwrap() as u8;
            let what = format!("{name} label {label}");
            let got = surface_distances(
                &pred,
                &reference,
                &geometry(size, spacing, Direction::identity()),
                label,
            )
            .unwrap();
            // The direction does not change distances in mm.
            let turned = surface_distances(
                &pred,
                &reference,
                &geometry(size, spacing, oblique()),
                label,
            )
            .unwrap();
            assert_eq!(got, turned, "{what}");

            let monai = &entry["monai"];
            if entry["float64"].is_null() {
                // MONAI gives inf or nan: medburn gives None.
                assert_eq!(got, None, "{what}: MONAI {:?}", entry["monai_nonfinite"]);
                assert!(entry["monai_nonfinite"]["mean"].is_string(), "{what}");
                undefined += 1;
            } else {
                let got: SurfaceDistances = got.unwrap_or_else(|| panic!("{what}: None"));
                let f64_ref = &entry["float64"];
                for (key, value) in [
                    ("hd95", got.hd95),
                    ("hausdorff", got.hausdorff),
                    ("mean", got.mean),
                    (
                        "mean_prediction_to_reference",
                        got.mean_prediction_to_reference,
                    ),
                    (
                        "mean_reference_to_prediction",
                        got.mean_reference_to_prediction,
                    ),
                ] {
                    let want = f64_ref[key].as_f64().unwrap();
                    worst_f64 = worst_f64.max((value - want).abs());
                    assert!(
                        (value - want).abs() < 1e-9,
                        "{what} {key}: {value} vs {want}"
                    );
                    if let Some(m) = monai.get(key).and_then(Value::as_f64) {
                        // MONAI works in float32 (distances, torch.quantile, mean): its values
                        // carry float32 rounding, 1.2e-7 relative per operation.
                        let diff = (value - m).abs();
                        worst_monai = worst_monai.max(diff);
                        worst_monai_rel = worst_monai_rel.max(diff / m.abs().max(1.0));
                        assert!(
                            diff <= 1e-6 * m.abs().max(1.0),
                            "{what} {key}: {value} vs MONAI {m}"
                        );
                    }
                }
                assert_eq!(
                    got.prediction_surface_voxels as u64,
                    f64_ref["prediction_surface_voxels"].as_u64().unwrap(),
                    "{what}"
                );
                assert_eq!(
                    got.reference_surface_voxels as u64,
                    f64_ref["reference_surface_voxels"].as_u64().unwrap(),
                    "{what}"
                );
                assert!(got.hd95 <= got.hausdorff && got.mean <= got.hausdorff);
                compared += 1;
            }

            let d = dice(&pred, &reference, label).unwrap();
            match monai["dice"].as_f64() {
                Some(m) => {
                    let d = d.unwrap_or_else(|| panic!("{what}: Dice None, MONAI {m}"));
                    assert!((d - m).abs() <= 1e-6, "{what} Dice {d} vs MONAI {m}");
                    let exact = entry["dice_float64"].as_f64().unwrap();
                    assert!((d - exact).abs() < 1e-12, "{what} Dice {d} vs {exact}");
                }
                None => assert_eq!(d, None, "{what}: MONAI Dice is nan"),
            }
        }
    }
    println!(
        "{compared} labels compared (max |diff| vs MONAI float32 {worst_monai:.2e}, relative \
         {worst_monai_rel:.2e}; vs the float64 definition {worst_f64:.2e}), {undefined} undefined \
         (None)"
    );
    assert_eq!((compared, undefined), (11, 8));
}

/// A cuboid and the same cuboid moved by `t` voxels along one axis: every surface voxel of one
/// lies `t` voxels from the other's along that axis, so the Hausdorff distance is `t s`.
#[test]
fn shifted_cuboid_has_known_distances() {
    let size = [20, 16, 12];
    let spacing = [0.7, 1.5, 2.5];
    let g = geometry(size, spacing, Direction::identity());
    let n = size[0] * size[1] * size[2];
    let cuboid = |shift: [usize; 3]| {
        let mut m = vec![0u8; n];
        for k in 3 + shift[2]..8 + shift[2] {
            for j in 2 + shift[1]..10 + shift[1] {
                for i in 4 + shift[0]..12 + shift[0] {
                    m[i + size[0] * (j + size[1] * k)] = 5;
                }
            }
        }
        m
    };
    let a = cuboid([0, 0, 0]);
    for (axis, t) in [(0usize, 3usize), (1, 2), (2, 1)] {
        let mut shift = [0; 3];
        shift[axis] = t;
        let b = cuboid(shift);
        let d = surface_distances(&b, &a, &g, 5).unwrap().unwrap();
        let want = t as f64 * spacing[axis];
        assert!((d.hausdorff - want).abs() < 1e-12, "axis {axis}: {d:?}");
        assert!(d.mean > 0.0 && d.mean < want, "axis {axis}: {d:?}");
        // Symmetric: swapping the two swaps the directed means only.
        let e = surface_distances(&a, &b, &g, 5).unwrap().unwrap();
        assert_eq!(
            e.mean_prediction_to_reference,
            d.mean_reference_to_prediction
        );
        assert!((e.mean - d.mean).abs() < 1e-12 && e.hd95 == d.hd95);
    }
    let same = surface_distances(&a, &a, &g, 5).unwrap().unwrap();
    assert_eq!((same.mean, same.hd95, same.hausdorff), (0.0, 0.0, 0.0));
    assert_eq!(dice(&a, &a, 5).unwrap(), Some(1.0));
}

#[test]
fn bad_input_is_an_error() {
    let g = geometry([4, 4, 4], [1.0; 3], Direction::identity());
    let ok = vec![1u8; 64];
    for (p, r) in [
        (&ok[..63], &ok[..]),
        (&ok[..], &ok[..63]),
        (&ok[..10], &ok[..10]),
    ] {
        assert!(matches!(
            surface_distances(p, r, &g, 1),
            Err(RegistrationError::Shape(_))
        ));
    }
    assert!(matches!(
        dice(&ok[..3], &ok[..4], 1),
        Err(RegistrationError::Shape(_))
    ));
    // Empty: None on either side.
    let none = vec![0u8; 64];
    assert_eq!(surface_distances(&none, &ok, &g, 1).unwrap(), None);
    assert_eq!(surface_distances(&ok, &none, &g, 1).unwrap(), None);
    assert_eq!(surface_distances(&none, &none, &g, 1).unwrap(), None);
}

/// Two spheres on a 256^3 grid (16.8 million voxels, a 243^3 box around them): the distance
/// transform is linear in the box, so this takes seconds, not the hours of a brute-force search
/// between surfaces.
#[test]
fn large_volumes_are_fast() {
    let n = 256;
    let g = geometry([n; 3], [1.0, 1.0, 1.2], Direction::identity());
    let ball = |c: [f64; 3], r: f64| {
        let mut m = vec![0u8; n * n * n];
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    let d = [i as f64 - c[0], j as f64 - c[1], (k as f64 - c[2]) * 1.2];
                    if d[0] * d[0] + d[1] * d[1] + d[2] * d[2] <= r * r {
                        m[i + n * (j + n * k)] = 1;
                    }
                }
            }
        }
        m
    };
    let a = ball([126.0, 128.0, 128.0], 100.0);
    let b = ball([130.0, 128.0, 128.0], 100.0);
    let t = Instant::now();
    let d = surface_distances(&a, &b, &g, 1).unwrap().unwrap();
    let secs = t.elapsed().as_secs_f64();
    println!("256^3 spheres: {d:?} in {secs:.2} s");
    // Moved by 4 mm along i: no surface point is more than 4 mm (plus a voxel's rounding) away.
    assert!(d.hausdorff >= 3.0 && d.hausdorff <= 4.0 + 1e-9, "{d:?}");
    assert!(d.mean > 1.0 && d.mean < 3.5, "{d:?}");
    assert!(secs < 60.0, "{secs} s");
}

#[test]
fn target_registration_error_summarizes_distances() {
    let truth: Vec<[f64; 3]> = (0..4).map(|n| [n as f64, 2.0 * n as f64, -1.0]).collect();
    let offsets = [
        [0.0, 0.0, 1.0],
        [0.0, 3.0, 4.0],
        [2.0, 0.0, 0.0],
        [0.0, 0.0, 0.0],
    ];
    let estimate: Vec<[f64; 3]> = truth
        .iter()
        .zip(offsets)
        .map(|(p, o)| [p[0] + o[0], p[1] + o[1], p[2] + o[2]])
        .collect();
    let tre = target_registration_error(&estimate, &truth).unwrap();
    assert_eq!(tre.distances, vec![1.0, 5.0, 2.0, 0.0]);
    assert_eq!(
        (tre.mean, tre.median, tre.max, tre.count),
        (2.0, 1.5, 5.0, 4)
    );
    assert!((tre.std - (3.5f64).sqrt()).abs() < 1e-12);
    assert!(target_registration_error(&[], &[]).is_err());
    assert!(target_registration_error(&estimate, &truth[..3]).is_err());
    assert!(target_registration_error(&[[0.0, f64::INFINITY, 0.0]], &[[0.0; 3]]).is_err());
}
