#[cfg(feature = "burn")]
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::direction::ORTHONORMAL_TOLERANCE;
use crate::vec3::{mat3_apply, mat3_inverse};
use crate::{Direction, GeometryError, Orientation};

/// Where a voxel grid lies in physical (LPS, mm) space.
///
/// `size` is `[i, j, k]`, `origin` is the centre of voxel `(0, 0, 0)`, `spacing`
/// the distance between voxel centres along each index axis, and `direction`
/// the unit world vectors of the index axes (its columns). A valid geometry has
/// non-zero sizes, positive finite spacings, a finite origin and an orthonormal
/// direction; [`Geometry::new`] checks all of it.
///
/// ```
/// use medburn_core::{Direction, Geometry, Orientation};
///
/// let g = Geometry::new([10, 10, 5], [-4.5, -4.5, 0.0], [1.0, 1.0, 2.0], Orientation::RAS.to_direction())?;
/// // i runs to the right, which is -x in LPS.
/// assert_eq!(g.index_to_physical([1.0, 0.0, 0.0]), [-5.5, -4.5, 0.0]);
/// assert_eq!(g.physical_to_index([-5.5, -4.5, 4.0]), [1.0, 0.0, 2.0]);
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    size: [usize; 3],
    origin: [f64; 3],
    spacing: [f64; 3],
    direction: Direction,
}

impl Geometry {
    /// A validated geometry.
    ///
    /// ```
    /// use medburn_core::{Direction, Geometry};
    /// assert!(Geometry::new([2, 2, 2], [0.0; 3], [1.0, f64::NAN, 1.0], Direction::identity()).is_err());
    /// ```
    pub fn new(
        size: [usize; 3],
        origin: [f64; 3],
        spacing: [f64; 3],
        direction: Direction,
    ) -> Result<Geometry, GeometryError> {
        Self::with_tolerance(size, origin, spacing, direction, ORTHONORMAL_TOLERANCE)
    }

    /// As [`Geometry::new`], with an explicit orthonormality tolerance for `direction`.
    ///
    /// ```
    /// use medburn_core::{Direction, Geometry};
    /// let d = Direction::from_row_major([1.0, 1e-3, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    /// assert!(Geometry::with_tolerance([2; 3], [0.0; 3], [1.0; 3], d, 1e-2).is_ok());
    /// assert!(Geometry::with_tolerance([2; 3], [0.0; 3], [1.0; 3], d, 1e-4).is_err());
    /// ```
    pub fn with_tolerance(
        size: [usize; 3],
        origin: [f64; 3],
        spacing: [f64; 3],
        direction: Direction,
        tolerance: f64,
    ) -> Result<Geometry, GeometryError> {
        for (axis, &n) in size.iter().enumerate() {
            if n == 0 {
                return Err(GeometryError::ZeroSize { axis });
            }
        }
        for (axis, &s) in spacing.iter().enumerate() {
            if !(s.is_finite() && s > 0.0) {
                return Err(GeometryError::BadSpacing { axis, value: s });
            }
        }
        for (axis, &o) in origin.iter().enumerate() {
            if !o.is_finite() {
                return Err(GeometryError::BadOrigin { axis, value: o });
            }
        }
        direction.validate(tolerance)?;
        Ok(Geometry {
            size,
            origin,
            spacing,
            direction,
        })
    }

