//! Convolution benchmarks: every 3D convolution shape of the U-Net (`unet_train_step`) and of
//! MONAI's `resnet18` (7x7x7 stride-2 stem, 3x3x3 blocks, 1x1x1 stride-2 downsampling), batch 2,
//! forward and forward + backward (gradients to input and weight), through
//! `medburn_ops::conv3d`, and the U-Net's transposed convolutions through
//! `medburn_ops::conv_transpose3d`. tests/scripts/bench_conv.py times PyTorch on the same lists.

use burn::tensor::{Distribution, Tensor};
use medburn_core::Device;
use medburn_ops::{conv3d, conv_transpose3d, Conv3dOptions, ConvTranspose3dOptions};

use super::case::{leak_name, Case};

/// Input channels, output channels, input edge, kernel, stride (padding `kernel / 2`).
pub(super) const CONV_SHAPES: [(usize, usize, usize, usize, usize); 20] = [
    // The table.
    (16, 16, 64, 3, 1),
    (32, 32, 32, 3, 1),
    (1, 16, 64, 3, 1),
    // U-Net (MONAI UNet, channels 16-128, strides 2, two residual units), not transposed.
    (1, 16, 64, 3, 2),
    (16, 16, 32, 3, 1),
    (16, 32, 32, 3, 2),
    (32, 64, 16, 3, 2),
    (64, 64, 8, 3, 1),
    (64, 128, 8, 3, 1),
    (128, 128, 8, 3, 1),
    (64, 128, 8, 1, 1),
    (2, 2, 64, 3, 1),
    // resnet18 on 64^3: stem, then one 3x3x3 block, stride-2 block and 1x1x1 shortcut per stage.
    (1, 64, 64, 7, 2),
    (64, 64, 16, 3, 1),
    (64, 128, 16, 3, 2),
    (64, 128, 16, 1, 2),
    (128, 256, 8, 3, 2),
    (256, 256, 4, 3, 1),
    (256, 512, 4, 3, 2),
    (512, 512, 2, 3, 1),
];

/// The U-Net's transposed convolutions (its up path), as [`CONV_SHAPES`]; padding `kernel /
/// 2`, output padding `stride - 1`.
pub(super) const CONV_TRANSPOSE_SHAPES: [(usize, usize, usize, usize, usize); 3] =
    [(192, 32, 8, 3, 2), (64, 16, 16, 3, 2), (32, 2, 32, 3, 2)];

/// The case name of one shape: `conv_{in}_{out}_{edge}_k{k}_s{s}_{fwd|fwdbwd}`, or
/// `conv_transpose_…` for a transposed one.
pub(super) fn conv_name(
    shape: (usize, usize, usize, usize, usize),
    transposed: bool,
    backward: bool,
) -> String {
    let (cin, cout, n, k, s) = shape;
    let pass = if backward { "fwdbwd" } else { "fwd" };
    let op = if transposed { "conv_transpose" } else { "conv" };
    format!("{op}_{cin}_{cout}_{n}_k{k}_s{s}_{pass}")
}

pub(super) fn cases(device: &Device, wanted: &dyn Fn(&str) -> bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let shapes = CONV_SHAPES
        .iter()
        .map(|&s| (s, false))
        .chain(CONV_TRANSPOSE_SHAPES.iter().map(|&s| (s, true)));
    for (shape, transposed) in shapes {
        for backward in [false, true] {
            let name = conv_name(shape, transposed, backward);
            if !wanted(&name) {
                continue;
            }
            let (cin, cout, n, k, s) = shape;
            let dev = if backward {
                device.clone().autodiff()
            } else {
                device.clone()
            };
            let mut x = Tensor::<5>::random([2, cin, n, n, n], Distribution::Default, &dev);
            let w_shape = if transposed {
                [cin, cout, k, k, k]
            } else {
                [cout, cin, k, k, k]
            };
            let mut w = Tensor::<5>::random(w_shape, Distribution::Default, &dev);
            if backward {
                x = x.require_grad();
                w = w.require_grad();
            }
            let o = Conv3dOptions::default()
                .with_stride([s; 3])
                .with_padding([k / 2; 3]);
            let t = ConvTranspose3dOptions::default()
                .with_stride([s; 3])
                .with_padding([k / 2; 3])
                .with_output_padding([s - 1; 3]);
            cases.push(Case {
                name: leak_name(name),
                run: Box::new(move || {
                    let y = if transposed {
                        conv_transpose3d(x.clone(), w.clone(), None, t)?
                    } else {
                        conv3d(x.clone(), w.clone(), None, o)?
                    };
                    if backward {
                        let g = y.sum().backward();
                        let gx = x.grad(&g).ok_or("no input gradient")?;
                        let gw = w.grad(&g).ok_or("no weight gradient")?;
                        let _ = (gx.sum() + gw.sum()).into_scalar::<f32>();
                    } else {
                        let _ = y.sum().into_scalar::<f32>();
                    }
                    Ok(())
                }),
            });
        }
    }
    cases
}
