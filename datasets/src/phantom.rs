//! Synthetic phantoms with physical geometry, made on the host and moved to a device.
//!
//! The 3D Shepp-Logan head phantom (Kak & Slaney's ten ellipsoids, with the
//! "modified" contrasts of Toft) is the classic test object of tomography: smooth
//! ellipsoidal edges, small features, known geometry.

use medburn_core::{Device, Direction, Geometry, ImageError, MedImage, Modality, Orientation};

/// Where and how finely a phantom is sampled.
///
/// ```
/// use medburn_datasets::phantom::PhantomSpec;
/// let s = PhantomSpec::cube(32);
/// assert_eq!(s.size, [32, 32, 32]);
/// assert_eq!(s.geometry()?.orientation().to_string(), "LPS");
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomSpec {
    /// Voxels along i, j, k.
    pub size: [usize; 3],
    /// Voxel spacing in mm.
    pub spacing: [f64; 3],
    /// Orientation of the voxel axes.
    pub direction: Direction,
    /// Diameter of the head in mm along its longest axis (the phantom spans [-1, 1] scaled by half of this).
    pub field_of_view_mm: f64,
}

impl PhantomSpec {
    /// An `n`^3 grid in LPS orientation whose field of view holds the phantom.
    ///
    /// ```
    /// assert_eq!(medburn_datasets::phantom::PhantomSpec::cube(8).spacing, [25.0; 3]);
    /// ```
    pub fn cube(n: usize) -> PhantomSpec {
        PhantomSpec {
            size: [n; 3],
            spacing: [200.0 / n.max(1) as f64; 3],
            direction: Direction::identity(),
            field_of_view_mm: 200.0,
        }
    }

    /// Same, with the voxel axes along `orientation` (e.g. RAS as NIfTI tools write).
    ///
    /// ```
    /// use medburn_core::Orientation;
    /// let s = medburn_datasets::phantom::PhantomSpec::cube(8).oriented(Orientation::RAS);
    /// assert_eq!(s.geometry()?.orientation(), Orientation::RAS);
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn oriented(mut self, orientation: Orientation) -> PhantomSpec {
        self.direction = orientation.to_direction();
        self
    }

    /// The grid, centred on the world origin.
    ///
    /// ```
    /// let g = medburn_datasets::phantom::PhantomSpec::cube(9).geometry()?;
    /// assert!(g.centre().iter().all(|c| c.abs() < 1e-9));
    /// # Ok::<(), medburn_core::GeometryError>(())
    /// ```
    pub fn geometry(&self) -> Result<Geometry, medburn_core::GeometryError> {
        // Place the origin so that the grid centre is at (0, 0, 0).
        let half = [0, 1, 2].map(|a| (self.size[a] as f64 - 1.0) / 2.0 * self.spacing[a]);
        let c = self.direction.apply(half);
        Geometry::new(
            self.size,
            [-c[0], -c[1], -c[2]],
            self.spacing,
            self.direction,
        )
    }
}

/// One ellipsoid: centre and semi-axes in units of the half field of view,
/// rotation about the superior axis in degrees, and the intensity it adds.
struct Ellipsoid {
    centre: [f64; 3],
    axes: [f64; 3],
    phi_deg: f64,
    value: f64,
}

/// Kak & Slaney's ten ellipsoids, in patient axes (x = left, y = posterior, z = superior).
const SHEPP_LOGAN: [Ellipsoid; 10] = [
    Ellipsoid {
        centre: [0.0, 0.0, 0.0],
        axes: [0.69, 0.92, 0.81],
        phi_deg: 0.0,
        value: 1.0,
    },
    Ellipsoid {
        centre: [0.0, -0.0184, 0.0],
        axes: [0.6624, 0.874, 0.78],
        phi_deg: 0.0,
        value: -0.8,
    },
    Ellipsoid {
        centre: [0.22, 0.0, 0.0],
        axes: [0.11, 0.31, 0.22],
        phi_deg: -18.0,
        value: -0.2,
    },
    Ellipsoid {
        centre: [-0.22, 0.0, 0.0],
        axes: [0.16, 0.41, 0.28],
        phi_deg: 18.0,
        value: -0.2,
    },
    Ellipsoid {
        centre: [0.0, 0.35, -0.15],
        axes: [0.21, 0.25, 0.41],
        phi_deg: 0.0,
        value: 0.1,
    },
    Ellipsoid {
        centre: [0.0, 0.1, 0.25],
        axes: [0.046, 0.046, 0.05],
        phi_deg: 0.0,
        value: 0.1,
    },
    Ellipsoid {
        centre: [0.0, -0.1, 0.25],
        axes: [0.046, 0.046, 0.05],
        phi_deg: 0.0,
        value: 0.1,
    },
    Ellipsoid {
        centre: [-0.08, -0.605, 0.0],
        axes: [0.046, 0.023, 0.05],
        phi_deg: 0.0,
        value: 0.1,
    },
    Ellipsoid {
        centre: [0.0, -0.606, 0.0],
        axes: [0.023, 0.023, 0.02],
        phi_deg: 0.0,
        value: 0.1,
    },
    Ellipsoid {
        centre: [0.06, -0.605, 0.0],
        axes: [0.023, 0.046, 0.02],
        phi_deg: 0.0,
        value: 0.1,
    },
];

