//! [`VarAutoEncoder`]: MONAI's variational autoencoder (`monai.networks.nets.VarAutoEncoder`,
//! `spatial_dims=3`), and [`kl_divergence`].

use burn::module::Module;
use burn::nn::Linear;
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::{Distribution, Tensor};

use super::AutoEncoder;
use crate::monai_weights::{MonaiKeyMap, MonaiKeys};
use crate::ModelError;

/// What [`VarAutoEncoder::forward`] returns, MONAI's `(reconstruction, mu, logvar, z)`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::VarAutoEncoderConfig;
///
/// let device = Device::flex();
/// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 3, vec![2], vec![2]).init(&device)?;
/// let out = vae.forward(Tensor::<5>::zeros([2, 1, 4, 4, 4], &device));
/// assert_eq!(out.reconstruction.dims(), [2, 1, 4, 4, 4]);
/// assert_eq!((out.mu.dims(), out.logvar.dims(), out.z.dims()), ([2, 3], [2, 3], [2, 3]));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Clone, Debug)]
pub struct VarAutoEncoderOutput {
    /// The decoded latent code `[N, out_channels, D', H', W']` (through a sigmoid with
    /// `use_sigmoid`).
    pub reconstruction: Tensor<5>,
    /// Mean of the posterior `[N, latent_size]`.
    pub mu: Tensor<2>,
    /// Log-variance of the posterior `[N, latent_size]`.
    pub logvar: Tensor<2>,
    /// The latent code that was decoded `[N, latent_size]` (see
    /// [`VarAutoEncoder::reparameterize`]).
    pub z: Tensor<2>,
}

/// MONAI's 3D variational autoencoder: [`AutoEncoder`]'s encoder (and intermediate blocks),
/// the flattened features through two linear layers to the posterior's mean `mu` and
/// log-variance `logvar`, a latent code `z` drawn from them, and back through a linear layer
/// (`decodeL`), a ReLU and the decoder. Build it with
/// [`VarAutoEncoderConfig::init`](super::VarAutoEncoderConfig::init), load MONAI's weights
/// with [`crate::load_monai_safetensors`].
///
/// Input `[N, C, D, H, W]` with `(C, D, H, W)` the configuration's `in_shape` exactly (the
/// linear layers are sized for it). The reconstruction has `out_channels` channels and, per
/// axis, the size of the encoder's output times the product of the strides: the input's size
/// where the strides divide it.
///
/// Training or eval mode is Burn's: training on an autodiff device (as Burn's dropout and
/// batch norm), eval after `model.valid()` or on a device without autodiff. See
/// [`reparameterize`](Self::reparameterize) for what that changes.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::{kl_divergence, ModelError, VarAutoEncoderConfig};
///
/// let device = Device::flex();
/// let vae = VarAutoEncoderConfig::new(vec![1, 8, 8, 8], 1, 4, vec![4, 8], vec![2, 2])
///     .with_num_res_units(1).init(&device)?;
/// let x = Tensor::<5>::ones([2, 1, 8, 8, 8], &device);
/// let out = vae.try_forward(x.clone())?;
/// let loss = (out.reconstruction - x).powi_scalar(2).mean() + kl_divergence(out.mu, out.logvar);
/// assert!(loss.into_scalar::<f32>().is_finite());
/// let err = vae.try_forward(Tensor::<5>::ones([2, 1, 8, 8, 16], &device)).unwrap_err();
/// assert!(matches!(err, ModelError::InputShape { .. }));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
#[derive(Module, Debug)]
pub struct VarAutoEncoder {
    /// The convolutional layers (MONAI `encode.*`, `intermediate.*`, `decode.*`).
    pub autoencoder: AutoEncoder,
    /// Flattened features to the posterior's mean (MONAI `mu`).
    pub mu: Linear,
    /// Flattened features to the posterior's log-variance (MONAI `logvar`).
    pub logvar: Linear,
    /// The latent code back to the decoder's features (MONAI `decodeL`).
    pub decode_l: Linear,
    /// Shape of one input `(C, D, H, W)`.
    #[module(skip)]
    pub in_shape: Vec<usize>,
    /// Spatial size of the encoder's output (and of the decoder's input).
    #[module(skip)]
    pub final_size: [usize; 3],
    /// Whether a sigmoid maps the reconstruction into `(0, 1)`.
    pub use_sigmoid: bool,
    /// Whether the latent code in eval mode is `mu` (else `mu + std`, MONAI's default).
    pub use_mean_at_inference: bool,
}

