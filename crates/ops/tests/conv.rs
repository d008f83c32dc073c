//! `conv3d` against PyTorch (tests/fixtures/torch/conv3d.json, made by
//! tests/scripts/make_layer_fixtures.py) in f32 and f64, against Burn's own convolution on
//! larger seeded volumes (every tiling path: several tiles per slab, both slab phases, groups,
//! pointwise), and its argument checks. Finite differences are in finite_differences.rs and
//! the wgpu comparison in gpu_parity.rs.

mod common;

use burn::tensor::module::conv3d as burn_conv3d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor};
use common::*;
use medburn_ops::*;
use serde_json::Value;

fn options(case: &Value) -> Conv3dOptions {
    Conv3dOptions::default()
        .with_stride(usizes(&case["stride"]))
        .with_padding(usizes(&case["padding"]))
        .with_dilation(usizes(&case["dilation"]))
        .with_groups(case["groups"].as_u64().unwrap() as usize)
}

/// Every PyTorch case on `device` in `dtype`; returns the largest error.
fn check_torch(device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases("conv3d") {
        let o = options(&case);
        let x =
            tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype).require_grad();
        let w = tensor::<5>(
            &case["weight"],
            usizes(&case["weight_shape"]),
            device,
            dtype,
        )
        .require_grad();
        let co = w.dims()[0];
        let b = (!case["bias"].is_null())
            .then(|| tensor::<1>(&case["bias"], [co], device, dtype).require_grad());
        let y = conv3d(x.clone(), w.clone(), b.clone(), o).unwrap();
        assert_eq!(y.dims(), usizes::<5>(&case["output_shape"]), "{o:?}");
        let dy = tensor::<5>(&case["grad_output"], y.dims(), device, dtype);
        let grads = (y.clone() * dy).sum().backward();
        let mut checks = vec![
            ("output", values(y), &case["output"]),
            (
                "grad_input",
                values(x.grad(&grads).expect("input gradient")),
                &case["grad_input"],
            ),
            (
                "grad_weight",
                values(w.grad(&grads).expect("weight gradient")),
                &case["grad_weight"],
            ),
        ];
        if let Some(b) = &b {
            let gb = values(b.grad(&grads).expect("bias gradient"));
            checks.push(("grad_bias", gb, &case["grad_bias"]));
        }
        for (what, got, want) in checks {
            let want = floats(want);
            assert_close(&format!("{o:?} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

#[test]
fn conv3d_matches_pytorch_in_f32() {
    let worst = check_torch(&Device::flex().autodiff(), DType::F32, 1e-4);
    println!("conv3d vs PyTorch, f32: max error {worst:.2e}");
}

#[test]
fn conv3d_matches_pytorch_in_f64() {
    let worst = check_torch(&Device::flex().autodiff(), DType::F64, 1e-10);
    println!("conv3d vs PyTorch, f64: max error {worst:.2e}");
}

/// One comparison with `burn::tensor::module::conv3d` (Burn's own kernels and autodiff).
fn against_burn(x: [usize; 5], w: [usize; 5], o: Conv3dOptions, bias: bool) {
    let device = Device::flex().autodiff();
    let xd = seeded_uniform(x, -1.0, 1.0);
    let wd = seeded_uniform(w, -0.5, 0.5);
    let bd = seeded_uniform([w[0]], -1.0, 1.0);
    let dyd = seeded_uniform(o.output_shape(&x, &w).unwrap(), -1.0, 1.0);
    let run = |ours: bool| {
        let x = Tensor::<5>::from_data(xd.clone(), &device).require_grad();
        let w = Tensor::<5>::from_data(wd.clone(), &device).require_grad();
        let b = bias.then(|| Tensor::<1>::from_data(bd.clone(), &device).require_grad());
        let y = if ours {
            conv3d(x.clone(), w.clone(), b.clone(), o).unwrap()
        } else {
            let burn_options = ConvOptions::new(o.stride, o.padding, o.dilation, o.groups);
            burn_conv3d(x.clone(), w.clone(), b.clone(), burn_options)
        };
        let dy = Tensor::<5>::from_data(dyd.clone(), &device);
        let grads = (y.clone() * dy).sum().backward();
        let mut out = vec![
            values(y),
            values(x.grad(&grads).unwrap()),
            values(w.grad(&grads).unwrap()),
        ];
        if let Some(b) = b {
            out.push(values(b.grad(&grads).unwrap()));
        }
        out
    };
    let (ours, burn) = (run(true), run(false));
    for (i, (a, b)) in ours.iter().zip(&burn).enumerate() {
        assert_close(
            &format!("{x:?} * {w:?} {o:?}: output/grads {i}"),
            a,
            b,
            1e-4,
        );
    }
}

#[test]
fn conv3d_matches_burn_on_volumes_that_take_many_tiles() {
    let same = Conv3dOptions::default().with_padding([1; 3]);
    // 16 channels, 3x3x3: many tiles per slab, both slab phases, two samples.
    against_burn([2, 16, 12, 20, 24], [16, 16, 3, 3, 3], same, true);
    // Strided (U-Net down path), odd sizes.
    against_burn(
        [1, 8, 13, 17, 11],
        [12, 8, 3, 3, 3],
        same.with_stride([2; 3]),
        true,
    );
    // ResNet stem: 7x7x7, stride 2, padding 3, one input channel.
    let stem = Conv3dOptions::default()
        .with_stride([2; 3])
        .with_padding([3; 3]);
    against_burn([1, 1, 18, 16, 20], [8, 1, 7, 7, 7], stem, false);
    // Pointwise, with and without stride (ResNet downsampling).
    against_burn(
        [2, 12, 9, 10, 11],
        [6, 12, 1, 1, 1],
        Conv3dOptions::default(),
        true,
    );
    against_burn(
        [1, 12, 9, 10, 11],
        [6, 12, 1, 1, 1],
        Conv3dOptions::default().with_stride([2; 3]),
        false,
    );
    // Groups and dilation together.
    let grouped = Conv3dOptions::default()
        .with_padding([2; 3])
        .with_dilation([2; 3])
        .with_groups(4);
    against_burn([1, 8, 10, 9, 12], [8, 2, 3, 3, 3], grouped, true);
}

#[test]
fn conv3d_refuses_arguments_that_do_not_fit() {
    let device = Device::flex();
    let x = Tensor::<5>::zeros([1, 4, 5, 5, 5], &device);
    let w = |shape: [usize; 5]| Tensor::<5>::zeros(shape, &device);
    let o = Conv3dOptions::default();
    let cases: Vec<(&str, Result<Tensor<5>>)> = vec![
        ("channels", conv3d(x.clone(), w([2, 3, 3, 3, 3]), None, o)),
        (
            "groups",
            conv3d(x.clone(), w([3, 2, 3, 3, 3]), None, o.with_groups(2)),
        ),
        (
            "groups zero",
            conv3d(x.clone(), w([2, 4, 3, 3, 3]), None, o.with_groups(0)),
        ),
        ("kernel", conv3d(x.clone(), w([2, 4, 6, 3, 3]), None, o)),
        (
            "dilation",
            conv3d(
                x.clone(),
                w([2, 4, 3, 3, 3]),
                None,
                o.with_dilation([3, 1, 1]),
            ),
        ),
        (
            "stride",
            conv3d(
                x.clone(),
                w([2, 4, 3, 3, 3]),
                None,
                o.with_stride([0, 1, 1]),
            ),
        ),
        (
            "bias",
            conv3d(
                x.clone(),
                w([2, 4, 3, 3, 3]),
                Some(Tensor::zeros([3], &device)),
                o,
            ),
        ),
        (
            "dtype",
            conv3d(x.clone(), w([2, 4, 3, 3, 3]).cast(DType::F64), None, o),
        ),
    ];
    for (what, r) in cases {
        let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(e.op, "conv3d", "{what}");
        println!("{what}: {e}");
    }
}
