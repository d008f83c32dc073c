//! `medburn models summary NAME`: the layer table and parameter count of any network a
//! training configuration can name, built as training would build it, so that a user can
//! check a configuration (and compare with MONAI's `sum(p.numel() for p in net.parameters())`)
//! before training.

use clap::{Args, Subcommand};
use medburn_train::{build_unet, build_vector_net, build_voxelmorph, ModelConfig, ModelOutput};

use super::CliResult;

#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// Layer table and parameter count of a network (unet, resnet10/18/34/50, regressor,
    /// voxelmorph).
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
    /// Input size along i, j, k (the regressor's input shape), comma-separated.
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
    };
    let out_channels = match config.output() {
        ModelOutput::Field => 3,
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
