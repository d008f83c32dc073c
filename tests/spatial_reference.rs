//! medburn's spatial transforms against SimpleITK on real and made volumes
//! (tests/fixtures/spatial, made by tests/scripts/make_spatial_fixtures.py): ResampleImageFilter
//! with the same output grid and transform, DICOMOrient, RegionOfInterest, ConstantPad and
//! ZeroFluxNeumannPad. Linear and B-spline within 1e-4 of the value range, nearest exact but
//! for ties, index operations exact, geometry to 1e-6.

use std::path::PathBuf;

use burn::tensor::Device;
use medburn_core::{MedImage, Orientation};
use medburn_spatial::*;
use serde_json::Value;

fn dir() -> PathBuf {
    medburn_e2e::fixtures_dir().join("spatial")
}

fn cases() -> Vec<Value> {
    let text =
        std::fs::read_to_string(dir().join("manifest.json")).expect("run make_spatial_fixtures.py");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["cases"].as_array().unwrap().clone()
}

fn f3(v: &Value) -> [f64; 3] {
    let a = medburn_e2e::floats(v);
    [a[0], a[1], a[2]]
}

fn u3(v: &Value) -> [usize; 3] {
    f3(v).map(|x| x as usize)
}

fn apply(case: &Value, device: &Device) -> MedImage {
    let input =
        medburn_io::read_image(&dir().join(case["input"].as_str().unwrap()), device).unwrap();
    let interp: Interpolation = case["interp"].as_str().unwrap().parse().unwrap_or_default();
    let p = &case["params"];
    match case["op"].as_str().unwrap() {
        "resample_to_spacing" => resample_to_spacing(&input, f3(&p["spacing"]), interp),
        "rotate" => rotate(
            &input,
            Axis::Vector(f3(&p["axis"])),
            p["degrees"].as_f64().unwrap(),
            None,
            interp,
        ),
        "resample_to_image" => {
            let like =
                medburn_io::read_image(&dir().join(p["like"].as_str().unwrap()), device).unwrap();
            resample_to_image(&input, &like, interp)
        }
        "scale" => scale(&input, f3(&p["factor"]), interp),
        "translate" => translate(&input, f3(&p["offset"]), interp),
        "affine" => {
            let rows: Vec<Vec<f64>> = p["matrix"]
                .as_array()
                .unwrap()
                .iter()
                .map(medburn_e2e::floats)
                .collect();
            let m = [0, 1, 2, 3].map(|r| [0, 1, 2, 3].map(|c| rows[r][c]));
            affine(&input, m, interp)
        }
        "orient" => change_orientation(
            &input,
            p["code"].as_str().unwrap().parse::<Orientation>().unwrap(),
        ),
        "crop" => crop(&input, u3(&p["start"]), u3(&p["size"])),
        "pad" => {
            let fill = match p["fill"].as_str().unwrap() {
                "constant" => PadFill::Constant(p["value"].as_f64().unwrap() as f32),
                other => other.parse().unwrap(),
            };
            pad(&input, u3(&p["before"]), u3(&p["after"]), fill)
        }
        op => panic!("unknown op {op}"),
    }
    .unwrap_or_else(|e| panic!("{}: {e}", case["name"]))
}

/// The input point that output point `p` reads, for the nearest-neighbour cases (identity or
/// rotation about the input's centre), in f64.
fn source_point(case: &Value, input: &medburn_core::Geometry, p: [f64; 3]) -> [f64; 3] {
    if case["op"] != "rotate" {
        return p;
    }
    let axis = f3(&case["params"]["axis"]);
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    let u = axis.map(|v| v / n);
    let th = case["params"]["degrees"].as_f64().unwrap().to_radians();
    let (s, c) = th.sin_cos();
    let k = [[0.0, -u[2], u[1]], [u[2], 0.0, -u[0]], [-u[1], u[0], 0.0]];
    let centre = input.centre();
    let d = [0, 1, 2].map(|i| p[i] - centre[i]);
    // R^T d = d - s K d + (1 - c) K K d
    let kd = [0, 1, 2].map(|i| (0..3).map(|j| k[i][j] * d[j]).sum::<f64>());
    let kkd = [0, 1, 2].map(|i| (0..3).map(|j| k[i][j] * kd[j]).sum::<f64>());
    [0, 1, 2].map(|i| centre[i] + d[i] - s * kd[i] + (1.0 - c) * kkd[i])
}

