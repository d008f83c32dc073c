//! The head phantom: tissues as a function of the physical (LPS, mm) position.
//!
//! The head is built in its own frame (x to the patient's left, y posterior,
//! z superior, millimetres, origin at the head centre) and placed in the world by
//! [`Anatomy::centre`] and [`Anatomy::pose`]. Layers are measured along the ray
//! from the head centre: scalp, skull (with a marrow core), a CSF rim, then the
//! brain. The cortex is a grey-matter shell folded by radial sulci: the zero set
//! of a random sum of plane waves evaluated on a sphere, so every sulcus is a
//! sheet running inwards from the surface, lined with grey matter on both sides.
//! Inside lie white matter, lateral, third and fourth ventricles, deep grey nuclei
//! (thalamus, caudate, lentiform) and ellipsoidal lesions in the white matter.

use medburn_core::Direction;
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{Participant, SynthConfig};

/// The tissues the images see; several share a segmentation label (see [`Tissue::label`]).
///
/// ```
/// use medburn_datasets::synth::Tissue;
/// assert_eq!(Tissue::Skull.label(), 0); // visible in the images, background in the labels
/// assert_eq!(Tissue::Lesion.label(), 4);
/// assert_eq!(Tissue::from_code(Tissue::WhiteMatter as u8), Some(Tissue::WhiteMatter));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[repr(u8)]
pub enum Tissue {
    /// Outside the head.
    Air = 0,
    /// Skin and subcutaneous fat.
    Scalp = 1,
    /// Cortical bone of the skull (outer and inner tables).
    Skull = 2,
    /// Fatty marrow between the skull tables (diploë).
    Marrow = 3,
    /// Cerebrospinal fluid: ventricles, sulci, the rim under the skull.
    Csf = 4,
    /// Cortical and deep grey matter.
    GreyMatter = 5,
    /// White matter.
    WhiteMatter = 6,
    /// A white-matter lesion.
    Lesion = 7,
}

impl Tissue {
    /// How many tissues there are.
    pub const COUNT: usize = 8;

    /// Every tissue, in code order.
    ///
    /// ```
    /// use medburn_datasets::synth::Tissue;
    /// assert!(Tissue::ALL.iter().enumerate().all(|(n, t)| *t as usize == n));
    /// ```
    pub const ALL: [Tissue; Tissue::COUNT] = [
        Tissue::Air,
        Tissue::Scalp,
        Tissue::Skull,
        Tissue::Marrow,
        Tissue::Csf,
        Tissue::GreyMatter,
        Tissue::WhiteMatter,
        Tissue::Lesion,
    ];

    /// The segmentation label: 0 background (air, scalp, skull, marrow), 1 CSF,
    /// 2 grey matter, 3 white matter, 4 lesion (see [`LABEL_NAMES`]).
    ///
    /// ```
    /// assert_eq!(medburn_datasets::synth::Tissue::Csf.label(), 1);
    /// ```
    pub fn label(self) -> u8 {
        match self {
            Tissue::Air | Tissue::Scalp | Tissue::Skull | Tissue::Marrow => 0,
            Tissue::Csf => 1,
            Tissue::GreyMatter => 2,
            Tissue::WhiteMatter => 3,
            Tissue::Lesion => 4,
        }
    }

    /// The tissue with code `code` (its `as u8` value).
    ///
    /// ```
    /// assert_eq!(medburn_datasets::synth::Tissue::from_code(200), None);
    /// ```
    pub fn from_code(code: u8) -> Option<Tissue> {
        Tissue::ALL.get(code as usize).copied()
    }
}

/// Names of the labels 0..=4, as written in `dataset.json`.
///
/// ```
/// assert_eq!(medburn_datasets::synth::LABEL_NAMES[4], "lesion");
/// ```
pub const LABEL_NAMES: [&str; 5] = ["background", "CSF", "grey matter", "white matter", "lesion"];

