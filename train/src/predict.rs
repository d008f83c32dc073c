//! Prediction on files with a trained model, for the model's task. Each input is prepared as in
//! training (channels, orientation, spacing, grid, normalization, from the checkpoint's
//! configuration), then:
//!
//! - segmentation: sliding windows with Gaussian blending (optionally with flip test-time
//!   augmentation), class probabilities brought back to the input's own grid (resampled
//!   linearly, then arg-max, as nnU-Net does), an integer NIfTI label map with the input's
//!   geometry per case and the label volumes in ml (`volumes.csv`);
//! - regression and classification: one forward pass per volume, the value (in the target's
//!   units) or the class with its probabilities, all cases in `predictions.csv`;
//! - super-resolution: each input is the low-resolution file alone, z-scored as training did
//!   (on its own grid: no resampling), through the network on its own voxel axes and back to
//!   its intensities, written on the fine grid an acquisition with `factors` times smaller
//!   voxels would have (`medburn_spatial::high_resolution_grid`: the original high-resolution
//!   grid where the low-resolution image was made from one), `CASE_superres.nii.gz`;
//! - autoencoders: each input prepared as in training and reconstructed, the reconstruction
//!   brought back to the input's units (the normalization undone) and to the input's grid
//!   (linear), `CASE_reconstruction.nii.gz`; for the VAE, each input's latent code (the
//!   posterior's mean) in `latents.csv`;
//! - registration: each input registered to `PredictOptions::fixed` (or, for a model trained
//!   on atlas pairs, to or from its atlas) by one forward pass, the result brought to physical
//!   space and written as `medburn register` writes it (`OUT/<case>/`: warped image and label
//!   map on the fixed image's grid, `affine.tfm` + `displacement.nii.gz`, checkerboards,
//!   `metrics.json`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use burn::tensor::Tensor;
use medburn_core::Device;
use medburn_datasets::{prepare_case_scaled, CaseFiles, PreparedCase};
use medburn_io::{Volume, VoxelArray, WriteOptions};
use ndarray::{ArrayD, IxDyn};

use crate::checkpoint::{load_model, read_checkpoint, resolve_checkpoint, TrainState};
use crate::config::{TaskKind, TrainConfig};
use crate::error::{Result, TrainError};
use crate::inference::{labels_on_grid, labels_to_host};
use crate::network::build_unet;
use crate::task::classify::{class_info, probabilities as softmax_of};
use crate::task::regress::scale;
use crate::task::segment::{probabilities_with_progress, window_of};
use crate::task::{info_of, whole_volume};
use crate::trainer::bar;

/// Options of [`predict`].
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// The device to run on.
    pub device: Device,
    /// Average over flips along each axis (segmentation).
    pub flip_tta: bool,
    /// Window overlap; the checkpoint's validation overlap when `None` (segmentation).
    pub overlap: Option<f64>,
    /// Draw a progress bar per image with its window passes (on a terminal).
    pub progress: bool,
    /// Registration: the fixed image every input is registered to (without it, a model
    /// trained on atlas pairs uses its atlas).
    pub fixed: Option<CaseFiles>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            device: Device::flex(),
            flip_tta: false,
            overlap: None,
            progress: false,
            fixed: None,
        }
    }
}

/// One input's result.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The case identifier (the input file name without extension).
    pub id: String,
    /// The file holding the result: the label map (segmentation) or `predictions.csv`.
    pub output: PathBuf,
    /// Segmentation: per foreground label, value, name, voxels and volume in ml.
    pub volumes: Vec<(u32, String, usize, f64)>,
    /// Regression and classification: the predicted value or class, then each class's
    /// probability, as (column, text).
    pub values: Vec<(String, String)>,
}

