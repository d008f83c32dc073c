//! MONAI's `ADN` block: normalization, dropout and activation in a configurable order.

use burn::module::Module;
use burn::nn::Dropout;
use burn::tensor::Tensor;

use crate::nn::{InstanceNorm, PRelu};

/// Normalization (`N`), dropout (`D`) and activation (`A`) applied in the order of
/// [`ordering`](Adn::ordering), as MONAI's `monai.networks.blocks.ADN`.
///
/// The U-Net uses instance normalization (PyTorch's `InstanceNorm3d`: per sample and
/// channel, biased variance, no running statistics; affine only when asked) and a PReLU
/// with one slope. Dropout is element-wise (MONAI's `dropout_dim=1`) and acts only while
/// training on an autodiff device. A letter missing from the ordering leaves its layer out,
/// as in MONAI; dropout is also left out when its probability is 0, where MONAI keeps an
/// identity `Dropout(p=0.0)` that holds no weights.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::UNet3dConfig;
///
/// let device = Device::flex();
/// let model = UNet3dConfig::new(1, 2, vec![4, 8], vec![2]).init(&device)?;
/// // The first encoder block: Conv3d, then instance norm and PReLU ("NDA", no dropout).
/// let medburn_models::DownLayer::Plain(block) = &model.down[0] else { unreachable!() };
/// let adn = block.adn.as_ref().unwrap();
/// assert_eq!(adn.ordering, "NA");
/// let y = adn.forward(Tensor::<5>::ones([1, 4, 2, 2, 2], &device));
/// assert_eq!(y.dims(), [1, 4, 2, 2, 2]);
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct Adn {
    /// `N`: instance normalization (MONAI key `adn.N`; weights only when affine).
    pub norm: Option<InstanceNorm>,
    /// `D`: dropout (no weights).
    pub dropout: Option<Dropout>,
    /// `A`: PReLU with one slope (MONAI key `adn.A.weight`).
    pub act: Option<PRelu>,
    /// The letters of the layers present, in the order they apply (upper case).
    pub ordering: String,
}

impl Adn {
    /// Applies the layers in [`ordering`](Adn::ordering).
    ///
    /// ```
    /// use burn::nn::PReluConfig;
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::Adn;
    ///
    /// let device = Device::flex();
    /// let adn = Adn { norm: None, dropout: None, act: Some(PReluConfig::new().init(&device).into()), ordering: "A".into() };
    /// let y = adn.forward(Tensor::<5>::full([1, 1, 1, 1, 2], -4.0, &device));
    /// assert_eq!(y.into_data().try_to_vec::<f32>().unwrap(), vec![-1.0, -1.0]);
    /// ```
    pub fn forward(&self, mut x: Tensor<5>) -> Tensor<5> {
        for op in self.ordering.chars() {
            x = match op {
                'N' => match &self.norm {
                    Some(norm) => norm.forward(x),
                    None => x,
                },
                'D' => match &self.dropout {
                    Some(dropout) => dropout.forward(x),
                    None => x,
                },
                'A' => match &self.act {
                    Some(act) => act.forward(x),
                    None => x,
                },
                _ => x,
            };
        }
        x
    }
}
