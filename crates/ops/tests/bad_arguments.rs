//! Bad arguments give an `OpsError` naming the op, never a panic.

use burn::backend::Dispatch;
use burn::tensor::{DType, Device, Tensor};
use medburn_ops::backend::{PoolBackend, SamplingBackend};
use medburn_ops::*;

fn t<const D: usize>(shape: [usize; D]) -> Tensor<D> {
    Tensor::zeros(shape, &Device::flex())
}

#[test]
fn shapes_and_options_are_checked() {
    let x = t([1, 1, 4, 4, 4]);
    let o = SampleOptions::default();
    let e = grid_sample_3d(x.clone(), t([1, 2, 2, 2, 2]), o).unwrap_err();
    assert_eq!(e.op, "grid_sample_3d");
    assert!(grid_sample_3d(x.clone(), t([2, 2, 2, 2, 3]), o).is_err());
    assert!(grid_sample_3d(t([1, 1, 0, 4, 4]), t([1, 2, 2, 2, 3]), o).is_err());
    assert!(affine_sample_3d(x.clone(), t([1, 3, 3]), [2, 2, 2], o).is_err());
    assert!(affine_sample_3d(x.clone(), t([1, 3, 4]), [0, 2, 2], o).is_err());
    assert!(affine_grid_3d(t([2, 3, 4]), [1, 1, 2, 2, 2], false).is_err());
    assert!(voxel_affine_sample_3d(x.clone(), t([2, 3, 4]), [2, 2, 2], o).is_err());
    assert!(warp(x.clone(), t([1, 2, 4, 4, 4]), o).is_err());
    assert!(integrate_velocity(t([1, 3, 4, 4, 4]), 64).is_err());
    assert!(max_pool3d(x.clone(), Pool3dOptions::new([5, 2, 2])).is_err());
    assert!(max_pool3d(
        x.clone(),
        Pool3dOptions::new([2, 2, 2]).with_padding([2, 0, 0])
    )
    .is_err());
    assert!(avg_pool3d(
        x.clone(),
        Pool3dOptions::new([2, 2, 2]).with_dilation([2, 1, 1])
    )
    .is_err());
    assert!(avg_pool3d(x.clone(), Pool3dOptions::new([0, 2, 2])).is_err());
    let both = Interpolate3dOptions::default()
        .with_size([2, 2, 2])
        .with_scale_factor([2.0; 3]);
    assert!(interpolate_3d(x.clone(), both).is_err());
    assert!(interpolate_3d(x.clone(), Interpolate3dOptions::default()).is_err());
    let tiny = Interpolate3dOptions::default().with_scale_factor([0.1; 3]);
    assert!(interpolate_3d(x.clone(), tiny).is_err());
    assert!(gaussian_smooth_3d(x.clone(), [f64::NAN, 1.0, 1.0], Padding::Zeros).is_err());
    assert!(gaussian_smooth_3d(x, [3.0, 0.0, 0.0], Padding::Reflection).is_err());
}