/// Checks one case; returns (geometry error, value error / range, nearest mismatches, voxels).
fn check(case: &Value, device: &Device) -> (f64, f64, usize, usize) {
    let name = case["name"].as_str().unwrap();
    let got = apply(case, device);
    let g = got.geometry();
    let want_g = &case["geometry"];
    assert_eq!(g.size(), u3(&want_g["size"]), "{name}: size");
    let mut geo_err = 0.0f64;
    for (a, b) in g
        .origin()
        .iter()
        .zip(medburn_e2e::floats(&want_g["origin"]))
    {
        geo_err = geo_err.max((a - b).abs());
    }
    for (a, b) in g
        .spacing()
        .iter()
        .zip(medburn_e2e::floats(&want_g["spacing"]))
    {
        geo_err = geo_err.max((a - b).abs());
    }
    for (a, b) in g
        .direction()
        .row_major()
        .iter()
        .zip(medburn_e2e::floats(&want_g["direction"]))
    {
        geo_err = geo_err.max((a - b).abs());
    }
    assert!(geo_err < 1e-6, "{name}: geometry differs by {geo_err:.2e}");
    let want = medburn_io::read_image(
        &dir().join(case["output"].as_str().unwrap()),
        &Device::flex(),
    )
    .unwrap();
    let (a, b) = (got.to_vec().unwrap(), want.to_vec().unwrap());
    let input = medburn_io::read_image(
        &dir().join(case["input"].as_str().unwrap()),
        &Device::flex(),
    )
    .unwrap();
    let iv = input.to_vec().unwrap();
    let range =
        iv.iter().cloned().fold(f32::MIN, f32::max) - iv.iter().cloned().fold(f32::MAX, f32::min);
    let err = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max) as f64
        / range as f64;
    let mismatches = a.iter().zip(&b).filter(|(x, y)| x != y).count();
    match case["interp"].as_str().unwrap() {
        "linear" | "bspline" => {
            let [ni, nj, _] = got.geometry().size();
            let worst = (0..a.len())
                .max_by(|&u, &v| (a[u] - b[u]).abs().total_cmp(&(a[v] - b[v]).abs()))
                .unwrap();
            let at = [worst % ni, (worst / ni) % nj, worst / (ni * nj)];
            assert!(
                err < 1e-4,
                "{name}: error {err:.2e} of the value range, worst at {at:?} ({} vs {}), size {:?}",
                a[worst],
                b[worst],
                got.geometry().size()
            );
        }
        "nearest" => {
            // Every differing voxel must sit on a tie: an input position half-way between
            // two voxel centres on some axis, where f32 and f64 arithmetic may round apart.
            let out_g = *got.geometry();
            let in_g = *input.geometry();
            let [ni, nj, _] = out_g.size();
            for (v, (x, y)) in a.iter().zip(&b).enumerate() {
                if x == y {
                    continue;
                }
                let idx = [v % ni, (v / ni) % nj, v / (ni * nj)].map(|u| u as f64);
                let q =
                    in_g.physical_to_index(source_point(case, &in_g, out_g.index_to_physical(idx)));
                let tie = q.iter().any(|c| ((c - c.floor()) - 0.5).abs() < 1e-3);
                assert!(
                    tie,
                    "{name}: voxel {idx:?} differs ({x} vs {y}) at input index {q:?}, not a tie"
                );
            }
        }
        _ => assert_eq!(a, b, "{name}: index operations are exact"),
    }
    (geo_err, err, mismatches, a.len())
}

#[test]
fn transforms_match_simpleitk_on_flex() {
    let (mut geo, mut val, mut near, mut near_total) = (0.0f64, 0.0f64, 0usize, 0usize);
    let all = cases();
    for case in &all {
        let (g, v, m, n) = check(case, &Device::flex());
        geo = geo.max(g);
        if case["interp"] == "nearest" {
            near += m;
            near_total += n;
        } else {
            val = val.max(v);
        }
    }
    println!(
        "{} cases: geometry {geo:.1e}, linear/B-spline {val:.1e} of the range, nearest {near} of {near_total} voxels differ",
        all.len()
    );
}

#[test]
fn transforms_match_simpleitk_on_wgpu() {
    let Some(device) = medburn_core::wgpu_device_or_skip("transforms_match_simpleitk_on_wgpu")
    else {
        return;
    };
    // The small made volume, one case per kind of transform.
    for case in cases().iter().filter(|c| {
        let n = c["name"].as_str().unwrap();
        n.starts_with("oblique")
            && [
                "spacing_bspline",
                "rotate_vec_linear",
                "like_nearest",
                "scale",
                "affine",
                "orient_PIR",
                "crop",
                "pad_edge",
            ]
            .iter()
            .any(|k| n.ends_with(k))
    }) {
        check(case, &device);
    }
}

/// `simulate_low_resolution` against tests/fixtures/spatial/superres
/// (tests/scripts/make_superres_fixture.py: SciPy's Gaussian of the slice profile, the coarse
/// grid by its definition, SimpleITK's Resample), on an oblique, flipped grid: the geometry to
/// float32 precision, the values within 1e-4 of the range.
#[test]
fn simulated_low_resolution_matches_simpleitk() {
    let device = Device::flex();
    let dir = dir().join("superres");
    let index: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("superres.json")).unwrap()).unwrap();
    let hr = medburn_io::read_image(&dir.join(index["input"].as_str().unwrap()), &device).unwrap();
    for case in index["cases"].as_array().unwrap() {
        let factors = u3(&case["factors"]);
        let want =
            medburn_io::read_image(&dir.join(case["file"].as_str().unwrap()), &device).unwrap();
        let got = simulate_low_resolution(&hr, factors).unwrap();
        let (g, w) = (got.geometry(), want.geometry());
        assert_eq!(g.size(), w.size(), "{factors:?}");
        for a in 0..3 {
            assert!(
                (g.origin()[a] - w.origin()[a]).abs() < 1e-4,
                "{factors:?} origin"
            );
            assert!(
                (g.spacing()[a] - w.spacing()[a]).abs() < 1e-6,
                "{factors:?} spacing"
            );
        }
        let (gd, wd) = (g.direction().row_major(), w.direction().row_major());
        assert!(
            (0..9).all(|k| (gd[k] - wd[k]).abs() < 1e-6),
            "{factors:?} direction"
        );
        let (a, b) = (got.to_vec().unwrap(), want.to_vec().unwrap());
        let range = b.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v))
            - b.iter().fold(f32::INFINITY, |m, &v| m.min(v));
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1e-4 * range,
            "{factors:?}: {worst} of a range {range}"
        );
    }
}
