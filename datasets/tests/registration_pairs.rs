//! Synthetic registration pairs: the moving image resampled through the true transform gives
//! back the fixed image, the inversion converges, the deformation does not fold, and the files
//! hold what `pairs.json` says (the truth readable as ITK reads it).

use medburn_core::vec3::{mat3_inverse, mat3_mul};
use medburn_core::Geometry;
use medburn_datasets::synth::registration::{
    generate_pair, sample_pair, write_registration_dataset, PairKind, RegistrationConfig,
    RegistrationPair, SmoothDisplacement, TrueTransform,
};
use medburn_datasets::synth::SynthConfig;
use medburn_io::{Volume, VoxelArray};
use medburn_register::ItkAffine;
use rand::{Rng, SeedableRng};

fn floats(v: &Volume) -> &[f32] {
    match &v.data {
        VoxelArray::F32(a) => a.as_slice().expect("standard layout"),
        other => panic!("images must be float32, not {:?}", other.voxel_type()),
    }
}

fn labels(v: &Volume) -> &[u8] {
    match &v.data {
        VoxelArray::U8(a) => a.as_slice().expect("standard layout"),
        other => panic!("labels must be uint8, not {:?}", other.voxel_type()),
    }
}

/// Trilinear interpolation of a one-channel volume at a physical point; `None` outside.
fn trilinear(values: &[f32], g: &Geometry, p: [f64; 3]) -> Option<f64> {
    let [ni, nj, nk] = g.size();
    let idx = g.physical_to_index(p);
    let n = [ni, nj, nk];
    if (0..3).any(|a| idx[a] < 0.0 || idx[a] > (n[a] - 1) as f64) {
        return None;
    }
    let base = [0, 1, 2].map(|a| (idx[a].floor() as usize).min(n[a].saturating_sub(2)));
    let f = [0, 1, 2].map(|a| idx[a] - base[a] as f64);
    let mut acc = 0.0;
    for c in 0..8 {
        let o = [c & 1, (c >> 1) & 1, (c >> 2) & 1];
        let w: f64 = (0..3)
            .map(|a| if o[a] == 1 { f[a] } else { 1.0 - f[a] })
            .product();
        let (i, j, k) = (base[0] + o[0], base[1] + o[1], base[2] + o[2]);
        acc += w * values[i + ni * (j + nj * k)] as f64;
    }
    Some(acc)
}