/// A solid ellipsoid in the head frame.
///
/// ```
/// use medburn_core::Direction;
/// use medburn_datasets::synth::Blob;
/// let b = Blob { centre: [10.0, 0.0, 0.0], radii: [2.0, 4.0, 1.0], rotation: Direction::identity() };
/// assert!(b.contains([11.9, 0.0, 0.0]));
/// assert!(!b.contains([10.0, 0.0, 1.1]));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Centre in the head frame, mm.
    pub centre: [f64; 3],
    /// Semi-axes along the blob's own axes, mm.
    pub radii: [f64; 3],
    /// The blob's axes in the head frame (its columns).
    pub rotation: Direction,
}

impl Blob {
    /// Whether the head-frame point `q` lies inside.
    ///
    /// ```
    /// use medburn_datasets::synth::Blob;
    /// let b = Blob { centre: [0.0; 3], radii: [1.0; 3], rotation: medburn_core::Direction::identity() };
    /// assert!(b.contains([0.5, 0.5, 0.5]) && !b.contains([0.6, 0.6, 0.6]));
    /// ```
    pub fn contains(&self, q: [f64; 3]) -> bool {
        let d = sub(q, self.centre);
        let rmax = self.radii[0].max(self.radii[1]).max(self.radii[2]);
        if dot(d, d) > rmax * rmax {
            return false;
        }
        let mut s = 0.0;
        for a in 0..3 {
            let l = dot(self.rotation.column(a), d) / self.radii[a];
            s += l * l;
        }
        s <= 1.0
    }

    fn scaled(centre: [f64; 3], radii: [f64; 3], turn_deg: f64, scale: [f64; 3]) -> Blob {
        Blob {
            centre: [0, 1, 2].map(|a| centre[a] * scale[a]),
            radii: [0, 1, 2].map(|a| radii[a] * scale[a]),
            rotation: rotation_about_z(turn_deg),
        }
    }
}

/// One plane wave `amplitude * sin(k . q + phase)` of a folding field.
///
/// ```
/// use medburn_datasets::synth::Wave;
/// let w = Wave { k: [1.0, 0.0, 0.0], phase: 0.0, amplitude: 2.0 };
/// assert!((w.value([std::f64::consts::FRAC_PI_2, 0.0, 0.0]) - 2.0).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Wave {
    /// Wave vector, radians per mm.
    pub k: [f64; 3],
    /// Phase, radians.
    pub phase: f64,
    /// Amplitude.
    pub amplitude: f64,
}

impl Wave {
    /// The wave's value at `q`.
    ///
    /// ```
    /// let w = medburn_datasets::synth::Wave { k: [0.0; 3], phase: 0.0, amplitude: 1.0 };
    /// assert_eq!(w.value([5.0, 5.0, 5.0]), 0.0);
    /// ```
    pub fn value(&self, q: [f64; 3]) -> f64 {
        self.amplitude * (dot(self.k, q) + self.phase).sin()
    }

    fn random(rng: &mut impl Rng, wavelength: f64, amplitude: f64) -> Wave {
        let k = scale(random_unit(rng), std::f64::consts::TAU / wavelength);
        Wave {
            k,
            phase: rng.random_range(0.0..std::f64::consts::TAU),
            amplitude,
        }
    }
}

/// Radius (mm) of the sphere on which the folding field is evaluated.
const FOLD_SPHERE_MM: f64 = 70.0;

/// The reference brain (semi-axes, mm) the deep structures are laid out for;
/// they are scaled per axis to each case's brain.
const REFERENCE_BRAIN_MM: [f64; 3] = [58.0, 74.0, 62.0];

