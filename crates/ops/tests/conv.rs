//! `conv3d` and `conv_transpose3d` against PyTorch (tests/fixtures/torch/conv3d.json and
//! conv_transpose3d.json, made by tests/scripts/make_layer_fixtures.py) in f32 and f64, against
//! Burn's own convolutions on
//! larger seeded volumes (every tiling path: several tiles per slab, both slab phases, groups,
//! pointwise), and its argument checks. Finite differences are in finite_differences.rs and
//! the wgpu comparison in gpu_parity.rs.

mod common;

use burn::tensor::module::{conv3d as burn_conv3d, conv_transpose3d as burn_conv_transpose3d};
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
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

fn transposed_options(case: &Value) -> ConvTranspose3dOptions {
    ConvTranspose3dOptions::default()
        .with_stride(usizes(&case["stride"]))
        .with_padding(usizes(&case["padding"]))
        .with_output_padding(usizes(&case["output_padding"]))
        .with_dilation(usizes(&case["dilation"]))
        .with_groups(case["groups"].as_u64().unwrap() as usize)
}

type Op = fn(&Value, Tensor<5>, Tensor<5>, Option<Tensor<1>>) -> (String, Tensor<5>);

fn run_conv3d(
    case: &Value,
    x: Tensor<5>,
    w: Tensor<5>,
    b: Option<Tensor<1>>,
) -> (String, Tensor<5>) {
    let o = options(case);
    (format!("{o:?}"), conv3d(x, w, b, o).unwrap())
}

fn run_conv_transpose3d(
    case: &Value,
    x: Tensor<5>,
    w: Tensor<5>,
    b: Option<Tensor<1>>,
) -> (String, Tensor<5>) {
    let o = transposed_options(case);
    (format!("{o:?}"), conv_transpose3d(x, w, b, o).unwrap())
}

/// Every PyTorch case of `fixture` through `op` on `device` in `dtype`; returns the largest
/// error.
fn check_torch(fixture: &str, op: Op, device: &Device, dtype: DType, tol: f64) -> f64 {
    let mut worst = 0.0f64;
    for case in torch_cases(fixture) {
        let x =
            tensor::<5>(&case["input"], usizes(&case["input_shape"]), device, dtype).require_grad();
        let w = tensor::<5>(
            &case["weight"],
            usizes(&case["weight_shape"]),
            device,
            dtype,
        )
        .require_grad();
        let co = usizes::<5>(&case["output_shape"])[1];
        let b = (!case["bias"].is_null())
            .then(|| tensor::<1>(&case["bias"], [co], device, dtype).require_grad());
        let (o, y) = op(&case, x.clone(), w.clone(), b.clone());
        assert_eq!(y.dims(), usizes::<5>(&case["output_shape"]), "{o}");
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
            assert_close(&format!("{fixture} {o} {what}"), &got, &want, tol);
            worst = worst.max(max_error(&got, &want));
        }
    }
    worst
}

#[test]
fn conv3d_matches_pytorch_in_f32() {
    let device = Device::flex().autodiff();
    let worst = check_torch("conv3d", run_conv3d, &device, DType::F32, 1e-4);
    println!("conv3d vs PyTorch, f32: max error {worst:.2e}");
}

#[test]
fn conv3d_matches_pytorch_in_f64() {
    let device = Device::flex().autodiff();
    let worst = check_torch("conv3d", run_conv3d, &device, DType::F64, 1e-10);
    println!("conv3d vs PyTorch, f64: max error {worst:.2e}");
}

#[test]
fn conv_transpose3d_matches_pytorch_in_f32_and_f64() {
    let device = Device::flex().autodiff();
    let op = run_conv_transpose3d;
    let f32 = check_torch("conv_transpose3d", op, &device, DType::F32, 1e-4);
    let f64 = check_torch("conv_transpose3d", op, &device, DType::F64, 1e-10);
    println!("conv_transpose3d vs PyTorch: max error {f32:.2e} (f32), {f64:.2e} (f64)");
}

type Layer<'a> = &'a dyn Fn(Tensor<5>, Tensor<5>, Option<Tensor<1>>) -> Tensor<5>;

