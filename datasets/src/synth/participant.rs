//! Who a synthetic case is: an age and a sex, drawn per case from their own random stream (so
//! that they change nothing else that is drawn), and acting on the anatomy as in real
//! populations (see [`super::Anatomy::sample`]).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Sex as `participants.tsv` writes it (`F`, `M`).
///
/// ```
/// use medburn_datasets::synth::Sex;
/// assert_eq!(Sex::Male.code(), "M");
/// assert!(Sex::Male.head_scale() > Sex::Female.head_scale());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Sex {
    /// Female (`F`).
    #[default]
    Female,
    /// Male (`M`).
    Male,
}

impl Sex {
    /// The participants table's code.
    pub fn code(self) -> &'static str {
        match self {
            Sex::Female => "F",
            Sex::Male => "M",
        }
    }

    /// The factor on the individually drawn head size along each axis: 1.035 for men, 0.965
    /// for women (head circumference differs by about 4% between the sexes, brain volume by
    /// about 10%).
    pub fn head_scale(self) -> f64 {
        match self {
            Sex::Female => 0.965,
            Sex::Male => 1.035,
        }
    }
}

/// A synthetic participant.
///
/// ```
/// use medburn_datasets::synth::{Participant, Sex};
/// let p = Participant { age: 52.5, sex: Sex::Male };
/// assert_eq!(p.age_fraction(), 0.5);
/// assert_eq!(Participant::default().age, 50.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Participant {
    /// Age in years (one decimal).
    pub age: f64,
    /// Sex.
    pub sex: Sex,
}

impl Default for Participant {
    /// A 50-year-old woman.
    fn default() -> Self {
        Participant {
            age: 50.0,
            sex: Sex::Female,
        }
    }
}

/// The youngest age of the anatomy's age effects; 85 is the oldest.
const AGE_EFFECT_YEARS: [f64; 2] = [20.0, 85.0];

impl Participant {
    /// Where the age lies between 20 and 85 years, clamped to [0, 1]: the weight of the age
    /// effects on the anatomy.
    pub fn age_fraction(&self) -> f64 {
        let [lo, hi] = AGE_EFFECT_YEARS;
        ((self.age - lo) / (hi - lo)).clamp(0.0, 1.0)
    }

    /// Draws participant `index` of seed `seed`: age uniform in `age_years` (one decimal), male
    /// with probability `male_fraction`, from a random stream of its own (ChaCha8 seeded with
    /// `seed`, stream `2^63 + index`), so the rest of the case is drawn as without it.
    ///
    /// ```
    /// use medburn_datasets::synth::Participant;
    /// let a = Participant::draw(3, 7, [20.0, 85.0], 0.5);
    /// assert_eq!(a, Participant::draw(3, 7, [20.0, 85.0], 0.5));
    /// assert!((20.0..=85.0).contains(&a.age));
    /// ```
    pub fn draw(seed: u64, index: usize, age_years: [f64; 2], male_fraction: f64) -> Participant {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream((1 << 63) | index as u64);
        let [lo, hi] = age_years;
        let age = super::uniform(&mut rng, [lo, hi]);
        let male = rng.random::<f64>() < male_fraction;
        Participant {
            age: (age * 10.0).round() / 10.0,
            sex: if male { Sex::Male } else { Sex::Female },
        }
    }
}
