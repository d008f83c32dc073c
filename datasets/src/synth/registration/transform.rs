//! The known transform of a same-subject pair: a smooth diffeomorphic displacement followed by
//! an affine map, `T(x) = A(x + u(x))` from a fixed-image point to a moving-image point (LPS,
//! mm), with its Jacobian and its inverse.

use medburn_core::vec3::{mat3_apply, mat3_inverse, mat3_mul};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::super::anatomy::{add, dot, norm, random_unit, scale, small_rotation, sub};
use super::super::{uniform, SynthError};
use super::RegistrationConfig;

/// One term of a [`SmoothDisplacement`]: `amplitude * sin(wave . (x - centre) + phase)`.
///
/// ```
/// use medburn_datasets::synth::registration::DisplacementTerm;
/// let t = DisplacementTerm { amplitude: [2.0, 0.0, 0.0], wave: [0.1, 0.0, 0.0], phase: 0.0 };
/// assert_eq!(t.wavelength_mm(), std::f64::consts::TAU / 0.1);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DisplacementTerm {
    /// The displacement vector at the crest (LPS, mm).
    pub amplitude: [f64; 3],
    /// Wave vector, radians per mm.
    pub wave: [f64; 3],
    /// Phase, radians.
    pub phase: f64,
}

impl DisplacementTerm {
    /// The distance between crests, mm (`2 pi / |wave|`).
    pub fn wavelength_mm(&self) -> f64 {
        std::f64::consts::TAU / norm(self.wave).max(1e-300)
    }
}

/// A smooth displacement field of the world (LPS, mm): Gaussian-windowed sinusoids,
/// `u(x) = g(x) sum_k a_k sin(w_k . (x - c) + phi_k)` with `g(x) = exp(-|x - c|^2 / (2 s^2))`.
///
/// The map `x -> x + u(x)` is a diffeomorphism when `u` is a contraction, which
/// [`SmoothDisplacement::lipschitz_bound`] bounds: `|grad u| <= sum_k |a_k| (|w_k| + 1 / (s
/// sqrt(e)))` (the spectral norm), so `det(I + grad u) >= (1 - L)^3 > 0` everywhere for a bound
/// `L < 1`, and the inverse is the limit of the fixed-point iteration `x <- z - u(x)`.
///
/// ```
/// use medburn_datasets::synth::registration::{DisplacementTerm, SmoothDisplacement};
/// let u = SmoothDisplacement {
///     centre: [0.0; 3],
///     window_mm: 80.0,
///     terms: vec![DisplacementTerm { amplitude: [0.0, 0.0, 3.0], wave: [0.1, 0.0, 0.0], phase: 1.0 }],
/// };
/// assert!((u.at([0.0; 3])[2] - 3.0 * 1.0f64.sin()).abs() < 1e-12);
/// assert!(u.lipschitz_bound() < 1.0);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SmoothDisplacement {
    /// The centre `c` of the window (and of the phases), LPS mm.
    pub centre: [f64; 3],
    /// The Gaussian window's standard deviation `s`, mm.
    pub window_mm: f64,
    /// The sinusoids.
    pub terms: Vec<DisplacementTerm>,
}

impl SmoothDisplacement {
    /// Draws `config.displacement_terms` sinusoids around `centre` (window `window_mm`):
    /// amplitudes in `config.displacement_mm` along random directions, wavelengths in
    /// `config.displacement_wavelength_mm` along random directions, random phases; then all
    /// amplitudes are scaled down, if needed, so that the Lipschitz bound is at most
    /// `config.max_displacement_gradient`.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::{RegistrationConfig, SmoothDisplacement};
    /// use rand::SeedableRng;
    /// let cfg = RegistrationConfig::default();
    /// let u = SmoothDisplacement::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &cfg, [0.0; 3], 80.0);
    /// assert_eq!(u.terms.len(), cfg.displacement_terms);
    /// assert!(u.lipschitz_bound() <= cfg.max_displacement_gradient + 1e-12);
    /// ```
    pub fn sample(
        rng: &mut impl Rng,
        config: &RegistrationConfig,
        centre: [f64; 3],
        window_mm: f64,
    ) -> SmoothDisplacement {
        let terms = (0..config.displacement_terms)
            .map(|_| {
                let amplitude = scale(random_unit(rng), uniform(rng, config.displacement_mm));
                let wavelength = uniform(rng, config.displacement_wavelength_mm);
                let wave = scale(random_unit(rng), std::f64::consts::TAU / wavelength);
                DisplacementTerm {
                    amplitude,
                    wave,
                    phase: rng.random_range(0.0..std::f64::consts::TAU),
                }
            })
            .collect();
        let mut u = SmoothDisplacement {
            centre,
            window_mm,
            terms,
        };
        let bound = u.lipschitz_bound();
        if bound > config.max_displacement_gradient {
            let s = config.max_displacement_gradient / bound;
            for t in &mut u.terms {
                t.amplitude = scale(t.amplitude, s);
            }
        }
        u
    }