/// One case's anatomy, in physical space.
///
/// ```
/// use medburn_datasets::synth::{Anatomy, Participant, SynthConfig, Tissue};
/// use rand::SeedableRng;
///
/// let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
/// let a = Anatomy::sample(&mut rng, &SynthConfig::default(), &Participant::default());
/// assert_eq!(a.tissue_at(a.ventricle_point()), Tissue::Csf);
/// assert_eq!(a.tissue_at([a.centre[0] + 500.0, a.centre[1], a.centre[2]]), Tissue::Air);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Anatomy {
    /// World (LPS, mm) position of the head centre.
    pub centre: [f64; 3],
    /// The head frame's axes (left, posterior, superior) in the world: its columns.
    pub pose: Direction,
    /// Semi-axes of the head's outer surface (skin), mm.
    pub head_radii: [f64; 3],
    /// Scalp thickness, mm.
    pub scalp_mm: f64,
    /// Skull thickness, mm.
    pub skull_mm: f64,
    /// CSF between the inner skull and the brain surface, mm.
    pub csf_rim_mm: f64,
    /// Cortical grey-matter thickness, mm.
    pub cortex_mm: f64,
    /// Deepest sulcus, mm below the brain surface (folding amplitude).
    pub fold_depth_mm: f64,
    /// Typical distance between sulci along the surface, mm (folding frequency).
    pub fold_wavelength_mm: f64,
    /// Half-width of the CSF in a sulcus, mm.
    pub sulcus_half_width_mm: f64,
    /// Half-width of the interhemispheric fissure, mm.
    pub fissure_half_width_mm: f64,
    /// 0 (young) to 1 (atrophic): widens ventricles, sulci and the CSF rim.
    pub atrophy: f64,
    /// Size of the ventricles relative to a reference brain.
    pub ventricle_scale: f64,
    /// Families of sulci: long deep primary ones and shorter, shallower secondary ones.
    pub sulci: Vec<SulcusField>,
    /// Bends the sulci: the fields are read at `FOLD_SPHERE_MM * u + warp(q)`
    /// (one wave per axis of the head frame), not on straight rays.
    pub fold_warp: [Wave; 3],
    /// Move the interhemispheric fissure sideways (mm) as functions of y and z.
    pub fissure_waves: Vec<Wave>,
    /// The corpus callosum's arch in the mid-sagittal plane: an ellipse in (y, z)
    /// (centre, semi-axes; head frame, mm). The fissure runs outside it, except
    /// straight below it (the brainstem).
    pub callosum_yz: [[f64; 2]; 2],
    /// Ventricles (CSF).
    pub ventricles: Vec<Blob>,
    /// Deep grey nuclei.
    pub deep_grey: Vec<Blob>,
    /// White-matter lesions (they replace white matter only).
    pub lesions: Vec<Blob>,
}

