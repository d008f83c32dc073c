//! Synthetic brain MR data: determinism, labels, geometry, contrasts, files.

use medburn_core::{Geometry, Orientation};
use medburn_datasets::synth::{
    centred_grid, generate_case, render, sample_case, write_case, write_msd_dataset, CaseParams,
    SynthConfig, SynthError,
};
use medburn_io::{Volume, VoxelArray};

fn labels(v: &Volume) -> &[u8] {
    match &v.data {
        VoxelArray::U8(a) => a.as_slice().expect("standard layout"),
        other => panic!("labels must be uint8, not {:?}", other.voxel_type()),
    }
}

fn channels(v: &Volume) -> &[f32] {
    match &v.data {
        VoxelArray::F32(a) => a.as_slice().expect("standard layout"),
        other => panic!("images must be float32, not {:?}", other.voxel_type()),
    }
}

fn cfg(size: usize, seed: u64) -> SynthConfig {
    SynthConfig {
        size,
        seed,
        ..SynthConfig::default()
    }
}

#[test]
fn same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let files = |name: &str, c: &SynthConfig| {
        let case = generate_case(c, 1).unwrap();
        let (i, l) = (
            dir.path().join(format!("{name}_i.nii.gz")),
            dir.path().join(format!("{name}_l.nii.gz")),
        );
        write_case(&case, &i, Some(&l)).unwrap();
        (std::fs::read(i).unwrap(), std::fs::read(l).unwrap(), case)
    };
    let (a_img, a_lab, a) = files("a", &cfg(24, 5));
    let (b_img, b_lab, b) = files("b", &cfg(24, 5));
    assert_eq!(a_img, b_img);
    assert_eq!(a_lab, b_lab);
    assert_eq!(a.params, b.params);
    let (c_img, c_lab, c) = files("c", &cfg(24, 6));
    assert_ne!(a_img, c_img);
    assert_ne!(a_lab, c_lab);
    assert_ne!(a.params.anatomy, c.params.anatomy);
}

#[test]
fn case_k_does_not_depend_on_how_many_cases_are_made() {
    let one = tempfile::tempdir().unwrap();
    let three = tempfile::tempdir().unwrap();
    let c = cfg(16, 9);
    write_msd_dataset(one.path(), &c, 1, 0, &mut |_, _| {}).unwrap();
    write_msd_dataset(three.path(), &c, 2, 1, &mut |_, _| {}).unwrap();
    for f in ["imagesTr/case_000.nii.gz", "labelsTr/case_000.nii.gz"] {
        assert_eq!(
            std::fs::read(one.path().join(f)).unwrap(),
            std::fs::read(three.path().join(f)).unwrap(),
            "{f}"
        );
    }
    // A test case is the training case of the same index of a larger data set.
    let four = tempfile::tempdir().unwrap();
    write_msd_dataset(four.path(), &c, 3, 0, &mut |_, _| {}).unwrap();
    assert_eq!(
        std::fs::read(three.path().join("imagesTs/case_002.nii.gz")).unwrap(),
        std::fs::read(four.path().join("imagesTr/case_002.nii.gz")).unwrap()
    );
}

#[test]
fn every_label_is_present_in_a_48_cube() {
    let c = SynthConfig {
        lesion_count: [2, 4],
        lesion_radius_mm: [6.0, 9.0],
        ..cfg(48, 1)
    };
    for index in 0..3 {
        let case = generate_case(&c, index).unwrap();
        let mut counts = [0usize; 256];
        for &l in labels(&case.label) {
            counts[l as usize] += 1;
        }
        for (label, &n) in counts.iter().enumerate().take(5) {
            assert!(
                n > 0,
                "case {index}: label {label} missing: {:?}",
                &counts[..5]
            );
        }
        assert!(
            counts[5..].iter().all(|&n| n == 0),
            "labels beyond 4: {counts:?}"
        );
    }
}

#[test]
fn labels_and_images_share_the_generated_geometry_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let case = generate_case(&cfg(20, 2), 0).unwrap();
    assert_eq!(case.images.geometry, case.label.geometry);
    assert_eq!(case.images.geometry, case.params.geometry);
    let (i, l) = (dir.path().join("i.nii.gz"), dir.path().join("l.nii.gz"));
    write_case(&case, &i, Some(&l)).unwrap();
    let (img, lab) = (medburn_io::read(&i).unwrap(), medburn_io::read(&l).unwrap());
    assert_eq!(img.geometry, lab.geometry);
    assert_eq!(img.size(), vec![20, 20, 20, 3]);
    assert_eq!(lab.size(), vec![20, 20, 20]);
    assert_eq!(lab.data, case.label.data);
    assert_eq!(img.data, case.images.data);
    let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4);
    let (g, h) = (&img.geometry, &case.params.geometry);
    assert!(close(&g.origin(), &h.origin()));
    assert!(close(&g.spacing(), &h.spacing()));
    assert!(close(
        &g.direction().row_major(),
        &h.direction().row_major()
    ));
}