    /// An upper bound of the spectral norm of `grad u` over all of space.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::{DisplacementTerm, SmoothDisplacement};
    /// let t = DisplacementTerm { amplitude: [0.0, 0.0, 2.0], wave: [0.1, 0.0, 0.0], phase: 0.0 };
    /// let u = SmoothDisplacement { centre: [0.0; 3], window_mm: 1e12, terms: vec![t] };
    /// // A plane wave of amplitude 2 mm and wave number 0.1 / mm: slope 0.2 at its steepest.
    /// assert!((u.lipschitz_bound() - 0.2).abs() < 1e-9);
    /// let g = u.gradient([0.0; 3]);
    /// assert!((g[2][0] - 0.2).abs() < 1e-9);
    /// ```
    pub fn lipschitz_bound(&self) -> f64 {
        let window_slope = 1.0 / (self.window_mm * std::f64::consts::E.sqrt());
        self.terms
            .iter()
            .map(|t| norm(t.amplitude) * (norm(t.wave) + window_slope))
            .sum()
    }

    /// `u(x)`, mm.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::SmoothDisplacement;
    /// let none = SmoothDisplacement { centre: [0.0; 3], window_mm: 50.0, terms: vec![] };
    /// assert_eq!(none.at([1.0, 2.0, 3.0]), [0.0; 3]);
    /// ```
    pub fn at(&self, x: [f64; 3]) -> [f64; 3] {
        let d = sub(x, self.centre);
        let g = (-dot(d, d) / (2.0 * self.window_mm * self.window_mm)).exp();
        let mut u = [0.0; 3];
        for t in &self.terms {
            u = add(u, scale(t.amplitude, (dot(t.wave, d) + t.phase).sin()));
        }
        scale(u, g)
    }

    /// `grad u(x)`: row `a`, column `b` is `d u_a / d x_b` (see
    /// [`SmoothDisplacement::lipschitz_bound`] for an example).
    pub fn gradient(&self, x: [f64; 3]) -> [[f64; 3]; 3] {
        let d = sub(x, self.centre);
        let s2 = self.window_mm * self.window_mm;
        let g = (-dot(d, d) / (2.0 * s2)).exp();
        let grad_g = scale(d, -g / s2);
        let mut j = [[0.0; 3]; 3];
        for t in &self.terms {
            let (sn, cs) = (dot(t.wave, d) + t.phase).sin_cos();
            for (a, row) in j.iter_mut().enumerate() {
                for (b, v) in row.iter_mut().enumerate() {
                    *v += t.amplitude[a] * (g * cs * t.wave[b] + sn * grad_g[b]);
                }
            }
        }
        j
    }
}

/// The true transform of a same-subject pair, from a fixed-image point to the moving-image point
/// showing the same anatomy (ITK's direction for a registration transform):
/// `T(x) = A(x + u(x))`, the displacement first. In SimpleITK:
/// `CompositeTransform([affine, DisplacementFieldTransform(u)])`.
///
/// ```
/// use medburn_datasets::synth::registration::{RegistrationConfig, TrueTransform};
/// use rand::SeedableRng;
/// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), &RegistrationConfig::default(), [5.0, 0.0, -3.0], 80.0)?;
/// let x = [10.0, -20.0, 30.0];
/// let inv = t.inverse(t.apply(x))?;
/// assert!((0..3).all(|a| (inv.point[a] - x[a]).abs() < 1e-7));
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrueTransform {
    /// The displacement `u`, applied first.
    pub displacement: SmoothDisplacement,
    /// The affine `A` as `[M | o]` (row-major, `A(p) = M p + o`), applied second.
    pub affine: [[f64; 4]; 3],
    /// The point the affine was drawn about (the head centre): the rotation and scaling keep it
    /// in place before the translation. The `.tfm` file uses it as ITK's centre.
    pub affine_centre: [f64; 3],
}