/// Predicts every case of `inputs` with the checkpoint `model` (a checkpoint folder or a run's
/// output folder) and writes the results into `out` (see [the module](self)).
///
/// ```no_run
/// use medburn_datasets::CaseFiles;
/// use medburn_train::{predict, PredictOptions};
/// let cases = vec![CaseFiles::new(vec!["imagesTs/case_100.nii.gz".into()], None)];
/// for p in predict("medburn-run/checkpoints/best".as_ref(), &cases, "pred".as_ref(), &PredictOptions::default())? {
///     println!("{} -> {} {:?}", p.id, p.output.display(), p.values);
/// }
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
pub fn predict(
    model: &Path,
    inputs: &[CaseFiles],
    out: &Path,
    options: &PredictOptions,
) -> Result<Vec<Prediction>> {
    let dir = resolve_checkpoint(model)?;
    let (state, mut config) = read_checkpoint(&dir)?;
    config.validation.flip_tta = options.flip_tta;
    if let Some(o) = options.overlap {
        config.validation.overlap = o;
    }
    let created = !out.exists();
    std::fs::create_dir_all(out).map_err(|e| TrainError::Output {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    let result = match state.task {
        TaskKind::Segment => segment(&dir, &state, &config, inputs, out, options),
        TaskKind::Regress | TaskKind::Classify => {
            whole_volumes(&dir, &state, &config, inputs, out, &options.device)
        }
        TaskKind::Register => register_pairs(&dir, inputs, out, options),
        TaskKind::SuperResolve => {
            super_resolve(&dir, &state, &config, inputs, out, &options.device)
        }
        TaskKind::Autoencode => reconstruct(&dir, &state, &config, inputs, out, &options.device),
    };
    if result.is_err() && created {
        // A refused prediction leaves no empty folder behind (nothing else was written in it:
        // every file is written atomically, the last ones after every case succeeded).
        let empty = std::fs::read_dir(out).is_ok_and(|mut d| d.next().is_none());
        if empty {
            let _ = std::fs::remove_dir(out);
        }
    }
    result
}

/// Reads and prepares one input as training did: the training files' channel subset when the
/// input has those channels, else every channel of the input (a file of the model's channels
/// alone).
pub(crate) fn prepare_input(
    case: &CaseFiles,
    state: &TrainState,
    config: &TrainConfig,
) -> Result<PreparedCase> {
    Ok(prepare_input_scaled(case, state, config)?.0)
}

/// [`prepare_input`], and each channel's intensity scale `(mean, std)` the normalization took
/// out.
fn prepare_input_scaled(
    case: &CaseFiles,
    state: &TrainState,
    config: &TrainConfig,
) -> Result<(PreparedCase, Vec<(f64, f64)>)> {
    let mut case = case.clone();
    case.label = None;
    let subset = match state.source_channels.is_empty() {
        true => None,
        false => prepare_case_scaled(&case, &config.data.preprocess, &state.source_channels).ok(),
    };
    let (prepared, scale) = match subset {
        Some(p) => p,
        None => prepare_case_scaled(&case, &config.data.preprocess, &[])?,
    };
    if prepared.channels != state.in_channels {
        return Err(TrainError::Invalid(format!(
            "case {}: {} channels, the model takes {} ({})",
            case.id,
            prepared.channels,
            state.in_channels,
            state.channel_names.join(", ")
        )));
    }
    Ok((prepared, scale))
}

fn segment(
    dir: &Path,
    state: &TrainState,
    config: &TrainConfig,
    inputs: &[CaseFiles],
    out: &Path,
    options: &PredictOptions,
) -> Result<Vec<Prediction>> {
    let device = &options.device;
    let net = build_unet(&config.model, state.in_channels, state.num_classes, device)?;
    let net = load_model(net, dir)?;
    let window = window_of(config);
    let mut results = Vec::new();
    for case in inputs {
        let prepared = prepare_input(case, state, config)?;
        let image = prepared.image_on(device)?.into_voxels();
        // The bar's length is the image's count of window passes, set before the first.
        let bar = bar(options.progress, 0, &format!("{} windows", case.id));
        let probs = probabilities_with_progress(&net, image, &window, &bar)?;
        bar.finish_and_clear();
        // Back to the input's grid: probabilities linearly, then arg-max.
        let labels = labels_to_host(labels_on_grid(
            probs,
            prepared.geometry,
            &prepared.source_geometry,
        )?)?;
        let g = prepared.source_geometry;
        let [nk, nj, ni] = g.dhw();
        let mut counts = vec![0usize; state.num_classes];
        for &l in &labels {
            counts[l as usize] += 1;
        }
        let array = ArrayD::from_shape_vec(IxDyn(&[1, nk, nj, ni]), labels)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let volume = Volume::new(VoxelArray::U8(array), g)
            .map_err(|kind| medburn_io::IoError::new(&case.images[0], kind))?;
        let output = out.join(format!("{}_seg.nii.gz", case.id));
        medburn_io::write(&volume, &output, &WriteOptions::default())?;
        let voxel_ml = g.spacing().iter().product::<f64>() / 1000.0;
        let volumes = (1..state.num_classes)
            .map(|l| {
                let name = state
                    .label_names
                    .get(&(l as u32))
                    .cloned()
                    .unwrap_or_else(|| format!("label {l}"));
                (l as u32, name, counts[l], counts[l] as f64 * voxel_ml)
            })
            .collect();
        results.push(Prediction {
            id: case.id.clone(),
            output,
            volumes,
            values: Vec::new(),
        });
    }
    write_volumes_csv(&results, &out.join("volumes.csv"))?;
    Ok(results)
}

fn whole_volumes(
    dir: &Path,
    state: &TrainState,
    config: &TrainConfig,
    inputs: &[CaseFiles],
    out: &Path,
    device: &Device,
) -> Result<Vec<Prediction>> {
    let info = info_of(state);
    let net = load_model(whole_volume::build(config, &info, device)?, dir)?;
    let name = state
        .target
        .as_ref()
        .map_or("prediction".to_string(), |t| t.name().to_string());
    let output = out.join("predictions.csv");
    let mut results = Vec::new();
    for case in inputs {
        let prepared = Arc::new(prepare_input(case, state, config)?);
        let y = whole_volume::outputs(&net, &[prepared], 1, device)?.remove(0);
        let values = match state.task {
            TaskKind::Regress => {
                let (mean, std) = scale(&info)?;
                vec![(name.clone(), format!("{:.4}", y[0] as f64 * std + mean))]
            }
            _ => {
                let (classes, _) = class_info(&info)?;
                let p = softmax_of(&y);
                let best = (0..p.len())
                    .max_by(|&a, &b| p[a].total_cmp(&p[b]))
                    .unwrap_or(0);
                let mut v = vec![(name.clone(), classes[best].clone())];
                v.extend(
                    classes
                        .iter()
                        .zip(&p)
                        .map(|(c, p)| (format!("p_{c}"), format!("{p:.4}"))),
                );
                v
            }
        };
        results.push(Prediction {
            id: case.id.clone(),
            output: output.clone(),
            volumes: Vec::new(),
            values,
        });
    }
    let mut text = String::from("case");
    for (column, _) in results.first().map_or(&[][..], |r| &r.values[..]) {
        let _ = write!(text, ",{column}");
    }
    text.push('\n');
    for r in &results {
        text.push_str(&r.id);
        for (_, v) in &r.values {
            let _ = write!(text, ",{v}");
        }
        text.push('\n');
    }
    medburn_io::atomic::write_atomic(&output, text.as_bytes())?;
    Ok(results)
}

/// Reconstruction of each input by an autoencoder (see [the module](self)).
fn reconstruct(
    dir: &Path,
    state: &TrainState,
    config: &TrainConfig,
    inputs: &[CaseFiles],
    out: &Path,
    device: &Device,
) -> Result<Vec<Prediction>> {
    let net = load_model(
        crate::task::autoencode::build_net(config, state.in_channels, device)?,
        dir,
    )?;
    let mut results = Vec::new();
    let mut latents = String::new();
    for case in inputs {
        let (prepared, scale) = prepare_input_scaled(case, state, config)?;
        let image = prepared.image_on(device)?;
        let (y, posterior) = net.reconstruct(image.into_voxels(), None)?;
        // In the input's units, then back on the input's grid.
        let channels = y.dims()[1];
        let (mean, std): (Vec<f32>, Vec<f32>) =
            scale.iter().map(|&(m, s)| (m as f32, s as f32)).unzip();
        let shape = [1, channels, 1, 1, 1];
        let y = y * Tensor::<1>::from_floats(std.as_slice(), device).reshape(shape)
            + Tensor::<1>::from_floats(mean.as_slice(), device).reshape(shape);
        let y = medburn_core::MedImage::new(y, prepared.geometry)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let result = medburn_spatial::resample(
            &y,
            &prepared.source_geometry,
            None,
            medburn_spatial::Interpolation::Linear,
        )
        .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let output = out.join(format!("{}_reconstruction.nii.gz", case.id));
        medburn_io::write_image(&result, &output)?;
        let mut values = Vec::new();
        if let Some((mu, _)) = posterior {
            let mu: Vec<f32> = mu
                .into_data()
                .convert::<f32>()
                .try_to_vec()
                .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
            if latents.is_empty() {
                latents.push_str("case");
                for k in 0..mu.len() {
                    let _ = write!(latents, ",z{k}");
                }
                latents.push('\n');
            }
            latents.push_str(&case.id);
            for v in &mu {
                let _ = write!(latents, ",{v:.6}");
            }
            latents.push('\n');
            values.push(("latent_size".to_string(), mu.len().to_string()));
        }
        results.push(Prediction {
            id: case.id.clone(),
            output,
            volumes: Vec::new(),
            values,
        });
    }
    if !latents.is_empty() {
        medburn_io::atomic::write_atomic(&out.join("latents.csv"), latents.as_bytes())?;
    }
    Ok(results)
}

/// Super-resolution of each input (see [the module](self)).
fn super_resolve(
    dir: &Path,
    state: &TrainState,
    config: &TrainConfig,
    inputs: &[CaseFiles],
    out: &Path,
    device: &Device,
) -> Result<Vec<Prediction>> {
    let info = info_of(state);
    let net = load_model(
        crate::network::build_superres(&config.model, info.in_channels, device)?,
        dir,
    )?;
    let mut results = Vec::new();
    let read_options = medburn_datasets::ReadOptions {
        resample_channels: config.data.preprocess.resample_channels,
    };
    for case in inputs {
        let image = medburn_datasets::read_channels_with(case, device, &read_options)?;
        let image = if image.channels() == info.in_channels {
            image
        } else {
            medburn_datasets::select_channels(image, &info.source_channels, &case.id)?
        };
        let channels = image.channels();
        if channels != info.in_channels {
            return Err(TrainError::Invalid(format!(
                "{}: {channels} channels, the model takes {}",
                case.id, info.in_channels
            )));
        }
        let mut values = image
            .to_vec()
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let stats = medburn_datasets::zscore_foreground(&mut values, channels);
        let geometry = *image.geometry();
        let x = medburn_core::MedImage::from_vec(values, channels, geometry, device)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let y = net.try_forward(x.into_voxels())?;
        let mut v: Vec<f32> = y
            .into_data()
            .convert::<f32>()
            .try_to_vec()
            .map_err(|e| TrainError::Invalid(format!("{e:?}")))?;
        let per = v.len() / channels.max(1);
        for (c, chunk) in v.chunks_mut(per.max(1)).enumerate() {
            let (mean, std) = stats[c];
            chunk
                .iter_mut()
                .for_each(|x| *x = (*x as f64 * std + mean) as f32);
        }
        let fine = medburn_spatial::high_resolution_grid(&geometry, net.factors)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let result = medburn_core::MedImage::from_vec(v, channels, fine, device)
            .map_err(|e| TrainError::Invalid(e.to_string()))?;
        let output = out.join(format!("{}_superres.nii.gz", case.id));
        medburn_io::write_image(&result, &output)?;
        results.push(Prediction {
            id: case.id.clone(),
            output,
            volumes: Vec::new(),
            values: Vec::new(),
        });
    }
    Ok(results)
}

/// `case,label,name,voxels,ml` for every case and foreground label.
fn write_volumes_csv(results: &[Prediction], path: &Path) -> Result<()> {
    let mut text = String::from("case,label,name,voxels,ml\n");
    for p in results {
        for (l, name, n, ml) in &p.volumes {
            let _ = writeln!(text, "{},{l},{},{n},{ml:.3}", p.id, name.replace(',', " "));
        }
    }
    Ok(medburn_io::atomic::write_atomic(path, text.as_bytes())?)
}

/// The label volumes of several predictions as a table by case.
pub fn volumes_table(results: &[Prediction]) -> BTreeMap<String, Vec<(String, f64)>> {
    results
        .iter()
        .map(|p| {
            (
                p.id.clone(),
                p.volumes
                    .iter()
                    .map(|(_, n, _, ml)| (n.clone(), *ml))
                    .collect(),
            )
        })
        .collect()
}

/// Registration: each input against `options.fixed` or the model's atlas; one folder each.
fn register_pairs(
    dir: &Path,
    inputs: &[CaseFiles],
    out: &Path,
    options: &PredictOptions,
) -> Result<Vec<Prediction>> {
    use crate::config::Pairing;
    use crate::task::register::RegistrationModel;
    let model = RegistrationModel::load(dir, &options.device)?;
    let read_options = medburn_datasets::ReadOptions {
        resample_channels: model.config.data.preprocess.resample_channels,
    };
    let atlas = model.atlas_files()?;
    let mut results = vec![];
    for case in inputs {
        // (moving, fixed) files.
        let (moving, fixed) = match (&options.fixed, &atlas, model.config.data.pairs) {
            (Some(f), _, _) => (case.clone(), f.clone()),
            (None, Some(a), Pairing::AtlasToSubject) => (a.clone(), case.clone()),
            (None, Some(a), _) => (case.clone(), a.clone()),
            (None, None, _) => {
                return Err(TrainError::Invalid(format!(
                    "{} was trained on subject pairs: give the fixed image (--fixed)",
                    dir.display()
                )))
            }
        };
        let (mp, fp) = (model.prepare(&moving)?, model.prepare(&fixed)?);
        let (_, ddf) = model.register(&mp, &fp)?;
        let transform = model.physical_transform(&mp, &fp, ddf)?;
        // The images as read, in the channel the network was given.
        let channel = model.state.source_channels.first().copied().unwrap_or(0);
        let read = |c: &CaseFiles| -> Result<medburn_core::MedImage> {
            let image = medburn_datasets::read_channels_with(c, &options.device, &read_options)?;
            let [_, channels, ..] = image.voxels().dims();
            let v = image
                .voxels()
                .clone()
                .narrow(1, channel.min(channels - 1), 1);
            image
                .with_voxels(v)
                .map_err(|e| TrainError::Invalid(e.to_string()))
        };
        let label =
            |c: &CaseFiles| -> Result<Option<(medburn_core::MedImage, medburn_io::VoxelType)>> {
                match &c.label {
                    Some(path) => {
                        let v = medburn_io::read(path)
                            .map_err(|e| TrainError::Invalid(e.to_string()))?;
                        let image = v
                            .to_image(&options.device)
                            .map_err(|e| TrainError::Invalid(format!("{}: {e}", path.display())))?;
                        Ok(Some((image, v.natural_type())))
                    }
                    None => Ok(None),
                }
            };
        let (fixed_image, moving_image) = (read(&fixed)?, read(&moving)?);
        let (fixed_label, moving_label) = (label(&fixed)?, label(&moving)?);
        let outputs = medburn_register::RegistrationOutputs {
            fixed: &fixed_image,
            moving: &moving_image,
            transform,
            moving_label: moving_label.as_ref().map(|(m, t)| (m, *t)),
            fixed_label: fixed_label.as_ref().map(|(m, _)| m),
            landmarks: None,
        };
        let id = format!("{}_to_{}", moving.id, fixed.id);
        let folder = out.join(&id);
        let metrics = outputs.write(
            &folder,
            serde_json::json!({
                "model": dir, "moving": moving.images, "fixed": fixed.images,
                "stages": [{"stage": "voxelmorph"}],
            }),
        )?;
        let mut values = vec![];
        if let Some(d) = metrics["labels"]["after"]["mean_dice"].as_f64() {
            let before = metrics["labels"]["before"]["mean_dice"]
                .as_f64()
                .unwrap_or(f64::NAN);
            values.push(("mean_dice_before".to_string(), format!("{before:.4}")));
            values.push(("mean_dice_after".to_string(), format!("{d:.4}")));
        }
        results.push(Prediction {
            id,
            output: folder,
            volumes: vec![],
            values,
        });
    }
    Ok(results)
}