impl VarAutoEncoder {
    /// The reconstruction, `mu`, `logvar` and the latent code `z` (MONAI's `forward`):
    /// [`encode`](Self::encode), [`reparameterize`](Self::reparameterize),
    /// [`decode`](Self::decode). Panics where [`check_input`](Self::check_input) fails; use
    /// [`try_forward`](Self::try_forward) on inputs of unknown shape.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![2, 4, 4, 8], 2, 3, vec![4], vec![2]).init(&device)?;
    /// let out = vae.forward(Tensor::<5>::zeros([1, 2, 4, 4, 8], &device));
    /// assert_eq!(out.reconstruction.dims(), [1, 2, 4, 4, 8]);
    /// // Eval mode (no autodiff): z = mu + std, as MONAI's.
    /// let std = (out.logvar * 0.5).exp();
    /// let diff = (out.z - out.mu - std).abs().max().into_scalar::<f32>();
    /// assert!(diff < 1e-6);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward(&self, x: Tensor<5>) -> VarAutoEncoderOutput {
        let (mu, logvar) = self.encode(x);
        let z = self.reparameterize(mu.clone(), logvar.clone());
        self.output(mu, logvar, z)
    }

    /// [`forward`](Self::forward) with the training-mode latent code `mu + noise * std` for a
    /// given `noise` `[N, latent_size]` (standard normal for a VAE), whatever the mode: a
    /// reproducible training step.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 3, vec![2], vec![2]).init(&device)?;
    /// let x = Tensor::<5>::zeros([2, 1, 4, 4, 4], &device);
    /// let out = vae.forward_with_noise(x, Tensor::zeros([2, 3], &device));
    /// // Zero noise: z is the mean.
    /// assert!((out.z - out.mu).abs().max().into_scalar::<f32>() == 0.0);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn forward_with_noise(&self, x: Tensor<5>, noise: Tensor<2>) -> VarAutoEncoderOutput {
        let (mu, logvar) = self.encode(x);
        let z = reparameterize_with_noise(mu.clone(), logvar.clone(), noise);
        self.output(mu, logvar, z)
    }

    fn output(&self, mu: Tensor<2>, logvar: Tensor<2>, z: Tensor<2>) -> VarAutoEncoderOutput {
        VarAutoEncoderOutput {
            reconstruction: self.decode(z.clone()),
            mu,
            logvar,
            z,
        }
    }

    /// [`check_input`](Self::check_input), then [`forward`](Self::forward).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 3, vec![2], vec![2]).init(&device)?;
    /// assert!(vae.try_forward(Tensor::<5>::zeros([1, 1, 4, 4, 4], &device)).is_ok());
    /// assert!(vae.try_forward(Tensor::<5>::zeros([1, 2, 4, 4, 4], &device)).is_err());
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_forward(&self, x: Tensor<5>) -> Result<VarAutoEncoderOutput, ModelError> {
        self.check_input(x.dims())?;
        Ok(self.forward(x))
    }

    /// Whether an input of `shape` fits: `[N, C, D, H, W]` with `N > 0` and `(C, D, H, W)` the
    /// configuration's `in_shape`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let vae = VarAutoEncoderConfig::new(vec![1, 8, 8, 4], 1, 3, vec![2], vec![2]).init(&Device::flex())?;
    /// assert!(vae.check_input([5, 1, 8, 8, 4]).is_ok());
    /// assert!(vae.check_input([5, 1, 8, 8, 8]).is_err()); // another size
    /// assert!(vae.check_input([0, 1, 8, 8, 4]).is_err()); // empty batch
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn check_input(&self, shape: [usize; 5]) -> Result<(), ModelError> {
        let fail = |reason: String| {
            Err(ModelError::InputShape {
                shape: shape.to_vec(),
                reason,
            })
        };
        if shape[1..] != self.in_shape[..] {
            return fail(format!(
                "the VAE takes (C, D, H, W) = {:?} exactly (its linear layers are sized for it)",
                self.in_shape
            ));
        }
        if shape[0] == 0 {
            return fail("the batch is empty".into());
        }
        Ok(())
    }

    /// The posterior's `(mu, logvar)`, each `[N, latent_size]` (MONAI's `encode_forward`): the
    /// encoder and intermediate blocks, flattened, through the `mu` and `logvar` layers. `mu`
    /// alone is the deterministic latent code of an input (an embedding).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 8, 8, 8], 1, 5, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let (mu, logvar) = vae.encode(Tensor::<5>::zeros([3, 1, 8, 8, 8], &device));
    /// assert_eq!((mu.dims(), logvar.dims()), ([3, 5], [3, 5]));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn encode(&self, x: Tensor<5>) -> (Tensor<2>, Tensor<2>) {
        let x = self.autoencoder.encode(x);
        let [n, c, d, h, w] = x.dims();
        let x = x.reshape([n, c * d * h * w]);
        (self.mu.forward(x.clone()), self.logvar.forward(x))
    }

    /// The latent code from `mu` and `logvar`, as MONAI's `reparameterize`:
    ///
    /// - training (an autodiff device, as Burn's dropout decides): `mu + noise * std` with
    ///   `std = exp(logvar / 2)` and `noise` standard normal from Burn's generator on the
    ///   device (seed it with `device.seed(..)`; or give the noise:
    ///   [`reparameterize_with_noise`]);
    /// - eval: **`mu + std`**, not `mu`: MONAI's `std.add_(mu)` without the random factor,
    ///   reproduced for parity with its outputs; `mu` with `use_mean_at_inference` (MONAI's
    ///   option of that name). [`reparameterize_eval`](Self::reparameterize_eval) is this case
    ///   in any mode; for the posterior mean as a latent code, take `encode(x).0`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 2, vec![2], vec![2]).init(&device)?;
    /// let mu = Tensor::<2>::from_floats([[1.0, -1.0]], &device);
    /// let logvar = Tensor::<2>::from_floats([[0.0, 2.0f32.ln() * 2.0]], &device);
    /// let z = vae.reparameterize(mu, logvar); // eval: mu + std
    /// let z = z.into_data().to_vec::<f32>().unwrap();
    /// assert!((z[0] - 2.0).abs() < 1e-6 && (z[1] - 1.0).abs() < 1e-6);
    /// // On an autodiff device (training): a random draw around mu.
    /// let ad = device.autodiff();
    /// ad.seed(7);
    /// let mu = Tensor::<2>::zeros([1000, 2], &ad);
    /// let z = vae.reparameterize(mu.clone(), Tensor::zeros([1000, 2], &ad));
    /// let spread = z.var(0).mean().into_scalar::<f32>();
    /// assert!((spread - 1.0).abs() < 0.2, "{spread}");
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn reparameterize(&self, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
        if mu.device().is_autodiff() {
            let noise = mu.random_like(Distribution::Normal(0.0, 1.0));
            reparameterize_with_noise(mu, logvar, noise)
        } else {
            self.reparameterize_eval(mu, logvar)
        }
    }

    /// MONAI's eval-mode latent code: `mu + exp(logvar / 2)` (`mu` with
    /// `use_mean_at_inference`).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let config = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 1, vec![2], vec![2]);
    /// let (mu, logvar) = (Tensor::<2>::ones([1, 1], &device), Tensor::<2>::zeros([1, 1], &device));
    /// let vae = config.clone().init(&device)?;
    /// assert_eq!(vae.reparameterize_eval(mu.clone(), logvar.clone()).into_scalar::<f32>(), 2.0);
    /// let vae = config.with_use_mean_at_inference(true).init(&device)?;
    /// assert_eq!(vae.reparameterize_eval(mu, logvar).into_scalar::<f32>(), 1.0);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn reparameterize_eval(&self, mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<2> {
        if self.use_mean_at_inference {
            mu
        } else {
            mu + (logvar * 0.5).exp()
        }
    }

    /// The reconstruction of a latent code `z` `[N, latent_size]` (MONAI's `decode_forward`):
    /// `ReLU(decodeL(z))` reshaped to `[N, channels[-1], final_size]`, the decoder, and a
    /// sigmoid with `use_sigmoid`. Panics where `z` is not `[N, latent_size]`; see
    /// [`try_decode`](Self::try_decode).
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::VarAutoEncoderConfig;
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 8, 4, 4], 2, 3, vec![4, 8], vec![2, 2]).init(&device)?;
    /// let y = vae.decode(Tensor::<2>::zeros([2, 3], &device));
    /// assert_eq!(y.dims(), [2, 2, 8, 4, 4]);
    /// let v = y.into_data().to_vec::<f32>().unwrap();
    /// assert!(v.iter().all(|&p| p > 0.0 && p < 1.0)); // sigmoid
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn decode(&self, z: Tensor<2>) -> Tensor<5> {
        let x = relu(self.decode_l.forward(z));
        let n = x.dims()[0];
        let [d, h, w] = self.final_size;
        let x = x.reshape([n, self.autoencoder.encoded_channels(), d, h, w]);
        let y = self.autoencoder.decode(x);
        if self.use_sigmoid {
            sigmoid(y)
        } else {
            y
        }
    }

    /// [`decode`](Self::decode), after checking that `z` is `[N, latent_size]` with `N > 0`.
    ///
    /// ```
    /// use burn::tensor::{Device, Tensor};
    /// use medburn_models::{ModelError, VarAutoEncoderConfig};
    ///
    /// let device = Device::flex();
    /// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 3, vec![2], vec![2]).init(&device)?;
    /// assert!(vae.try_decode(Tensor::<2>::zeros([1, 3], &device)).is_ok());
    /// let err = vae.try_decode(Tensor::<2>::zeros([1, 4], &device)).unwrap_err();
    /// assert!(matches!(err, ModelError::InputShape { .. }));
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn try_decode(&self, z: Tensor<2>) -> Result<Tensor<5>, ModelError> {
        let [n, latent] = z.dims();
        if latent != self.latent_size() || n == 0 {
            return Err(ModelError::InputShape {
                shape: vec![n, latent],
                reason: format!(
                    "the decoder takes latent codes [N, {}] with N > 0",
                    self.latent_size()
                ),
            });
        }
        Ok(self.decode(z))
    }

    /// Size of the latent vector.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::VarAutoEncoderConfig;
    /// let vae = VarAutoEncoderConfig::new(vec![1, 4, 4, 4], 1, 7, vec![2], vec![2]).init(&Device::flex())?;
    /// assert_eq!(vae.latent_size(), 7);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    pub fn latent_size(&self) -> usize {
        self.decode_l.weight.dims()[0]
    }
}