impl Anatomy {
    /// Draws an anatomy for `participant`: head size, layer thicknesses, folding,
    /// atrophy (ventricle size, sulcal and rim CSF), head position and pose, and
    /// lesions of radius `config.lesion_radius_mm` placed in white matter.
    ///
    /// Age and sex act as in real populations, each with individual variation so that
    /// no single measure gives them away: with age (`t` = (age - 20) / 65, clamped to
    /// [0, 1]) atrophy rises (`0.8 t` plus an individual `0.2 u`: larger ventricles,
    /// wider sulci, more CSF under the skull), the cortex thins (by up to 0.5 mm) and the
    /// lesion load grows (up to two lesions more than the individually drawn count, within
    /// `config.lesion_count`); a male head is 3.5% larger and a female one 3.5% smaller
    /// along each axis than the individually drawn size (about the sex difference of
    /// head circumference; brain volume differs by about 10%).
    ///
    /// ```
    /// use medburn_datasets::synth::{Anatomy, Participant, Sex, SynthConfig};
    /// use rand::SeedableRng;
    /// let cfg = SynthConfig { lesion_count: [3, 3], ..SynthConfig::default() };
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), &cfg, &Default::default());
    /// assert_eq!(a.lesions.len(), 3);
    /// // The same draws for an older man: more atrophy, a larger head.
    /// let old = Participant { age: 80.0, sex: Sex::Male };
    /// let b = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(1), &cfg, &old);
    /// assert!(b.atrophy > a.atrophy && b.head_radii[0] > a.head_radii[0]);
    /// ```
    pub fn sample(rng: &mut impl Rng, config: &SynthConfig, participant: &Participant) -> Anatomy {
        let age = participant.age_fraction();
        let size = participant.sex.head_scale();
        let head_radii = [
            size * rng.random_range(68.0..78.0),
            size * rng.random_range(86.0..98.0),
            size * rng.random_range(78.0..90.0),
        ];
        let scalp_mm = rng.random_range(4.0..7.0);
        let skull_mm = rng.random_range(5.0..8.0);
        let atrophy: f64 = (0.8 * age + 0.2 * rng.random_range(0.0..1.0)).clamp(0.0, 1.0);
        let csf_rim_mm = 1.2 + 2.5 * atrophy + rng.random_range(0.0..0.6);
        let cortex_mm = rng.random_range(2.5..3.5) - 0.5 * age;
        let fold_depth_mm = rng.random_range(13.0..22.0);
        let fold_wavelength_mm = rng.random_range(17.0..26.0);
        let sulcus_half_width_mm = 0.5 + 0.9 * atrophy + rng.random_range(0.0..0.3);
        let fissure_half_width_mm = 0.8 + 1.2 * atrophy + rng.random_range(0.0..0.4);
        let ventricle_scale = 0.65 + 1.1 * atrophy + rng.random_range(-0.1..0.1);
        let sulci = vec![
            SulcusField::random(rng, 8, 1.6 * fold_wavelength_mm, [0.7, 1.0], fold_depth_mm),
            SulcusField::random(rng, 10, fold_wavelength_mm, [0.3, 0.6], fold_depth_mm),
        ];
        let fold_warp = [0, 1, 2].map(|_| {
            let amp = rng.random_range(2.0..4.0);
            let wl = rng.random_range(30.0..45.0);
            Wave::random(rng, wl, amp)
        });
        let fissure_waves = (0..3)
            .map(|_| {
                let (wl, amp) = (rng.random_range(35.0..70.0), rng.random_range(0.5..1.2));
                let mut w = Wave::random(rng, wl, amp);
                w.k[0] = 0.0; // a function of y and z only
                w
            })
            .collect();

        let centre =
            [0, 1, 2].map(|_| rng.random_range(-config.head_position_mm..=config.head_position_mm));
        let pose = small_rotation(rng, config.head_tilt_deg);

        let shell = scalp_mm + skull_mm + csf_rim_mm;
        let brain = [0, 1, 2].map(|a| head_radii[a] - shell);
        let sc = [0, 1, 2].map(|a| brain[a] / REFERENCE_BRAIN_MM[a]);
        let v = ventricle_scale;
        let mut ventricles = Vec::new();
        let mut deep_grey = Vec::new();
        for side in [-1.0, 1.0] {
            // Lateral ventricle: body, frontal horn (diverging forwards), atrium and
            // occipital horn (diverging backwards), temporal horn.
            ventricles.push(Blob::scaled(
                [side * (4.5 + 1.5 * v), 2.0, 12.0],
                [2.6 * v, 17.0, 4.0 * v],
                0.0,
                sc,
            ));
            ventricles.push(Blob::scaled(
                [side * (5.5 + 2.0 * v), -17.0, 7.0],
                [3.2 * v + 0.5, 9.0, 5.0 * v],
                side * 15.0,
                sc,
            ));
            ventricles.push(Blob::scaled(
                [side * (9.0 + 2.0 * v), 22.0, 7.0],
                [3.5 * v, 9.0, 4.5 * v],
                -side * 25.0,
                sc,
            ));
            ventricles.push(Blob::scaled(
                [side * 25.0, 0.0, -13.0],
                [1.8 * v, 11.0, 2.0 * v],
                -side * 10.0,
                sc,
            ));
            // Thalamus, caudate head (forming the frontal horn's lateral wall), lentiform nucleus.
            deep_grey.push(Blob::scaled(
                [side * (8.5 + 0.8 * v), 8.0, 1.0],
                [6.5, 11.0, 7.5],
                0.0,
                sc,
            ));
            deep_grey.push(Blob::scaled(
                [side * (11.0 + 2.0 * v), -13.0, 9.0],
                [4.0, 8.0, 6.5],
                side * 15.0,
                sc,
            ));
            deep_grey.push(Blob::scaled(
                [side * 24.0, -3.0, 0.0],
                [5.0, 13.0, 8.0],
                side * 10.0,
                sc,
            ));
        }
        ventricles.push(Blob::scaled(
            [0.0, 3.0, -2.0],
            [0.9 * v + 0.3, 10.0, 7.0],
            0.0,
            sc,
        ));
        let f = 0.7 + 0.3 * v;
        ventricles.push(Blob::scaled(
            [0.0, 30.0, -32.0],
            [5.0 * f, 3.0 * f, 5.0 * f],
            0.0,
            sc,
        ));

        let mut anatomy = Anatomy {
            centre,
            pose,
            head_radii,
            scalp_mm,
            skull_mm,
            csf_rim_mm,
            cortex_mm,
            fold_depth_mm,
            fold_wavelength_mm,
            sulcus_half_width_mm,
            fissure_half_width_mm,
            atrophy,
            ventricle_scale,
            sulci,
            fold_warp,
            fissure_waves,
            callosum_yz: [
                [2.0 * sc[1], -20.0 * sc[2]],
                [34.0 * sc[1], (37.0 + 4.0 * v) * sc[2]],
            ],
            ventricles,
            deep_grey,
            lesions: Vec::new(),
        };

        let [lo, hi] = config.lesion_count;
        let drawn = rng.random_range(lo.min(hi)..=hi.max(lo));
        // Age adds up to two lesions to the individual count (within the configured range).
        let count = (drawn + (2.0 * age).round() as u32).min(hi.max(lo));
        let [rlo, rhi] = config.lesion_radius_mm;
        for _ in 0..count {
            let r = if rhi > rlo {
                rng.random_range(rlo..rhi)
            } else {
                rlo
            };
            let radii = [
                r * rng.random_range(0.7..1.0),
                r * rng.random_range(0.8..1.2),
                r * rng.random_range(1.0..1.5),
            ];
            let rotation = small_rotation(rng, 180.0);
            // A centre in white matter, away from the cortex.
            for _ in 0..1000 {
                let q = [0, 1, 2].map(|a| rng.random_range(-0.75..0.75) * brain[a]);
                if anatomy.tissue_in_head(q, false) == Tissue::WhiteMatter
                    && anatomy.depth_below_brain_surface(q) > fold_depth_mm + cortex_mm + 2.0
                {
                    anatomy.lesions.push(Blob {
                        centre: q,
                        radii,
                        rotation,
                    });
                    break;
                }
            }
        }
        anatomy
    }

    /// The tissue at a world point (LPS, mm).
    ///
    /// ```
    /// # use medburn_datasets::synth::{Anatomy, SynthConfig, Tissue};
    /// # use rand::SeedableRng;
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3), &SynthConfig::default(), &Default::default());
    /// // Just inside the skin along the head's left axis: scalp.
    /// let left = a.pose.column(0);
    /// let r = a.head_radii[0] - 1.0;
    /// let p = [0, 1, 2].map(|i| a.centre[i] + r * left[i]);
    /// assert_eq!(a.tissue_at(p), Tissue::Scalp);
    /// ```
    pub fn tissue_at(&self, p: [f64; 3]) -> Tissue {
        self.tissue_in_head(self.to_head(p), true)
    }

    /// The segmentation label at a world point (see [`Tissue::label`]).
    ///
    /// ```
    /// # use medburn_datasets::synth::{Anatomy, SynthConfig};
    /// # use rand::SeedableRng;
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(3), &SynthConfig::default(), &Default::default());
    /// assert_eq!(a.label_at(a.ventricle_point()), 1);
    /// ```
    pub fn label_at(&self, p: [f64; 3]) -> u8 {
        self.tissue_at(p).label()
    }

    /// A world point deep inside the left lateral ventricle (the centre of its body).
    ///
    /// ```
    /// # use medburn_datasets::synth::{Anatomy, SynthConfig, Tissue};
    /// # use rand::SeedableRng;
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5), &SynthConfig::default(), &Default::default());
    /// assert_eq!(a.tissue_at(a.ventricle_point()), Tissue::Csf);
    /// ```
    pub fn ventricle_point(&self) -> [f64; 3] {
        // ventricles[4] is the left body (side +1 comes second in `sample`).
        let q = self.ventricles[4].centre;
        self.to_world(q)
    }

    /// The world point of a head-frame point.
    ///
    /// ```
    /// # use medburn_datasets::synth::{Anatomy, SynthConfig};
    /// # use rand::SeedableRng;
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5), &SynthConfig::default(), &Default::default());
    /// assert_eq!(a.to_world([0.0; 3]), a.centre);
    /// ```
    pub fn to_world(&self, q: [f64; 3]) -> [f64; 3] {
        add(self.centre, self.pose.apply(q))
    }

    /// The head-frame point of a world point.
    ///
    /// ```
    /// # use medburn_datasets::synth::{Anatomy, SynthConfig};
    /// # use rand::SeedableRng;
    /// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(5), &SynthConfig::default(), &Default::default());
    /// let q = a.to_head(a.to_world([1.0, 2.0, 3.0]));
    /// assert!((q[2] - 3.0).abs() < 1e-9);
    /// ```
    pub fn to_head(&self, p: [f64; 3]) -> [f64; 3] {
        let d = sub(p, self.centre);
        [0, 1, 2].map(|a| dot(self.pose.column(a), d))
    }

    /// Distance from the head centre to its outer surface along the unit vector `u`.
    fn head_radius(&self, u: [f64; 3]) -> f64 {
        let h = self.head_radii;
        let s = (u[0] / h[0]).powi(2) + (u[1] / h[1]).powi(2) + (u[2] / h[2]).powi(2);
        1.0 / s.sqrt()
    }

    /// Depth (mm, along the ray from the centre) below the brain surface; negative outside.
    fn depth_below_brain_surface(&self, q: [f64; 3]) -> f64 {
        let r = norm(q);
        let u = if r > 1e-9 {
            scale(q, 1.0 / r)
        } else {
            [0.0, 0.0, 1.0]
        };
        self.head_radius(u) - self.scalp_mm - self.skull_mm - self.csf_rim_mm - r
    }

    /// The tissue at head-frame point `q`, with or without the lesions.
    fn tissue_in_head(&self, q: [f64; 3], with_lesions: bool) -> Tissue {
        let r = norm(q);
        let u = if r > 1e-9 {
            scale(q, 1.0 / r)
        } else {
            [0.0, 0.0, 1.0]
        };
        let below_skin = self.head_radius(u) - r;
        if below_skin < 0.0 {
            return Tissue::Air;
        }
        if below_skin < self.scalp_mm {
            return Tissue::Scalp;
        }
        let in_skull = below_skin - self.scalp_mm;
        if in_skull < self.skull_mm {
            let t = in_skull / self.skull_mm;
            return if (0.3..0.7).contains(&t) {
                Tissue::Marrow
            } else {
                Tissue::Skull
            };
        }
        let depth = in_skull - self.skull_mm - self.csf_rim_mm;
        if depth < 0.0 {
            return Tissue::Csf;
        }

        // The interhemispheric fissure: above the corpus callosum, and in front of and behind it.
        let [[cy, cz], [ry, rz]] = self.callosum_yz;
        let fissure_region = |reach: f64| {
            let (dy, dz) = (q[1] - cy, q[2] - cz);
            let (a, b) = ((ry - reach).max(1.0), (rz - reach).max(1.0));
            (dy / a).powi(2) + (dz / b).powi(2) > 1.0 && (dz > 0.0 || dy.abs() > a)
        };
        let shift: f64 = self.fissure_waves.iter().map(|w| w.value(q)).sum();
        let mid = (q[0] - shift).abs();
        if mid < self.fissure_half_width_mm && fissure_region(0.0) {
            return Tissue::Csf;
        }
        if mid < self.fissure_half_width_mm + self.cortex_mm && fissure_region(self.cortex_mm) {
            return Tissue::GreyMatter;
        }

        // The folded cortex: a grey shell, cut by sulci lined with grey matter.
        if depth < self.fold_depth_mm + self.cortex_mm {
            let mut grey = depth < self.cortex_mm;
            let warp = self.warp(q, u, r);
            for field in &self.sulci {
                let sulcal_depth = field.depth_at(u);
                if depth >= sulcal_depth + self.cortex_mm {
                    continue;
                }
                let ds = field.distance(&warp);
                if ds < self.sulcus_half_width_mm && depth < sulcal_depth {
                    return Tissue::Csf;
                }
                grey |= ds < self.sulcus_half_width_mm + self.cortex_mm;
            }
            if grey {
                return Tissue::GreyMatter;
            }
        }

        if self.ventricles.iter().any(|b| b.contains(q)) {
            return Tissue::Csf;
        }
        if self.deep_grey.iter().any(|b| b.contains(q)) {
            return Tissue::GreyMatter;
        }
        if with_lesions && self.lesions.iter().any(|b| b.contains(q)) {
            return Tissue::Lesion;
        }
        Tissue::WhiteMatter
    }

    /// Where the sulcus fields are read for the head-frame point `q` (radius `r`,
    /// direction `u`): `FOLD_SPHERE_MM * u + warp(q)`, with its Jacobian.
    fn warp(&self, q: [f64; 3], u: [f64; 3], r: f64) -> Warped {
        let mut at = scale(u, FOLD_SPHERE_MM);
        // d(at)/dq = (FOLD_SPHERE_MM / r) (I - u u^T) + d(warp)/dq, stored row by row.
        let f = FOLD_SPHERE_MM / r.max(1.0);
        let mut jac = [[0.0; 3]; 3];
        for (a, row) in jac.iter_mut().enumerate() {
            for (b, v) in row.iter_mut().enumerate() {
                let identity = if a == b { 1.0 } else { 0.0 };
                *v = f * (identity - u[a] * u[b]);
            }
        }
        for (a, w) in self.fold_warp.iter().enumerate() {
            let (sn, cs) = (dot(w.k, q) + w.phase).sin_cos();
            at[a] += w.amplitude * sn;
            jac[a] = add(jac[a], scale(w.k, w.amplitude * cs));
        }
        Warped { at, jac }
    }
}

