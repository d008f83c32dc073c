//! Every op on wgpu (Mesa's software Vulkan in CI) against the same op on Flex: values and
//! gradients from the same random inputs, through Burn's fusion, with Burn ops before and after
//! the custom ones so that fused work must be flushed in the right order.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::*;
use medburn_ops::*;

fn random_data(shape: [usize; 5], lo: f64, hi: f64) -> TensorData {
    seeded_uniform(shape, lo, hi)
}

/// Runs `f` on both devices with autodiff; compares output and gradients within `tol`.
fn parity<const A: usize>(
    name: &str,
    data: [TensorData; A],
    f: impl Fn(&[Tensor<5>; A]) -> Tensor<5>,
    tol: f64,
) {
    let run = |device: &Device| {
        let args = data
            .clone()
            .map(|d| Tensor::<5>::from_data(d, device).require_grad());
        // A fused elementwise op before the custom op, and one after it.
        let shifted = args.clone().map(|a| a.mul_scalar(1.0).add_scalar(0.0));
        let y = f(&shifted).exp();
        let grads = y.clone().sum().backward();
        let mut out = vec![values(y)];
        out.extend(args.iter().enumerate().map(|(i, a)| {
            values(
                a.grad(&grads)
                    .unwrap_or_else(|| panic!("{name}: argument {i} got no gradient")),
            )
        }));
        out
    };
    let Some(device) = wgpu_device() else { return };
    let flex = run(&Device::flex().autodiff());
    let gpu = run(&device.autodiff());
    for (k, (a, b)) in gpu.iter().zip(&flex).enumerate() {
        let what = if k == 0 {
            "output".to_string()
        } else {
            format!("grad {}", k - 1)
        };
        assert_close(&format!("{name} {what}"), a, b, tol);
    }
}

#[test]
fn bspline_sampling_on_wgpu_matches_flex() {
    for p in [
        Padding::Zeros,
        Padding::Border,
        Padding::Reflection,
        Padding::Itk,
    ] {
        for align in [false, true] {
            let o = SampleOptions::new(Interpolation::BSpline)
                .with_padding(p)
                .with_align_corners(align);
            let x = random_data([2, 2, 5, 6, 4], -1.0, 1.0);
            let g = random_data([2, 3, 2, 4, 3], -1.2, 1.2);
            parity(
                &format!("grid {o:?}"),
                [x, g],
                |[x, g]| grid_sample_3d(x.clone(), g.clone(), o).unwrap(),
                1e-4,
            );
            let x = random_data([1, 1, 5, 6, 4], -1.0, 1.0);
            let t = random_data([1, 3, 4, 1, 1], -0.2, 0.2);
            parity(
                &format!("affine {o:?}"),
                [x, t],
                |[x, t]| {
                    let eye = Tensor::<2>::eye(3, &x.device());
                    let eye = Tensor::cat(vec![eye, Tensor::zeros([3, 1], &x.device())], 1)
                        .reshape([1, 3, 4]);
                    affine_sample_3d(x.clone(), t.clone().reshape([1, 3, 4]) + eye, [3, 4, 5], o)
                        .unwrap()
                },
                1e-4,
            );
        }
    }
}

#[test]
fn conv3d_on_wgpu_matches_flex() {
    // Burn's convolution on wgpu against medburn's on Flex: strided with groups, and padded.
    for (o, w) in [
        (
            Conv3dOptions::default()
                .with_stride([2, 1, 2])
                .with_padding([1; 3])
                .with_groups(2),
            [4, 1, 3, 3, 3],
        ),
        (
            Conv3dOptions::default().with_padding([1; 3]),
            [3, 2, 3, 3, 3],
        ),
    ] {
        let x = random_data([1, 2, 5, 6, 4], -1.0, 1.0);
        let wd = random_data(w, -0.5, 0.5);
        let b = random_data([1, w[0], 1, 1, 1], -1.0, 1.0);
        parity(
            "conv3d",
            [x, wd, b],
            |[x, w, b]| {
                let co = w.dims()[0];
                conv3d(x.clone(), w.clone(), Some(b.clone().reshape([co])), o).unwrap()
            },
            1e-4,
        );
    }
}

