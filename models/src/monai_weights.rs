//! Loading MONAI weights (a PyTorch `state_dict` saved as safetensors) into any network of
//! this crate: [`MonaiKeys`] says where each MONAI key goes, [`load_monai_safetensors`] loads.

use std::collections::HashSet;
use std::path::Path;

use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::{BatchNorm, Linear};
use burn::store::{
    FloatCastAdapter, KeyRemapper, ModuleAdapter, ModuleSnapshot, PyTorchToBurnAdapter,
    SafetensorsStore,
};
use burn::tensor::{DType, Tensor};

use crate::nn::{Conv3d, ConvTranspose3d, InstanceNorm, PRelu};
use crate::ModelError;

/// Pairs `(MONAI state_dict key, Burn parameter path)`.
///
/// ```
/// use burn::nn::PReluConfig;
/// use burn::tensor::Device;
/// use medburn_models::{nn::PRelu, MonaiKeyMap, MonaiKeys};
///
/// let map: MonaiKeyMap = PRelu::new(&PReluConfig::new(), &Device::flex()).monai_key_map();
/// assert_eq!(map, vec![("weight".to_string(), "alpha".to_string())]);
/// ```
pub type MonaiKeyMap = Vec<(String, String)>;

/// A module whose tensors have MONAI `state_dict` keys: implemented by the networks
/// ([`crate::UNet3d`], [`crate::ResNet3d`], [`crate::Regressor`], [`crate::VoxelMorph`],
/// [`crate::AutoEncoder`], [`crate::VarAutoEncoder`]), by the blocks of
/// [`crate::blocks`] (keys relative to the block, as a MONAI block's own `state_dict`), and by
/// the layers (`Conv3d`, `ConvTranspose3d`, `InstanceNorm`, `PRelu`, Burn's `BatchNorm` and
/// `Linear`).
///
/// MONAI and Burn name the same tensors differently: PyTorch's norm `weight`/`bias` are
/// Burn's `gamma`/`beta`, a PReLU's `weight` is Burn's `alpha`, Burn's record paths follow
/// the Rust fields and include enum variants (`adn.norm.Instance.gamma`). Batch norms'
/// `running_mean` and `running_var` are mapped (Burn's running state); their
/// `num_batches_tracked` is not (Burn keeps no such counter). Convolution and transposed
/// convolution weights have one layout in both; a `Linear` weight is transposed on loading.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{MonaiKeys, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32], vec![2]).with_num_res_units(1).init(&Device::flex())?;
/// let map = model.monai_key_map();
/// assert!(map.contains(&("model.0.conv.unit0.adn.A.weight".into(), "down.0.Residual.units.0.adn.act.PRelu.alpha".into())));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub trait MonaiKeys {
    /// Appends every tensor of the module as `(monai + MONAI key, burn + Burn path)`; each
    /// prefix is empty or ends with a dot.
    ///
    /// ```
    /// use burn::nn::conv::Conv3dConfig;
    /// use burn::tensor::Device;
    /// use medburn_models::nn::Conv3d;
    /// use medburn_models::MonaiKeys;
    ///
    /// let conv = Conv3d::new(&Conv3dConfig::new([1, 2], [3, 3, 3]), &Device::flex());
    /// let mut map = Vec::new();
    /// conv.push_monai_keys("net.0.", "layers.0.", &mut map);
    /// assert_eq!(map[0], ("net.0.weight".to_string(), "layers.0.weight".to_string()));
    /// ```
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap);

    /// Every tensor of the module as `(MONAI key, Burn path)`.
    ///
    /// ```
    /// use burn::tensor::Device;
    /// use medburn_models::blocks::{ConvolutionConfig, NormConfig};
    /// use medburn_models::MonaiKeys;
    ///
    /// let block = ConvolutionConfig::new(1, 4).with_norm(NormConfig::batch()).init(&Device::flex())?;
    /// let keys: Vec<_> = block.monai_key_map().into_iter().map(|(m, _)| m).collect();
    /// assert_eq!(keys, ["conv.weight", "conv.bias", "adn.N.weight", "adn.N.bias",
    ///                   "adn.N.running_mean", "adn.N.running_var", "adn.A.weight"]);
    /// # Ok::<(), medburn_models::ModelError>(())
    /// ```
    fn monai_key_map(&self) -> MonaiKeyMap {
        let mut map = Vec::new();
        self.push_monai_keys("", "", &mut map);
        map
    }
}

