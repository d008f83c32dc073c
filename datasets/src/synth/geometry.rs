//! The voxel grid of a case: anisotropic spacing, orientation (any of the 48
//! codes, optionally a few degrees oblique) and a grid centre near the head.

use medburn_core::{Direction, Geometry, GeometryError, Orientation};
use rand::Rng;

use super::anatomy::{add, small_rotation};
use super::{uniform, SynthConfig, SynthError};

/// A grid of `size` voxels with `spacing` and `direction` whose centre lies at the
/// world point `centre` (LPS, mm).
///
/// ```
/// use medburn_core::Orientation;
/// use medburn_datasets::synth::centred_grid;
/// let g = centred_grid([5, 5, 3], [1.0, 1.0, 2.0], Orientation::RAS.to_direction(), [10.0, 0.0, 0.0])?;
/// assert_eq!(g.index_to_physical([2.0, 2.0, 1.0]), [10.0, 0.0, 0.0]);
/// # Ok::<(), medburn_core::GeometryError>(())
/// ```
pub fn centred_grid(
    size: [usize; 3],
    spacing: [f64; 3],
    direction: Direction,
    centre: [f64; 3],
) -> Result<Geometry, GeometryError> {
    let half = [0, 1, 2].map(|a| (size[a] as f64 - 1.0) / 2.0 * spacing[a]);
    let c = direction.apply(half);
    Geometry::new(
        size,
        [centre[0] - c[0], centre[1] - c[1], centre[2] - c[2]],
        spacing,
        direction,
    )
}

/// Draws the grid of one case around the world point `head_centre`.
///
/// - orientation: uniformly among `config.orientations` (all 48 codes when empty),
///   then rotated by up to `config.max_oblique_deg` about a random axis (still
///   closest to the chosen code, which is returned);
/// - spacing: in-plane (i, j) `config.field_of_view_mm / config.size` times a factor
///   in `config.inplane_spacing_factor`, slice (k) that times a ratio in
///   `config.slice_spacing_ratio`;
/// - the grid centre: `head_centre` moved by up to `config.grid_shift_mm` per axis.
///
/// ```
/// use medburn_datasets::synth::{sample_geometry, SynthConfig};
/// use rand::SeedableRng;
/// let cfg = SynthConfig { size: 32, orientations: vec!["PIL".into()], ..SynthConfig::default() };
/// let (g, o) = sample_geometry(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &cfg, [0.0; 3])?;
/// assert_eq!(o.to_string(), "PIL");
/// assert_eq!(g.orientation(), o);
/// assert!(g.spacing()[2] >= g.spacing()[0]);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
pub fn sample_geometry(
    rng: &mut impl Rng,
    config: &SynthConfig,
    head_centre: [f64; 3],
) -> Result<(Geometry, Orientation), SynthError> {
    let choices = config.orientation_choices()?;
    let orientation = choices[rng.random_range(0..choices.len())];
    let oblique = small_rotation(rng, config.max_oblique_deg.clamp(0.0, 30.0));
    let mut direction = oblique.matmul(&orientation.to_direction());
    if Orientation::of_direction(&direction) != orientation {
        direction = orientation.to_direction();
    }
    let nominal = config.field_of_view_mm / config.size as f64;
    let inplane = nominal * uniform(rng, config.inplane_spacing_factor);
    let slice = inplane * uniform(rng, config.slice_spacing_ratio);
    let shift = config.grid_shift_mm.abs();
    let jitter = [0, 1, 2].map(|_| {
        if shift > 0.0 {
            rng.random_range(-shift..=shift)
        } else {
            0.0
        }
    });
    let geometry = centred_grid(
        [config.size; 3],
        [inplane, inplane, slice],
        direction,
        add(head_centre, jitter),
    )?;
    Ok((geometry, orientation))
}