/// The training-mode latent code `mu + noise * exp(logvar / 2)` (the reparameterization
/// trick), for a given `noise` of `mu`'s shape.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::autoencoder::reparameterize_with_noise;
///
/// let device = Device::flex();
/// let mu = Tensor::<2>::from_floats([[1.0, 0.0]], &device);
/// let logvar = Tensor::<2>::from_floats([[0.0, 4.0f32.ln()]], &device); // std 1 and 2
/// let noise = Tensor::<2>::from_floats([[0.5, -1.0]], &device);
/// let z = reparameterize_with_noise(mu, logvar, noise);
/// let z = z.into_data().to_vec::<f32>().unwrap();
/// assert!((z[0] - 1.5).abs() < 1e-6 && (z[1] + 2.0).abs() < 1e-6);
/// ```
pub fn reparameterize_with_noise(mu: Tensor<2>, logvar: Tensor<2>, noise: Tensor<2>) -> Tensor<2> {
    mu + noise * (logvar * 0.5).exp()
}

/// The Kullback-Leibler divergence of the posterior `N(mu, exp(logvar))` from the standard
/// normal prior, summed over the latent dimensions and averaged over the batch:
/// `mean_n sum_j -0.5 * (1 + logvar - mu^2 - exp(logvar))`, the VAE's regularization term (a
/// one-element tensor).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_models::kl_divergence;
///
/// let device = Device::flex();
/// // The prior itself: no divergence.
/// let zero = kl_divergence(Tensor::zeros([2, 3], &device), Tensor::zeros([2, 3], &device));
/// assert_eq!(zero.into_scalar::<f32>(), 0.0);
/// // mu = 2 in one of three dimensions, in one of two samples: 0.5 * 4 / 2.
/// let mu = Tensor::<2>::from_floats([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], &device);
/// let kl = kl_divergence(mu, Tensor::zeros([2, 3], &device));
/// assert!((kl.into_scalar::<f32>() - 1.0).abs() < 1e-6);
/// ```
pub fn kl_divergence(mu: Tensor<2>, logvar: Tensor<2>) -> Tensor<1> {
    let terms = logvar.clone() + 1.0 - mu.powi_scalar(2) - logvar.exp();
    (terms.sum_dim(1) * -0.5).mean()
}

/// MONAI keys `encode.*`, `intermediate.*`, `decode.*` (as [`AutoEncoder`]'s), `mu.*`,
/// `logvar.*`, `decodeL.*`; Burn paths `autoencoder.*`, `mu.*`, `logvar.*`, `decode_l.*`. The
/// linear weights are transposed on loading.
impl MonaiKeys for VarAutoEncoder {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        self.autoencoder
            .push_monai_keys(monai, &format!("{burn}autoencoder."), map);
        for (name, path, layer) in [
            ("mu", "mu", &self.mu),
            ("logvar", "logvar", &self.logvar),
            ("decodeL", "decode_l", &self.decode_l),
        ] {
            layer.push_monai_keys(&format!("{monai}{name}."), &format!("{burn}{path}."), map);
        }
    }
}
