//! An f64 image is transformed in f64: the transform and its voxel matrix carry no f32
//! rounding. A linear ramp, which trilinear interpolation reproduces exactly, shows it.

use burn::tensor::{DType, Device, Tensor, TensorData};
use medburn_core::{Geometry, MedImage};
use medburn_spatial::{affine, rotate, translate, Axis, Interpolation};

const N: usize = 12;

fn ramp(p: [f64; 3]) -> f64 {
    1000.0 + 0.1 * p[0] + 0.01 * p[1] + 0.001 * p[2]
}

fn ramp_image() -> MedImage {
    let mut v = Vec::with_capacity(N * N * N);
    for k in 0..N {
        for j in 0..N {
            for i in 0..N {
                v.push(ramp([i as f64, j as f64, k as f64]));
            }
        }
    }
    let x = Tensor::<5>::from_data(
        TensorData::new(v, [1, 1, N, N, N]),
        (&Device::flex(), DType::F64),
    );
    MedImage::new(x, Geometry::unit([N; 3]).unwrap()).unwrap()
}

/// Largest error against `ramp(map(index))` over the output voxels whose source lies inside.
fn worst(out: &MedImage, map: impl Fn([f64; 3]) -> [f64; 3]) -> f64 {
    assert_eq!(out.voxels().dtype(), DType::F64);
    let v = out
        .voxels()
        .clone()
        .into_data()
        .try_to_vec::<f64>()
        .unwrap();
    let mut worst = 0.0f64;
    let mut inside = 0;
    for (n, got) in v.iter().enumerate() {
        let idx = [n % N, n / N % N, n / (N * N)].map(|u| u as f64);
        let q = map(idx);
        if q.iter().all(|c| (0.01..N as f64 - 1.01).contains(c)) {
            worst = worst.max((got - ramp(q)).abs());
            inside += 1;
        }
    }
    assert!(inside > N * N * N / 4, "only {inside} voxels inside");
    worst
}

#[test]
fn f64_images_are_transformed_in_f64() {
    let img = ramp_image();
    let (c, s) = (17f64.to_radians().cos(), 17f64.to_radians().sin());
    // ITK's meaning: output point p reads input point A p + t.
    let a = [
        [c, -s, 0.0, 0.37],
        [s, c, 0.0, -0.21],
        [0.0, 0.0, 1.0, 0.123],
        [0.0, 0.0, 0.0, 1.0],
    ];
    let out = affine(&img, a, Interpolation::Linear).unwrap();
    let e = worst(&out, |p| {
        [0, 1, 2].map(|r| a[r][0] * p[0] + a[r][1] * p[1] + a[r][2] * p[2] + a[r][3])
    });
    assert!(
        e < 1e-10,
        "affine: error {e:.2e} (with f32 transforms, 3e-8)"
    );

    let offset = [0.3, -0.7, 0.11];
    let out = translate(&img, offset, Interpolation::Linear).unwrap();
    let e = worst(&out, |p| [0, 1, 2].map(|r| p[r] - offset[r]));
    assert!(e < 1e-10, "translate: error {e:.2e}");

    // Rotation about z through the centre: both senses are checked by the smaller error.
    let out = rotate(
        &img,
        Axis::Vector([0.0, 0.0, 1.0]),
        17.0,
        None,
        Interpolation::Linear,
    )
    .unwrap();
    let m = (N as f64 - 1.0) / 2.0;
    let turn = |sign: f64| {
        move |p: [f64; 3]| {
            let (x, y) = (p[0] - m, p[1] - m);
            [m + c * x - sign * s * y, m + sign * s * x + c * y, p[2]]
        }
    };
    let e = worst(&out, turn(1.0)).min(worst(&out, turn(-1.0)));
    assert!(e < 1e-10, "rotate: error {e:.2e}");
}