/// A point found by [`TrueTransform::inverse`], with how the iteration went.
///
/// ```
/// use medburn_datasets::synth::registration::{RegistrationConfig, TrueTransform};
/// use rand::SeedableRng;
/// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &RegistrationConfig::default(), [0.0; 3], 80.0)?;
/// let inv = t.inverse([1.0, 2.0, 3.0])?;
/// assert!(inv.residual < 1e-9 && inv.iterations < 100);
/// # Ok::<(), medburn_datasets::synth::SynthError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inverse {
    /// `T^-1(y)`, LPS mm.
    pub point: [f64; 3],
    /// Fixed-point iterations used.
    pub iterations: usize,
    /// `|T(point) - y|`, mm.
    pub residual: f64,
}

/// Fixed-point iterations stop when a step moves the point by less than this (mm).
const INVERSE_TOLERANCE_MM: f64 = 1e-10;
/// ... or after this many iterations: an error (it cannot happen for a bound below 1).
const INVERSE_MAX_ITERATIONS: usize = 1000;

impl TrueTransform {
    /// Draws `u` ([`SmoothDisplacement::sample`], windowed about `centre`) and `A`: a rotation by
    /// up to `config.rotation_deg` about a random axis, a scaling by `1 +- config.scaling` per
    /// world axis, both about `centre`, and a translation by up to `config.translation_mm` per
    /// axis.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::{RegistrationConfig, TrueTransform};
    /// use rand::SeedableRng;
    /// let cfg = RegistrationConfig { rotation_deg: 0.0, scaling: 0.0, translation_mm: 0.0, ..RegistrationConfig::default() };
    /// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(2), &cfg, [0.0; 3], 80.0)?;
    /// assert_eq!(t.apply_affine([1.0, 2.0, 3.0]), [1.0, 2.0, 3.0]); // no affine part
    /// # Ok::<(), medburn_datasets::synth::SynthError>(())
    /// ```
    pub fn sample(
        rng: &mut impl Rng,
        config: &RegistrationConfig,
        centre: [f64; 3],
        window_mm: f64,
    ) -> Result<TrueTransform, SynthError> {
        let displacement = SmoothDisplacement::sample(rng, config, centre, window_mm);
        let rotation = small_rotation(rng, config.rotation_deg).rows();
        let s = config.scaling;
        let scaling = [0, 1, 2].map(|_| 1.0 + uniform(rng, [-s, s]));
        let t = config.translation_mm;
        let translation = [0, 1, 2].map(|_| uniform(rng, [-t, t]));
        let scale_m = [
            [scaling[0], 0.0, 0.0],
            [0.0, scaling[1], 0.0],
            [0.0, 0.0, scaling[2]],
        ];
        let m = mat3_mul(&rotation, &scale_m);
        // A(p) = M (p - c) + c + t = M p + (c + t - M c).
        let mc = mat3_apply(&m, centre);
        let o = [0, 1, 2].map(|a| centre[a] + translation[a] - mc[a]);
        let affine = [0, 1, 2].map(|r| [m[r][0], m[r][1], m[r][2], o[r]]);
        let t = TrueTransform {
            displacement,
            affine,
            affine_centre: centre,
        };
        t.linear_inverse()?;
        Ok(t)
    }

    fn linear(&self) -> [[f64; 3]; 3] {
        [0, 1, 2].map(|r| [self.affine[r][0], self.affine[r][1], self.affine[r][2]])
    }

    fn linear_inverse(&self) -> Result<[[f64; 3]; 3], SynthError> {
        mat3_inverse(&self.linear())
            .ok_or_else(|| SynthError::Internal(format!("singular affine {:?}", self.affine)))
    }

    /// The affine part alone, `A(p)` (see [`TrueTransform::sample`] for an example).
    pub fn apply_affine(&self, p: [f64; 3]) -> [f64; 3] {
        let m = self.linear();
        add(mat3_apply(&m, p), [0, 1, 2].map(|r| self.affine[r][3]))
    }

    /// `T(x) = A(x + u(x))` (see [`TrueTransform`] for an example).
    pub fn apply(&self, x: [f64; 3]) -> [f64; 3] {
        self.apply_affine(add(x, self.displacement.at(x)))
    }