/// `model.monai_key_map()`: every tensor of `model` as `(MONAI state_dict key, Burn
/// parameter path)`. For the U-Net, level by level from the top (each level's encoder then
/// decoder layer), the bottom layer last.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{monai_key_map, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32], vec![2]).with_num_res_units(1).init(&Device::flex())?;
/// let map = monai_key_map(&model);
/// assert!(map.contains(&("model.1.submodule.residual.weight".into(), "bottom.Residual.residual.weight".into())));
/// assert!(map.contains(&("model.2.0.conv.weight".into(), "up.0.upsample.conv.weight".into())));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn monai_key_map<M: MonaiKeys>(model: &M) -> MonaiKeyMap {
    model.monai_key_map()
}

fn push(map: &mut MonaiKeyMap, monai: &str, burn: &str, monai_name: &str, burn_name: &str) {
    map.push((format!("{monai}{monai_name}"), format!("{burn}{burn_name}")));
}

impl<T: MonaiKeys> MonaiKeys for Option<T> {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        if let Some(inner) = self {
            inner.push_monai_keys(monai, burn, map);
        }
    }
}

impl MonaiKeys for Conv3d {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        push(map, monai, burn, "weight", "weight");
        if self.bias.is_some() {
            push(map, monai, burn, "bias", "bias");
        }
    }
}

impl MonaiKeys for ConvTranspose3d {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        push(map, monai, burn, "weight", "weight");
        if self.bias.is_some() {
            push(map, monai, burn, "bias", "bias");
        }
    }
}

impl MonaiKeys for Linear {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        push(map, monai, burn, "weight", "weight");
        if self.bias.is_some() {
            push(map, monai, burn, "bias", "bias");
        }
    }
}

impl MonaiKeys for InstanceNorm {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        if self.gamma.is_some() {
            push(map, monai, burn, "weight", "gamma");
        }
        if self.beta.is_some() {
            push(map, monai, burn, "bias", "beta");
        }
    }
}

impl MonaiKeys for BatchNorm {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        push(map, monai, burn, "weight", "gamma");
        push(map, monai, burn, "bias", "beta");
        push(map, monai, burn, "running_mean", "running_mean");
        push(map, monai, burn, "running_var", "running_var");
    }
}

impl MonaiKeys for PRelu {
    fn push_monai_keys(&self, monai: &str, burn: &str, map: &mut MonaiKeyMap) {
        push(map, monai, burn, "weight", "alpha");
    }
}

/// Whether a `state_dict` key names a buffer that Burn has no counterpart for and that
/// loading skips: a batch norm's `num_batches_tracked` (used by PyTorch only when
/// `momentum=None`).
///
/// ```
/// assert!(medburn_models::is_ignored_monai_key("layer1.0.bn1.num_batches_tracked"));
/// assert!(!medburn_models::is_ignored_monai_key("layer1.0.bn1.running_var"));
/// ```
pub fn is_ignored_monai_key(key: &str) -> bool {
    key == "num_batches_tracked" || key.ends_with(".num_batches_tracked")
}

/// A regex matching exactly `key`.
fn exact(key: &str) -> String {
    let mut re = String::from("^");
    for c in key.chars() {
        if !(c.is_ascii_alphanumeric() || c == '_') {
            re.push('\\');
        }
        re.push(c);
    }
    re.push('$');
    re
}

/// The float type of a module's first float tensor.
#[derive(Default)]
struct FirstDType(Option<DType>);

impl ModuleVisitor for FirstDType {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.0.is_none() {
            self.0 = Some(param.val().dtype());
        }
    }
}

