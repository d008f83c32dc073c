//! The loss of a run, chosen by name (`[loss] name = "dice_ce"`), with MONAI's / PyTorch's
//! parameter names. Each task takes the losses that fit its outputs.

use medburn_register::{Regularizer, Similarity};
use serde::{Deserialize, Serialize};

/// The loss and its parameters.
///
/// ```
/// use medburn_train::LossConfig;
/// let l: LossConfig = toml::from_str("name = \"huber\"\ndelta = 0.5").unwrap();
/// assert_eq!(l, LossConfig::Huber { delta: 0.5 });
/// assert!(toml::from_str::<LossConfig>("name = \"mse\"\ndelta = 0.5").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum LossConfig {
    /// Dice + cross-entropy on voxel-wise logits (MONAI's `DiceCELoss`, softmax, one-hot).
    DiceCe {
        /// Include the background channel in the Dice term.
        #[serde(default)]
        include_background: bool,
        /// Weight of the Dice term.
        #[serde(default = "one")]
        lambda_dice: f64,
        /// Weight of the cross-entropy term.
        #[serde(default = "one")]
        lambda_ce: f64,
    },
    /// Mean squared error (`torch.nn.MSELoss`) on standardized targets. (A struct variant
    /// without fields, so that a field it does not take is an error, as for the others.)
    Mse {},
    /// Mean absolute error (`torch.nn.L1Loss`) on standardized targets.
    L1 {},
    /// Huber loss (`torch.nn.HuberLoss`) on standardized targets.
    Huber {
        /// Where the loss turns from quadratic to linear (in standard deviations).
        #[serde(default = "one")]
        delta: f64,
    },
    /// Cross-entropy on class logits (`torch.nn.CrossEntropyLoss`).
    CrossEntropy {
        /// Label smoothing in `[0, 1)`.
        #[serde(default)]
        label_smoothing: f64,
    },
    /// Deformable registration, as VoxelMorph trains: the dissimilarity of the warped moving
    /// image and the fixed image, plus `regularization_weight` times the displacement's
    /// roughness, plus (semi-supervised, where the data has label maps) `dice_weight` times
    /// one minus the soft Dice of the warped moving labels (one-hot, warped linearly) against
    /// the fixed labels, over the foreground labels.
    Registration {
        /// `lncc` (MONAI's `LocalNormalizedCrossCorrelationLoss`, rectangular windows), `mse`
        /// or `mi` (MONAI's `GlobalMutualInformationLoss`).
        #[serde(default = "lncc")]
        similarity: Similarity,
        /// The LNCC window, voxels (odd).
        #[serde(default = "nine")]
        kernel_size: usize,
        /// `diffusion` (MONAI's `DiffusionLoss`, VoxelMorph's) or `bending-energy` (MONAI's
        /// `BendingEnergyLoss`).
        #[serde(default)]
        regularization: Regularizer,
        /// Weight of the regularization (VoxelMorph's lambda).
        #[serde(default = "one")]
        regularization_weight: f64,
        /// Weight of the Dice term on label maps; 0: unsupervised.
        #[serde(default)]
        dice_weight: f64,
    },
}

fn one() -> f64 {
    1.0
}

fn nine() -> usize {
    9
}

fn lncc() -> Similarity {
    Similarity::Lncc
}

impl LossConfig {
    /// Every name, as `[loss] name` takes it.
    pub const NAMES: [&'static str; 6] = [
        "dice_ce",
        "mse",
        "l1",
        "huber",
        "cross_entropy",
        "registration",
    ];

    /// The defaults of the loss called `name`.
    ///
    /// ```
    /// use medburn_train::LossConfig;
    /// assert_eq!(LossConfig::named("l1").unwrap(), LossConfig::L1 {});
    /// assert!(LossConfig::named("focal").is_err());
    /// ```
    pub fn named(name: &str) -> Result<LossConfig, String> {
        Ok(match name {
            "dice_ce" => LossConfig::DiceCe {
                include_background: false,
                lambda_dice: 1.0,
                lambda_ce: 1.0,
            },
            "mse" => LossConfig::Mse {},
            "l1" => LossConfig::L1 {},
            "huber" => LossConfig::Huber { delta: 1.0 },
            "cross_entropy" => LossConfig::CrossEntropy {
                label_smoothing: 0.0,
            },
            "registration" => LossConfig::Registration {
                similarity: Similarity::Lncc,
                kernel_size: 9,
                regularization: Regularizer::Diffusion,
                regularization_weight: 1.0,
                dice_weight: 0.0,
            },
            other => {
                return Err(format!(
                    "unknown loss {other:?} (known: {})",
                    Self::NAMES.join(", ")
                ))
            }
        })
    }

    /// The name the TOML gives.
    pub fn name(&self) -> &'static str {
        match self {
            LossConfig::DiceCe { .. } => "dice_ce",
            LossConfig::Mse {} => "mse",
            LossConfig::L1 {} => "l1",
            LossConfig::Huber { .. } => "huber",
            LossConfig::CrossEntropy { .. } => "cross_entropy",
            LossConfig::Registration { .. } => "registration",
        }
    }
}