/// The Shepp-Logan intensity at a physical point (LPS mm), for a field of view `fov` mm:
/// 0 outside the head, 1 in the skull, 0.2 in the brain, 0.1 to 0.4 in the features.
///
/// ```
/// use medburn_datasets::phantom::shepp_logan_at;
/// assert_eq!(shepp_logan_at([0.0, 0.0, 300.0], 200.0), 0.0);
/// assert!((shepp_logan_at([0.0, 0.0, 0.0], 200.0) - 0.2).abs() < 1e-12);
/// ```
pub fn shepp_logan_at(p: [f64; 3], fov: f64) -> f64 {
    let s = fov / 2.0;
    let q = [p[0] / s, p[1] / s, p[2] / s];
    let mut v = 0.0;
    for e in &SHEPP_LOGAN {
        let (sn, cs) = e.phi_deg.to_radians().sin_cos();
        let d = [q[0] - e.centre[0], q[1] - e.centre[1], q[2] - e.centre[2]];
        // Rotate the point into the ellipsoid's frame (about z).
        let x = cs * d[0] + sn * d[1];
        let y = -sn * d[0] + cs * d[1];
        let z = d[2];
        let r = (x / e.axes[0]).powi(2) + (y / e.axes[1]).powi(2) + (z / e.axes[2]).powi(2);
        if r <= 1.0 {
            v += e.value;
        }
    }
    v
}

/// A CT-like Shepp-Logan head: intensities mapped to Hounsfield-like units
/// (`-1000 + 2000 * value`: air -1000, skull 1000, brain -600), modality CT.
///
/// ```
/// use medburn_core::Device;
/// use medburn_datasets::phantom::{shepp_logan, PhantomSpec};
/// let img = shepp_logan(&PhantomSpec::cube(8), &Device::flex())?;
/// let v = img.to_vec()?;
/// assert_eq!(v[0], -1000.0); // a corner is air
/// # Ok::<(), medburn_core::ImageError>(())
/// ```
pub fn shepp_logan(spec: &PhantomSpec, device: &Device) -> Result<MedImage, ImageError> {
    let g = spec.geometry()?;
    let values: Vec<f32> = g
        .physical_points()
        .into_iter()
        .map(|p| (-1000.0 + 2000.0 * shepp_logan_at(p, spec.field_of_view_mm)) as f32)
        .collect();
    Ok(MedImage::from_vec(values, 1, g, device)?
        .with_modality(Modality::Ct)
        .with_subtype("Shepp-Logan phantom"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phantom_is_placed_in_physical_space_whatever_the_orientation() {
        // The same physical point must have the same intensity in LPS and RAS grids.
        let d = Device::flex();
        let lps = shepp_logan(&PhantomSpec::cube(16), &d).unwrap();
        let ras = shepp_logan(&PhantomSpec::cube(16).oriented(Orientation::RAS), &d).unwrap();
        let (a, b) = (lps.to_vec().unwrap(), ras.to_vec().unwrap());
        for idx in [[3usize, 5, 7], [8, 8, 8], [12, 2, 9]] {
            let p = lps.geometry().index_to_physical(idx.map(|v| v as f64));
            let q = ras.geometry().physical_to_nearest_index(p).unwrap();
            let flat = |i: [usize; 3]| i[0] + 16 * (i[1] + 16 * i[2]);
            assert_eq!(a[flat(idx)], b[flat(q)]);
        }
        // The skull is there and the brain is darker than the skull.
        assert!(a.contains(&1000.0));
        assert!(a.iter().any(|&v| (v + 600.0).abs() < 1e-3));
    }
}
