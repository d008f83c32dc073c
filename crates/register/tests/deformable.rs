//! The whole transform of a registration: one resampling through an affine and a dense
//! displacement (against medburn's affine resampling and finite differences), displacement
//! fields as SimpleITK writes them, and the diffeomorphic stage recovering a known smooth
//! deformation between images on different grids.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Direction, Geometry, MedImage};
use medburn_register::{
    register_affine, register_deformable, resample_through, AffineRegistrationConfig,
    DeformableRegistrationConfig, DisplacementField, ItkAffine, RegistrationTransform,
};
use medburn_spatial::{resample, Interpolation};

/// Texture everywhere: 120 Gaussian blobs of 2.5-5 mm at seeded places and weights within 30
/// mm of `c` (a deformation is observable wherever the test measures it).
fn phantom_at(p: [f64; 3], c: [f64; 3]) -> f64 {
    thread_local! {
        static BLOBS: Vec<([f64; 3], f64, f64)> = {
            let u = common::uniform(11, 120 * 5);
            u.chunks(5)
                .map(|r| ([-30.0 + 60.0 * r[0], -30.0 + 60.0 * r[1], -30.0 + 60.0 * r[2]], 2.5 + 2.5 * r[3], 0.3 + 0.7 * r[4]))
                .collect()
        };
    }
    BLOBS.with(|blobs| {
        blobs
            .iter()
            .map(|(q, s, w)| {
                let d2: f64 = (0..3).map(|a| (p[a] - c[a] - q[a]).powi(2)).sum();
                w * (-d2 / (2.0 * s * s)).exp()
            })
            .sum()
    })
}

fn image_of(g: &Geometry, f: impl Fn([f64; 3]) -> f64, device: &Device) -> MedImage {
    let values: Vec<f32> = g.physical_points().iter().map(|&p| f(p) as f32).collect();
    MedImage::from_vec(values, 1, *g, device).unwrap()
}

fn oblique() -> Direction {
    let (c, s) = (10f64.to_radians().cos(), 10f64.to_radians().sin());
    Direction::from_columns([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, -1.0]])
}

#[test]
fn one_resampling_equals_the_affine_resampling() {
    let device = Device::flex();
    let input = Geometry::new([12, 10, 9], [-5.0, -4.0, 6.0], [1.2, 1.0, 1.5], oblique()).unwrap();
    let output = Geometry::new(
        [9, 11, 8],
        [-4.0, -3.0, -2.0],
        [1.1, 0.9, 1.3],
        Direction::identity(),
    )
    .unwrap();
    let image = image_of(&input, |p| phantom_at(p, [0.0, 1.0, 0.0]), &device);
    let m = [
        [0.98, 0.05, 0.0, 1.5],
        [-0.04, 1.02, 0.01, -0.5],
        [0.0, 0.02, 1.0, 0.7],
    ];
    let t = |m: &[[f64; 4]; 3]| {
        Tensor::<3>::from_data(
            TensorData::new(m.iter().flatten().copied().collect::<Vec<_>>(), [1, 3, 4]),
            &device,
        )
    };
    let reference = resample(&image, &output, Some(t(&m)), Interpolation::Linear).unwrap();
    let ours = resample_through(
        image.voxels().clone(),
        &input,
        &output,
        &m,
        None,
        Interpolation::Linear,
    )
    .unwrap();
    let diff = (ours - reference.voxels().clone())
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff < 1e-5, "no displacement: {diff}");
    // A constant displacement d: A (x + d) = A x + A d.
    let d = [0.7, -1.1, 0.4];
    let mut shifted = m;
    for r in 0..3 {
        shifted[r][3] += (0..3).map(|k| m[r][k] * d[k]).sum::<f64>();
    }
    let reference = resample(&image, &output, Some(t(&shifted)), Interpolation::Linear).unwrap();
    let u = Tensor::<1>::from_floats([d[0] as f32, d[1] as f32, d[2] as f32], &device)
        .reshape([1, 3, 1, 1, 1])
        .expand(output.tensor_shape(1, 3));
    let ours = resample_through(
        image.voxels().clone(),
        &input,
        &output,
        &m,
        Some(u),
        Interpolation::Linear,
    )
    .unwrap();
    let diff = (ours - reference.voxels().clone())
        .abs()
        .max()
        .into_scalar::<f32>();
    assert!(diff < 1e-5, "constant displacement: {diff}");
}