    /// An axis-aligned (identity direction) geometry with origin 0 and unit spacing.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([3, 4, 5])?;
    /// assert_eq!(g.num_voxels(), 60);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn unit(size: [usize; 3]) -> Result<Geometry, GeometryError> {
        Self::new(size, [0.0; 3], [1.0; 3], Direction::identity())
    }

    /// Voxels along `i`, `j`, `k`.
    ///
    /// ```
    /// assert_eq!(medburn_core::Geometry::unit([3, 4, 5])?.size(), [3, 4, 5]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn size(&self) -> [usize; 3] {
        self.size
    }

    /// The grid's extent in tensor order `[D, H, W]`: [`size`](Geometry::size) `[i, j, k]`
    /// reversed (W = i, H = j, D = k), what a voxel tensor `[N, C, D, H, W]` of this grid has
    /// after `N` and `C`, and what the sampling ops take as an output size.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([3, 4, 5])?;
    /// assert_eq!(g.dhw(), [5, 4, 3]);
    /// assert_eq!(medburn_core::dhw_to_ijk(g.dhw()), g.size());
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn dhw(&self) -> [usize; 3] {
        ijk_to_dhw(self.size)
    }

    /// The shape `[N, C, D, H, W]` of a batch of `n` images of `channels` channels on this
    /// grid.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([3, 4, 5])?;
    /// assert_eq!(g.tensor_shape(2, 1), [2, 1, 5, 4, 3]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn tensor_shape(&self, n: usize, channels: usize) -> [usize; 5] {
        let [d, h, w] = self.dhw();
        [n, channels, d, h, w]
    }

    /// Physical point (LPS mm) of the centre of voxel `(0, 0, 0)`.
    ///
    /// ```
    /// assert_eq!(medburn_core::Geometry::unit([1, 1, 1])?.origin(), [0.0; 3]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn origin(&self) -> [f64; 3] {
        self.origin
    }

    /// Distance in mm between neighbouring voxel centres along `i`, `j`, `k`.
    ///
    /// ```
    /// assert_eq!(medburn_core::Geometry::unit([1, 1, 1])?.spacing(), [1.0; 3]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn spacing(&self) -> [f64; 3] {
        self.spacing
    }

    /// The direction matrix.
    ///
    /// ```
    /// use medburn_core::{Direction, Geometry};
    /// assert_eq!(Geometry::unit([1, 1, 1])?.direction(), Direction::identity());
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// Number of voxels.
    ///
    /// ```
    /// assert_eq!(medburn_core::Geometry::unit([2, 3, 4])?.num_voxels(), 24);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn num_voxels(&self) -> usize {
        self.size.iter().product()
    }

    /// The orientation code the direction is closest to.
    ///
    /// ```
    /// use medburn_core::{Geometry, Orientation};
    /// let g = Geometry::new([2; 3], [0.0; 3], [1.0; 3], Orientation::LAS.to_direction())?;
    /// assert_eq!(g.orientation(), Orientation::LAS);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn orientation(&self) -> Orientation {
        Orientation::of_direction(&self.direction)
    }

    /// Same grid, other size (origin, spacing, direction kept).
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([2, 2, 2])?.with_size([4, 4, 4])?;
    /// assert_eq!(g.size(), [4, 4, 4]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn with_size(&self, size: [usize; 3]) -> Result<Geometry, GeometryError> {
        Self::new(size, self.origin, self.spacing, self.direction)
    }

    /// Same grid, other origin.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([2, 2, 2])?.with_origin([1.0, 2.0, 3.0])?;
    /// assert_eq!(g.origin(), [1.0, 2.0, 3.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn with_origin(&self, origin: [f64; 3]) -> Result<Geometry, GeometryError> {
        Self::new(self.size, origin, self.spacing, self.direction)
    }

    /// Physical point (LPS mm) of a continuous index `(i, j, k)`:
    /// `origin + direction * diag(spacing) * index`.
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([4; 3], [1.0, 1.0, 1.0], [2.0; 3], medburn_core::Direction::identity())?;
    /// assert_eq!(g.index_to_physical([1.0, 0.5, 0.0]), [3.0, 2.0, 1.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn index_to_physical(&self, index: [f64; 3]) -> [f64; 3] {
        let scaled = [
            index[0] * self.spacing[0],
            index[1] * self.spacing[1],
            index[2] * self.spacing[2],
        ];
        let d = self.direction.apply(scaled);
        [
            self.origin[0] + d[0],
            self.origin[1] + d[1],
            self.origin[2] + d[2],
        ]
    }

    /// Continuous index of a physical point: the inverse of [`Geometry::index_to_physical`].
    ///
    /// The direction's exact inverse is used (not its transpose), so a direction
    /// that is orthonormal only to the tolerance still round-trips.
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([4; 3], [1.0, 1.0, 1.0], [2.0; 3], medburn_core::Direction::identity())?;
    /// assert_eq!(g.physical_to_index([3.0, 2.0, 1.0]), [1.0, 0.5, 0.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_to_index(&self, point: [f64; 3]) -> [f64; 3] {
        let inv = self.physical_to_index_matrix();
        let rel = [
            point[0] - self.origin[0],
            point[1] - self.origin[1],
            point[2] - self.origin[2],
        ];
        mat3_apply(&inv, rel)
    }

    /// The nearest voxel index of a physical point, or `None` if it lies outside the grid.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([4, 4, 4])?;
    /// assert_eq!(g.physical_to_nearest_index([1.4, 2.6, 0.0]), Some([1, 3, 0]));
    /// assert_eq!(g.physical_to_nearest_index([-1.0, 0.0, 0.0]), None);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_to_nearest_index(&self, point: [f64; 3]) -> Option<[usize; 3]> {
        let c = self.physical_to_index(point);
        let mut out = [0usize; 3];
        for a in 0..3 {
            let r = c[a].round();
            if !(r >= 0.0 && r < self.size[a] as f64) {
                return None;
            }
            out[a] = r as usize;
        }
        Some(out)
    }

    /// The 4x4 index-to-LPS affine, row-major: `p = A (i, j, k, 1)`.
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([4; 3], [1.0, 2.0, 3.0], [2.0; 3], medburn_core::Direction::identity())?;
    /// let a = g.affine_lps();
    /// assert_eq!(a[0], [2.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(a[3], [0.0, 0.0, 0.0, 1.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn affine_lps(&self) -> [[f64; 4]; 4] {
        let m = self.index_to_physical_matrix();
        let mut a = [[0.0; 4]; 4];
        for r in 0..3 {
            a[r][..3].copy_from_slice(&m[r]);
            a[r][3] = self.origin[r];
        }
        a[3][3] = 1.0;
        a
    }

    /// The 4x4 index-to-RAS affine (what NIfTI and nibabel call the affine).
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([4; 3], [1.0, 2.0, 3.0], [1.0; 3], medburn_core::Direction::identity())?;
    /// assert_eq!(g.affine_ras()[0], [-1.0, 0.0, 0.0, -1.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn affine_ras(&self) -> [[f64; 4]; 4] {
        lps_ras_flip(self.affine_lps())
    }

    /// A geometry from an index-to-LPS affine: spacing is the length of each of
    /// the first three columns, direction the normalized columns.
    ///
    /// ```
    /// use medburn_core::Geometry;
    /// let g = Geometry::from_affine_lps([4; 3], [[0.0, 0.0, 3.0, 10.0], [2.0, 0.0, 0.0, 0.0], [0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])?;
    /// assert_eq!(g.spacing(), [2.0, 2.0, 3.0]);
    /// assert_eq!(g.orientation().to_string(), "PSL");
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn from_affine_lps(
        size: [usize; 3],
        affine: [[f64; 4]; 4],
    ) -> Result<Geometry, GeometryError> {
        let mut spacing = [0.0; 3];
        let mut cols = [[0.0; 3]; 3];
        for c in 0..3 {
            let v = [affine[0][c], affine[1][c], affine[2][c]];
            let n = crate::vec3::norm(v);
            spacing[c] = n;
            cols[c] = if n > 0.0 && n.is_finite() {
                [v[0] / n, v[1] / n, v[2] / n]
            } else {
                v
            };
        }
        let origin = [affine[0][3], affine[1][3], affine[2][3]];
        Self::new(size, origin, spacing, Direction::from_columns(cols))
    }

    /// A geometry from an index-to-RAS affine (NIfTI's sform).
    ///
    /// ```
    /// use medburn_core::{Geometry, Orientation};
    /// let g = Geometry::from_affine_ras([4; 3], [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])?;
    /// assert_eq!(g.orientation(), Orientation::RAS);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn from_affine_ras(
        size: [usize; 3],
        affine: [[f64; 4]; 4],
    ) -> Result<Geometry, GeometryError> {
        Self::from_affine_lps(size, lps_ras_flip(affine))
    }

    /// The 3x3 matrix `direction * diag(spacing)`, row-major.
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([2; 3], [0.0; 3], [1.0, 2.0, 3.0], medburn_core::Direction::identity())?;
    /// assert_eq!(g.index_to_physical_matrix()[2], [0.0, 0.0, 3.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn index_to_physical_matrix(&self) -> [[f64; 3]; 3] {
        let d = self.direction.rows();
        let mut m = [[0.0; 3]; 3];
        for r in 0..3 {
            for c in 0..3 {
                m[r][c] = d[r][c] * self.spacing[c];
            }
        }
        m
    }

    /// The inverse of [`Geometry::index_to_physical_matrix`].
    ///
    /// ```
    /// let g = medburn_core::Geometry::new([2; 3], [0.0; 3], [1.0, 2.0, 4.0], medburn_core::Direction::identity())?;
    /// assert_eq!(g.physical_to_index_matrix()[2], [0.0, 0.0, 0.25]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_to_index_matrix(&self) -> [[f64; 3]; 3] {
        // Validated geometries have an orthonormal direction and positive spacings.
        mat3_inverse(&self.index_to_physical_matrix())
            .expect("a geometry's index map is invertible")
    }

    /// Physical centre of the voxel grid (the midpoint between the first and last voxel centres).
    ///
    /// ```
    /// assert_eq!(medburn_core::Geometry::unit([3, 5, 1])?.centre(), [1.0, 2.0, 0.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn centre(&self) -> [f64; 3] {
        self.index_to_physical(self.size.map(|n| (n as f64 - 1.0) / 2.0))
    }

    /// Physical points of every voxel centre, `i` fastest, on the CPU.
    ///
    /// ```
    /// let g = medburn_core::Geometry::unit([2, 1, 1])?;
    /// assert_eq!(g.physical_points(), vec![[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn physical_points(&self) -> Vec<[f64; 3]> {
        let [ni, nj, nk] = self.size;
        let mut out = Vec::with_capacity(self.num_voxels());
        for k in 0..nk {
            for j in 0..nj {
                for i in 0..ni {
                    out.push(self.index_to_physical([i as f64, j as f64, k as f64]));
                }
            }
        }
        out
    }

    /// Physical points of every voxel centre as a `[D, H, W, 3]` tensor (x, y, z last),
    /// computed on `device` (no host-side grid).
    ///
    /// ```
    /// use medburn_core::{Device, Geometry};
    /// let g = Geometry::new([3, 2, 2], [10.0, 0.0, 0.0], [2.0; 3], medburn_core::Direction::identity())?;
    /// let p = g.physical_grid(&Device::flex());
    /// assert_eq!(p.dims(), [2, 2, 3, 3]);
    /// let v = p.into_data().try_to_vec::<f32>().unwrap();
    /// assert_eq!(&v[3..6], &[12.0, 0.0, 0.0]); // voxel (1, 0, 0)
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    #[cfg(feature = "burn")]
    pub fn physical_grid(&self, device: &Device) -> Tensor<4> {
        let [ni, nj, nk] = self.size;
        let [d, h, w] = self.dhw();
        let m = self.index_to_physical_matrix();
        let axis = |n: usize, shape: [usize; 4]| -> Tensor<4> {
            Tensor::<1, Int>::arange(0..n as i64, device)
                .float()
                .reshape(shape)
        };
        let i = axis(ni, [1, 1, ni, 1]);
        let j = axis(nj, [1, nj, 1, 1]);
        let k = axis(nk, [nk, 1, 1, 1]);
        let row = |r: usize| -> Tensor<4> {
            // One world coordinate: o_r + m_r0 i + m_r1 j + m_r2 k, broadcast to [D, H, W, 1].
            (i.clone() * m[r][0] + j.clone() * m[r][1] + k.clone() * m[r][2] + self.origin[r])
                .expand([d, h, w, 1])
        };
        Tensor::cat(vec![row(0), row(1), row(2)], 3)
    }

    /// Continuous indices `(i, j, k)` of physical points given as an `[n, 3]` tensor, on its device.
    ///
    /// ```
    /// use medburn_core::{Device, Geometry, Tensor};
    /// let g = Geometry::new([4; 3], [1.0, 1.0, 1.0], [2.0; 3], medburn_core::Direction::identity())?;
    /// let pts = Tensor::<2>::from_data([[3.0, 2.0, 1.0]], &Device::flex());
    /// let idx = g.physical_to_index_tensor(pts).into_data().try_to_vec::<f32>().unwrap();
    /// assert_eq!(idx, vec![1.0, 0.5, 0.0]);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    #[cfg(feature = "burn")]
    pub fn physical_to_index_tensor(&self, points: Tensor<2>) -> Tensor<2> {
        let device = points.device();
        let inv = self.physical_to_index_matrix();
        // idx = (p - o) M^-T as a row-vector product.
        let mt: Vec<f32> = (0..3)
            .flat_map(|c| (0..3).map(move |r| (c, r)))
            .map(|(c, r)| inv[r][c] as f32)
            .collect();
        let mt = Tensor::<2>::from_data(TensorData::new(mt, [3, 3]), &device);
        let o = Tensor::<2>::from_data(
            TensorData::new(self.origin.map(|v| v as f32).to_vec(), [1, 3]),
            &device,
        );
        (points - o).matmul(mt)
    }
}