#[test]
fn conv_transpose3d_on_wgpu_matches_flex() {
    // Burn's transposed convolution on wgpu against medburn's on Flex: the U-Net up-sampling,
    // and groups with a kernel of 2.
    for (o, w) in [
        (
            ConvTranspose3dOptions::default()
                .with_stride([2; 3])
                .with_padding([1; 3])
                .with_output_padding([1; 3]),
            [2, 3, 3, 3, 3],
        ),
        (
            ConvTranspose3dOptions::default()
                .with_stride([2, 1, 2])
                .with_groups(2),
            [2, 2, 2, 2, 2],
        ),
    ] {
        let x = random_data([1, 2, 3, 4, 3], -1.0, 1.0);
        let co = o.output_shape(&[1, 2, 3, 4, 3], &w).unwrap()[1];
        let wd = random_data(w, -0.5, 0.5);
        let b = random_data([1, co, 1, 1, 1], -1.0, 1.0);
        parity(
            "conv_transpose3d",
            [x, wd, b],
            |[x, w, b]| {
                conv_transpose3d(x.clone(), w.clone(), Some(b.clone().reshape([co])), o).unwrap()
            },
            1e-4,
        );
    }
}

#[test]
fn instance_norm_on_wgpu_matches_flex() {
    let x = random_data([2, 3, 4, 5, 3], -2.0, 3.0);
    parity(
        "instance_norm_3d",
        [x],
        |[x]| instance_norm_3d(x.clone(), None, None, 1e-5).unwrap(),
        1e-4,
    );
}

#[test]
fn prelu_on_wgpu_matches_flex() {
    let x = random_data([2, 3, 4, 5, 3], -2.0, 2.0);
    let a = random_data([1, 3, 1, 1, 1], 0.0, 0.5);
    parity(
        "prelu",
        [x, a],
        |[x, a]| prelu(x.clone(), a.clone().reshape([3])).unwrap(),
        1e-5,
    );
}

#[test]
fn fields_and_smoothing_on_wgpu_match_flex() {
    let v = random_data([1, 3, 5, 6, 4], -0.6, 0.6);
    parity(
        "integrate_velocity",
        [v.clone()],
        |[v]| integrate_velocity(v.clone(), 4).unwrap(),
        1e-4,
    );
    let w = random_data([1, 3, 5, 6, 4], -0.6, 0.6);
    parity(
        "compose",
        [v, w],
        |[a, b]| compose_displacements(a.clone(), b.clone()).unwrap(),
        1e-4,
    );
    for p in [Padding::Zeros, Padding::Border, Padding::Reflection] {
        let x = random_data([2, 1, 6, 7, 5], -1.0, 1.0);
        parity(
            &format!("smooth {p:?}"),
            [x],
            |[x]| gaussian_smooth_3d(x.clone(), [1.0, 0.7, 0.5], p).unwrap(),
            1e-4,
        );
    }
}

/// The grid-only gradient path (moving image untracked, displacement tracked) on both backends.
#[test]
fn warp_of_an_untracked_image_matches_flex() {
    let moving = seeded_uniform([2, 1, 5, 4, 6], -1.0, 1.0);
    let u = seeded_uniform([2, 3, 5, 4, 6], -1.5, 1.5);
    for i in [Interpolation::Linear, Interpolation::BSpline] {
        let o = SampleOptions::new(i).with_padding(Padding::Border);
        let moving = moving.clone();
        parity(
            &format!("warp of untracked image {i:?}"),
            [u.clone()],
            move |[u]| {
                let x = Tensor::<5>::from_data(moving.clone(), &u.device());
                warp(x, u.clone(), o).unwrap()
            },
            1e-4,
        );
    }
}

