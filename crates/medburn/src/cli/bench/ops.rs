//! The op benchmarks of `medburn bench` (issue 3's list), on any device. PyTorch runs the same
//! cases in tests/scripts/bench_ops.py. Each case reads one scalar back at the end, so GPU work
//! is finished when the clock stops (the PyTorch script does the same).

use burn::tensor::{Device, Distribution, Tensor};
use medburn_ops::{
    affine_grid_3d, affine_sample_3d, bspline_coefficients, grid_sample_3d, interpolate_3d,
    max_pool3d, Interpolate3dOptions, Interpolation, OpsError, Pool3dOptions, SampleOptions,
};

use super::case::Case;

/// A near-identity rotation about z (5 degrees) with a small shift: a realistic grid.
fn theta(n: usize, device: &Device) -> Tensor<3> {
    let (s, c) = 5f32.to_radians().sin_cos();
    let one = [c, -s, 0.0, 0.05, s, c, 0.0, -0.03, 0.0, 0.0, 1.0, 0.02];
    let v: Vec<f32> = (0..n).flat_map(|_| one).collect();
    Tensor::<1>::from_floats(v.as_slice(), device).reshape([n, 3, 4])
}

fn volume(n: usize, side: usize, device: &Device) -> Tensor<5> {
    Tensor::random([n, 1, side, side, side], Distribution::Default, device)
}

fn grid(n: usize, side: usize, device: &Device) -> Result<Tensor<5>, OpsError> {
    affine_grid_3d(theta(n, device), [n, 1, side, side, side], false)
}

fn sync(t: Tensor<5>) -> f32 {
    t.sum().into_scalar::<f32>()
}

type Run = Box<dyn Fn() -> Result<(), Box<dyn std::error::Error>>>;

fn sample_case(
    name: &'static str,
    n: usize,
    side: usize,
    o: SampleOptions,
    backward: bool,
    device: &Device,
) -> Case {
    let device = device.clone();
    let run: Run = if backward {
        // Inputs made once; each run marks them as tracked leaves (PyTorch: clone().requires_grad_()).
        let ad = device.autodiff();
        let x = volume(n, side, &ad);
        let g = grid(n, side, &ad);
        Box::new(move || {
            let x = x.clone().require_grad();
            let g = g.clone()?.require_grad();
            let y = grid_sample_3d(x.clone(), g.clone(), o)?;
            let grads = y.sum().backward();
            let gx = x.grad(&grads).ok_or("no input gradient")?;
            let gg = g.grad(&grads).ok_or("no grid gradient")?;
            std::hint::black_box(gx.sum().into_scalar::<f32>() + gg.sum().into_scalar::<f32>());
            Ok(())
        })
    } else {
        let x = volume(n, side, &device);
        let g = grid(n, side, &device);
        Box::new(move || {
            let y = grid_sample_3d(x.clone(), g.clone()?, o)?;
            std::hint::black_box(sync(y));
            Ok(())
        })
    };
    Case { name, run }
}

/// The benchmarks, with inputs made once per case outside the timing, as in the PyTorch script.
pub fn cases(device: &Device, wanted: &dyn Fn(&str) -> bool) -> Vec<Case> {
    let linear = SampleOptions::new(Interpolation::Linear);
    let nearest = SampleOptions::new(Interpolation::Nearest);
    let bspline = SampleOptions::new(Interpolation::BSpline);
    let sampling = [
        ("grid_sample_linear_fwd_1x128", 1, 128, linear, false),
        ("grid_sample_linear_fwd_bwd_1x128", 1, 128, linear, true),
        ("grid_sample_linear_fwd_2x96", 2, 96, linear, false),
        ("grid_sample_linear_fwd_bwd_2x96", 2, 96, linear, true),
        ("grid_sample_nearest_fwd_1x128", 1, 128, nearest, false),
        ("grid_sample_bspline_fwd_1x128", 1, 128, bspline, false),
    ];
    let mut cases: Vec<Case> = sampling
        .into_iter()
        .filter(|c| wanted(c.0))
        .map(|(name, n, side, o, backward)| sample_case(name, n, side, o, backward, device))
        .collect();
    let d = device.clone();
    if wanted("affine_sample_linear_fwd_1x128") {
        let (x, t) = (volume(1, 128, &d), theta(1, &d));
        cases.push(Case {
            name: "affine_sample_linear_fwd_1x128",
            run: Box::new(move || {
                let y = affine_sample_3d(x.clone(), t.clone(), [128, 128, 128], linear)?;
                std::hint::black_box(sync(y));
                Ok(())
            }),
        });
    }
    if wanted("max_pool3d_k3s2p1_1x128") {
        let x = volume(1, 128, &d);
        cases.push(Case {
            name: "max_pool3d_k3s2p1_1x128",
            run: Box::new(move || {
                let o = Pool3dOptions::new([3; 3])
                    .with_stride([2; 3])
                    .with_padding([1; 3]);
                std::hint::black_box(sync(max_pool3d(x.clone(), o)?));
                Ok(())
            }),
        });
    }
    if wanted("max_pool3d_k3s2p1_fwd_bwd_1x128") {
        let x = volume(1, 128, &d.clone().autodiff());
        cases.push(Case {
            name: "max_pool3d_k3s2p1_fwd_bwd_1x128",
            run: Box::new(move || {
                let o = Pool3dOptions::new([3; 3])
                    .with_stride([2; 3])
                    .with_padding([1; 3]);
                let x = x.clone().require_grad();
                let grads = max_pool3d(x.clone(), o)?.sum().backward();
                let gx = x.grad(&grads).ok_or("no input gradient")?;
                std::hint::black_box(gx.sum().into_scalar::<f32>());
                Ok(())
            }),
        });
    }
    // The cubic B-spline prefilter alone (coefficients of a 1-channel volume), up to 512^3.
    for (name, side) in [
        ("bspline_prefilter_1x128", 128),
        ("bspline_prefilter_1x256", 256),
        ("bspline_prefilter_1x512", 512),
    ] {
        if wanted(name) {
            let x = volume(1, side, &d);
            cases.push(Case {
                name,
                run: Box::new(move || {
                    std::hint::black_box(sync(bspline_coefficients(x.clone())));
                    Ok(())
                }),
            });
        }
    }
    if wanted("interpolate_trilinear_1x128_to_192") {
        let x = volume(1, 128, &d);
        cases.push(Case {
            name: "interpolate_trilinear_1x128_to_192",
            run: Box::new(move || {
                let o = Interpolate3dOptions::new(Interpolation::Linear).with_size([192; 3]);
                std::hint::black_box(sync(interpolate_3d(x.clone(), o)?));
                Ok(())
            }),
        });
    }
    cases
}