/// The gradient with respect to the displacement against central differences (f64).
#[test]
fn the_displacement_gradient_matches_finite_differences() {
    let device = Device::flex().autodiff();
    let input = Geometry::new([7, 6, 5], [0.0; 3], [1.0, 1.2, 0.9], oblique()).unwrap();
    let output = Geometry::new(
        [5, 5, 4],
        [0.5, -1.0, -2.0],
        [1.1, 1.0, 1.0],
        Direction::identity(),
    )
    .unwrap();
    let voxels = image_of(
        &input,
        |p| phantom_at(p, [2.0, 2.0, -2.0]) + 0.1 * p[0],
        &device,
    )
    .voxels()
    .clone()
    .cast(DType::F64);
    let m = [
        [1.0, 0.02, 0.0, 0.3],
        [0.0, 0.97, 0.0, -0.2],
        [0.01, 0.0, 1.03, 0.1],
    ];
    let shape = output.tensor_shape(1, 3);
    let seeded = |seed: u64, dims: [usize; 5], lo: f64, hi: f64| {
        let n = dims.iter().product();
        let v: Vec<f64> = common::uniform(seed, n)
            .iter()
            .map(|x| lo + (hi - lo) * x)
            .collect();
        Tensor::<5>::from_data(TensorData::new(v, dims), (&device, DType::F64))
    };
    let u0 = seeded(7, shape, -0.4, 0.4);
    let weights = seeded(8, output.tensor_shape(1, 1), 0.5, 1.5);
    let loss = |u: Tensor<5>| {
        (resample_through(
            voxels.clone(),
            &input,
            &output,
            &m,
            Some(u),
            Interpolation::Linear,
        )
        .unwrap()
            * weights.clone())
        .sum()
    };
    let u = u0.clone().require_grad();
    let grads = loss(u.clone()).backward();
    let g: Vec<f64> = u
        .grad(&grads)
        .unwrap()
        .into_data()
        .convert::<f64>()
        .try_to_vec()
        .unwrap();
    let base: Vec<f64> = u0
        .clone()
        .into_data()
        .convert::<f64>()
        .try_to_vec()
        .unwrap();
    let h = 1e-5;
    let mut worst = 0.0f64;
    for idx in (0..base.len()).step_by(37) {
        let eval = |delta: f64| {
            let mut v = base.clone();
            v[idx] += delta;
            let t = Tensor::<5>::from_data(TensorData::new(v, shape), (&device, DType::F64));
            loss(t).into_scalar::<f64>()
        };
        let fd = (eval(h) - eval(-h)) / (2.0 * h);
        worst = worst.max((fd - g[idx]).abs());
    }
    assert!(worst < 1e-6, "worst gradient error {worst}");
}

