//! The files of a registration, one set whoever found the transform (`medburn register`'s
//! instance optimization or a VoxelMorph checkpoint through `medburn predict`): the moving
//! image warped onto the fixed grid, its label map, the transform as ITK files, checkerboard
//! PNGs before and after, and `metrics.json`. Everything is computed first and written into a
//! temporary folder that is moved into place, so a failure leaves nothing behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use medburn_core::MedImage;
use medburn_io::{Volume, VoxelType, WriteOptions};
use medburn_spatial::Interpolation;
use serde_json::{json, Value};

use crate::error::RegistrationError;
use crate::metrics::{dice, surface_distances, target_registration_error, TargetRegistrationError};
use crate::{write_checkerboard_png, RegistrationTransform};

/// The warped moving image.
pub const WARPED_FILE: &str = "warped.nii.gz";
/// The warped moving label map.
pub const WARPED_LABEL_FILE: &str = "warped_label.nii.gz";
/// The metrics.
pub const METRICS_FILE: &str = "metrics.json";

/// Landmark points: fixed-image points and the moving-image points the true transform takes
/// them to (LPS, mm).
pub type Landmarks<'a> = (&'a [[f64; 3]], &'a [[f64; 3]]);

/// What a registration's files are made from.
///
/// ```no_run
/// use medburn_register::{RegistrationOutputs, RegistrationTransform};
/// # let (fixed, moving): (medburn_core::MedImage, medburn_core::MedImage) = unimplemented!();
/// let outputs = RegistrationOutputs::new(&fixed, &moving, RegistrationTransform::identity());
/// let metrics = outputs.write("registration".as_ref(), serde_json::json!({}))?;
/// println!("{}", metrics["labels"]);
/// # Ok::<(), medburn_register::RegistrationError>(())
/// ```
pub struct RegistrationOutputs<'a> {
    /// The fixed image: the output grid.
    pub fixed: &'a MedImage,
    /// The moving image.
    pub moving: &'a MedImage,
    /// Fixed point -> moving point.
    pub transform: RegistrationTransform,
    /// The moving image's label map (on its grid) and the voxel type to write it in.
    pub moving_label: Option<(&'a MedImage, VoxelType)>,
    /// The fixed image's label map: Dice and surface distances before and after.
    pub fixed_label: Option<&'a MedImage>,
    /// Landmarks: the target registration error.
    pub landmarks: Option<Landmarks<'a>>,
}

impl<'a> RegistrationOutputs<'a> {
    /// Outputs of `transform` between two images, without labels or landmarks.
    pub fn new(
        fixed: &'a MedImage,
        moving: &'a MedImage,
        transform: RegistrationTransform,
    ) -> RegistrationOutputs<'a> {
        RegistrationOutputs {
            fixed,
            moving,
            transform,
            moving_label: None,
            fixed_label: None,
            landmarks: None,
        }
    }

    /// Writes into `out` (created if missing, files replaced): `warped.nii.gz` (float32, the
    /// fixed grid), `affine.tfm` and `displacement.nii.gz` (see [`RegistrationTransform`]),
    /// `warped_label.nii.gz` (label-linear, with a moving label map), `checkerboard_before.png`
    /// (the images as their headers place them) and `checkerboard_after.png`, and
    /// `metrics.json`: `report`'s fields, then `labels` (Dice, mean surface distance and HD95
    /// per label before and after) and `target_registration_error_mm` (before and after) where
    /// there are fixed labels and landmarks. Returns what `metrics.json` holds.
    pub fn write(&self, out: &Path, report: Value) -> crate::Result<Value> {
        let like = self.fixed.geometry();
        let identity = RegistrationTransform::identity();
        let warped = self
            .transform
            .apply(self.moving, like, Interpolation::Linear)?;
        let before = identity.apply(self.moving, like, Interpolation::Linear)?;
        let mut labels = Value::Null;
        let warped_label = match self.moving_label {
            Some((image, dtype)) => {
                let after = self
                    .transform
                    .apply(image, like, Interpolation::LabelLinear)?;
                if let Some(reference) = self.fixed_label {
                    let unmoved = identity.apply(image, like, Interpolation::LabelLinear)?;
                    labels = json!({
                        "before": label_metrics(&unmoved, reference)?,
                        "after": label_metrics(&after, reference)?,
                    });
                }
                Some((after, dtype))
            }
            None => None,
        };
        let tre = match self.landmarks {
            Some((fixed_points, moving_points)) => {
                let before = target_registration_error(fixed_points, moving_points)?;
                let mapped = self.transform.map_points(fixed_points)?;
                let after = target_registration_error(&mapped, moving_points)?;
                json!({"before": tre_summary(&before), "after": tre_summary(&after)})
            }
            None => Value::Null,
        };
        let mut metrics = match report {
            Value::Object(m) => m,
            Value::Null => serde_json::Map::new(),
            other => {
                let mut m = serde_json::Map::new();
                m.insert("report".into(), other);
                m
            }
        };
        metrics.insert("labels".into(), labels);
        metrics.insert("target_registration_error_mm".into(), tre);
        let metrics = Value::Object(metrics);

        let file = |e: &dyn std::fmt::Display, p: &Path| {
            RegistrationError::File(format!("{}: {e}", p.display()))
        };
        let parent = match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| file(&e, &parent))?;
        let tmp = tempfile::Builder::new()
            .prefix(".medburn-register-")
            .tempdir_in(&parent)
            .map_err(|e| file(&e, &parent))?;
        let dir = tmp.path();
        let warped_path = dir.join(WARPED_FILE);
        medburn_io::write_image(&warped, &warped_path).map_err(|e| file(&e, &warped_path))?;
        self.transform.write(dir)?;
        if let Some((label, dtype)) = &warped_label {
            let path = dir.join(WARPED_LABEL_FILE);
            let v = Volume::from_image(label).map_err(|e| file(&e, &path))?;
            let options = WriteOptions {
                dtype: Some(if dtype.is_float() {
                    VoxelType::U16
                } else {
                    *dtype
                }),
                lossy: true,
                ..WriteOptions::default()
            };
            medburn_io::write(&v, &path, &options).map_err(|e| file(&e, &path))?;
        }
        let block = (like.size().into_iter().max().unwrap_or(8) / 8).max(2);
        let fixed = self.fixed.clone();
        write_checkerboard_png(&fixed, &before, block, &dir.join("checkerboard_before.png"))?;
        write_checkerboard_png(&fixed, &warped, block, &dir.join("checkerboard_after.png"))?;
        let text = serde_json::to_string_pretty(&metrics)
            .map_err(|e| RegistrationError::File(e.to_string()))?;
        let metrics_path = dir.join(METRICS_FILE);
        std::fs::write(&metrics_path, text + "\n").map_err(|e| file(&e, &metrics_path))?;
        move_into_place(tmp, out)?;
        Ok(metrics)
    }
}

