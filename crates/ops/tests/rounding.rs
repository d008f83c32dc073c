//! Nearest-neighbour ties: the rounding rule is its own option, apart from the padding. A
//! half-voxel shift puts every point exactly between two voxels; PyTorch's rule sends it to the
//! even index, ITK's to the higher one, with either padding, on the general path and on the
//! interior rows of the fused affine path.

use burn::tensor::{Device, Tensor, TensorData};
use medburn_ops::{voxel_affine_sample_3d, Interpolation, Padding, Rounding, SampleOptions};

const W: usize = 40;

/// Samples a ramp along W (value = x index) half a voxel further along x.
fn shifted(device: &Device, o: SampleOptions) -> Vec<f32> {
    let ramp: Vec<f32> = (0..4 * 4 * W).map(|i| (i % W) as f32).collect();
    let input = Tensor::<5>::from_data(TensorData::new(ramp, [1, 1, 4, 4, W]), device);
    let m = [1., 0., 0., 0.5, 0., 1., 0., 0., 0., 0., 1., 0.];
    let matrix = Tensor::<3>::from_data(TensorData::new(m.to_vec(), [1, 3, 4]), device);
    let out = voxel_affine_sample_3d(input, matrix, [4, 4, W], o).unwrap();
    out.into_data().try_to_vec::<f32>().unwrap()
}

fn check(device: &Device) {
    for padding in [Padding::Zeros, Padding::Border, Padding::Itk] {
        for rounding in [Rounding::HalfToEven, Rounding::HalfUp] {
            let o = SampleOptions::new(Interpolation::Nearest)
                .with_padding(padding)
                .with_rounding(rounding);
            let got = shifted(device, o);
            for (i, &v) in got.iter().enumerate() {
                let x = i % W;
                let index = match rounding {
                    Rounding::HalfUp => x + 1,
                    Rounding::HalfToEven => x + x % 2,
                };
                // x = 39.5 is beyond the last voxel: ITK's outer face, PyTorch's index 40.
                let want = match (index < W, padding) {
                    (true, _) => index as f32,
                    (false, Padding::Border) => (W - 1) as f32,
                    (false, _) => 0.0,
                };
                assert_eq!(v, want, "x = {x}, {padding:?}, {rounding:?}");
            }
        }
    }
}

#[test]
fn ties_follow_the_rounding_option_on_flex() {
    check(&Device::flex());
}

#[test]
fn ties_follow_the_rounding_option_on_wgpu() {
    let Some(gpu) = medburn_core::wgpu_device_or_skip("ties_follow_the_rounding_option_on_wgpu")
    else {
        return;
    };
    check(&gpu);
}