/// Loads the weights of a MONAI network into `model`, which must have been built with the
/// same arguments (the configurations of this crate name them as MONAI does): a
/// `monai.networks.nets.UNet` into a [`crate::UNet3d`], a `ResNet` into a [`crate::ResNet3d`],
/// a `Regressor` into a [`crate::Regressor`], a `VoxelMorph` into a [`crate::VoxelMorph`], an
/// `AutoEncoder` or `VarAutoEncoder` into a [`crate::AutoEncoder`] or
/// [`crate::VarAutoEncoder`], a block into its block.
///
/// `path` is a safetensors file of the network's `state_dict`, as written by
/// `safetensors.torch.save_file(net.state_dict(), path)`; float tensors of any precision are
/// cast to the float type of the model's parameters. Every tensor of the model (parameters,
/// and batch norms' running statistics) must be in the file and every tensor of the file must
/// go to one, with the same shape, except the `num_batches_tracked` counters
/// ([`is_ignored_monai_key`]): otherwise nothing is returned but the error, which names the
/// keys.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{load_monai_safetensors, ModelError, ResNetConfig, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32], vec![2]).init(&Device::flex())?;
/// let err = load_monai_safetensors(model, "no/such/file.safetensors").unwrap_err();
/// assert!(matches!(err, ModelError::Weights { .. }));
/// // Any network: MONAI's resnet18(spatial_dims=3, n_input_channels=1, num_classes=2).
/// let resnet = ResNetConfig::resnet18(1, 2).with_widen_factor(0.125).init(&Device::flex())?;
/// assert!(load_monai_safetensors(resnet, "no/such/file.safetensors").is_err());
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn load_monai_safetensors<M: Module + MonaiKeys>(
    mut model: M,
    path: impl AsRef<Path>,
) -> Result<M, ModelError> {
    let path = path.as_ref();
    let weights_error = |message: String| ModelError::Weights {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(weights_error("no such file".into()));
    }
    let map = model.monai_key_map();
    // Patterns apply one after the other: a Burn path that is also another MONAI key would be
    // renamed twice.
    let monai_keys: HashSet<&str> = map.iter().map(|(m, _)| m.as_str()).collect();
    debug_assert_eq!(monai_keys.len(), map.len(), "duplicate MONAI keys");
    debug_assert!(map
        .iter()
        .all(|(m, b)| m == b || !monai_keys.contains(b.as_str())));
    let remapper = KeyRemapper::from_pattern_iter(
        map.iter().map(|(monai, burn)| (exact(monai), burn.clone())),
    )
    .map_err(|e| weights_error(format!("key pattern: {e}")))?;
    let mut dtype = FirstDType::default();
    model.visit(&mut dtype);
    let adapter = PyTorchToBurnAdapter.chain(FloatCastAdapter::to(dtype.0.unwrap_or(DType::F32)));
    let mut store = SafetensorsStore::from_file(path)
        .remap(remapper)
        .with_from_adapter(adapter)
        .allow_partial(true)
        .validate(false);
    let result = model
        .load_from(&mut store)
        .map_err(|e| weights_error(e.to_string()))?;
    if !result.errors.is_empty() {
        return Err(weights_error(format!("{:?}", result.errors)));
    }
    if !result.missing.is_empty() {
        let burn_to_monai = |burn: &str| {
            map.iter()
                .find(|(_, b)| b == burn)
                .map_or_else(|| burn.to_string(), |(m, _)| m.clone())
        };
        return Err(ModelError::MissingWeights {
            path: path.to_path_buf(),
            keys: result
                .missing
                .iter()
                .map(|(p, _)| burn_to_monai(p))
                .collect(),
        });
    }
    let unused: Vec<String> = result
        .unused
        .iter()
        .filter(|k| !is_ignored_monai_key(k))
        .cloned()
        .collect();
    if !unused.is_empty() {
        return Err(ModelError::UnexpectedWeights {
            path: path.to_path_buf(),
            keys: unused,
        });
    }
    Ok(model)
}