#[test]
fn written_orientation_is_the_one_the_generator_chose() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = std::collections::HashSet::new();
    for (n, code) in ["RAS", "LPS", "LAS", "RPI", "PIL", "SAR"]
        .iter()
        .enumerate()
    {
        let c = SynthConfig {
            orientations: vec![code.to_string()],
            max_oblique_deg: 8.0,
            ..cfg(16, 4)
        };
        let case = generate_case(&c, n).unwrap();
        assert_eq!(case.params.orientation.to_string(), *code);
        let path = dir.path().join(format!("{code}.nii.gz"));
        write_case(&case, &path, None).unwrap();
        let back = medburn_io::read(&path).unwrap();
        assert_eq!(back.geometry.orientation().to_string(), *code);
        seen.insert(*code);
    }
    // With the default list, cases spread over many of the 48 codes.
    let codes: std::collections::HashSet<Orientation> = (0..24)
        .map(|i| sample_case(&cfg(16, 0), i).unwrap().orientation)
        .collect();
    assert!(codes.len() >= 10, "{codes:?}");
}

fn label_means(case: &medburn_datasets::synth::SynthCase) -> [[f64; 5]; 3] {
    let lab = labels(&case.label);
    let img = channels(&case.images);
    let n = lab.len();
    let mut sum = [[0.0f64; 5]; 3];
    let mut count = [0.0f64; 5];
    for (v, &l) in lab.iter().enumerate() {
        count[l as usize] += 1.0;
        for c in 0..3 {
            sum[c][l as usize] += img[c * n + v] as f64;
        }
    }
    sum.map(|row| {
        let mut m = [0.0; 5];
        for l in 0..5 {
            m[l] = row[l] / count[l].max(1.0);
        }
        m
    })
}

#[test]
fn intensities_follow_the_contrasts() {
    let c = SynthConfig {
        lesion_count: [2, 5],
        lesion_radius_mm: [5.0, 8.0],
        ..cfg(64, 3)
    };
    for index in 0..3 {
        let case = generate_case(&c, index).unwrap();
        let [t1, t2, flair] = label_means(&case);
        let (csf, gm, wm, lesion) = (1, 2, 3, 4);
        assert!(
            t1[wm] > t1[gm] && t1[gm] > t1[csf],
            "case {index} T1: {t1:?}"
        );
        assert!(t1[lesion] < t1[wm], "case {index} T1: {t1:?}");
        assert!(
            t2[csf] > t2[gm] && t2[gm] > t2[wm],
            "case {index} T2: {t2:?}"
        );
        assert!(flair[lesion] > flair[wm], "case {index} FLAIR: {flair:?}");
        assert!(flair[csf] < flair[wm], "case {index} FLAIR: {flair:?}");
        // Air is noise only: far darker than tissue.
        assert!(t1[0] < t1[csf] + t1[wm]);
    }
}

/// The same case drawn on another grid.
fn on_grid(params: &CaseParams, geometry: Geometry) -> CaseParams {
    CaseParams {
        geometry,
        ..params.clone()
    }
}

#[test]
fn a_point_in_the_ventricle_is_csf_whatever_the_orientation() {
    let params = sample_case(&cfg(32, 8), 0).unwrap();
    let anatomy = &params.anatomy;
    let p = anatomy.ventricle_point();
    for code in ["LPS", "PIL", "RAS", "IAL"] {
        let o: Orientation = code.parse().unwrap();
        // Fine, anisotropic and oblique: the nearest voxel centre lies within the ventricle.
        let tilt = medburn_core::Direction::from_rows([
            [0.9962, -0.0872, 0.0],
            [0.0872, 0.9962, 0.0],
            [0.0, 0.0, 1.0],
        ]);
        let g = centred_grid(
            [40, 40, 30],
            [0.7, 0.7, 1.0],
            tilt.matmul(&o.to_direction()),
            anatomy.centre,
        )
        .unwrap();
        assert_eq!(g.orientation(), o);
        let (_, label) = render(&on_grid(&params, g)).unwrap();
        let [i, j, k] = g.physical_to_nearest_index(p).expect("inside the grid");
        let lab = labels(&label);
        assert_eq!(lab[i + 40 * (j + 40 * k)], 1, "{code}");
    }
}

#[test]
fn grids_with_coinciding_voxels_get_identical_labels() {
    // Odd sizes, isotropic spacing, the same centre: voxel centres of every
    // axis-aligned orientation coincide, so the label maps are permutations of each other.
    let params = sample_case(&cfg(32, 12), 3).unwrap();
    let centre = params.anatomy.centre;
    let grid = |o: Orientation| centred_grid([41, 47, 35], [3.0; 3], o.to_direction(), centre);
    let a = grid(Orientation::LPS).unwrap();
    let b = grid("PIL".parse().unwrap()).unwrap();
    let (_, la) = render(&on_grid(&params, a)).unwrap();
    let (_, lb) = render(&on_grid(&params, b)).unwrap();
    let (la, lb) = (labels(&la), labels(&lb));
    let [ni, nj, _] = a.size();
    let [mi, mj, _] = b.size();
    let mut checked = 0;
    for (v, &l) in la.iter().enumerate() {
        let idx = [v % ni, (v / ni) % nj, v / (ni * nj)].map(|x| x as f64);
        let p = a.index_to_physical(idx);
        if let Some([i, j, k]) = b.physical_to_nearest_index(p) {
            assert_eq!(lb[i + mi * (j + mj * k)], l, "voxel {idx:?}");
            checked += 1;
        }
    }
    assert!(checked > la.len() / 2);
    assert!(la.contains(&1) && la.contains(&2) && la.contains(&3));
}