/// A point of the sulcus fields' space and the Jacobian of the map to it.
struct Warped {
    at: [f64; 3],
    jac: [[f64; 3]; 3],
}

/// One family of sulci: sheets on the zero set of a sum of plane waves, read at
/// warped points of a sphere so that each sheet runs inwards from the surface.
///
/// ```
/// use medburn_datasets::synth::{Anatomy, SynthConfig};
/// use rand::SeedableRng;
/// let a = Anatomy::sample(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0), &SynthConfig::default(), &Default::default());
/// assert_eq!(a.sulci.len(), 2);
/// assert!(a.sulci[0].depth_mm[1] <= a.fold_depth_mm);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SulcusField {
    /// The field whose zero set the sulci follow.
    pub waves: Vec<Wave>,
    /// Varies the depth along the surface, between `depth_mm[0]` and `depth_mm[1]`.
    pub depth_wave: Wave,
    /// Shallowest and deepest sulcus, mm below the brain surface.
    pub depth_mm: [f64; 2],
}

impl SulcusField {
    fn random(
        rng: &mut impl Rng,
        waves: usize,
        wavelength: f64,
        depth_fraction: [f64; 2],
        max_depth: f64,
    ) -> SulcusField {
        let waves = (0..waves)
            .map(|_| {
                let wl = wavelength * rng.random_range(0.8..1.25);
                let amp = rng.random_range(0.6..1.0);
                Wave::random(rng, wl, amp)
            })
            .collect();
        SulcusField {
            waves,
            depth_wave: Wave::random(rng, 2.0 * wavelength, 1.0),
            depth_mm: depth_fraction.map(|f| f * max_depth),
        }
    }

