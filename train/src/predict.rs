//! Prediction on files: each input is prepared as in training (orientation, spacing,
//! normalization, from the checkpoint's configuration), segmented by sliding windows with
//! Gaussian blending (optionally with flip test-time augmentation), brought back to the
//! input's own grid (class probabilities resampled linearly, then arg-max, as nnU-Net does),
//! and written as an integer NIfTI label map with the input's geometry. Label volumes in ml are
//! returned and written as CSV.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use medburn_core::Device;
use medburn_datasets::{prepare_case, CaseFiles};
use medburn_io::{Volume, VoxelArray, WriteOptions};
use ndarray::{ArrayD, IxDyn};

use crate::checkpoint::{load_model, read_checkpoint, resolve_checkpoint};
use crate::error::{Result, TrainError};
use crate::inference::{labels_on_grid, labels_to_host};
use crate::model::build_unet;
use crate::trainer::window_of;

/// Options of [`predict`].
#[derive(Clone, Debug)]
pub struct PredictOptions {
    /// The device to run on.
    pub device: Device,
    /// Average over flips along each axis.
    pub flip_tta: bool,
    /// Window overlap; the checkpoint's validation overlap when `None`.
    pub overlap: Option<f64>,
}

impl Default for PredictOptions {
    fn default() -> Self {
        PredictOptions {
            device: Device::flex(),
            flip_tta: false,
            overlap: None,
        }
    }
}

/// One input's result.
#[derive(Clone, Debug)]
pub struct Prediction {
    /// The case identifier (the input file name without extension).
    pub id: String,
    /// The label map written.
    pub output: PathBuf,
    /// Per foreground label: value, name, voxels and volume in ml.
    pub volumes: Vec<(u32, String, usize, f64)>,
}

/// Segments every case of `inputs` with the checkpoint `model` (a checkpoint folder or a run's
/// output folder) and writes `OUT/ID_seg.nii.gz` (uint8) and `OUT/volumes.csv`.
///
/// ```no_run
/// use medburn_datasets::CaseFiles;
/// use medburn_train::{predict, PredictOptions};
/// let cases = vec![CaseFiles::new(vec!["imagesTs/case_100.nii.gz".into()], None)];
/// for p in predict("medburn-run/checkpoints/best".as_ref(), &cases, "pred".as_ref(), &PredictOptions::default())? {
///     println!("{} -> {}", p.id, p.output.display());
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
    let device = &options.device;
    let net = build_unet(&config.model, state.in_channels, state.num_classes, device)?;
    let net = load_model(net, &dir)?;
    let window = window_of(&config);
    std::fs::create_dir_all(out).map_err(|e| TrainError::Output {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut results = Vec::new();
    for case in inputs {
        let mut case = case.clone();
        case.label = None;
        let prepared = prepare_case(&case, &config.data.preprocess)?;
        if prepared.channels != state.in_channels {
            return Err(TrainError::Invalid(format!(
                "case {}: {} channels, the model takes {}",
                case.id, prepared.channels, state.in_channels
            )));
        }
        let image = prepared.image_on(device)?.into_voxels();
        let probs = window.probabilities(image, |x| net.forward(x))?;
        // Back to the input's grid: probabilities linearly, then arg-max.
        let labels = labels_to_host(labels_on_grid(
            probs,
            prepared.geometry,
            &prepared.source_geometry,
        )?)?;
        let g = prepared.source_geometry;
        let [ni, nj, nk] = g.size();
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
        });
    }
    write_volumes_csv(&results, &out.join("volumes.csv"))?;
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
    crate::checkpoint::write_atomic(path, text.as_bytes())
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
