//! Gradients of every op, mode and padding against central finite differences, in f64 on Flex.
//! Each check perturbs a random subset of the elements of each differentiable argument.

mod common;

use burn::tensor::{DType, Device, Tensor, TensorData};
use common::*;
use medburn_ops::*;

const H: f64 = 1e-6;
const TOL: f64 = 1e-6;

fn device() -> Device {
    Device::flex().autodiff()
}

fn random<const D: usize>(shape: [usize; D], lo: f64, hi: f64) -> Tensor<D> {
    Tensor::<D>::from_data(seeded_uniform(shape, lo, hi), &device()).cast(DType::F64)
}

fn with_element<const D: usize>(t: &Tensor<D>, k: usize, delta: f64) -> Tensor<D> {
    let mut v = values(t.clone());
    v[k] += delta;
    Tensor::from_data(TensorData::new(v, t.dims()), (&device(), DType::F64))
}

/// Checks the gradient of `sum(f(args) * weights)` with respect to every argument.
fn check<const A: usize>(
    name: &str,
    args: [Tensor<5>; A],
    f: impl Fn(&[Tensor<5>; A]) -> Tensor<5>,
) {
    let args = args.map(|a| a.require_grad());
    let y = f(&args);
    let weights = random(y.dims(), -1.0, 1.0);
    let loss = |a: &[Tensor<5>; A]| -> f64 { values((f(a) * weights.clone()).sum())[0] };
    let grads = (y * weights.clone()).sum().backward();
    for (i, arg) in args.iter().enumerate() {
        let analytic = values(
            arg.grad(&grads)
                .unwrap_or_else(|| panic!("{name}: argument {i} got no gradient")),
        );
        let n = analytic.len();
        // Up to 48 elements, spread over the tensor.
        let step = (n / 48).max(1);
        for k in (0..n).step_by(step).take(48) {
            let mut plus = args.clone();
            plus[i] = with_element(&args[i], k, H);
            let mut minus = args.clone();
            minus[i] = with_element(&args[i], k, -H);
            let fd = (loss(&plus) - loss(&minus)) / (2.0 * H);
            let err = (fd - analytic[k]).abs() / analytic[k].abs().max(1.0);
            assert!(
                err < TOL,
                "{name}: arg {i} element {k}: fd {fd} vs analytic {}",
                analytic[k]
            );
        }
    }
}

fn all_options() -> Vec<SampleOptions> {
    let mut v = vec![];
    for i in [
        Interpolation::Nearest,
        Interpolation::Linear,
        Interpolation::BSpline,
    ] {
        for p in [
            Padding::Zeros,
            Padding::Border,
            Padding::Reflection,
            Padding::Itk,
        ] {
            for a in [false, true] {
                v.push(SampleOptions::new(i).with_padding(p).with_align_corners(a));
            }
        }
    }
    v
}

#[test]
fn grid_sample_gradients() {
    for o in all_options() {
        let x = random([2, 2, 4, 5, 3], -1.0, 1.0);
        let g = random([2, 3, 2, 2, 3], -1.2, 1.2);
        check(&format!("grid_sample {o:?}"), [x, g], |[x, g]| {
            grid_sample_3d(x.clone(), g.clone(), o).unwrap()
        });
    }
}

#[test]
fn affine_sample_gradients() {
    for o in all_options() {
        let x = random([2, 2, 4, 5, 3], -1.0, 1.0);
        // theta as a 5D tensor so that `check` can treat it like the others.
        let noise = random([2, 3, 4, 1, 1], -0.3, 0.3);
        let eye = Tensor::<2>::eye(3, &device()).cast(DType::F64);
        let eye = Tensor::cat(vec![eye, Tensor::zeros([3, 1], (&device(), DType::F64))], 1);
        let theta = noise + eye.reshape([1, 3, 4, 1, 1]);
        check(&format!("affine_sample {o:?}"), [x, theta], |[x, t]| {
            affine_sample_3d(x.clone(), t.clone().reshape([2, 3, 4]), [3, 2, 4], o).unwrap()
        });
    }
}

#[test]
fn warp_and_field_gradients() {
    for p in [Padding::Zeros, Padding::Border, Padding::Reflection] {
        for i in [Interpolation::Linear, Interpolation::BSpline] {
            let o = SampleOptions::new(i).with_padding(p);
            let x = random([1, 2, 4, 5, 3], -1.0, 1.0);
            let u = random([1, 3, 4, 5, 3], -1.5, 1.5);
            check(&format!("warp {o:?}"), [x, u], |[x, u]| {
                warp(x.clone(), u.clone(), o).unwrap()
            });
        }
    }
    let a = random([1, 3, 4, 5, 3], -0.8, 0.8);
    let b = random([1, 3, 4, 5, 3], -0.8, 0.8);
    check("compose", [a, b], |[a, b]| {
        compose_displacements(a.clone(), b.clone()).unwrap()
    });
    let v = random([1, 3, 4, 5, 3], -0.5, 0.5);
    check("integrate_velocity", [v], |[v]| {
        integrate_velocity(v.clone(), 4).unwrap()
    });
}

