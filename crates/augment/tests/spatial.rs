//! Spatial chains on Flex: one interpolation per chain (against medburn_spatial's transforms
//! and against the chain's own positions), elastic composition order, exact flips, rotations
//! and crops, label sets, one-hot labels, inversion.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use medburn_augment::{
    AffineSample, CropSample, Drawn, Interpolation, Pipeline, PipelineParams, RandomAffine,
    RandomCrop, RandomElastic, RandomFlip, RandomRot90, Rot90Sample, Transform,
};
use medburn_core::{Direction, Geometry, Orientation};
use medburn_ops::{grid_sample_3d, Padding, SampleOptions};
use medburn_spatial::resample_voxels;
use medburn_spatial::transform::{compose, from_matrix, rotation, scaling, translation};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn dev() -> Device {
    Device::flex()
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// The affine + flip chain rebuilt from medburn_spatial's tensor builders (content moved by
/// scale, rotation x, y, z, translation, then flipped; the map is the inverse).
fn spatial_reference(
    samples: &[AffineSample],
    flips: &[[bool; 3]],
    g: &Geometry,
    device: &Device,
) -> Tensor<3> {
    let c = g.centre();
    let d = g.direction().rows();
    let per_sample: Vec<Tensor<3>> = samples
        .iter()
        .zip(flips)
        .map(|(a, f)| {
            let [rx, ry, rz] = a
                .rotation_rad
                .map(|r| Tensor::<1>::from_floats([r as f32], device));
            let t = translation(Tensor::<2>::from_floats(
                [a.translation_mm.map(|v| v as f32)],
                device,
            ));
            let rz = rotation([0.0, 0.0, 1.0], rz, c).unwrap();
            let ry = rotation([0.0, 1.0, 0.0], ry, c).unwrap();
            let rx = rotation([1.0, 0.0, 0.0], rx, c).unwrap();
            let s = scaling(
                Tensor::<2>::from_floats([a.scale.map(|v| v as f32)], device),
                c,
            );
            // A voxel-axis flip in physical space: mirror D diag(+-1) D^T about the centre.
            let sign = f.map(|x| if x { -1.0 } else { 1.0 });
            let mut m = [[0.0; 4]; 4];
            m[3][3] = 1.0;
            for r in 0..3 {
                for col in 0..3 {
                    m[r][col] = (0..3).map(|k| d[r][k] * sign[k] * d[col][k]).sum();
                }
            }
            for r in 0..3 {
                m[r][3] = c[r] - (0..3).map(|k| m[r][k] * c[k]).sum::<f64>();
            }
            let flip = from_matrix(m, device);
            compose(flip, compose(s, compose(rx, compose(ry, compose(rz, t)))))
        })
        .collect();
    Tensor::cat(per_sample, 0)
}

/// Content flipped, then moved (the reference's order).
fn flip_affine(rotation_deg: [f64; 3]) -> Pipeline {
    Pipeline::new(vec![
        Transform::Flip(RandomFlip {
            prob: 0.5,
            axes: [true; 3],
        }),
        Transform::Affine(RandomAffine {
            prob: 1.0,
            rotation_deg,
            isotropic_scale: false,
            ..Default::default()
        }),
    ])
}

#[test]
fn affine_chain_is_one_resampling_with_the_composed_matrix() {
    let device = dev();
    let geometries = [
        Geometry::unit([16, 14, 12]).unwrap(),
        Geometry::new(
            [16, 14, 12],
            [3.0, -2.0, 7.0],
            [1.2, 0.9, 1.5],
            Orientation::RAS.to_direction(),
        )
        .unwrap(),
    ];
    let pipeline = flip_affine([25.0, 20.0, 30.0]);
    for g in geometries {
        let mut p = pipeline.sample(&mut rng(21), &g, 2).unwrap();
        let flips = vec![[true, false, true], [false, true, false]];
        p.drawn[0] = Drawn::Flip(flips.iter().map(|f| Some(*f)).collect());
        let Drawn::Affine(a) = &p.drawn[1] else {
            panic!("affine second")
        };
        let a: Vec<AffineSample> = a.iter().map(|s| s.unwrap()).collect();
        let dims = [2, 1, 12, 14, 16];
        let x = image(2, dims, &device);
        let (ours, _) = pipeline.apply(&p, &g, x.clone(), None).unwrap();
        let t = spatial_reference(&a, &flips, &g, &device);
        let host: Vec<f32> = p
            .physical_matrices(&g)
            .unwrap()
            .unwrap()
            .iter()
            .flat_map(|m| {
                m[..3]
                    .iter()
                    .flatten()
                    .map(|v| *v as f32)
                    .collect::<Vec<_>>()
            })
            .collect();
        let reference = t.clone().into_data().try_to_vec::<f32>().unwrap();
        let worst = max_abs_diff(&host, &reference);
        assert!(worst < 1e-4, "physical matrices differ by {worst}");
        // medburn_spatial pads as ImagePadding::Zeros.
        let theirs = resample_voxels(x, &g, &g, Some(t), Interpolation::Linear).unwrap();
        let diff = max_abs_diff(&values(ours), &values(theirs));
        assert!(diff < 1e-3, "chain differs from one resampling by {diff}");
    }
}

/// Input voxel position the chain reads for output voxel `(i, j, k)`, from its ramp output.
fn position(ramp_out: &[f32], size: [usize; 3], s: usize, at: [usize; 3]) -> [f32; 3] {
    let [w, h, d] = size;
    let v = w * h * d;
    let o = (at[2] * h + at[1]) * w + at[0];
    [0, 1, 2].map(|c| ramp_out[(s * 3 + c) * v + o])
}

#[test]
fn elastic_chain_is_one_resampling_in_the_order_of_the_chain() {
    // [affine A, elastic E, flip F]: output p reads A(E(F(p))). F(p) is a voxel, so E there is
    // what E alone gives at that voxel; A is applied on the host. Linear sampling reproduces a
    // ramp exactly inside, so the chain's ramp output is its positions.
    let device = dev();
    let size = [12, 10, 9];
    let g = Geometry::new(
        size,
        [1.0, 2.0, 3.0],
        [1.5, 1.0, 2.0],
        Direction::identity(),
    )
    .unwrap();
    let elastic = RandomElastic {
        prob: 1.0,
        max_displacement_mm: [2.0; 3],
        control_spacing_mm: 6.0,
        locked_borders: false,
    };
    let chain = Pipeline::new(vec![
        Transform::Affine(RandomAffine {
            prob: 1.0,
            rotation_deg: [8.0; 3],
            translation_mm: [1.0; 3],
            ..Default::default()
        }),
        Transform::Elastic(elastic.clone()),
        Transform::Flip(RandomFlip {
            prob: 1.0,
            axes: [true, false, true],
        }),
    ]);
    let p = chain.sample(&mut rng(3), &g, 2).unwrap();
    assert!(
        p.voxel_matrices(&g).unwrap().is_none(),
        "an elastic chain has no single matrix"
    );
    let r = ramp(2, size, &device);
    let (chain_out, _) = chain.apply(&p, &g, r.clone(), None).unwrap();
    let chain_out = values(chain_out);
    let e_only = Pipeline::new(vec![Transform::Elastic(elastic)]);
    let pe = PipelineParams {
        batch: 2,
        size,
        drawn: vec![p.drawn[1].clone()],
    };
    let e_out = values(e_only.apply(&pe, &g, r, None).unwrap().0);
    let a_only = PipelineParams {
        batch: 2,
        size,
        drawn: vec![p.drawn[0].clone()],
    };
    let a = a_only.voxel_matrices(&g).unwrap().unwrap();
    let (mut checked, mut worst) = (0, 0.0f32);
    for (s, a) in a.iter().enumerate() {
        for k in 0..9 {
            for j in 0..10 {
                for i in 0..12 {
                    let f = [11 - i, j, 8 - k]; // F(p)
                    let e = position(&e_out, size, s, f);
                    let want: [f32; 3] = std::array::from_fn(|r| {
                        (0..3).map(|c| a[r][c] as f32 * e[c]).sum::<f32>() + a[r][3] as f32
                    });
                    // Only where every position is well inside: the ramp is exact there, and a
                    // position read as the edge value may have been beyond it.
                    let inside = |q: [f32; 3]| {
                        (0..3).all(|c| q[c] > 0.01 && q[c] < (size[c] - 1) as f32 - 0.01)
                    };
                    if !(inside(want) && inside(e)) {
                        continue;
                    }
                    let got = position(&chain_out, size, s, [i, j, k]);
                    worst = worst.max((0..3).map(|c| (got[c] - want[c]).abs()).fold(0.0, f32::max));
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 500, "only {checked} voxels checked");
    assert!(
        worst < 2e-3,
        "chain positions differ from A(E(F(p))) by {worst} voxels"
    );

    // One interpolation: the chain's output on any image is one linear read at those positions.
    let x = smooth([2, 1, 9, 10, 12], &device);
    let (ours, _) = chain.apply(&p, &g, x.clone(), None).unwrap();
    let chain_pos = chain_out.clone();
    let pos = Tensor::<5>::from_data(TensorData::new(chain_out, [2, 3, 9, 10, 12]), &device);
    let scale = Tensor::<1>::from_floats([2.0 / 11.0, 2.0 / 9.0, 2.0 / 8.0], &device)
        .reshape([1, 1, 1, 1, 3]);
    let grid = pos.permute([0, 2, 3, 4, 1]) * scale - 1.0;
    let o = SampleOptions::new(Interpolation::Linear)
        .with_padding(Padding::Itk)
        .with_align_corners(true);
    let once = grid_sample_3d(x.clone(), grid, o).unwrap();
    // The ramp is not exact outside the volume (padding), so compare inside only.
    let (ours, once) = (values(ours), values(once));
    let inside: Vec<usize> = (0..ours.len())
        .filter(|&n| {
            let s = n / 1080;
            let o = n % 1080;
            let q = position(&chain_pos, size, s, [o % 12, (o / 12) % 10, o / 120]);
            (0..3).all(|c| q[c] > 0.01 && q[c] < (size[c] - 1) as f32 - 0.01)
        })
        .collect();
    assert!(inside.len() > 1000);
    let diff = inside
        .iter()
        .map(|&n| (ours[n] - once[n]).abs())
        .fold(0.0, f32::max);
    assert!(
        diff < 1e-4,
        "chain differs from one read at its positions by {diff}"
    );
    // Three separate resamplings blur more: they differ from the chain.
    let mut seq = x;
    for d in &p.drawn {
        let step = PipelineParams {
            batch: 2,
            size,
            drawn: vec![d.clone()],
        };
        seq = chain.apply(&step, &g, seq, None).unwrap().0;
    }
    let seq = values(seq);
    let apart = inside
        .iter()
        .map(|&n| (ours[n] - seq[n]).abs())
        .fold(0.0, f32::max);
    assert!(
        apart > 1e-3,
        "sequential resampling should differ from one interpolation"
    );
}

fn flipped(x: &Tensor<5>, s: usize, f: [bool; 3]) -> Tensor<5> {
    let [_, c, d, h, w] = x.dims();
    let mut t = x.clone().slice([s..s + 1, 0..c, 0..d, 0..h, 0..w]);
    for (axis, dim) in [(0, 4), (1, 3), (2, 2)] {
        if f[axis] {
            t = t.flip([dim]);
        }
    }
    t
}

#[test]
fn flips_quarter_turns_and_crops_move_voxels_exactly() {
    let device = dev();
    let dims = [8, 2, 9, 10, 11];
    let x = image(5, dims, &device);
    let lab = labels([8, 1, 9, 10, 11], &device);
    let flips: Vec<[bool; 3]> = (0..8)
        .map(|b| [b & 1 != 0, b & 2 != 0, b & 4 != 0])
        .collect();
    let params = PipelineParams {
        batch: 8,
        size: [11, 10, 9],
        drawn: vec![Drawn::Flip(flips.iter().map(|f| Some(*f)).collect())],
    };
    let oblique = Geometry::new(
        [11, 10, 9],
        [1.0, 2.0, 3.0],
        [0.7, 1.3, 2.5],
        Direction::from_columns([[0.0, 0.6, 0.8], [0.0, 0.8, -0.6], [1.0, 0.0, 0.0]]),
    )
    .unwrap();
    let ex = values(Tensor::cat(
        (0..8).map(|s| flipped(&x, s, flips[s])).collect(),
        0,
    ));
    let el = values(Tensor::cat(
        (0..8).map(|s| flipped(&lab, s, flips[s])).collect(),
        0,
    ));
    let p = Pipeline::none();
    for g in [Geometry::unit([11, 10, 9]).unwrap(), oblique] {
        let (a, l) = p.apply(&params, &g, x.clone(), Some(lab.clone())).unwrap();
        assert_eq!(values(a), ex, "image flip is not exact");
        assert_eq!(values(l.unwrap()), el, "label flip is not exact");
    }

    // Quarter turns in the (i, j) plane of a square plane: torch.rot90-like permutations.
    let g = Geometry::unit([6, 6, 3]).unwrap();
    let x = image(6, [3, 1, 3, 6, 6], &device);
    let turns = (1..=3u8)
        .map(|k| Some(Rot90Sample { plane: [0, 1], k }))
        .collect();
    let params = PipelineParams {
        batch: 3,
        size: [6, 6, 3],
        drawn: vec![Drawn::Rot90(turns)],
    };
    let y = values(p.apply(&params, &g, x.clone(), None).unwrap().0);
    let xs = values(x);
    for (s, k) in (1..=3).enumerate() {
        for kk in 0..3 {
            for j in 0..6 {
                for i in 0..6 {
                    // Output (i, j) reads input: k = 1 (j, 5 - i), 2 (5 - i, 5 - j), 3 (5 - j, i).
                    let (si, sj) = match k {
                        1 => (j, 5 - i),
                        2 => (5 - i, 5 - j),
                        _ => (5 - j, i),
                    };
                    let got = y[((s * 3 + kk) * 6 + j) * 6 + i];
                    let want = xs[((s * 3 + kk) * 6 + sj) * 6 + si];
                    assert_eq!(got, want, "turn {k} at ({i}, {j}, {kk})");
                }
            }
        }
    }
    // Four quarter turns are the identity.
    let four = PipelineParams {
        batch: 1,
        size: [6, 6, 3],
        drawn: vec![
            Drawn::Rot90(vec![Some(Rot90Sample {
                plane: [0, 1],
                k: 1
            })]);
            4
        ],
    };
    let x1 = image(7, [1, 1, 3, 6, 6], &device);
    assert_eq!(
        values(p.apply(&four, &g, x1.clone(), None).unwrap().0),
        values(x1)
    );

    // A crop is a copy of the block.
    let g = Geometry::unit([11, 10, 9]).unwrap();
    let x = image(8, [2, 1, 9, 10, 11], &device);
    let crops = vec![
        CropSample {
            offset: [1, 2, 3],
            size: [5, 4, 3],
        },
        CropSample {
            offset: [6, 6, 6],
            size: [5, 4, 3],
        },
    ];
    let params = PipelineParams {
        batch: 2,
        size: [11, 10, 9],
        drawn: vec![Drawn::Crop(crops.clone())],
    };
    let y = p.apply(&params, &g, x.clone(), None).unwrap().0;
    assert_eq!(y.dims(), [2, 1, 3, 4, 5]);
    let want = Tensor::cat(
        crops
            .iter()
            .enumerate()
            .map(|(s, c)| {
                let [i, j, k] = c.offset;
                x.clone()
                    .slice([s..s + 1, 0..1, k..k + 3, j..j + 4, i..i + 5])
            })
            .collect(),
        0,
    );
    assert_eq!(values(y), values(want));
}

#[test]
fn crop_then_rotation_acts_on_the_crop() {
    let device = dev();
    let g = Geometry::unit([16, 16, 8]).unwrap();
    let p = Pipeline::new(vec![
        Transform::Crop(RandomCrop { size: [8, 8, 8] }),
        Transform::Rot90(RandomRot90 {
            prob: 1.0,
            max_k: 1,
            planes: vec![[0, 1]],
        }),
    ]);
    let params = p.sample(&mut rng(1), &g, 2).unwrap();
    let x = image(9, [2, 1, 8, 16, 16], &device);
    let (y, _) = p.apply(&params, &g, x.clone(), None).unwrap();
    assert_eq!(y.dims(), [2, 1, 8, 8, 8]);
    // Same as cropping first, then turning the crop.
    let Drawn::Crop(c) = &params.drawn[0] else {
        panic!()
    };
    let cropped = PipelineParams {
        batch: 2,
        size: [16, 16, 8],
        drawn: vec![params.drawn[0].clone()],
    };
    let first = p.apply(&cropped, &g, x, None).unwrap().0;
    let turned = PipelineParams {
        batch: 2,
        size: [8, 8, 8],
        drawn: vec![params.drawn[1].clone()],
    };
    let second = p
        .apply(&turned, &Geometry::unit(c[0].size).unwrap(), first, None)
        .unwrap()
        .0;
    assert_eq!(values(y), values(second));
}

#[test]
fn labels_keep_their_label_set_nearest_and_one_hot() {
    let device = dev();
    let mut chain = Pipeline::new(vec![
        Transform::Affine(RandomAffine {
            prob: 1.0,
            rotation_deg: [30.0; 3],
            scale: (0.7, 1.4),
            ..Default::default()
        }),
        Transform::Elastic(RandomElastic {
            prob: 1.0,
            control_spacing_mm: 6.0,
            max_displacement_mm: [2.0; 3],
            ..Default::default()
        }),
        Transform::Flip(RandomFlip {
            prob: 0.5,
            axes: [true; 3],
        }),
    ]);
    let dims = [3, 1, 16, 16, 16];
    let lab = labels(dims, &device).mul_scalar(2.0); // {0, 2, 4, 6, 8}
    let g = Geometry::unit([16, 16, 16]).unwrap();
    let p = chain.sample(&mut rng(5), &g, 3).unwrap();
    for mode in [Interpolation::Nearest, Interpolation::LabelLinear] {
        chain.label_interpolation = mode;
        let (_, out) = chain
            .apply(&p, &g, image(3, dims, &device), Some(lab.clone()))
            .unwrap();
        let out = values(out.unwrap());
        assert!(
            out.iter().all(|v| [0.0, 2.0, 4.0, 6.0, 8.0].contains(v)),
            "{mode:?} made a new label"
        );
        assert!(out.contains(&8.0));
        assert_ne!(out, values(lab.clone()), "the labels were not moved");
    }
}

#[test]
fn one_hot_linear_is_the_arg_max_of_linearly_resampled_indicators() {
    // Two labels: the arg-max of (1 - w, w) is label 1 where w > 0.5 (ties to the lower).
    let device = dev();
    let dims = [2, 1, 10, 10, 10];
    let lab = labels(dims, &device).greater_elem(2.0).float();
    let g = Geometry::unit([10, 10, 10]).unwrap();
    let mut chain = Pipeline::new(vec![Transform::Affine(RandomAffine {
        prob: 1.0,
        ..Default::default()
    })]);
    chain.label_interpolation = Interpolation::LabelLinear;
    let p = chain.sample(&mut rng(8), &g, 2).unwrap();
    let (_, ours) = chain.apply(&p, &g, lab.clone(), Some(lab.clone())).unwrap();
    // The image path is linear with zero (ITK) padding: the indicator of label 1.
    let linear = Pipeline::new(vec![Transform::Affine(RandomAffine::default())]);
    let (w1, _) = linear.apply(&p, &g, lab.clone(), None).unwrap();
    let want: Vec<f32> = values(w1.clone())
        .iter()
        .map(|&w| if w > 0.5 { 1.0 } else { 0.0 })
        .collect();
    let ours = values(ours.unwrap());
    let w1 = values(w1);
    // Where w is within float noise of 0.5 either answer is right.
    let wrong = (0..ours.len())
        .filter(|&n| ours[n] != want[n] && (w1[n] - 0.5).abs() > 1e-5)
        .count();
    assert_eq!(wrong, 0);
    // And it differs from nearest somewhere (smoother edges).
    chain.label_interpolation = Interpolation::Nearest;
    let (_, nearest) = chain.apply(&p, &g, lab.clone(), Some(lab)).unwrap();
    assert_ne!(values(nearest.unwrap()), ours);
}

#[test]
fn inverting_the_spatial_part_returns_the_input() {
    let device = dev();
    let size = [20, 18, 16];
    let g = Geometry::new(size, [0.0; 3], [1.0, 1.2, 1.5], Direction::identity()).unwrap();
    let chain = Pipeline::new(vec![
        Transform::Affine(RandomAffine {
            prob: 1.0,
            rotation_deg: [10.0; 3],
            scale: (0.95, 1.05),
            translation_mm: [1.0; 3],
            ..Default::default()
        }),
        Transform::Elastic(RandomElastic {
            prob: 1.0,
            max_displacement_mm: [1.5; 3],
            control_spacing_mm: 8.0,
            locked_borders: true,
        }),
        Transform::Flip(RandomFlip {
            prob: 0.5,
            axes: [true; 3],
        }),
        Transform::Rot90(RandomRot90 {
            prob: 0.5,
            max_k: 2,
            planes: vec![[1, 2]],
        }),
    ]);
    let p = chain.sample(&mut rng(11), &g, 2).unwrap();
    let x = smooth([2, 1, 16, 18, 20], &device);
    let (y, _) = chain.apply(&p, &g, x.clone(), None).unwrap();
    let back = chain.invert(&p, &g, y, false).unwrap();
    // Compare away from the edges (content there left the patch and came back as 0).
    let margin = |t: Tensor<5>| values(t.slice([0..2, 0..1, 4..12, 4..14, 4..16]));
    let (b, x) = (margin(back), margin(x));
    let mean = b.iter().zip(&x).map(|(a, b)| (a - b).abs()).sum::<f32>() / b.len() as f32;
    let worst = max_abs_diff(&b, &x);
    // Two linear interpolations of a smooth image: a few hundredths at most.
    assert!(
        mean < 0.01 && worst < 0.08,
        "inverse is off: mean {mean}, worst {worst}"
    );

    // A crop inverts to its block in place, zeros around.
    let crop = Pipeline::new(vec![Transform::Crop(RandomCrop { size: [8, 8, 8] })]);
    let g = Geometry::unit([12, 10, 9]).unwrap();
    let p = crop.sample(&mut rng(2), &g, 1).unwrap();
    let x = image(4, [1, 1, 9, 10, 12], &device);
    let (y, _) = crop.apply(&p, &g, x.clone(), None).unwrap();
    let y_total = y.clone().abs().sum().into_scalar::<f32>();
    let back = crop.invert(&p, &g, y, true).unwrap();
    assert_eq!(back.dims(), [1, 1, 9, 10, 12]);
    let Drawn::Crop(c) = &p.drawn[0] else {
        panic!()
    };
    let [i, j, k] = c[0].offset;
    let block = |t: Tensor<5>| values(t.slice([0..1, 0..1, k..k + 8, j..j + 8, i..i + 8]));
    assert_eq!(block(back.clone()), block(x));
    let total = back.abs().sum().into_scalar::<f32>();
    assert!(
        (total - y_total).abs() < 1e-3 * y_total,
        "something outside the block: {total} vs {y_total}"
    );
}

#[test]
fn elastic_field_is_smooth_and_within_its_bound() {
    let device = dev();
    let size = [24, 24, 24];
    let g = Geometry::new(size, [0.0; 3], [2.0; 3], Direction::identity()).unwrap();
    let e = RandomElastic {
        prob: 1.0,
        max_displacement_mm: [4.0; 3],
        control_spacing_mm: 12.0,
        locked_borders: true,
    };
    let chain = Pipeline::new(vec![Transform::Elastic(e)]);
    let p = chain.sample(&mut rng(4), &g, 1).unwrap();
    let out = values(chain.apply(&p, &g, ramp(1, size, &device), None).unwrap().0);
    let mut worst = 0.0f32;
    let mut moved = 0.0f32;
    for k in 1..23 {
        for j in 1..23 {
            for i in 1..23 {
                let q = position(&out, size, 0, [i, j, k]);
                let d = [q[0] - i as f32, q[1] - j as f32, q[2] - k as f32];
                moved = moved.max(d.iter().fold(0.0, |m, v| m.max(v.abs())));
                let q1 = position(&out, size, 0, [i + 1, j, k]);
                // Neighbours keep their order (no folding): the field changes by less than a
                // voxel per voxel (about 2 x 2 / 6 here).
                worst = worst.max((q1[0] - q[0] - 1.0).abs());
            }
        }
    }
    // 4 mm on 2 mm voxels: the spline's weights are positive and sum to 1, so at most 2 voxels.
    assert!(
        moved > 0.2 && moved <= 2.0001,
        "largest displacement {moved} voxels"
    );
    assert!(
        worst < 0.95,
        "field changes by {worst} voxels between neighbours"
    );
    // Locked borders: the corner barely moves.
    let c = position(&out, size, 0, [0, 0, 0]);
    assert!(c.iter().all(|v| v.abs() < 0.05), "corner moved to {c:?}");
    // The field is the cubic B-spline of the drawn coefficients, evaluated here on the host:
    // the patch's first and last voxels sit on coefficients 1 and n - 2.
    let Drawn::Elastic(e) = &p.drawn[0] else {
        panic!()
    };
    let e = e[0].clone().unwrap();
    let [ci, cj, ck] = e.control_size;
    let beta3 = |x: f64| {
        let x = x.abs();
        if x < 1.0 {
            (4.0 - 6.0 * x * x + 3.0 * x * x * x) / 6.0
        } else if x < 2.0 {
            (2.0 - x).powi(3) / 6.0
        } else {
            0.0
        }
    };
    for at in [[3usize, 7, 11], [12, 2, 21], [20, 15, 4]] {
        let u = [(at[0], ci), (at[1], cj), (at[2], ck)]
            .map(|(x, c)| x as f64 * (c - 3) as f64 / 23.0 + 1.0);
        let mut want = [0.0f64; 3];
        for k in 0..ck {
            for j in 0..cj {
                for i in 0..ci {
                    let w =
                        beta3(u[0] - i as f64) * beta3(u[1] - j as f64) * beta3(u[2] - k as f64);
                    let d = e.displacement_mm[(k * cj + j) * ci + i];
                    for a in 0..3 {
                        want[a] += w * d[a] / 2.0; // mm to 2 mm voxels
                    }
                }
            }
        }
        let q = position(&out, size, 0, at);
        for a in 0..3 {
            let got = q[a] as f64 - at[a] as f64;
            assert!(
                (got - want[a]).abs() < 1e-4,
                "field at {at:?} axis {a}: {got} vs {}",
                want[a]
            );
        }
    }
}
