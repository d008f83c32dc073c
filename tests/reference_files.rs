//! Every nibabel test volume in tests/fixtures: medburn's geometry against
//! SimpleITK and nibabel, and its voxels against nibabel's.

use medburn_e2e::{data_dir, floats, max_abs_diff, reference_entries};
use medburn_io::Volume;
use serde_json::Value;

/// Voxel value at a full index `[i, j, k, further...]` in `values`, the volume's
/// rescaled values in memory order.
fn value_at(v: &Volume, values: &[f64], index: &[usize]) -> f64 {
    let [ni, nj, nk] = v.geometry.size();
    let (i, j, k) = (
        index[0],
        index.get(1).copied().unwrap_or(0),
        index.get(2).copied().unwrap_or(0),
    );
    // Further dims (t, ...) flatten into the channel index, first dim fastest.
    let mut c = 0;
    let mut stride = 1;
    for (n, &d) in index.iter().enumerate().skip(3) {
        c += d * stride;
        stride *= v.extra_dims.get(n - 3).copied().unwrap_or(1);
    }
    let flat = c * nk * nj * ni + k * nj * ni + j * ni + i;
    values[flat]
}

fn check_geometry(name: &str, v: &Volume, reference: &Value, tol: f64, failures: &mut Vec<String>) {
    let g = &v.geometry;
    let size = floats(&reference["size"]);
    let ours: Vec<f64> = v.size().iter().map(|&s| s as f64).collect();
    let n = size.len().min(3);
    if max_abs_diff(&ours[..n], &size[..n]) > 0.0 {
        failures.push(format!("{name}: size {ours:?} vs {size:?}"));
    }
    for (key, ours) in [
        ("spacing", g.spacing().to_vec()),
        ("origin", g.origin().to_vec()),
        ("direction", g.direction().row_major().to_vec()),
    ] {
        let want = floats(&reference[key]);
        let d = max_abs_diff(&ours, &want);
        if d > tol {
            failures.push(format!(
                "{name}: {key} {ours:?} vs {want:?} (max diff {d:.2e})"
            ));
        }
    }
}

#[test]
fn nifti_files_match_nibabel_and_simpleitk() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for e in reference_entries().iter().filter(|e| e["kind"] == "nifti") {
        let name = e["path"].as_str().unwrap();
        let v = match medburn_io::read(&data_dir().join(name)) {
            Ok(v) => v,
            Err(err) => {
                failures.push(format!("{name}: {err}"));
                continue;
            }
        };
        checked += 1;
        if !e["sitk"].is_null() {
            check_geometry(name, &v, &e["sitk"], 1e-4, &mut failures);
        }
        let nib = &e["nibabel"];
        check_geometry(name, &v, &nib["lps"], 1e-4, &mut failures);
        let shape: Vec<usize> = floats(&nib["shape"]).iter().map(|&s| s as usize).collect();
        if v.size() != shape {
            failures.push(format!(
                "{name}: size {:?} vs nibabel shape {shape:?}",
                v.size()
            ));
            continue;
        }
        let values = v.data.rescaled_f64(v.rescale);
        for s in nib["samples"].as_array().unwrap() {
            let idx: Vec<usize> = floats(&s[0]).iter().map(|&x| x as usize).collect();
            // null in the JSON is NaN (resampled_anat_moved.nii has NaN outside its field of view).
            let want = s[1].as_f64().unwrap_or(f64::NAN);
            let got = value_at(&v, &values, &idx);
            let same = if want.is_nan() {
                got.is_nan()
            } else {
                (got - want).abs() <= 1e-6 * want.abs().max(1.0)
            };
            if !same {
                failures.push(format!("{name}: voxel {idx:?} = {got} vs nibabel {want}"));
            }
        }
        let all: f64 = values.iter().sum();
        let want = nib["sum"].as_f64().unwrap_or(f64::NAN);
        let same = if want.is_nan() {
            all.is_nan()
        } else {
            (all - want).abs() <= 1e-6 * want.abs().max(1.0)
        };
        if !same {
            failures.push(format!("{name}: sum {all} vs nibabel {want}"));
        }
    }
    assert!(checked >= 7, "only {checked} NIfTI fixtures read");
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// DICOM fixtures are checked against SimpleITK and pydicom in
// crates/io/src/dicom/tests.rs (`reference_fixtures_match_simpleitk`), and through the
// command line by tests/scripts/check_convert.py.
