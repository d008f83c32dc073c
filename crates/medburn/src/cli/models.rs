//! `medburn models summary NAME`: the layer table and parameter count of any network a
//! training configuration can name, built as training would build it, so that a user can
//! check a configuration (and compare with MONAI's `sum(p.numel() for p in net.parameters())`)
//! before training.

use clap::{Args, Subcommand};
use medburn_models::{AutoEncoderConfig, ModelSummary, VarAutoEncoderConfig};
use medburn_train::{
    build_superres, build_unet, build_vector_net, build_voxelmorph, ModelConfig, ModelOutput,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::CliResult;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Layer table and parameter count of a network (unet, resnet10/18/34/50, regressor,
    /// voxelmorph, autoencoder, vae).
    Summary(SummaryArgs),
}

#[derive(Debug, Args)]
struct SummaryArgs {
    /// The network, as `[model] name` in a training configuration.
    name: String,
    /// Input channels (voxelmorph: of each image of a pair).
    #[arg(long, default_value_t = 1)]
    in_channels: usize,
    /// Outputs: classes (segmentation, classification) or values (regression).
    #[arg(long, default_value_t = 1)]
    out_channels: usize,
    /// Input size along i, j, k (the regressor's and the vae's input shape), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "64,64,64")]
    size: Vec<usize>,
    /// Any field of the network by name, e.g. --set widen_factor=0.5 --set channels=[8,16,32].
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Print JSON (the network's configuration, its layers and totals) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(a: ModelsArgs) -> CliResult {
    match a.command {
        ModelsCommand::Summary(s) => summary(s),
    }
}

fn summary(a: SummaryArgs) -> CliResult {
    if matches!(a.name.as_str(), "autoencoder" | "vae") {
        return autoencoder_summary(a);
    }
    let mut config = ModelConfig::named(&a.name)?;
    for s in &a.set {
        config.set(s)?;
    }
    config.validate()?;
    let size: [usize; 3] = a
        .size
        .as_slice()
        .try_into()
        .map_err(|_| format!("--size takes three numbers, got {:?}", a.size))?;
    if a.in_channels == 0 || a.out_channels == 0 || size.contains(&0) {
        return Err("--in-channels, --out-channels and --size must be positive".into());
    }
    let device = burn::tensor::Device::flex();
    let summary = match config.output() {
        ModelOutput::Dense => medburn_models::summary(&build_unet(
            &config,
            a.in_channels,
            a.out_channels,
            &device,
        )?),
        ModelOutput::Vector => medburn_models::summary(&build_vector_net(
            &config,
            a.in_channels,
            a.out_channels,
            size,
            &device,
        )?),
        // A displacement field: three components, whatever --out-channels says.
        ModelOutput::Field => {
            medburn_models::summary(&build_voxelmorph(&config, a.in_channels, &device)?)
        }
        // The input's image on a finer grid: as many channels as it has.
        ModelOutput::Volume => {
            medburn_models::summary(&build_superres(&config, a.in_channels, &device)?)
        }
        ModelOutput::Reconstruction => medburn_models::summary(
            &medburn_train::build_reconstruction_net(&config, a.in_channels, size, &device)?,
        ),
    };
    let out_channels = match config.output() {
        ModelOutput::Field => 3,
        ModelOutput::Volume | ModelOutput::Reconstruction => a.in_channels,
        _ => a.out_channels,
    };
    if a.json {
        let json = serde_json::json!({
            "name": config.name(),
            "config": config,
            "in_channels": a.in_channels,
            "out_channels": out_channels,
            "summary": summary,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} ({} input channels, {} outputs)",
            config.name(),
            a.in_channels,
            out_channels
        );
        print!("{summary}");
    }
    Ok(())
}

/// The autoencoders (not yet a training configuration's `[model] name`): MONAI's
/// `AutoEncoder(spatial_dims=3, in_channels, out_channels, channels=(16, 32, 64),
/// strides=(2, 2, 2), num_res_units=2)` (388,840 parameters with one channel in and out) and
/// `VarAutoEncoder(spatial_dims=3, in_shape=(in_channels, *size), out_channels, latent_size=64,
/// channels=(16, 32, 64), strides=(2, 2, 2), num_res_units=2)` (6,713,192 for one channel of
/// 64^3), any field changed by `--set`.
fn autoencoder_summary(a: SummaryArgs) -> CliResult {
    if a.in_channels == 0 || a.out_channels == 0 || a.size.len() != 3 || a.size.contains(&0) {
        return Err(format!(
            "--in-channels, --out-channels and --size (three numbers) must be positive, got {}, \
             {} and {:?}",
            a.in_channels, a.out_channels, a.size
        )
        .into());
    }
    let device = burn::tensor::Device::flex();
    let (config, summary): (serde_json::Value, ModelSummary) = if a.name == "autoencoder" {
        let config = AutoEncoderConfig::new(
            a.in_channels,
            a.out_channels,
            vec![16, 32, 64],
            vec![2, 2, 2],
        )
        .with_num_res_units(2);
        let config = apply_sets(config, &a.set)?;
        let model = config.init(&device)?;
        (
            serde_json::to_value(&config)?,
            medburn_models::summary(&model),
        )
    } else {
        let in_shape = vec![a.in_channels, a.size[0], a.size[1], a.size[2]];
        let config = VarAutoEncoderConfig::new(
            in_shape,
            a.out_channels,
            64,
            vec![16, 32, 64],
            vec![2, 2, 2],
        )
        .with_num_res_units(2);
        let config = apply_sets(config, &a.set)?;
        let model = config.init(&device)?;
        (
            serde_json::to_value(&config)?,
            medburn_models::summary(&model),
        )
    };
    let in_channels = config
        .get("in_channels")
        .or_else(|| config.get("in_shape").and_then(|s| s.get(0)))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(a.in_channels as u64);
    let out_channels = config["out_channels"]
        .as_u64()
        .unwrap_or(a.out_channels as u64);
    if a.json {
        let json = serde_json::json!({
            "name": a.name,
            "config": config,
            "in_channels": in_channels,
            "out_channels": out_channels,
            "summary": summary,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} ({in_channels} input channels, {out_channels} outputs)",
            a.name
        );
        print!("{summary}");
    }
    Ok(())
}

/// `--set KEY=VALUE` on a network configuration, as `ModelConfig::set` does for the others:
/// the value in TOML syntax (a bare word is a string), the field by its name.
fn apply_sets<C: Serialize + DeserializeOwned>(
    config: C,
    sets: &[String],
) -> Result<C, Box<dyn std::error::Error>> {
    let fields = serde_json::to_value(&config)?;
    let mut table = match toml::Value::try_from(&config)? {
        toml::Value::Table(t) => t,
        _ => return Err("a model configuration is a table".into()),
    };
    for assignment in sets {
        let (key, value) = medburn_train::parse_assignment(assignment)
            .map_err(|m| format!("--set {assignment}: {m}"))?;
        // Every field, `None` ones too (TOML leaves those out).
        if fields.get(key).is_none() {
            return Err(format!("--set {assignment}: the network has no field `{key}`").into());
        }
        table.insert(key.to_string(), value);
    }
    toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| format!("--set: {}", e.message()).into())
}