    /// How deep the sulcus below the direction `u` reaches, mm.
    fn depth_at(&self, u: [f64; 3]) -> f64 {
        let t = 0.5 + 0.5 * self.depth_wave.value(scale(u, FOLD_SPHERE_MM));
        self.depth_mm[0] + (self.depth_mm[1] - self.depth_mm[0]) * t
    }

    /// Distance (mm) to the nearest sulcus sheet: `|s| / |grad s|` to first order.
    fn distance(&self, p: &Warped) -> f64 {
        let mut s = 0.0;
        let mut g = [0.0; 3];
        for w in &self.waves {
            let (sn, cs) = (dot(w.k, p.at) + w.phase).sin_cos();
            s += w.amplitude * sn;
            g = add(g, scale(w.k, w.amplitude * cs));
        }
        // Chain rule: grad_q s = J^T g.
        let grad = [0, 1, 2].map(|b| (0..3).map(|a| p.jac[a][b] * g[a]).sum::<f64>());
        s.abs() / norm(grad).max(1e-12)
    }
}

/// A uniformly random unit vector.
pub(crate) fn random_unit(rng: &mut impl Rng) -> [f64; 3] {
    let z: f64 = rng.random_range(-1.0..1.0);
    let phi: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let s = (1.0 - z * z).max(0.0).sqrt();
    [s * phi.cos(), s * phi.sin(), z]
}