#[test]
fn bad_arguments_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a_file");
    std::fs::write(&file, b"x").unwrap();
    let err = write_msd_dataset(&file, &cfg(16, 0), 1, 0, &mut |_, _| {}).unwrap_err();
    assert!(matches!(err, SynthError::Output { .. }), "{err}");
    assert!(err.to_string().contains("not a directory"), "{err}");
    let err =
        write_msd_dataset(&dir.path().join("d"), &cfg(16, 0), 0, 1, &mut |_, _| {}).unwrap_err();
    assert!(err.to_string().contains("training case"), "{err}");
    let err = generate_case(&cfg(8, 0), 0).unwrap_err();
    assert!(err.to_string().contains("size 8"), "{err}");
}

fn randomized(size: usize, seed: u64) -> SynthConfig {
    SynthConfig {
        contrast: medburn_datasets::synth::ContrastMode::Randomized,
        ..cfg(size, seed)
    }
}

#[test]
fn randomized_contrasts_change_the_order_of_tissues_from_case_to_case() {
    let c = randomized(32, 5);
    // Reproducible from the seed; the anatomy the realistic mode's (drawn before contrasts).
    let a = generate_case(&c, 1).unwrap();
    let b = generate_case(&c, 1).unwrap();
    assert!(a.images.data == b.images.data);
    assert!(a.params.anatomy == sample_case(&cfg(32, 5), 1).unwrap().anatomy);
    // Over a few cases, grey matter is brighter than white matter in T1 in some, darker in
    // others: intensity alone no longer tells them apart.
    let (mut brighter, mut darker) = (0, 0);
    for index in 0..12 {
        let [t1, _, _] = label_means(&generate_case(&c, index).unwrap());
        if t1[2] > t1[3] {
            brighter += 1;
        } else {
            darker += 1;
        }
    }
    assert!(
        brighter >= 2 && darker >= 2,
        "{brighter} brighter, {darker} darker"
    );
}

#[test]
fn skull_stripped_cases_have_background_right_at_the_brain() {
    let stripped = |share: f64| SynthConfig {
        randomization: medburn_datasets::synth::Randomization {
            skull_stripped: share,
            blur: [0.0, 0.0],
            ..Default::default()
        },
        noise: [0.0, 0.0],
        ..randomized(48, 2)
    };
    // All stripped: away from the brain (more than one voxel from any brain label: partial
    // volume), only air's intensity (below 5% of the gain, times texture and bias field)
    // remains; none stripped: the scalp and skull show.
    let bright_outside = |c: &SynthConfig| {
        let case = generate_case(c, 0).unwrap();
        let p = case.params.randomized.as_ref().unwrap();
        let gain = case.params.contrast.gain;
        let (lab, img) = (labels(&case.label), channels(&case.images));
        let n = lab.len();
        let size = case.params.geometry.size();
        let mut near = lab.iter().map(|&l| l > 0).collect::<Vec<bool>>();
        near = dilate(&near, size);
        let bright = (0..n)
            .filter(|&v| !near[v] && (0..3).any(|ch| img[ch * n + v] as f64 > 0.15 * gain[ch]))
            .count();
        (p.skull_stripped, bright)
    };
    let (yes, bright) = bright_outside(&stripped(1.0));
    assert!(yes);
    assert_eq!(bright, 0);
    let (no, bright) = bright_outside(&stripped(0.0));
    assert!(!no);
    assert!(
        bright > 200,
        "{bright} bright background voxels with a scalp"
    );
}

/// A mask grown by one voxel along each axis (i fastest, `size` = `[ni, nj, nk]`).
fn dilate(mask: &[bool], [ni, nj, nk]: [usize; 3]) -> Vec<bool> {
    let at = |i: usize, j: usize, k: usize| mask[i + ni * (j + nj * k)];
    let mut out = mask.to_vec();
    for k in 0..nk {
        for j in 0..nj {
            for i in 0..ni {
                let grown = (i > 0 && at(i - 1, j, k))
                    || (i + 1 < ni && at(i + 1, j, k))
                    || (j > 0 && at(i, j - 1, k))
                    || (j + 1 < nj && at(i, j + 1, k))
                    || (k > 0 && at(i, j, k - 1))
                    || (k + 1 < nk && at(i, j, k + 1));
                out[i + ni * (j + nj * k)] |= grown;
            }
        }
    }
    out
}