/// Dice, mean surface distance and HD95 of every foreground label of `reference` (and their
/// means), `moved` being on the same grid.
fn label_metrics(moved: &MedImage, reference: &MedImage) -> crate::Result<Value> {
    let as_labels = |m: &MedImage| -> crate::Result<Vec<u32>> {
        Ok(m.to_vec()
            .map_err(|e| RegistrationError::Readback(e.to_string()))?
            .iter()
            .map(|&v| v.round().max(0.0) as u32)
            .collect())
    };
    let (p, r) = (as_labels(moved)?, as_labels(reference)?);
    let mut values: Vec<u32> = r.iter().copied().filter(|&v| v > 0).collect();
    values.sort_unstable();
    values.dedup();
    let mut per_label = BTreeMap::new();
    let (mut dices, mut hd95s) = (vec![], vec![]);
    for label in values {
        let d = dice(&p, &r, label)?;
        let s = surface_distances(&p, &r, reference.geometry(), label)?;
        dices.extend(d);
        hd95s.extend(s.map(|s| s.hd95));
        per_label.insert(
            label.to_string(),
            json!({"dice": d, "mean_surface_distance_mm": s.map(|s| s.mean), "hd95_mm": s.map(|s| s.hd95)}),
        );
    }
    let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
    Ok(json!({"mean_dice": mean(&dices), "mean_hd95_mm": mean(&hd95s), "labels": per_label}))
}

/// A TRE without its per-landmark distances.
fn tre_summary(t: &TargetRegistrationError) -> Value {
    json!({"mean": t.mean, "median": t.median, "max": t.max, "std": t.std, "count": t.count})
}

/// Moves the files of a finished temporary folder into `out` (created if missing).
fn move_into_place(tmp: tempfile::TempDir, out: &Path) -> crate::Result<()> {
    let file = |e: &dyn std::fmt::Display, p: &Path| {
        RegistrationError::File(format!("{}: {e}", p.display()))
    };
    if !out.exists() {
        let path = tmp.keep();
        return std::fs::rename(&path, out).map_err(|e| file(&e, out));
    }
    if !out.is_dir() {
        return Err(file(&"exists and is not a folder", out));
    }
    let entries = std::fs::read_dir(tmp.path()).map_err(|e| file(&e, tmp.path()))?;
    for entry in entries {
        let entry = entry.map_err(|e| file(&e, tmp.path()))?;
        let target = out.join(entry.file_name());
        std::fs::rename(entry.path(), &target).map_err(|e| file(&e, &target))?;
    }
    Ok(())
}