/// A rotation by a uniformly random angle in `[0, max_deg]` about a random axis.
pub(crate) fn small_rotation(rng: &mut impl Rng, max_deg: f64) -> Direction {
    let axis = random_unit(rng);
    let angle = if max_deg > 0.0 {
        rng.random_range(0.0..=max_deg).to_radians()
    } else {
        0.0
    };
    axis_angle(axis, angle)
}

/// Rodrigues' rotation about the unit vector `k` by `angle` radians.
pub(crate) fn axis_angle(k: [f64; 3], angle: f64) -> Direction {
    let (s, c) = angle.sin_cos();
    let t = 1.0 - c;
    let [x, y, z] = k;
    Direction::from_rows([
        [c + x * x * t, x * y * t - z * s, x * z * t + y * s],
        [y * x * t + z * s, c + y * y * t, y * z * t - x * s],
        [z * x * t - y * s, z * y * t + x * s, c + z * z * t],
    ])
}

fn rotation_about_z(deg: f64) -> Direction {
    axis_angle([0.0, 0.0, 1.0], deg.to_radians())
}

pub(crate) use medburn_core::vec3::{add, dot, norm, scale, sub};

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn layers_from_the_outside_in() {
        let a = Anatomy::sample(
            &mut ChaCha8Rng::seed_from_u64(11),
            &SynthConfig::default(),
            &Participant::default(),
        );
        // Walk along the head's left axis from outside to the centre.
        let up = a.pose.column(0);
        let mut seen = Vec::new();
        let mut r = a.head_radii[0] + 5.0;
        while r > 0.0 {
            let t = a.tissue_at(add(a.centre, scale(up, r)));
            if seen.last() != Some(&t) {
                seen.push(t);
            }
            r -= 0.05;
        }
        assert_eq!(
            &seen[..5],
            &[
                Tissue::Air,
                Tissue::Scalp,
                Tissue::Skull,
                Tissue::Marrow,
                Tissue::Skull
            ]
        );
        assert_eq!(seen[5], Tissue::Csf);
        assert!(seen.contains(&Tissue::GreyMatter));
    }

    #[test]
    fn rotations_are_orthonormal() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for _ in 0..20 {
            let r = small_rotation(&mut rng, 180.0);
            assert!(r.validate(1e-12).is_ok());
            assert!((r.determinant() - 1.0).abs() < 1e-12);
        }
    }
}