/// Outputs and gradients of `ours` and `burn` on the same seeded operands, compared.
fn compare(what: String, shapes: [[usize; 5]; 3], bias: bool, ours: Layer, burn: Layer) {
    let [x, w, y] = shapes;
    let device = Device::flex().autodiff();
    let xd = seeded_uniform(x, -1.0, 1.0);
    let wd = seeded_uniform(w, -0.5, 0.5);
    let bd = seeded_uniform([y[1]], -1.0, 1.0);
    let dyd = seeded_uniform(y, -1.0, 1.0);
    let run = |layer: Layer| {
        let x = Tensor::<5>::from_data(xd.clone(), &device).require_grad();
        let w = Tensor::<5>::from_data(wd.clone(), &device).require_grad();
        let b = bias.then(|| Tensor::<1>::from_data(bd.clone(), &device).require_grad());
        let y = layer(x.clone(), w.clone(), b.clone());
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
    let (ours, burn) = (run(ours), run(burn));
    for (i, (a, b)) in ours.iter().zip(&burn).enumerate() {
        assert_close(&format!("{what}: output/grads {i}"), a, b, 1e-4);
    }
}

/// One comparison with `burn::tensor::module::conv3d` (Burn's own kernels and autodiff).
fn against_burn(x: [usize; 5], w: [usize; 5], o: Conv3dOptions, bias: bool) {
    let y = o.output_shape(&x, &w).unwrap();
    let burn_options = ConvOptions::new(o.stride, o.padding, o.dilation, o.groups);
    compare(
        format!("{x:?} * {w:?} {o:?}"),
        [x, w, y],
        bias,
        &|x, w, b| conv3d(x, w, b, o).unwrap(),
        &|x, w, b| burn_conv3d(x, w, b, burn_options.clone()),
    );
}

/// One comparison with `burn::tensor::module::conv_transpose3d`.
fn transposed_against_burn(x: [usize; 5], w: [usize; 5], o: ConvTranspose3dOptions, bias: bool) {
    let y = o.output_shape(&x, &w).unwrap();
    let burn_options =
        ConvTransposeOptions::new(o.stride, o.padding, o.output_padding, o.dilation, o.groups);
    compare(
        format!("{x:?} *T {w:?} {o:?}"),
        [x, w, y],
        bias,
        &|x, w, b| conv_transpose3d(x, w, b, o).unwrap(),
        &|x, w, b| burn_conv_transpose3d(x, w, b, burn_options.clone()),
    );
}

#[test]
fn conv_transpose3d_matches_burn_on_volumes_that_take_many_tiles() {
    let up = ConvTranspose3dOptions::default()
        .with_stride([2; 3])
        .with_padding([1; 3])
        .with_output_padding([1; 3]);
    // The U-Net up path: 3x3x3, stride 2, to 16 channels of 2 x 20 x 16 x 24.
    transposed_against_burn([2, 32, 10, 8, 12], [32, 16, 3, 3, 3], up, true);
    // Kernel 2, stride 2; groups.
    let k2 = ConvTranspose3dOptions::default()
        .with_stride([2; 3])
        .with_groups(2);
    transposed_against_burn([1, 8, 7, 9, 6], [8, 3, 2, 2, 2], k2, false);
    // Stride 1, "same": many output tiles, both slab phases.
    let same = ConvTranspose3dOptions::default().with_padding([1; 3]);
    transposed_against_burn([1, 12, 12, 14, 16], [12, 8, 3, 3, 3], same, true);
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

#[test]
fn conv_transpose3d_refuses_arguments_that_do_not_fit() {
    let device = Device::flex();
    let x = Tensor::<5>::zeros([1, 4, 3, 3, 3], &device);
    let w = |shape: [usize; 5]| Tensor::<5>::zeros(shape, &device);
    let o = ConvTranspose3dOptions::default();
    let cases: Vec<(&str, Result<Tensor<5>>)> = vec![
        // A convolution's weight layout, [C_out, C_in, ...], where [C_in, C_out, ...] is meant.
        (
            "weight layout",
            conv_transpose3d(x.clone(), w([2, 4, 3, 3, 3]), None, o),
        ),
        (
            "groups",
            conv_transpose3d(x.clone(), w([4, 2, 3, 3, 3]), None, o.with_groups(3)),
        ),
        (
            "output padding",
            conv_transpose3d(
                x.clone(),
                w([4, 2, 3, 3, 3]),
                None,
                o.with_stride([2; 3]).with_output_padding([2, 0, 0]),
            ),
        ),
        (
            "padding",
            conv_transpose3d(x.clone(), w([4, 2, 1, 1, 1]), None, o.with_padding([2; 3])),
        ),
        (
            "stride",
            conv_transpose3d(
                x.clone(),
                w([4, 2, 3, 3, 3]),
                None,
                o.with_stride([1, 0, 1]),
            ),
        ),
        (
            "bias",
            conv_transpose3d(
                x.clone(),
                w([4, 2, 3, 3, 3]),
                Some(Tensor::zeros([4], &device)),
                o,
            ),
        ),
    ];
    for (what, r) in cases {
        let e = r.err().unwrap_or_else(|| panic!("{what}: accepted"));
        assert_eq!(e.op, "conv_transpose3d", "{what}");
        println!("{what}: {e}");
    }
}
