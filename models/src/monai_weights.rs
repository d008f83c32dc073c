//! Loading the weights of a MONAI `UNet` (a PyTorch `state_dict` saved as safetensors).

use std::path::Path;

use burn::store::{FloatCastAdapter, KeyRemapper, ModuleSnapshot, SafetensorsStore};

use crate::unet::{Adn, Convolution, DownLayer, ResidualUnit, TransposedConvolution, UpLayer};
use crate::{ModelError, UNet3d};

/// Every parameter of `model` as `(MONAI state_dict key, Burn parameter path)`, level by
/// level from the top (each level's encoder then decoder layer), the bottom layer last.
///
/// MONAI nests each level inside the one above (`model.1.submodule.` once per level), names
/// ADN layers `N` and `A`, and calls a PReLU slope `weight`; Burn's paths follow
/// [`UNet3d`]'s fields (`down.{i}`, `bottom`, `up.{i}`, enum variants included) and Burn's
/// names (`gamma`/`beta` for the norm, `alpha` for PReLU). Convolution and transposed
/// convolution weights have the same layout in both, so nothing is transposed.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{monai_key_map, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32], vec![2]).with_num_res_units(1).init(&Device::flex())?;
/// let map = monai_key_map(&model);
/// assert!(map.contains(&("model.0.conv.unit0.adn.A.weight".into(), "down.0.Residual.units.0.adn.act.alpha".into())));
/// assert!(map.contains(&("model.1.submodule.residual.weight".into(), "bottom.Residual.residual.weight".into())));
/// assert!(map.contains(&("model.2.0.conv.weight".into(), "up.0.upsample.conv.weight".into())));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn monai_key_map(model: &UNet3d) -> Vec<(String, String)> {
    let mut map = Vec::new();
    let mut prefix = String::from("model.");
    for (i, (down, up)) in model.down.iter().zip(&model.up).enumerate() {
        down_layer(
            &mut map,
            down,
            &format!("{prefix}0."),
            &format!("down.{i}."),
        );
        up_layer(&mut map, up, &format!("{prefix}2."), &format!("up.{i}."));
        prefix.push_str("1.submodule.");
    }
    down_layer(&mut map, &model.bottom, &prefix, "bottom.");
    map
}

type KeyMap = Vec<(String, String)>;

fn param(map: &mut KeyMap, monai: &str, burn: &str) {
    map.push((monai.to_string(), burn.to_string()));
}

fn conv_params(map: &mut KeyMap, has_bias: bool, monai: &str, burn: &str) {
    param(map, &format!("{monai}weight"), &format!("{burn}weight"));
    if has_bias {
        param(map, &format!("{monai}bias"), &format!("{burn}bias"));
    }
}

fn adn(map: &mut KeyMap, adn: &Option<Adn>, monai: &str, burn: &str) {
    let Some(adn) = adn else { return };
    if let Some(norm) = &adn.norm {
        if norm.gamma.is_some() {
            param(
                map,
                &format!("{monai}adn.N.weight"),
                &format!("{burn}adn.norm.gamma"),
            );
        }
        if norm.beta.is_some() {
            param(
                map,
                &format!("{monai}adn.N.bias"),
                &format!("{burn}adn.norm.beta"),
            );
        }
    }
    if adn.act.is_some() {
        param(
            map,
            &format!("{monai}adn.A.weight"),
            &format!("{burn}adn.act.alpha"),
        );
    }
}

fn convolution(map: &mut KeyMap, block: &Convolution, monai: &str, burn: &str) {
    let (m, b) = (format!("{monai}conv."), format!("{burn}conv."));
    conv_params(map, block.conv.bias.is_some(), &m, &b);
    adn(map, &block.adn, monai, burn);
}

fn transposed(map: &mut KeyMap, block: &TransposedConvolution, monai: &str, burn: &str) {
    let (m, b) = (format!("{monai}conv."), format!("{burn}conv."));
    conv_params(map, block.conv.bias.is_some(), &m, &b);
    adn(map, &block.adn, monai, burn);
}

fn residual_unit(map: &mut KeyMap, unit: &ResidualUnit, monai: &str, burn: &str) {
    for (k, block) in unit.units.iter().enumerate() {
        convolution(
            map,
            block,
            &format!("{monai}conv.unit{k}."),
            &format!("{burn}units.{k}."),
        );
    }
    if let Some(conv) = &unit.residual {
        let (m, b) = (format!("{monai}residual."), format!("{burn}residual."));
        conv_params(map, conv.bias.is_some(), &m, &b);
    }
}

fn down_layer(map: &mut KeyMap, layer: &DownLayer, monai: &str, burn: &str) {
    match layer {
        DownLayer::Residual(unit) => residual_unit(map, unit, monai, &format!("{burn}Residual.")),
        DownLayer::Plain(block) => convolution(map, block, monai, &format!("{burn}Plain.")),
    }
}

fn up_layer(map: &mut KeyMap, layer: &UpLayer, monai: &str, burn: &str) {
    match &layer.residual {
        // MONAI: nn.Sequential(Convolution, ResidualUnit).
        Some(unit) => {
            transposed(
                map,
                &layer.upsample,
                &format!("{monai}0."),
                &format!("{burn}upsample."),
            );
            residual_unit(
                map,
                unit,
                &format!("{monai}1."),
                &format!("{burn}residual."),
            );
        }
        // MONAI: the Convolution alone.
        None => transposed(map, &layer.upsample, monai, &format!("{burn}upsample.")),
    }
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

/// Loads the weights of a MONAI `UNet` into `model`, which must have been built with the
/// same arguments ([`crate::UNet3dConfig`] names them as MONAI does).
///
/// `path` is a safetensors file of the network's `state_dict`, as written by
/// `safetensors.torch.save_file(net.state_dict(), path)`; float tensors of any precision
/// are cast to the float type of the model's parameters. Every parameter of the model must be in the file and
/// every tensor of the file must go to a parameter, with the same shape: otherwise nothing
/// is returned but the error, which names the keys.
///
/// ```
/// use burn::tensor::Device;
/// use medburn_models::{load_monai_safetensors, ModelError, UNet3dConfig};
///
/// let model = UNet3dConfig::new(1, 2, vec![16, 32], vec![2]).init(&Device::flex())?;
/// let err = load_monai_safetensors(model, "no/such/file.safetensors").unwrap_err();
/// assert!(matches!(err, ModelError::Weights { .. }));
/// # Ok::<(), medburn_models::ModelError>(())
/// ```
pub fn load_monai_safetensors(
    mut model: UNet3d,
    path: impl AsRef<Path>,
) -> Result<UNet3d, ModelError> {
    let path = path.as_ref();
    let weights_error = |message: String| ModelError::Weights {
        path: path.to_path_buf(),
        message,
    };
    if !path.is_file() {
        return Err(weights_error("no such file".into()));
    }
    let map = monai_key_map(&model);
    let remapper = KeyRemapper::from_pattern_iter(
        map.iter().map(|(monai, burn)| (exact(monai), burn.clone())),
    )
    .map_err(|e| weights_error(format!("key pattern: {e}")))?;
    let dtype = model.up[0].upsample.conv.weight.val().dtype();
    let mut store = SafetensorsStore::from_file(path)
        .remap(remapper)
        .with_from_adapter(FloatCastAdapter::to(dtype))
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
    if !result.unused.is_empty() {
        return Err(ModelError::UnexpectedWeights {
            path: path.to_path_buf(),
            keys: result.unused.clone(),
        });
    }
    Ok(model)
}
