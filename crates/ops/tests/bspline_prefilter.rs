//! The line-by-line prefilter against the dense inverse of the interpolation matrix, on Flex in
//! f64 and f32 and on wgpu, with odd sizes and axes of 1 and 2 voxels.

mod common;

use burn::tensor::{DType, Device, Tensor};
use common::*;
use medburn_ops::*;

/// Applies the dense inverse along each axis of `[N, C, D, H, W]` values, in f64.
fn dense(v: &[f64], shape: [usize; 5]) -> Vec<f64> {
    let mut v = v.to_vec();
    let strides = [0, 0, shape[3] * shape[4], shape[4], 1];
    for axis in [4, 3, 2] {
        let n = shape[axis];
        let inv = bspline_prefilter_matrix(n);
        let mut out = vec![0.0; v.len()];
        for (k, o) in out.iter_mut().enumerate() {
            let i = k / strides[axis] % n;
            let start = k - i * strides[axis];
            *o = (0..n)
                .map(|j| inv[i * n + j] * v[start + j * strides[axis]])
                .sum();
        }
        v = out;
    }
    v
}

fn check(device: &Device, dtype: DType, tol: f64) {
    for shape in [[2, 2, 5, 7, 9], [1, 1, 1, 2, 3], [1, 3, 4, 1, 6]] {
        let data = seeded_uniform(shape, -1.0, 1.0);
        let want = dense(
            &values(Tensor::<5>::from_data(data.clone(), &Device::flex())),
            shape,
        );
        let x = Tensor::<5>::from_data(data, (device, dtype));
        let got = values(bspline_coefficients(x));
        assert_close(&format!("{dtype:?} {shape:?}"), &got, &want, tol);
    }
}

#[test]
fn prefilter_matches_the_dense_inverse_on_flex() {
    check(&Device::flex(), DType::F64, 1e-12);
    check(&Device::flex(), DType::F32, 1e-5);
}

#[test]
fn prefilter_matches_the_dense_inverse_on_wgpu() {
    let Some(gpu) = wgpu_device() else { return };
    check(&gpu, DType::F32, 1e-5);
}