/// Negates the first two rows of a 4x4 affine: LPS <-> RAS (the map is its own inverse).
fn lps_ras_flip(mut a: [[f64; 4]; 4]) -> [[f64; 4]; 4] {
    for row in a.iter_mut().take(2) {
        for v in row.iter_mut() {
            *v = -*v;
        }
    }
    a
}

/// Per-axis values in index order `[i, j, k]` (sizes, spacings, sigmas, zooms) to tensor order
/// `[D, H, W]`: reversed, since W = i, H = j and D = k. [`dhw_to_ijk`] goes back.
///
/// ```
/// use medburn_core::{dhw_to_ijk, ijk_to_dhw};
/// assert_eq!(ijk_to_dhw([0.5, 1.0, 2.5]), [2.5, 1.0, 0.5]);
/// assert_eq!(dhw_to_ijk(ijk_to_dhw([3, 4, 5])), [3, 4, 5]);
/// ```
pub fn ijk_to_dhw<T>(ijk: [T; 3]) -> [T; 3] {
    let [i, j, k] = ijk;
    [k, j, i]
}

/// Per-axis values in tensor order `[D, H, W]` to index order `[i, j, k]`: the inverse of
/// [`ijk_to_dhw`].
///
/// ```
/// // A voxel tensor [N, C, D, H, W] of 2 x 3 x 4 voxels along k, j, i.
/// let [_, _, d, h, w] = [1, 1, 2, 3, 4];
/// assert_eq!(medburn_core::dhw_to_ijk([d, h, w]), [4, 3, 2]);
/// ```
pub fn dhw_to_ijk<T>(dhw: [T; 3]) -> [T; 3] {
    let [d, h, w] = dhw;
    [w, h, d]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn oblique() -> Geometry {
        // 30 degrees about z, then a flip of k: an improper, oblique direction.
        let (s, c) = 30f64.to_radians().sin_cos();
        let d = Direction::from_row_major([c, -s, 0.0, s, c, 0.0, 0.0, 0.0, -1.0]);
        Geometry::new([5, 6, 7], [10.0, -20.0, 30.5], [0.7, 1.3, 2.9], d).unwrap()
    }

    #[test]
    fn index_physical_round_trip_on_oblique_grid() {
        let g = oblique();
        for idx in [[0.0, 0.0, 0.0], [4.0, 5.0, 6.0], [1.25, -3.5, 100.0]] {
            let p = g.physical_to_index(g.index_to_physical(idx));
            for a in 0..3 {
                assert!((p[a] - idx[a]).abs() < 1e-12, "{p:?} vs {idx:?}");
            }
        }
    }

    #[test]
    fn affine_round_trips_through_lps_and_ras() {
        let g = oblique();
        let back = Geometry::from_affine_lps(g.size(), g.affine_lps()).unwrap();
        let back_ras = Geometry::from_affine_ras(g.size(), g.affine_ras()).unwrap();
        for b in [back, back_ras] {
            for a in 0..3 {
                assert!((b.spacing()[a] - g.spacing()[a]).abs() < 1e-12);
                assert!((b.origin()[a] - g.origin()[a]).abs() < 1e-12);
            }
            let (x, y) = (b.direction().row_major(), g.direction().row_major());
            assert!(x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-12));
        }
        // RAS affine of an LPS point negates x and y.
        let a = g.affine_ras();
        assert_eq!(a[0][3], -10.0);
        assert_eq!(a[1][3], 20.0);
        assert_eq!(a[2][3], 30.5);
    }

    #[test]
    fn validation_names_the_problem() {
        let d = Direction::identity();
        assert_eq!(
            Geometry::new([1, 0, 1], [0.0; 3], [1.0; 3], d),
            Err(GeometryError::ZeroSize { axis: 1 })
        );
        assert!(matches!(
            Geometry::new([1; 3], [0.0; 3], [1.0, 1.0, 0.0], d),
            Err(GeometryError::BadSpacing { axis: 2, .. })
        ));
        assert!(matches!(
            Geometry::new([1; 3], [0.0; 3], [-1.0, 1.0, 1.0], d),
            Err(GeometryError::BadSpacing { axis: 0, .. })
        ));
        assert!(matches!(
            Geometry::new([1; 3], [0.0, f64::INFINITY, 0.0], [1.0; 3], d),
            Err(GeometryError::BadOrigin { axis: 1, .. })
        ));
        let singular = Direction::from_row_major([1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(matches!(
            Geometry::new([1; 3], [0.0; 3], [1.0; 3], singular),
            Err(GeometryError::Singular { .. })
        ));
        let nan = Direction::from_row_major([f64::NAN, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
        assert!(Geometry::new([1; 3], [0.0; 3], [1.0; 3], nan).is_err());
    }

    #[cfg(feature = "burn")]
    #[test]
    fn tensor_grids_match_scalar_conversions() {
        let g = oblique();
        let device = Device::flex();
        let grid = g.physical_grid(&device);
        assert_eq!(grid.dims(), [7, 6, 5, 3]);
        let v = grid.clone().into_data().try_to_vec::<f32>().unwrap();
        let expect = g.physical_points();
        for (n, p) in expect.iter().enumerate() {
            for a in 0..3 {
                assert!(
                    (v[n * 3 + a] as f64 - p[a]).abs() < 1e-4,
                    "voxel {n} axis {a}"
                );
            }
        }
        let idx = g.physical_to_index_tensor(grid.reshape([7 * 6 * 5, 3]));
        let idx = idx.into_data().try_to_vec::<f32>().unwrap();
        let mut n = 0;
        for k in 0..7 {
            for j in 0..6 {
                for i in 0..5 {
                    let want = [i as f32, j as f32, k as f32];
                    for a in 0..3 {
                        assert!((idx[n * 3 + a] - want[a]).abs() < 1e-3);
                    }
                    n += 1;
                }
            }
        }
    }
}
