//! Where each output point samples: a normalized grid or a voxel affine.

use super::super::taps::Real;
use super::block::LANES;
use super::Dims;
use crate::coordinates::unnormalize;

/// Where output point `(n, z, y, x)` samples, as a raw voxel position `(x, y, z)` (x along W),
/// and the derivative of that position with respect to the source coordinate, per axis.
pub(crate) trait Positions<T: Real>: Sync {
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3];
    /// The positions of points `x0 .. x0 + LANES` of row `(n, z, y)`, each as [`Self::at`].
    #[inline(always)]
    fn block(&self, n: usize, z: usize, y: usize, x0: usize) -> [[T; 3]; LANES] {
        let mut p = [[T::ZERO; 3]; LANES];
        for (l, p) in p.iter_mut().enumerate() {
            *p = self.at(n, z, y, x0 + l);
        }
        p
    }
    fn scale(&self) -> [T; 3];
    /// For sources where each position coordinate depends on one output index only
    /// (`p_a = s_a * index_a + o_a`, a diagonal voxel affine: resizing, scaling, shifting), the
    /// per-axis `(s, o)` of sample `n` in `(x, y, z)` order.
    fn axis_aligned(&self, _n: usize) -> Option<[(T, T); 3]> {
        None
    }
    /// For sources linear along a row, the position of point `x` of row `(n, z, y)` as
    /// `base + x * step`.
    fn row(&self, _n: usize, _z: usize, _y: usize) -> Option<([T; 3], [T; 3])> {
        None
    }
}

/// A grid `[N, D, H, W, 3]` in normalized coordinates, PyTorch's unnormalization.
pub(crate) struct GridPositions<'a, T> {
    grid: &'a [T],
    output: [usize; 3],
    scale: [T; 3],
    offset: [T; 3],
}

impl<'a, T: Real> GridPositions<'a, T> {
    pub fn new(grid: &'a [T], dims: Dims, align_corners: bool) -> Self {
        // x runs along W (dim 4), y along H, z along D.
        let sizes = [dims.input[4], dims.input[3], dims.input[2]];
        let map = sizes.map(|n| unnormalize(n, align_corners));
        let scale = map.map(|(s, _)| T::from_f64(s));
        let offset = map.map(|(_, t)| T::from_f64(t));
        Self {
            grid,
            output: dims.output,
            scale,
            offset,
        }
    }
}

impl<T: Real> Positions<T> for GridPositions<'_, T> {
    #[inline(always)]
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3] {
        let [d, h, w] = self.output;
        let b = (((n * d + z) * h + y) * w + x) * 3;
        let g = &self.grid[b..b + 3];
        [
            g[0] * self.scale[0] + self.offset[0],
            g[1] * self.scale[1] + self.offset[1],
            g[2] * self.scale[2] + self.offset[2],
        ]
    }
    #[inline(always)]
    fn block(&self, n: usize, z: usize, y: usize, x0: usize) -> [[T; 3]; LANES] {
        // One bounds check for the block's values.
        let [d, h, w] = self.output;
        let b = (((n * d + z) * h + y) * w + x0) * 3;
        let g = &self.grid[b..b + 3 * LANES];
        let mut p = [[T::ZERO; 3]; LANES];
        for (p, g) in p.iter_mut().zip(g.chunks_exact(3)) {
            for a in 0..3 {
                p[a] = g[a] * self.scale[a] + self.offset[a];
            }
        }
        p
    }
    fn scale(&self) -> [T; 3] {
        self.scale
    }
}

/// A `[N, 3, 4]` matrix from output voxel index `(i, j, k, 1)` to input voxel position.
pub(crate) struct AffinePositions<'a, T> {
    matrix: &'a [T],
}

impl<'a, T: Real> AffinePositions<'a, T> {
    pub fn new(matrix: &'a [T]) -> Self {
        Self { matrix }
    }
}

impl<T: Real> Positions<T> for AffinePositions<'_, T> {
    #[inline(always)]
    fn at(&self, n: usize, z: usize, y: usize, x: usize) -> [T; 3] {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let (i, j, k) = (
            T::from_f64(x as f64),
            T::from_f64(y as f64),
            T::from_f64(z as f64),
        );
        [
            m[0] * i + m[1] * j + m[2] * k + m[3],
            m[4] * i + m[5] * j + m[6] * k + m[7],
            m[8] * i + m[9] * j + m[10] * k + m[11],
        ]
    }
    fn scale(&self) -> [T; 3] {
        [T::ONE; 3]
    }
    fn row(&self, n: usize, z: usize, y: usize) -> Option<([T; 3], [T; 3])> {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let (j, k) = (T::from_f64(y as f64), T::from_f64(z as f64));
        let base = [0, 1, 2].map(|r| m[r * 4 + 1] * j + m[r * 4 + 2] * k + m[r * 4 + 3]);
        Some((base, [m[0], m[4], m[8]]))
    }
    fn axis_aligned(&self, n: usize) -> Option<[(T, T); 3]> {
        let m = &self.matrix[n * 12..n * 12 + 12];
        let off_diagonal = [m[1], m[2], m[4], m[6], m[8], m[9]];
        off_diagonal
            .iter()
            .all(|v| *v == T::ZERO)
            .then(|| [(m[0], m[3]), (m[5], m[7]), (m[10], m[11])])
    }
}
