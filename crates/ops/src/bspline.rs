//! The cubic B-spline prefilter: interpolation coefficients from voxel values, as ITK's
//! `BSplineDecompositionImageFilter` (mirror boundary: coefficient -1 equals coefficient 1).
//!
//! Along each axis the coefficients solve a tridiagonal system `A c = f` with rows
//! `(1, 4, 1) / 6`. Every line is solved by its Thomas factorization (computed once per axis
//! length on the host), O(1) per voxel, by a backend op with its own backward (the transposed
//! system): 512^3 takes seconds and no `n x n` matrix is formed.

use burn::backend::Dispatch;
use burn::tensor::Tensor;

use crate::backend::SamplingBackend;

/// The inverse of the mirror-boundary B-spline interpolation matrix of size `n`, row-major
/// (dense, O(n^2): a reference for tests, not what [`bspline_coefficients`] uses).
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

/// The Thomas factorization of the prefilter's tridiagonal system along an axis of `n` voxels
/// (or of its transpose, for the backward pass): solving is a forward sweep
/// `y_i = (f_i - sub_i y_(i-1)) * inv_pivot_i` and a backward sweep `y_i -= upper_i y_(i+1)`.
///
/// Why not ITK's recursive filter (pole `sqrt(3) - 2`)? It costs the same O(1) per voxel but
/// truncates its initialization, and its adjoint at the mirror boundary is a different filter;
/// the factorization is exact and its transpose is the same kind of system.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Tridiagonal {
    pub sub: Vec<f64>,
    pub inv_pivot: Vec<f64>,
    pub upper: Vec<f64>,
}

impl Tridiagonal {
    /// The factorization of `A` (or `A^T` when `transpose`), `A` the mirror-boundary cubic
    /// B-spline interpolation matrix: rows `(1, 4, 1) / 6`, first row `(4, 2) / 6`, last row
    /// `(2, 4) / 6`.
    pub fn prefilter(n: usize, transpose: bool) -> Self {
        let mut sub = vec![1.0 / 6.0; n];
        let mut sup = vec![1.0 / 6.0; n];
        if n > 1 {
            sup[0] = 2.0 / 6.0;
            sub[n - 1] = 2.0 / 6.0;
        }
        if transpose {
            // (A^T)[i][i-1] = A[i-1][i], (A^T)[i][i+1] = A[i+1][i].
            let (s, u) = (sub.clone(), sup.clone());
            for i in 0..n {
                sub[i] = if i > 0 { u[i - 1] } else { 0.0 };
                sup[i] = if i + 1 < n { s[i + 1] } else { 0.0 };
            }
        }
        let (mut inv_pivot, mut upper) = (vec![0.0; n], vec![0.0; n]);
        let mut prev_upper = 0.0;
        for i in 0..n {
            let pivot = if n == 1 {
                1.0
            } else {
                4.0 / 6.0 - if i > 0 { sub[i] * prev_upper } else { 0.0 }
            };
            inv_pivot[i] = 1.0 / pivot;
            upper[i] = if i + 1 < n { sup[i] / pivot } else { 0.0 };
            prev_upper = upper[i];
        }
        sub[0] = 0.0;
        Self {
            sub,
            inv_pivot,
            upper,
        }
    }

    /// Solves in place along one line of `x` (f64, for tests and the host).
    #[cfg(test)]
    pub fn solve(&self, x: &mut [f64]) {
        let n = x.len();
        for i in 0..n {
            let prev = if i > 0 { x[i - 1] } else { 0.0 };
            x[i] = (x[i] - self.sub[i] * prev) * self.inv_pivot[i];
        }
        for i in (0..n.saturating_sub(1)).rev() {
            x[i] -= self.upper[i] * x[i + 1];
        }
    }
}

/// Cubic B-spline coefficients of every channel of `input` `[N, C, D, H, W]`: interpolating
/// them with the B-spline kernel gives back the voxel values at the voxel centres.
///
/// Each axis solves the tridiagonal interpolation system on every line, O(1) per voxel
/// (`SamplingBackend::bspline_prefilter_axis`, on Flex, CubeCL and under autodiff, whose
/// backward solves the transposed system), in place of a dense `n x n` inverse.
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
    let dims = input.dims();
    let mut x = input;
    for axis in [4, 3, 2] {
        if dims[axis] > 1 {
            x = Tensor::from_dispatch(<Dispatch as SamplingBackend>::bspline_prefilter_axis(
                x.into_dispatch(),
                axis,
                false,
            ));
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The factorization solves `A` and `A^T` as the dense inverse does.
    #[test]
    fn thomas_solves_agree_with_the_dense_inverse() {
        for n in [1usize, 2, 3, 5, 17] {
            let inv = bspline_prefilter_matrix(n);
            for transpose in [false, true] {
                let t = Tridiagonal::prefilter(n, transpose);
                for col in 0..n {
                    let mut e = vec![0.0; n];
                    e[col] = 1.0;
                    t.solve(&mut e);
                    for (row, v) in e.iter().enumerate() {
                        let want = if transpose {
                            inv[col * n + row]
                        } else {
                            inv[row * n + col]
                        };
                        assert!((v - want).abs() < 1e-12, "n {n} transpose {transpose}");
                    }
                }
            }
        }
    }
}
