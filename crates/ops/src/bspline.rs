//! The cubic B-spline prefilter: interpolation coefficients from voxel values, as ITK's
//! `BSplineDecompositionImageFilter` (mirror boundary: coefficient -1 equals coefficient 1).
//!
//! Along each axis the coefficients solve a tridiagonal system `A c = f` with rows
//! `(1, 4, 1) / 6`. medburn applies the exact inverse `A^-1` (computed on the host in O(n^2),
//! n <= a few hundred) as a matrix product on the device: three batched matmuls, on every
//! backend, differentiable through Burn's own autodiff. A recursive filter would be O(n) per
//! line but needs its own kernel and backward on each backend; the matmul is fast enough next
//! to the 64-tap spline evaluation that follows.

use burn::tensor::{Tensor, TensorData};

/// The inverse of the mirror-boundary B-spline interpolation matrix of size `n`, row-major.
///
/// ```
/// let inv = medburn_ops::bspline_prefilter_matrix(3);
/// // A = [[4, 2, 0], [1, 4, 1], [0, 2, 4]] / 6; check A * inv = I on the first column.
/// let col0 = [inv[0], inv[3], inv[6]];
/// let a_row0 = (4.0 * col0[0] + 2.0 * col0[1]) / 6.0;
/// assert!((a_row0 - 1.0).abs() < 1e-12);
/// ```
pub fn bspline_prefilter_matrix(n: usize) -> Vec<f64> {
    if n == 1 {
        return vec![1.0];
    }
    // Tridiagonal A: sub[i] A[i][i-1], diag A[i][i], sup[i] A[i][i+1].
    let mut sub = vec![1.0 / 6.0; n];
    let diag = vec![4.0 / 6.0; n];
    let mut sup = vec![1.0 / 6.0; n];
    sup[0] = 2.0 / 6.0;
    sub[n - 1] = 2.0 / 6.0;
    // Thomas elimination once, then back substitution per unit vector.
    let mut cp = vec![0.0; n];
    let mut dp = vec![0.0; n];
    dp[0] = diag[0];
    cp[0] = sup[0] / dp[0];
    for i in 1..n {
        dp[i] = diag[i] - sub[i] * cp[i - 1];
        cp[i] = sup[i] / dp[i];
    }
    let mut inv = vec![0.0; n * n];
    let mut y = vec![0.0; n];
    for col in 0..n {
        for i in 0..n {
            let e = if i == col { 1.0 } else { 0.0 };
            y[i] = if i == 0 {
                e / dp[0]
            } else {
                (e - sub[i] * y[i - 1]) / dp[i]
            };
        }
        for i in (0..n - 1).rev() {
            y[i] -= cp[i] * y[i + 1];
        }
        for i in 0..n {
            inv[i * n + col] = y[i];
        }
    }
    inv
}

/// The matrix as a `[1, n, n]` tensor like `like`, transposed when `transpose`.
fn prefilter_tensor(n: usize, transpose: bool, like: &Tensor<5>) -> Tensor<3> {
    let mut m = bspline_prefilter_matrix(n);
    if transpose {
        let t: Vec<f64> = (0..n * n).map(|k| m[(k % n) * n + k / n]).collect();
        m = t;
    }
    Tensor::from_data(
        TensorData::new(m, [1, n, n]),
        (&like.device(), like.dtype()),
    )
}

/// Cubic B-spline coefficients of every channel of `input` `[N, C, D, H, W]`: interpolating
/// them with the B-spline kernel gives back the voxel values at the voxel centres.
/// Differentiable (three matrix products).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let device = Device::flex();
/// let x = Tensor::<1>::from_floats([0., 6., 0., 0.], &device).reshape([1, 1, 1, 1, 4]);
/// let c = medburn_ops::bspline_coefficients(x);
/// let c = c.into_data().try_to_vec::<f32>().unwrap();
/// // Interpolating the coefficients at voxel 1 gives 6 back: (c0 + 4 c1 + c2) / 6.
/// assert!(((c[0] + 4.0 * c[1] + c[2]) / 6.0 - 6.0).abs() < 1e-5);
/// ```
pub fn bspline_coefficients(input: Tensor<5>) -> Tensor<5> {
    let [n, c, d, h, w] = input.dims();
    let mut x = input;
    if w > 1 {
        let m = prefilter_tensor(w, true, &x);
        x = x
            .reshape([n * c, d * h, w])
            .matmul(m)
            .reshape([n, c, d, h, w]);
    }
    if h > 1 {
        let m = prefilter_tensor(h, false, &x);
        x = m
            .matmul(x.reshape([n * c * d, h, w]))
            .reshape([n, c, d, h, w]);
    }
    if d > 1 {
        let m = prefilter_tensor(d, false, &x);
        x = m
            .matmul(x.reshape([n * c, d, h * w]))
            .reshape([n, c, d, h, w]);
    }
    x
}