/// Each op refuses the interpolations it does not run, naming them; label-linear refuses label
/// maps that are not one channel of non-negative integers, naming the bad value; and a backend
/// called directly with an interpolation no kernel runs stops before any kernel.
#[test]
fn interpolations_an_op_does_not_take_are_refused() {
    let x = t([1, 1, 4, 4, 4]);
    let grid = t([1, 2, 2, 2, 3]);
    let nearest_exact = SampleOptions::new(Interpolation::NearestExact);
    let e = grid_sample_3d(x.clone(), grid.clone(), nearest_exact).unwrap_err();
    assert!(e.message.contains("nearest_exact"), "{e}");
    let e = voxel_affine_sample_3d(x.clone(), t([1, 3, 4]), [2, 2, 2], nearest_exact).unwrap_err();
    assert!(e.message.contains("nearest_exact"), "{e}");
    let o = Interpolate3dOptions::new(Interpolation::LabelLinear).with_size([2, 2, 2]);
    let e = interpolate_3d(x.clone(), o).unwrap_err();
    assert!(e.message.contains(Interpolation::LabelLinear.name()), "{e}");
    let labels = SampleOptions::new(Interpolation::LabelLinear);
    let e = grid_sample_3d(t([1, 2, 4, 4, 4]), grid.clone(), labels).unwrap_err();
    assert!(e.message.contains("one channel"), "{e}");
    for bad in [-1.0, 0.5, f32::NAN, f32::INFINITY] {
        let x = x.clone().slice_assign(
            [0..1, 0..1, 1..2, 2..3, 3..4],
            Tensor::<5>::full([1, 1, 1, 1, 1], bad, &Device::flex()),
        );
        let e = grid_sample_3d(x.clone(), grid.clone(), labels).unwrap_err();
        assert!(
            e.message.contains("class index") && e.message.contains(&format!("{bad}")),
            "{e}"
        );
        assert!(label_values(&x).is_err());
    }
    let caught = std::panic::catch_unwind(|| {
        let y = <Dispatch as SamplingBackend>::grid_sample_3d(
            t([1, 1, 4, 4, 4]).into_dispatch(),
            t([1, 2, 2, 2, 3]).into_dispatch(),
            SampleOptions::new(Interpolation::LabelLinear),
        );
        Tensor::<5>::from_dispatch(y).into_data()
    });
    let message = match caught {
        Ok(_) => panic!("a backend ran label_linear as a kernel"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("label_linear"), "{message}");
}

/// Every name of the table in `Interpolation`'s documentation parses, serde reads the old
/// spellings, and each writes back as its first name.
#[test]
fn interpolation_names_parse_and_round_trip() {
    for (names, want) in [
        (
            &["nearest", "NearestNeighbor", "sitkNearestNeighbor"][..],
            Interpolation::Nearest,
        ),
        (
            &["nearest-exact", "nearest_exact"][..],
            Interpolation::NearestExact,
        ),
        (
            &["linear", "trilinear", "bilinear", "sitkLinear"][..],
            Interpolation::Linear,
        ),
        (
            &["bspline", "b-spline", "BSpline", "sitkBSpline"][..],
            Interpolation::BSpline,
        ),
        (
            &[
                "label-linear",
                "label_linear",
                "labellinear",
                "one_hot_linear",
                "sitkLabelLinear",
            ][..],
            Interpolation::LabelLinear,
        ),
    ] {
        for name in names {
            assert_eq!(name.parse::<Interpolation>(), Ok(want), "{name}");
            let json = format!("\"{name}\"");
            assert_eq!(serde_json::from_str::<Interpolation>(&json).unwrap(), want);
        }
        let written = serde_json::to_string(&want).unwrap();
        assert_eq!(written, format!("\"{}\"", want.name()));
        assert_eq!(want.to_string().parse::<Interpolation>(), Ok(want));
    }
    assert!(Interpolation::ALL
        .iter()
        .all(|i| i.name().parse() == Ok(*i)));
    let e = "cubic".parse::<Interpolation>().unwrap_err();
    assert!(e.contains("cubic") && e.contains("label_linear"), "{e}");
}

#[test]
fn tensors_on_different_devices_are_refused() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("tensors_on_different_devices_are_refused")
    else {
        return;
    };
    let x = t([1, 1, 4, 4, 4]);
    let g = Tensor::<5>::zeros([1, 2, 2, 2, 3], &gpu);
    let e = grid_sample_3d(x, g, SampleOptions::default()).unwrap_err();
    assert!(e.message.contains("different devices"), "{e}");
}

