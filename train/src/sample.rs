//! Samples from a trained variational autoencoder: latent codes drawn from its prior `N(0, I)`
//! (seeded), decoded, written as NIfTI on the grid the model was trained on (the configuration's
//! orientation, spacing and size, centred on the origin of physical space: a decoded sample
//! belongs to no scan), in the normalized units the network learned, with a montage PNG of
//! every sample's three mid-slices.

use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};
use medburn_core::{Geometry, MedImage, Orientation};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

use crate::checkpoint::{load_model, read_checkpoint, resolve_checkpoint};
use crate::config::{ModelConfig, TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::network::ReconstructionNet;
use crate::plot::{percentile_window, write_slice_grid_png, SlicePanel};

/// What [`sample`] wrote: one NIfTI per sample and the montage.
#[derive(Clone, Debug)]
pub struct Samples {
    /// `sample_000.nii.gz`, ... in order.
    pub images: Vec<PathBuf>,
    /// `samples.png`: each sample's axial, coronal and sagittal mid-slices, a row each.
    pub montage: PathBuf,
}

/// The grid a model trained on `config` takes: its orientation, spacing and size, with the
/// centre at the origin of physical space.
fn training_grid(config: &TrainConfig) -> Result<Geometry> {
    let p = &config.data.preprocess;
    let size = p
        .size
        .ok_or_else(|| TrainError::Config("data.preprocess.size is not set".into()))?;
    let spacing = p.spacing.unwrap_or([1.0; 3]);
    let orientation: Orientation = p
        .orientation
        .parse()
        .map_err(|e| TrainError::Config(format!("data.preprocess.orientation: {e}")))?;
    let bad = |e: medburn_core::GeometryError| TrainError::Invalid(e.to_string());
    let direction = orientation.to_direction();
    let at_zero = Geometry::new(size, [0.0; 3], spacing, direction).map_err(bad)?;
    let c = at_zero.centre();
    Geometry::new(size, [-c[0], -c[1], -c[2]], spacing, direction).map_err(bad)
}

/// Decodes `count` latent codes drawn from the prior of the VAE at `model` (a checkpoint
/// folder or a run's output folder), seeded by `seed`, into `out`.
///
/// ```no_run
/// let s = medburn_train::sample("runs/vae".as_ref(), 8, 0, "samples".as_ref(), &burn::tensor::Device::flex())?;
/// println!("{} samples, montage {}", s.images.len(), s.montage.display());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn sample(
    model: &Path,
    count: usize,
    seed: u64,
    out: &Path,
    device: &Device,
) -> Result<Samples> {
    let dir = resolve_checkpoint(model)?;
    let (state, config) = read_checkpoint(&dir)?;
    if state.task != TaskKind::Autoencode || !matches!(config.model, ModelConfig::Vae(_)) {
        return Err(TrainError::Config(format!(
            "{}: sampling needs a variational autoencoder (task autoencode, model vae); this \
             checkpoint is task {}, model {}",
            dir.display(),
            state.task,
            config.model.name()
        )));
    }
    if count == 0 {
        return Err(TrainError::Config("--count must be at least 1".into()));
    }
    let grid = training_grid(&config)?;
    let net = load_model(
        crate::task::autoencode::build_net(&config, state.in_channels, device)?,
        &dir,
    )?;
    let ReconstructionNet::Vae(vae) = &net else {
        return Err(TrainError::Invalid("not a VAE".into()));
    };
    let k = vae.latent_size();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    std::fs::create_dir_all(out).map_err(|e| TrainError::Output {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut images = Vec::with_capacity(count);
    let mut planes: Vec<[Vec<f32>; 3]> = Vec::new();
    for n in 0..count {
        let z: Vec<f32> = (0..k).map(|_| StandardNormal.sample(&mut rng)).collect();
        let z = Tensor::<1>::from_floats(z.as_slice(), device).reshape([1, k]);
        let decoded = vae.try_decode(z)?;
        let image = MedImage::new(decoded, grid).map_err(|e| TrainError::Invalid(e.to_string()))?;
        if n < MONTAGE_ROWS {
            planes.push(mid_planes(&image)?);
        }
        let path = out.join(format!("sample_{n:03}.nii.gz"));
        medburn_io::write_image(&image, &path)?;
        images.push(path);
    }
    let montage = out.join("samples.png");
    write_montage(&planes, grid.dhw(), &montage)?;
    Ok(Samples { images, montage })
}

/// Rows of the montage at most.
const MONTAGE_ROWS: usize = 8;

/// The first channel's axial `[H, W]`, coronal `[D, W]` and sagittal `[D, H]` mid-slices.
fn mid_planes(image: &MedImage) -> Result<[Vec<f32>; 3]> {
    let [d, h, w] = image.geometry().dhw();
    let v = image
        .to_vec()
        .map_err(|e| TrainError::Invalid(e.to_string()))?;
    let at = |k: usize, j: usize, i: usize| v[(k * h + j) * w + i];
    let axial = (0..h)
        .flat_map(|j| (0..w).map(move |i| (j, i)))
        .map(|(j, i)| at(d / 2, j, i))
        .collect();
    let coronal = (0..d)
        .flat_map(|k| (0..w).map(move |i| (k, i)))
        .map(|(k, i)| at(k, h / 2, i))
        .collect();
    let sagittal = (0..d)
        .flat_map(|k| (0..h).map(move |j| (k, j)))
        .map(|(k, j)| at(k, j, w / 2))
        .collect();
    Ok([axial, coronal, sagittal])
}

/// One row per sample: its three planes where the grid is a cube (the panels share a size),
/// the coronal plane alone otherwise; one grey scale for all.
fn write_montage(planes: &[[Vec<f32>; 3]], [d, h, w]: [usize; 3], path: &Path) -> Result<()> {
    let cube = d == h && h == w;
    let all: Vec<f32> = planes.iter().flat_map(|p| p[1].iter().copied()).collect();
    let grey = percentile_window(&all);
    let names = ["axial", "coronal", "sagittal"];
    let rows: Vec<Vec<SlicePanel>> = planes
        .iter()
        .enumerate()
        .map(|(n, p)| {
            (0..3)
                .filter(|&c| cube || c == 1)
                .map(|c| SlicePanel {
                    title: format!("sample {n} {}", names[c]),
                    values: &p[c],
                    labels: None,
                })
                .collect()
        })
        .collect();
    let size = if cube { [h, w] } else { [d, w] };
    write_slice_grid_png(&rows, size, &[grey; 3], 0.0, path)
}