#[test]
fn displacement_fields_round_trip_and_read_ras_intents() {
    let device = Device::flex();
    let g = Geometry::new([5, 4, 3], [1.0, 2.0, 3.0], [1.5, 1.0, 2.0], oblique()).unwrap();
    let values: Vec<f32> = (0..180).map(|v| v as f32 * 0.01 - 0.5).collect();
    let field =
        DisplacementField::new(MedImage::from_vec(values.clone(), 3, g, &device).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.nii.gz");
    field.write(&path).unwrap();
    let back = DisplacementField::read(&path, &device).unwrap();
    // The direction goes through NIfTI's float32 quaternion.
    assert_eq!(
        (
            back.geometry().size(),
            back.geometry().origin(),
            back.geometry().spacing()
        ),
        (g.size(), g.origin(), g.spacing())
    );
    let (a, b) = (
        back.geometry().direction().row_major(),
        g.direction().row_major(),
    );
    assert!((0..9).all(|k| (a[k] - b[k]).abs() < 1e-6), "{a:?} {b:?}");
    assert_eq!(back.image().to_vec().unwrap(), values);
    // The NIfTI is [x, y, z, 1, 3] with intent 1007, as SimpleITK writes a vector image.
    let v = medburn_io::read(&path).unwrap();
    assert_eq!(v.extra_dims, vec![1, 3]);
    assert_eq!(
        v.metadata.get("nifti:intent_code").map(String::as_str),
        Some("1007")
    );
    // Intent 1006 (displacement vector) holds RAS components: read as ITK does (L, P flipped).
    let mut ras = field.image().clone();
    ras.metadata
        .insert("medburn:extra_dims".into(), "1,3".into());
    ras.metadata
        .insert("nifti:intent_code".into(), "1006".into());
    let ras_path = dir.path().join("ras.nii.gz");
    medburn_io::write_image(&ras, &ras_path).unwrap();
    let flipped = DisplacementField::read(&ras_path, &device)
        .unwrap()
        .image()
        .to_vec()
        .unwrap();
    assert_eq!(flipped[0], -values[0]);
    assert_eq!(flipped[60], -values[60]);
    assert_eq!(flipped[120], values[120]);
    // A one-channel file is not a field.
    let one = dir.path().join("one.nii.gz");
    medburn_io::write_image(
        &MedImage::from_vec(vec![0.0; 60], 1, g, &device).unwrap(),
        &one,
    )
    .unwrap();
    let e = DisplacementField::read(&one, &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("3 components"), "{e}");
    // Writing and reading the whole transform.
    let t = RegistrationTransform {
        affine: ItkAffine::from_matrix(
            [
                [1.0, 0.0, 0.0, 2.0],
                [0.0, 1.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ],
            [0.0; 3],
        ),
        displacement: Some(field),
    };
    let out = dir.path().join("transform");
    t.write(&out).unwrap();
    let back = RegistrationTransform::read(&out, &device).unwrap();
    let p = g.index_to_physical([2.0, 1.0, 1.0]);
    let (a, b) = (t.map_point(p), back.map_point(p));
    assert!((0..3).all(|k| (a[k] - b[k]).abs() < 1e-9), "{a:?} {b:?}");
    assert!(RegistrationTransform::read(dir.path(), &device).is_err());
}

/// The true map of the deformation test: fixed point x -> moving point y with
/// y + w(y) = x, where moving(y) = anatomy(y + w(y)).
fn w(y: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    let q = [0, 1, 2].map(|a| (y[a] - c[a]) / 9.0);
    [
        2.5 * (q[1] * 1.3).sin() * (q[2]).cos(),
        -2.0 * (q[0] * 1.1 + 0.4).sin(),
        1.8 * (q[0] * 0.9).cos() * (q[1] * 1.2).sin(),
    ]
}

fn truth(x: [f64; 3], c: [f64; 3]) -> [f64; 3] {
    let mut y = x;
    for _ in 0..100 {
        let d = w(y, c);
        y = [0, 1, 2].map(|a| x[a] - d[a]);
    }
    let d = w(y, c);
    let residual: f64 = (0..3).map(|a| (y[a] + d[a] - x[a]).abs()).sum();
    assert!(residual < 1e-9, "the inverse did not converge ({residual})");
    y
}

#[test]
fn the_diffeomorphic_stage_recovers_a_smooth_deformation() {
    let device = Device::flex();
    let fixed_grid = Geometry::new(
        [40, 36, 32],
        [-30.0, -25.0, -20.0],
        [1.5, 1.5, 2.0],
        Direction::identity(),
    )
    .unwrap();
    let c = fixed_grid.centre();
    let fixed = image_of(&fixed_grid, |p| phantom_at(p, c), &device);
    let moving_grid = Geometry::new(
        [36, 30, 40],
        [-33.0, -28.0, 27.0],
        [1.7, 1.9, 1.6],
        oblique(),
    )
    .unwrap();
    let moving = image_of(
        &moving_grid,
        |y| {
            let d = w(y, c);
            phantom_at([y[0] + d[0], y[1] + d[1], y[2] + d[2]], c)
        },
        &device,
    );
    let affine = register_affine(&fixed, &moving, &AffineRegistrationConfig::new()).unwrap();
    // A strong deformation for its scale (2.5 mm over 9 mm): a lighter penalty than the default
    // (tuned on the synthetic brain pairs, whose deformations are smoother).
    let config = DeformableRegistrationConfig::new().with_regularization(0.5);
    let r = register_deformable(&fixed, &moving, &affine.to_itk(), &config).unwrap();
    let full = RegistrationTransform {
        affine: affine.to_itk(),
        displacement: Some(r.displacement.clone()),
    };
    // TRE over the inner voxels (6 voxels from each face), where both images hold anatomy.
    let [ni, nj, nk] = fixed_grid.size();
    let mut points = vec![];
    for k in 6..nk - 6 {
        for j in 6..nj - 6 {
            for i in 6..ni - 6 {
                points.push(fixed_grid.index_to_physical([i as f64, j as f64, k as f64]));
            }
        }
    }
    let mapped = full.map_points(&points).unwrap();
    let tre = |f: &dyn Fn(usize) -> [f64; 3]| -> f64 {
        points
            .iter()
            .enumerate()
            .map(|(n, &p)| {
                let (a, b) = (f(n), truth(p, c));
                (0..3).map(|k| (a[k] - b[k]).powi(2)).sum::<f64>().sqrt()
            })
            .sum::<f64>()
            / points.len() as f64
    };
    let before = tre(&|n| points[n]);
    let after_affine = tre(&|n| affine.apply(points[n]));
    let after = tre(&|n| mapped[n]);
    println!(
        "TRE: none {before:.3} mm, affine {after_affine:.3} mm, deformable {after:.3} mm; \
         jacobian {:?}; levels {:?}",
        r.jacobian, r.levels
    );
    assert!(
        after < after_affine / 2.0,
        "{after} vs affine {after_affine}"
    );
    assert!(r.jacobian.folding_fraction < 1e-3, "{:?}", r.jacobian);
}