/// How VoxelMorph trains: the moving image is data (untracked), only the displacement is
/// tracked, so the backward takes the grid-only path.
#[test]
fn warp_gradient_to_the_displacement_alone() {
    for i in [Interpolation::Linear, Interpolation::BSpline] {
        let o = SampleOptions::new(i).with_padding(Padding::Border);
        let moving = random([2, 1, 5, 4, 6], -1.0, 1.0);
        assert!(!moving.is_require_grad());
        let u = random([2, 3, 5, 4, 6], -1.5, 1.5);
        check(&format!("warp of untracked image {o:?}"), [u], |[u]| {
            warp(moving.clone(), u.clone(), o).unwrap()
        });
    }
}

#[test]
fn pool_interpolate_and_smoothing_gradients() {
    let x = random([2, 2, 6, 5, 7], -1.0, 1.0);
    for ceil in [false, true] {
        let o = Pool3dOptions::new([3, 2, 3])
            .with_stride([2, 2, 1])
            .with_padding([1, 1, 0])
            .with_ceil_mode(ceil);
        check("max_pool3d", [x.clone()], |[x]| {
            max_pool3d(x.clone(), o.with_dilation([1, 1, 2])).unwrap()
        });
        for inc in [false, true] {
            check("avg_pool3d", [x.clone()], |[x]| {
                avg_pool3d(x.clone(), o.with_count_include_pad(inc)).unwrap()
            });
        }
    }
    for mode in [
        Interpolation::Nearest,
        Interpolation::NearestExact,
        Interpolation::Linear,
    ] {
        let o = Interpolate3dOptions::new(mode).with_size([9, 3, 8]);
        check("interpolate_3d", [x.clone()], |[x]| {
            interpolate_3d(x.clone(), o).unwrap()
        });
    }
    let o = Interpolate3dOptions::new(Interpolation::Linear)
        .with_size([9, 3, 8])
        .with_align_corners(true);
    check("interpolate_3d align", [x.clone()], |[x]| {
        interpolate_3d(x.clone(), o).unwrap()
    });
    for p in [Padding::Zeros, Padding::Border, Padding::Reflection] {
        check("gaussian_smooth_3d", [x.clone()], |[x]| {
            gaussian_smooth_3d(x.clone(), [0.8, 0.0, 1.2], p).unwrap()
        });
    }
    check("bspline_coefficients", [x.clone()], |[x]| {
        bspline_coefficients(x.clone())
    });
}

#[test]
fn conv3d_gradients() {
    // Stride, padding, dilation and groups at once, and a strided pointwise convolution.
    let cases = [
        (
            [1, 4, 5, 6, 5],
            [4, 2, 3, 2, 3],
            Conv3dOptions::default()
                .with_stride([2, 1, 2])
                .with_padding([1, 1, 2])
                .with_dilation([1, 2, 1])
                .with_groups(2),
        ),
        (
            [2, 3, 4, 5, 3],
            [2, 3, 1, 1, 1],
            Conv3dOptions::default().with_stride([2; 3]),
        ),
    ];
    for (x, w, o) in cases {
        let co = w[0];
        check(
            &format!("conv3d {o:?}"),
            [
                random(x, -1.0, 1.0),
                random(w, -1.0, 1.0),
                random([1, co, 1, 1, 1], -1.0, 1.0),
            ],
            |[x, w, b]| conv3d(x.clone(), w.clone(), Some(b.clone().reshape([co])), o).unwrap(),
        );
    }
}

#[test]
fn conv_transpose3d_gradients() {
    // The U-Net up-sampling, and mixed strides, output padding, dilation and groups.
    let up = ConvTranspose3dOptions::default()
        .with_stride([2; 3])
        .with_padding([1; 3])
        .with_output_padding([1; 3]);
    let mixed = ConvTranspose3dOptions::default()
        .with_stride([1, 2, 3])
        .with_padding([0, 1, 1])
        .with_output_padding([1, 1, 0])
        .with_dilation([2, 1, 1])
        .with_groups(2);
    for (x, w, o) in [
        ([1, 3, 2, 3, 2], [3, 2, 3, 3, 3], up),
        ([2, 4, 3, 2, 2], [4, 1, 2, 3, 2], mixed),
    ] {
        let co = o.output_shape(&x, &w).unwrap()[1];
        check(
            &format!("conv_transpose3d {o:?}"),
            [
                random(x, -1.0, 1.0),
                random(w, -1.0, 1.0),
                random([1, co, 1, 1, 1], -1.0, 1.0),
            ],
            |[x, w, b]| {
                conv_transpose3d(x.clone(), w.clone(), Some(b.clone().reshape([co])), o).unwrap()
            },
        );
    }
}

#[test]
fn instance_norm_gradients() {
    check(
        "instance_norm_3d",
        [random([2, 3, 3, 4, 2], -2.0, 2.0)],
        |[x]| instance_norm_3d(x.clone(), None, None, 1e-5).unwrap(),
    );
}

#[test]
fn prelu_gradients() {
    // Per-channel slopes; inputs kept away from 0, where the derivative jumps.
    let x = random([2, 3, 3, 2, 2], 0.1, 1.0) * random([2, 3, 3, 2, 2], -1.0, 1.0).sign();
    check("prelu", [x, random([1, 3, 1, 1, 1], 0.0, 0.5)], |[x, a]| {
        prelu(x.clone(), a.clone().reshape([3])).unwrap()
    });
}