fn nearest(values: &[u8], g: &Geometry, p: [f64; 3]) -> Option<u8> {
    let [ni, nj, _] = g.size();
    g.physical_to_nearest_index(p)
        .map(|[i, j, k]| values[i + ni * (j + nj * k)])
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// What resampling the moving image through the truth onto the fixed grid gives.
struct Agreement {
    /// Correlation over the head (fixed image > 0), one voxel from the grid's edges.
    correlation: f64,
    /// The median |difference| / fixed value inside the brain away from tissue boundaries
    /// (the fixed label's 26 neighbours equal).
    median_relative_error_interior: f64,
    /// The 95th percentile there.
    p95_relative_error_interior: f64,
    /// The share of head voxels whose nearest moving label equals the fixed label.
    label_agreement: f64,
    /// The same inside the brain away from tissue boundaries.
    label_agreement_interior: f64,
    voxels: usize,
}

fn agreement(pair: &RegistrationPair, truth: &TrueTransform) -> Agreement {
    let g = pair.fixed.geometry;
    let [ni, nj, nk] = g.size();
    let (fixed, moving) = (floats(&pair.fixed), floats(&pair.moving));
    let (fl, ml) = (labels(&pair.fixed_label), labels(&pair.moving_label));
    let (mut a, mut b, mut rel) = (Vec::new(), Vec::new(), Vec::new());
    let (mut same, mut counted) = (0usize, 0usize);
    let (mut same_inside, mut inside) = (0usize, 0usize);
    for k in 1..nk - 1 {
        for j in 1..nj - 1 {
            for i in 1..ni - 1 {
                let idx = i + ni * (j + nj * k);
                if fixed[idx] <= 0.0 {
                    continue;
                }
                let x = g.index_to_physical([i as f64, j as f64, k as f64]);
                let y = truth.apply(x);
                let Some(v) = trilinear(moving, &pair.moving.geometry, y) else {
                    continue;
                };
                a.push(fixed[idx] as f64);
                b.push(v);
                if let Some(l) = nearest(ml, &pair.moving.geometry, y) {
                    counted += 1;
                    same += (l == fl[idx]) as usize;
                }
                // Interior of the brain: the 26 neighbours share the label.
                let uniform = fl[idx] > 0
                    && (0..27).all(|n| {
                        let (di, dj, dk) = (n % 3, (n / 3) % 3, n / 9);
                        fl[(i + di - 1) + ni * ((j + dj - 1) + nj * (k + dk - 1))] == fl[idx]
                    });
                if uniform {
                    if let Some(l) = nearest(ml, &pair.moving.geometry, y) {
                        inside += 1;
                        same_inside += (l == fl[idx]) as usize;
                    }
                    rel.push((v - fixed[idx] as f64).abs() / fixed[idx] as f64);
                }
            }
        }
    }
    rel.sort_by(f64::total_cmp);
    let q = |p: f64| rel[((rel.len() - 1) as f64 * p) as usize];
    Agreement {
        correlation: correlation(&a, &b),
        median_relative_error_interior: q(0.5),
        p95_relative_error_interior: q(0.95),
        label_agreement: same as f64 / counted as f64,
        label_agreement_interior: same_inside as f64 / inside as f64,
        voxels: a.len(),
    }
}

fn clean(size: usize, seed: u64) -> SynthConfig {
    SynthConfig {
        size,
        seed,
        noise: [0.0, 0.0],
        bias: [0.0, 0.0],
        ..SynthConfig::default()
    }
}

#[test]
fn moving_image_resampled_through_the_truth_matches_the_fixed_image() {
    let reg = RegistrationConfig::default();
    // Without noise and bias: only partial volume and interpolation differ.
    let pair = generate_pair(&clean(64, 3), &reg, 0).unwrap();
    assert_eq!(pair.params.kind, PairKind::SameSubject);
    assert_eq!(pair.params.moving_channel, pair.params.fixed_channel);
    let truth = pair.params.truth.clone().unwrap();
    let a = agreement(&pair, &truth);
    println!(
        "clean 64^3: correlation {:.4} over the head ({} voxels); inside the brain away from \
         boundaries relative error median {:.1e}, p95 {:.1e}; label agreement {:.4}; max |u| \
         {:.2} mm",
        a.correlation,
        a.voxels,
        a.median_relative_error_interior,
        a.p95_relative_error_interior,
        a.label_agreement,
        pair.max_displacement_mm.unwrap()
    );
    assert!(a.voxels > 30_000, "{} voxels", a.voxels);
    assert!(a.median_relative_error_interior < 1e-6);
    assert!(a.p95_relative_error_interior < 0.01);
    // Over the whole head, partial volume and trilinear interpolation on 3.4 to 6.9 mm voxels
    // of two different grids blur the folded cortex.
    assert!(a.correlation > 0.85, "correlation {}", a.correlation);
    assert!(a.label_agreement > 0.8, "labels {}", a.label_agreement);

    // The identity instead of the truth: clearly worse, so the checks above can fail.
    let id = agreement_with_identity(&pair);
    println!(
        "identity instead of the truth: correlation {:.4}, relative error inside median {:.1e}, \
         p95 {:.1e}",
        id.correlation, id.median_relative_error_interior, id.p95_relative_error_interior
    );
    assert!(id.correlation < a.correlation - 0.2);
    assert!(
        id.label_agreement < a.label_agreement - 0.1,
        "{}",
        id.label_agreement
    );

    // Finer voxels (1.7 to 2.1 mm, the central 110 mm of the head): interpolation matters less.
    let fine = generate_pair(
        &SynthConfig {
            field_of_view_mm: 110.0,
            slice_spacing_ratio: [1.0, 1.25],
            ..clean(64, 3)
        },
        &reg,
        0,
    )
    .unwrap();
    let f = agreement(&fine, fine.params.truth.as_ref().unwrap());
    let fid = agreement_with_identity(&fine);
    println!(
        "clean, 1.7 mm voxels: correlation {:.4} ({} voxels), label agreement {:.4} ({:.4} away \
         from boundaries); identity {:.4}, {:.4} ({:.4}); 3.4 mm: {:.4} away from boundaries",
        f.correlation,
        f.voxels,
        f.label_agreement,
        f.label_agreement_interior,
        fid.correlation,
        fid.label_agreement,
        fid.label_agreement_interior,
        a.label_agreement_interior
    );
    assert!(f.correlation > 0.95, "{}", f.correlation);
    assert!(f.label_agreement > 0.85, "{}", f.label_agreement);
    assert!(
        f.label_agreement_interior > 0.99,
        "{}",
        f.label_agreement_interior
    );
    assert!(
        a.label_agreement_interior > 0.98,
        "{}",
        a.label_agreement_interior
    );
    assert!(fid.correlation < 0.8);

    // With the default bias fields and noise (two acquisitions): still close.
    let noisy = generate_pair(
        &SynthConfig {
            size: 64,
            seed: 3,
            ..SynthConfig::default()
        },
        &reg,
        0,
    )
    .unwrap();
    let b = agreement(&noisy, noisy.params.truth.as_ref().unwrap());
    println!(
        "with bias and noise: correlation {:.4} over the head, relative error inside median \
         {:.1e}, label agreement {:.4}",
        b.correlation, b.median_relative_error_interior, b.label_agreement
    );
    assert!(b.correlation > 0.8, "{}", b.correlation);
    assert!(b.median_relative_error_interior < 0.2);
}

/// The fixed image against the moving image sampled at the same world points (no transform).
fn agreement_with_identity(pair: &RegistrationPair) -> Agreement {
    let identity = TrueTransform {
        affine: [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ],
        displacement: SmoothDisplacement {
            terms: Vec::new(),
            ..pair.params.truth.clone().unwrap().displacement
        },
        affine_centre: [0.0; 3],
    };
    agreement(pair, &identity)
}

#[test]
fn the_inverse_converges_and_round_trips() {
    let reg = RegistrationConfig::default();
    let pair = generate_pair(&clean(32, 11), &reg, 2).unwrap();
    let report = pair.inverse.unwrap();
    println!("{report:?}");
    assert!(report.points >= 32 * 32 * 32);
    assert!(report.max_residual_mm < 1e-8, "{report:?}");
    assert!(report.max_iterations < 200, "{report:?}");
    let truth = pair.params.truth.unwrap();
    assert!(truth.displacement.lipschitz_bound() <= reg.max_displacement_gradient + 1e-12);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    let c = pair.moving.geometry.centre();
    for _ in 0..200 {
        let y = [0, 1, 2].map(|a| c[a] + rng.random_range(-120.0..120.0));
        let inv = truth.inverse(y).unwrap();
        let back = truth.apply(inv.point);
        assert!((0..3).all(|a| (back[a] - y[a]).abs() < 1e-8), "{y:?}");
    }
    // The transform is not the identity: a few mm somewhere, and an affine part.
    assert!(pair.max_displacement_mm.unwrap() > 1.0);
    let m = truth.affine;
    assert!((0..3).any(|r| (m[r][r] - 1.0).abs() > 1e-3));
}

#[test]
fn the_deformation_does_not_fold() {
    let reg = RegistrationConfig {
        // The strongest deformation allowed, with large amplitudes and short waves.
        displacement_mm: [8.0, 10.0],
        displacement_wavelength_mm: [30.0, 40.0],
        max_displacement_gradient: 0.9,
        ..RegistrationConfig::default()
    };
    for seed in 0..3 {
        let pair = generate_pair(&clean(32, seed), &reg, 0).unwrap();
        let truth = pair.params.truth.as_ref().unwrap();
        let bound = truth.displacement.lipschitz_bound();
        assert!(bound <= 0.9 + 1e-12);
        let g = pair.fixed.geometry;
        // Analytic determinant of I + grad u at every fixed voxel centre and between them.
        let mut min_det = f64::INFINITY;
        for x in g.physical_points() {
            for shift in [[0.0; 3], [0.37, -0.81, 1.3]] {
                let mut j = truth.displacement.gradient([
                    x[0] + shift[0],
                    x[1] + shift[1],
                    x[2] + shift[2],
                ]);
                for (a, row) in j.iter_mut().enumerate() {
                    row[a] += 1.0;
                }
                min_det = min_det.min(det(&j));
            }
        }
        assert!(min_det >= (1.0 - bound).powi(3) - 1e-12, "{min_det}");
        assert!(min_det > 0.0);
        // Central differences of the saved field (index space to physical space).
        let field = pair.displacement.as_ref().unwrap();
        let VoxelArray::F64(u) = &field.data else {
            panic!("the displacement is float64")
        };
        let u = u.as_slice().unwrap();
        let [ni, nj, nk] = g.size();
        let n = ni * nj * nk;
        let to_index = g.physical_to_index_matrix();
        let mut min_fd = f64::INFINITY;
        for k in 1..nk - 1 {
            for j in 1..nj - 1 {
                for i in 1..ni - 1 {
                    let idx = i + ni * (j + nj * k);
                    let strides = [1, ni, ni * nj];
                    // d u_a / d index_b
                    let mut d = [[0.0; 3]; 3];
                    for (a, row) in d.iter_mut().enumerate() {
                        for (b, v) in row.iter_mut().enumerate() {
                            *v = (u[a * n + idx + strides[b]] - u[a * n + idx - strides[b]]) / 2.0;
                        }
                    }
                    let mut jac = mat3_mul(&d, &to_index);
                    for (a, row) in jac.iter_mut().enumerate() {
                        row[a] += 1.0;
                    }
                    min_fd = min_fd.min(det(&jac));
                }
            }
        }
        println!("seed {seed}: bound {bound:.3}, min det {min_det:.3} (analytic), {min_fd:.3} (saved field)");
        assert!(min_fd > 0.0, "{min_fd}");
        assert!(
            min_det < 0.95,
            "a deformation this strong compresses somewhere: {min_det}"
        );
    }
}

fn det(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

#[test]
fn files_hold_the_pairs_and_the_truth() {
    let dir = tempfile::tempdir().unwrap();
    let synth = SynthConfig {
        size: 24,
        seed: 7,
        ..SynthConfig::default()
    };
    let reg = RegistrationConfig::default();
    let summary = write_registration_dataset(dir.path(), &synth, &reg, 4, &mut |_, _| {}).unwrap();
    assert_eq!(summary.same_subject, 2);
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary.pairs_json).unwrap()).unwrap();
    let pairs = j["pairs"].as_array().unwrap();
    let kinds: Vec<&str> = pairs.iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "same-subject",
            "different-subject",
            "same-subject",
            "different-subject"
        ]
    );
    let contrasts: Vec<(&str, &str)> = pairs
        .iter()
        .map(|p| {
            (
                p["fixed_contrast"].as_str().unwrap(),
                p["moving_contrast"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        contrasts,
        [("T1", "T1"), ("T1", "T1"), ("T1", "T2"), ("T1", "T2")]
    );
    for (index, p) in pairs.iter().enumerate() {
        let file = |key: &str| dir.path().join(p["files"][key].as_str().unwrap());
        let fixed = medburn_io::read(&file("fixed")).unwrap();
        let moving = medburn_io::read(&file("moving")).unwrap();
        let fixed_label = medburn_io::read(&file("fixed_label")).unwrap();
        let moving_label = medburn_io::read(&file("moving_label")).unwrap();
        assert_eq!(fixed.size(), vec![24, 24, 24]);
        assert_eq!(fixed.geometry, fixed_label.geometry);
        assert_eq!(moving.geometry, moving_label.geometry);
        assert_ne!(fixed.geometry, moving.geometry);
        assert!(labels(&moving_label).contains(&3));
        let params = sample_pair(&synth, &reg, index).unwrap();
        if p["kind"] == "different-subject" {
            assert!(p["files"]["true_displacement"].is_null());
            assert_ne!(params.fixed.anatomy, params.moving.anatomy);
            continue;
        }
        let truth = params.truth.unwrap();
        // The displacement field: float64 vectors on the fixed grid, [x, y, z, 1, 3], intent 1007.
        let field = medburn_io::read(&file("true_displacement")).unwrap();
        assert_eq!(field.size(), vec![24, 24, 24, 1, 3]);
        assert_eq!(field.geometry, fixed.geometry);
        assert_eq!(
            field.metadata.get("nifti:intent_code").map(String::as_str),
            Some("1007")
        );
        let VoxelArray::F64(u) = &field.data else {
            panic!("float64 field")
        };
        let u = u.as_slice().unwrap();
        let n = 24 * 24 * 24;
        // At the voxel centres of the drawn grid (the file's sform is float32: 1e-5 mm apart).
        for (v, x) in params
            .fixed
            .geometry
            .physical_points()
            .into_iter()
            .enumerate()
            .step_by(97)
        {
            let want = truth.displacement.at(x);
            assert!((0..3).all(|c| (u[c * n + v] - want[c]).abs() < 1e-12));
        }
        // The affine, as ITK reads it.
        let itk = ItkAffine::read(&file("true_affine")).unwrap();
        let x = [12.0, -30.0, 41.0];
        let (a, b) = (itk.apply(x), truth.apply_affine(x));
        assert!((0..3).all(|c| (a[c] - b[c]).abs() < 1e-9), "{a:?} vs {b:?}");
        // Landmarks: (x, T(x)), inside the brain.
        let text = std::fs::read_to_string(file("true_landmarks")).unwrap();
        let rows: Vec<Vec<f64>> = text
            .lines()
            .skip(1)
            .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
            .collect();
        assert_eq!(rows.len(), reg.landmarks);
        for r in &rows {
            let y = truth.apply([r[0], r[1], r[2]]);
            assert!((0..3).all(|c| (y[c] - r[3 + c]).abs() < 1e-9));
            assert!(params.fixed.anatomy.label_at([r[0], r[1], r[2]]) > 0);
        }
        let report = &p["truth"]["inverse"];
        assert!(report["max_residual_mm"].as_f64().unwrap() < 1e-8);
    }
}

#[test]
fn pairs_are_reproducible_and_configs_are_checked() {
    let synth = clean(16, 21);
    let reg = RegistrationConfig::default();
    let a = generate_pair(&synth, &reg, 0).unwrap();
    let b = generate_pair(&synth, &reg, 0).unwrap();
    assert_eq!(a.moving.data, b.moving.data);
    assert_eq!(a.landmarks, b.landmarks);
    let other = generate_pair(&clean(16, 22), &reg, 0).unwrap();
    assert_ne!(a.params.truth, other.params.truth);
    // The inverse of a singular-free affine exists; a bad option is refused with its name.
    for bad in [
        RegistrationConfig {
            same_subject_fraction: 1.5,
            ..reg.clone()
        },
        RegistrationConfig {
            displacement_wavelength_mm: [50.0, 10.0],
            ..reg.clone()
        },
        RegistrationConfig {
            landmarks: 0,
            ..reg.clone()
        },
    ] {
        assert!(generate_pair(&synth, &bad, 0).is_err());
    }
    // All same-subject, all other contrast.
    let all = RegistrationConfig {
        same_subject_fraction: 1.0,
        other_contrast_fraction: 1.0,
        ..reg
    };
    for index in 0..3 {
        let p = sample_pair(&synth, &all, index).unwrap();
        assert_eq!((p.kind, p.moving_channel), (PairKind::SameSubject, 1));
    }
    let m = mat3_inverse(&a.fixed.geometry.index_to_physical_matrix());
    assert!(m.is_some());
}