    /// The Jacobian of `T` at `x`: `M (I + grad u(x))`.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::{RegistrationConfig, TrueTransform};
    /// use rand::SeedableRng;
    /// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3), &RegistrationConfig::default(), [0.0; 3], 80.0)?;
    /// let j = t.jacobian([10.0, 0.0, 0.0]);
    /// let det = j[0][0] * (j[1][1] * j[2][2] - j[1][2] * j[2][1]) - j[0][1] * (j[1][0] * j[2][2] - j[1][2] * j[2][0])
    ///     + j[0][2] * (j[1][0] * j[2][1] - j[1][1] * j[2][0]);
    /// assert!(det > 0.0);
    /// # Ok::<(), medburn_datasets::synth::SynthError>(())
    /// ```
    pub fn jacobian(&self, x: [f64; 3]) -> [[f64; 3]; 3] {
        let mut j = self.displacement.gradient(x);
        for (a, row) in j.iter_mut().enumerate() {
            row[a] += 1.0;
        }
        mat3_mul(&self.linear(), &j)
    }

    /// `T^-1(y)`: `z = A^-1(y)`, then `x <- z - u(x)` from `x = z` until a step is below 1e-10
    /// mm. Errors if it has not converged after 1000 iterations (it converges geometrically,
    /// at the rate of the Lipschitz bound of `u`, when that is below 1). See [`TrueTransform`]
    /// for an example.
    pub fn inverse(&self, y: [f64; 3]) -> Result<Inverse, SynthError> {
        let z = self.affine_inverse(y)?;
        self.solve(y, z, z)
    }

    /// As [`TrueTransform::inverse`], starting the iteration from `guess` (a nearby point's
    /// inverse): fewer iterations, the same limit.
    ///
    /// ```
    /// use medburn_datasets::synth::registration::{RegistrationConfig, TrueTransform};
    /// use rand::SeedableRng;
    /// let t = TrueTransform::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3), &RegistrationConfig::default(), [0.0; 3], 80.0)?;
    /// let (y, near) = ([5.0, 6.0, 7.0], [5.1, 6.0, 7.0]);
    /// let cold = t.inverse(y)?;
    /// let warm = t.inverse_from(y, t.inverse(near)?.point)?;
    /// assert!(warm.iterations <= cold.iterations);
    /// assert!((0..3).all(|a| (warm.point[a] - cold.point[a]).abs() < 1e-9));
    /// # Ok::<(), medburn_datasets::synth::SynthError>(())
    /// ```
    pub fn inverse_from(&self, y: [f64; 3], guess: [f64; 3]) -> Result<Inverse, SynthError> {
        let z = self.affine_inverse(y)?;
        self.solve(y, z, guess)
    }

    fn affine_inverse(&self, y: [f64; 3]) -> Result<[f64; 3], SynthError> {
        let inv = self.linear_inverse()?;
        Ok(mat3_apply(
            &inv,
            [0, 1, 2].map(|r| y[r] - self.affine[r][3]),
        ))
    }

    fn solve(&self, y: [f64; 3], z: [f64; 3], guess: [f64; 3]) -> Result<Inverse, SynthError> {
        let mut x = guess;
        for iterations in 1..=INVERSE_MAX_ITERATIONS {
            let next = sub(z, self.displacement.at(x));
            let step = norm(sub(next, x));
            x = next;
            if step < INVERSE_TOLERANCE_MM {
                return Ok(Inverse {
                    point: x,
                    iterations,
                    residual: norm(sub(self.apply(x), y)),
                });
            }
            if !step.is_finite() {
                break;
            }
        }
        Err(SynthError::Internal(format!(
            "inverting the true transform at {y:?} did not converge in \
             {INVERSE_MAX_ITERATIONS} iterations (Lipschitz bound of u {})",
            self.displacement.lipschitz_bound()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn gradient_matches_finite_differences() {
        let cfg = RegistrationConfig::default();
        let t = TrueTransform::sample(
            &mut ChaCha8Rng::seed_from_u64(4),
            &cfg,
            [3.0, -2.0, 1.0],
            70.0,
        )
        .unwrap();
        let h = 1e-5;
        for x in [[0.0, 0.0, 0.0], [40.0, -30.0, 20.0], [-60.0, 10.0, 55.0]] {
            let j = t.jacobian(x);
            for b in 0..3 {
                let mut p = x;
                let mut m = x;
                p[b] += h;
                m[b] -= h;
                let (tp, tm) = (t.apply(p), t.apply(m));
                for a in 0..3 {
                    let fd = (tp[a] - tm[a]) / (2.0 * h);
                    assert!((fd - j[a][b]).abs() < 1e-7, "{a}{b}: {fd} vs {}", j[a][b]);
                }
            }
        }
    }
}