#[test]
fn nearest_sampling_passes_no_gradient_to_the_grid_on_either_backend() {
    let mut devices = vec![Device::flex().autodiff()];
    devices.extend(wgpu_device().map(|d| d.autodiff()));
    for device in devices {
        let x = Tensor::<5>::from_data(seeded_uniform([1, 1, 4, 4, 4], 0.0, 1.0), &device)
            .require_grad();
        let g = Tensor::<5>::from_data(seeded_uniform([1, 2, 2, 2, 3], -1.0, 1.0), &device)
            .require_grad();
        let y = grid_sample_3d(x, g.clone(), SampleOptions::new(Interpolation::Nearest)).unwrap();
        let grads = y.sum().backward();
        let gg = values(g.grad(&grads).unwrap());
        assert!(gg.iter().all(|v| *v == 0.0), "{gg:?}");
    }
}

#[test]
fn itk_padding_on_wgpu_matches_flex() {
    for i in [Interpolation::Nearest, Interpolation::Linear] {
        let o = SampleOptions::new(i).with_padding(Padding::Itk);
        let x = random_data([2, 2, 5, 6, 4], -1.0, 1.0);
        let g = random_data([2, 3, 2, 4, 3], -1.3, 1.3);
        parity(
            &format!("grid {o:?}"),
            [x, g],
            |[x, g]| grid_sample_3d(x.clone(), g.clone(), o).unwrap(),
            1e-4,
        );
    }
}

#[test]
fn itk_padding_reads_the_buffer_then_zero() {
    let mut devices = vec![Device::flex()];
    devices.extend(wgpu_device());
    for device in devices {
        let x = Tensor::<1>::from_floats([1.0, 2.0, 3.0, 4.0], &device).reshape([1, 1, 1, 1, 4]);
        let gx = [-1.1f32, -0.9, 0.9, 1.05];
        let g: Vec<f32> = gx.iter().flat_map(|&v| [v, 0.0, 0.0]).collect();
        let g = Tensor::<1>::from_floats(g.as_slice(), &device).reshape([1, 1, 1, 4, 3]);
        for i in [
            Interpolation::Nearest,
            Interpolation::Linear,
            Interpolation::BSpline,
        ] {
            let y = grid_sample_3d(
                x.clone(),
                g.clone(),
                SampleOptions::new(i).with_padding(Padding::Itk),
            )
            .unwrap();
            let want = match i {
                // ITK evaluates the spline at -0.3 and 3.3 with mirrored coefficients.
                Interpolation::BSpline => bspline_1d(&[1.0, 2.0, 3.0, 4.0], &[-0.3, 3.3]),
                _ => vec![1.0, 4.0],
            };
            assert_close(
                &format!("{i:?} on {device:?}"),
                &values(y),
                &[0.0, want[0], want[1], 0.0],
                1e-5,
            );
        }
    }
}

/// Cubic B-spline interpolation of a 1D signal at `xs` (mirror boundary), by a direct solve.
fn bspline_1d(f: &[f64], xs: &[f64]) -> Vec<f64> {
    let n = f.len();
    let inv = bspline_prefilter_matrix(n);
    let c: Vec<f64> = (0..n)
        .map(|i| (0..n).map(|j| inv[i * n + j] * f[j]).sum())
        .collect();
    let mirror = |i: i64| -> usize {
        let p = 2 * (n as i64 - 1);
        let m = i.rem_euclid(p);
        (if m >= n as i64 { p - m } else { m }) as usize
    };
    let b = |t: f64| -> f64 {
        let t = t.abs();
        if t < 1.0 {
            2.0 / 3.0 - t * t + t * t * t / 2.0
        } else if t < 2.0 {
            (2.0 - t).powi(3) / 6.0
        } else {
            0.0
        }
    };
    xs.iter()
        .map(|&x| {
            let x0 = x.floor() as i64;
            (x0 - 1..=x0 + 2)
                .map(|k| c[mirror(k)] * b(x - k as f64))
                .sum()
        })
        .collect()
}