#[test]
fn non_finite_positions_do_not_panic() {
    let x = Tensor::<5>::ones([1, 1, 3, 3, 3], &Device::flex());
    let g = Tensor::<1>::from_floats(
        [f32::NAN, f32::INFINITY, f32::NEG_INFINITY],
        &Device::flex(),
    )
    .reshape([1, 1, 1, 1, 3]);
    for i in [
        Interpolation::Nearest,
        Interpolation::Linear,
        Interpolation::BSpline,
    ] {
        for p in [Padding::Zeros, Padding::Border, Padding::Reflection] {
            let y = grid_sample_3d(x.clone(), g.clone(), SampleOptions::new(i).with_padding(p))
                .unwrap();
            let _ = y.into_data();
        }
    }
}

#[test]
fn mixed_dtypes_are_refused() {
    let x = t([1, 1, 4, 4, 4]).cast(DType::F16);
    let o = SampleOptions::default();
    let e = grid_sample_3d(x.clone(), t([1, 2, 2, 2, 3]), o).unwrap_err();
    assert!(
        e.message.contains("F16") && e.message.contains("F32"),
        "{e}"
    );
    let e = voxel_affine_sample_3d(x, t([1, 3, 4]), [2, 2, 2], o).unwrap_err();
    assert!(e.message.contains("cast them to one float type"), "{e}");
}

/// The backend trait is public: called directly with a `grad_output` that does not fit
/// `input_shape` (a larger N would scatter past `grad_input` on a GPU), it stops with the
/// contract's message before any kernel runs.
fn direct_call_is_checked(device: &Device) {
    let grid = Tensor::<5>::zeros([1, 2, 2, 2, 3], device);
    let too_many = Tensor::<5>::ones([2, 1, 2, 2, 2], device);
    let o = SampleOptions::default();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let g = <Dispatch as SamplingBackend>::grid_sample_3d_backward_input(
            grid.into_dispatch(),
            too_many.into_dispatch(),
            [1, 1, 4, 4, 4],
            o,
        );
        Tensor::<5>::from_dispatch(g).into_data()
    }));
    let message = match caught {
        Ok(_) => panic!("a grad_output of batch 2 for an input of batch 1 was accepted"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("grad_output must be [1, 1, 2, 2, 2]"),
        "{message}"
    );
    // The pooling op's backward: a gradient of the wrong pooled shape is stopped as well.
    let x = Tensor::<5>::ones([1, 1, 4, 4, 4], device);
    let pooled = Tensor::<5>::ones([1, 1, 2, 2, 2], device);
    let wrong = Tensor::<5>::ones([1, 1, 3, 2, 2], device);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let g = <Dispatch as PoolBackend>::max_pool3d_backward(
            x.into_dispatch(),
            pooled.into_dispatch(),
            wrong.into_dispatch(),
            Pool3dOptions::new([2, 2, 2]),
        );
        Tensor::<5>::from_dispatch(g).into_data()
    }));
    let message = match caught {
        Ok(_) => panic!("a max-pool gradient of the wrong shape was accepted"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(
        message.contains("grad_output must be the pooled shape"),
        "{message}"
    );
}

#[test]
fn direct_backend_calls_are_checked_on_flex() {
    direct_call_is_checked(&Device::flex());
}

#[test]
fn direct_backend_calls_are_checked_on_wgpu() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("direct_backend_calls_are_checked_on_wgpu")
    else {
        return;
    };
    direct_call_is_checked(&gpu);
}

/// A backward method called on tracked tensors (what a second-order gradient would do) says
/// that it is not implemented instead of returning a gradient with no graph.
#[test]
fn second_order_gradients_are_refused() {
    let device = Device::flex().autodiff();
    let grid = Tensor::<5>::zeros([1, 2, 2, 2, 3], &device).require_grad();
    let grad_output = Tensor::<5>::ones([1, 1, 2, 2, 2], &device);
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        <Dispatch as SamplingBackend>::grid_sample_3d_backward_input(
            grid.into_dispatch(),
            grad_output.into_dispatch(),
            [1, 1, 4, 4, 4],
            SampleOptions::default(),
        )
    }));
    let message = match caught {
        Ok(_) => panic!("a backward on a tracked grid returned a detached gradient"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("second-order gradients"), "{message}");
}
