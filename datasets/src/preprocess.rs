//! Preparing a case once, before training: stack its channels (or the chosen ones), bring image
//! and label map to one orientation and spacing (labels by nearest neighbour), optionally onto
//! a grid of a fixed size centred on the field of view (whole-volume inputs for regression and
//! classification, as MONAI's `Spacing` + `ResizeWithPadOrCrop`, in one resampling), and
//! z-score each channel with the statistics of the head (foreground), as nnU-Net and MONAI's
//! `NormalizeIntensityd` do. The result is kept in host memory ([`PreparedCase`]) and patches
//! (or whole volumes) are cut from it every step.

use std::path::Path;

use medburn_core::{Device, Geometry, MedImage, Orientation};
use medburn_spatial::{change_orientation, resample, Interpolation};
use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};
use crate::manifest::CaseFiles;

/// How every case is prepared. The same settings travel with a trained model so that
/// prediction prepares its inputs the same way and undoes it on the way out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PreprocessConfig {
    /// The orientation code every case is brought to (exact: a permutation and flips).
    pub orientation: String,
    /// Target spacing in mm along i, j, k; `None` keeps each case's own spacing.
    pub spacing: Option<[f64; 3]>,
    /// Voxels along i, j, k of a grid centred on each image's field of view (cropping or
    /// zero-padding it); `None` keeps the size the spacing gives. Whole-volume tasks set it so
    /// that every case has the network's input shape.
    pub size: Option<[usize; 3]>,
    /// Z-score each channel with the mean and standard deviation of its foreground: the voxels
    /// above the channel's mean (the head in an MR volume, whose background is noise).
    pub normalize: bool,
    /// Resample channels off the first channel's grid onto it (linear) and label maps off their
    /// image's grid onto it (nearest), instead of refusing the case.
    pub resample_channels: bool,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            orientation: "RAS".into(),
            spacing: None,
            size: None,
            normalize: true,
            resample_channels: false,
        }
    }
}

impl PreprocessConfig {
    /// The orientation as a code, or a clear error for a bad string.
    ///
    /// ```
    /// let c = medburn_datasets::PreprocessConfig::default();
    /// assert_eq!(c.orientation()?.to_string(), "RAS");
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn orientation(&self) -> Result<Orientation> {
        self.orientation
            .parse()
            .map_err(|e| DatasetError::Invalid(format!("orientation {:?}: {e}", self.orientation)))
    }

    /// Checks the orientation, spacing and size with one clear line each.
    ///
    /// ```
    /// let mut c = medburn_datasets::PreprocessConfig::default();
    /// c.size = Some([64, 0, 64]);
    /// assert!(c.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        self.orientation()?;
        if let Some(s) = self.spacing {
            if !s.iter().all(|v| v.is_finite() && *v > 0.0) {
                return Err(DatasetError::Invalid(format!(
                    "preprocess.spacing {s:?} must be positive"
                )));
            }
        }
        if let Some(n) = self.size {
            if n.contains(&0) || n.iter().product::<usize>() > 1 << 30 {
                return Err(DatasetError::Invalid(format!(
                    "preprocess.size {n:?} must be positive and at most 2^30 voxels"
                )));
            }
        }
        Ok(())
    }
}

/// A case ready for patch sampling, on the host: channels `[C, D, H, W]` (`W = i`) as f32 and
/// the label map `[D, H, W]` as u8, on the prepared grid.
#[derive(Clone, Debug)]
pub struct PreparedCase {
    /// The case identifier.
    pub id: String,
    /// Number of image channels.
    pub channels: usize,
    /// Voxels, channel after channel, each `[D, H, W]` with W fastest.
    pub image: Vec<f32>,
    /// Label map on the same grid (`None` for unlabelled cases).
    pub label: Option<Vec<u8>>,
    /// Per-case targets the task reads from the manifest (a standardized age, a class index);
    /// empty for segmentation.
    pub targets: Vec<f32>,
    /// The prepared grid.
    pub geometry: Geometry,
    /// The grid of the files as read, to which predictions are returned.
    pub source_geometry: Geometry,
}

impl PreparedCase {
    /// Voxels per channel.
    ///
    /// ```
    /// # use medburn_datasets::PreparedCase;
    /// # use medburn_core::Geometry;
    /// let g = Geometry::unit([4, 3, 2])?;
    /// let c = PreparedCase { id: "a".into(), channels: 1, image: vec![0.0; 24], label: None, targets: vec![], geometry: g, source_geometry: g };
    /// assert_eq!(c.voxels(), 24);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn voxels(&self) -> usize {
        self.geometry.num_voxels()
    }

    /// The image as a `[1, C, D, H, W]` image on `device`, with the prepared geometry.
    ///
    /// ```
    /// # use medburn_datasets::PreparedCase;
    /// # use medburn_core::{Device, Geometry};
    /// let g = Geometry::unit([4, 3, 2])?;
    /// let c = PreparedCase { id: "a".into(), channels: 2, image: vec![0.0; 48], label: None, targets: vec![], geometry: g, source_geometry: g };
    /// assert_eq!(c.image_on(&Device::flex())?.channels(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn image_on(&self, device: &Device) -> Result<MedImage> {
        Ok(MedImage::from_vec(
            self.image.clone(),
            self.channels,
            self.geometry,
            device,
        )?)
    }
}

/// True when two grids are the same up to rounding in the files (1e-4 of a voxel for the origin,
/// 1e-4 relative for spacing, 1e-4 for the direction cosines).
///
/// ```
/// use medburn_core::Geometry;
/// let g = Geometry::unit([4, 4, 4])?;
/// assert!(medburn_datasets::same_grid(&g, &g));
/// assert!(!medburn_datasets::same_grid(&g, &Geometry::unit([4, 4, 5])?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn same_grid(a: &Geometry, b: &Geometry) -> bool {
    let (sa, sb) = (a.spacing(), b.spacing());
    let min_spacing = sa.iter().cloned().fold(f64::INFINITY, f64::min);
    a.size() == b.size()
        && (0..3).all(|k| (sa[k] - sb[k]).abs() <= 1e-4 * sa[k])
        && (0..3).all(|k| (a.origin()[k] - b.origin()[k]).abs() <= 1e-4 * min_spacing)
        && a.direction()
            .row_major()
            .iter()
            .zip(b.direction().row_major())
            .all(|(x, y)| (x - y).abs() <= 1e-4)
}

/// How a case's files are read when they are not all on one grid.
///
/// ```
/// let o = medburn_datasets::ReadOptions::default();
/// assert!(!o.resample_channels); // off-grid channels and label maps are refused
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReadOptions {
    /// Resample a channel whose grid differs from the first channel's onto the first channel's
    /// grid (linear), and a label map off its image's grid onto the image's grid (nearest),
    /// instead of refusing them.
    pub resample_channels: bool,
}

/// A number for a message: at most 4 decimals, no trailing zeros.
fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.into()
    }
}

/// A grid in one line: size, spacing, origin, orientation (and the direction when oblique).
///
/// ```
/// use medburn_core::Geometry;
/// let g = Geometry::unit([8, 8, 4])?;
/// assert_eq!(medburn_datasets::describe_grid(&g),
///     "size 8x8x4, spacing 1x1x1 mm, origin (0, 0, 0) mm, orientation LPS");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn describe_grid(g: &Geometry) -> String {
    let [ni, nj, nk] = g.size();
    let [si, sj, sk] = g.spacing();
    let [ox, oy, oz] = g.origin();
    let d = g.direction().row_major();
    let oblique = d
        .iter()
        .any(|v| (v.abs() - 1.0).abs() > 1e-6 && v.abs() > 1e-6);
    let mut out = format!(
        "size {ni}x{nj}x{nk}, spacing {}x{}x{} mm, origin ({}, {}, {}) mm, orientation {}",
        num(si),
        num(sj),
        num(sk),
        num(ox),
        num(oy),
        num(oz),
        g.orientation()
    );
    if oblique {
        let d: Vec<String> = d.iter().map(|v| num(*v)).collect();
        out.push_str(&format!(" (direction {})", d.join(" ")));
    }
    out
}

/// Reads image `index` of a case: the file, or the DICOM series the manifest chose in it.
pub(crate) fn read_image_file(case: &CaseFiles, index: usize) -> Result<medburn_io::Volume> {
    let path = &case.images[index];
    match case.series_of(index) {
        Some(uid) => Ok(medburn_io::dicom::read_dicom(
            path,
            &medburn_io::dicom::SeriesSelector::Uid(uid.to_string()),
        )?),
        None => Ok(medburn_io::read(path)?),
    }
}

/// The name of image `index` of a case for messages: its path, and the series read from it.
pub(crate) fn image_name(case: &CaseFiles, index: usize) -> String {
    match case.series_of(index) {
        Some(uid) => format!("{} (series {uid})", case.images[index].display()),
        None => case.images[index].display().to_string(),
    }
}

/// Reads a case's image files and stacks their channels. Every file must be on the first
/// file's grid and hold finite values only (a NaN or infinite voxel is refused, naming the file).
/// An image that is a DICOM folder is read as the series [`CaseFiles::series`] names, if any.
///
/// ```no_run
/// use medburn_datasets::{read_channels, CaseFiles};
/// let case = CaseFiles::new(vec!["t1.nii.gz".into(), "flair.nii.gz".into()], None);
/// let image = read_channels(&case, &medburn_core::Device::flex())?;
/// assert_eq!(image.channels(), 2);
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
pub fn read_channels(case: &CaseFiles, device: &Device) -> Result<MedImage> {
    read_channels_with(case, device, &ReadOptions::default())
}

/// [`read_channels`], resampling channels off the first channel's grid onto it (linear) when
/// `options.resample_channels`; otherwise they are refused with both files and both grids.
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage};
/// use medburn_datasets::{read_channels_with, CaseFiles, ReadOptions};
/// let dir = tempfile::tempdir()?;
/// let (a, b) = (dir.path().join("t1.nii"), dir.path().join("flair.nii"));
/// let write = |p: &std::path::Path, n: usize, s: f64| -> Result<(), Box<dyn std::error::Error>> {
///     let g = Geometry::new([n; 3], [0.0; 3], [s; 3], Geometry::unit([1; 3])?.direction())?;
///     let img = MedImage::from_vec(vec![1.0; n * n * n], 1, g, &Device::flex())?;
///     Ok(medburn_io::write_image(&img, p)?)
/// };
/// write(&a, 8, 1.0)?;
/// write(&b, 4, 2.0)?;
/// let case = CaseFiles::new(vec![a, b], None);
/// let e = read_channels_with(&case, &Device::flex(), &ReadOptions::default()).unwrap_err();
/// assert!(e.to_string().contains("size 4x4x4, spacing 2x2x2 mm"), "{e}");
/// let both = read_channels_with(&case, &Device::flex(), &ReadOptions { resample_channels: true })?;
/// assert_eq!((both.channels(), both.geometry().size()), (2, [8, 8, 8]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_channels_with(
    case: &CaseFiles,
    device: &Device,
    options: &ReadOptions,
) -> Result<MedImage> {
    let case_err = |message: String| DatasetError::Case {
        case: case.id.clone(),
        message,
    };
    let mut images: Vec<MedImage> = Vec::new();
    for (index, path) in case.images.iter().enumerate() {
        let v = read_image_file(case, index)?;
        let bad = v
            .data
            .rescaled_f64(v.rescale)
            .iter()
            .filter(|x| !x.is_finite())
            .count();
        if bad > 0 {
            return Err(case_err(format!(
                "{} holds {bad} voxel(s) that are NaN or infinite: a network would turn them \
                 into NaN everywhere (replace them, e.g. with 0, before training or prediction)",
                image_name(case, index)
            )));
        }
        let mut img = v
            .to_image(device)
            .map_err(|kind| medburn_io::IoError::new(path, kind))?;
        if let Some(first) = images.first() {
            if !same_grid(first.geometry(), img.geometry()) {
                if !options.resample_channels {
                    return Err(case_err(format!(
                        "channel {} ({}) is on a different grid than {} ({}); the \
                         resample_channels option resamples it onto the first channel's grid \
                         (linear)",
                        image_name(case, index),
                        describe_grid(img.geometry()),
                        image_name(case, 0),
                        describe_grid(first.geometry())
                    )));
                }
                img = resample(&img, first.geometry(), None, Interpolation::Linear)?;
            }
        }
        images.push(img);
    }
    let first = images
        .first()
        .ok_or_else(|| case_err("no image files".into()))?;
    if images.len() == 1 {
        return Ok(images.into_iter().next().expect("one image"));
    }
    let voxels = burn::tensor::Tensor::cat(images.iter().map(|i| i.voxels().clone()).collect(), 1);
    Ok(first.with_voxels(voxels)?)
}

/// A case's label map, if it has one, on `grid` (the grid of its first channel): whole numbers
/// from 0 to 255, refused off the grid (both grids named) unless `options.resample_channels`
/// resamples it onto the grid (nearest).
///
/// ```no_run
/// use medburn_datasets::{read_case_label, read_channels, CaseFiles, ReadOptions};
/// let case = CaseFiles::new(vec!["t1.nii.gz".into()], Some("seg.nii.gz".into()));
/// let device = burn::tensor::Device::flex();
/// let image = read_channels(&case, &device)?;
/// let label = read_case_label(&case, image.geometry(), &ReadOptions::default(), &device)?;
/// assert_eq!(label.unwrap().geometry(), image.geometry());
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
pub fn read_case_label(
    case: &CaseFiles,
    grid: &Geometry,
    options: &ReadOptions,
    device: &Device,
) -> Result<Option<MedImage>> {
    match &case.label {
        Some(path) => Ok(Some(read_label(
            path,
            &case.id,
            grid,
            &image_name(case, 0),
            device,
            options.resample_channels,
        )?)),
        None => Ok(None),
    }
}

/// Reads a label map that must lie on `grid` (the grid of `image`, a file name for messages),
/// as small non-negative integers (0 to 255); with `resample`, one off the grid is resampled
/// onto it (nearest) instead of refused.
fn read_label(
    path: &Path,
    case: &str,
    grid: &Geometry,
    image: &str,
    device: &Device,
    resample_label: bool,
) -> Result<MedImage> {
    let case_err = |message: String| DatasetError::Case {
        case: case.to_string(),
        message,
    };
    let v = medburn_io::read(path)?;
    if v.channels() != 1 {
        return Err(case_err(format!(
            "label map {} has {} channels, expected 1",
            path.display(),
            v.channels()
        )));
    }
    let on_grid = same_grid(&v.geometry, grid);
    if !on_grid && !resample_label {
        return Err(case_err(format!(
            "label map {} is off its image's grid ({}; image {}: {}); the resample_channels \
             option resamples it onto the image's grid (nearest)",
            path.display(),
            describe_grid(&v.geometry),
            image,
            describe_grid(grid)
        )));
    }
    // Labels as the file means them (scaling applied): whole numbers from 0 to 255. A float
    // file whose values are all whole numbers is fine; 0.5 or 1.7 is not a label.
    if let Some(bad) = v
        .data
        .rescaled_f64(v.rescale)
        .iter()
        .find(|&&x| !(x.is_finite() && x.fract() == 0.0 && (0.0..=255.0).contains(&x)))
    {
        return Err(case_err(format!(
            "label map {} holds the value {bad}; labels must be whole numbers from 0 to 255",
            path.display()
        )));
    }
    let img = v
        .to_image(device)
        .map_err(|kind| medburn_io::IoError::new(path, kind))?;
    if !on_grid {
        return Ok(resample(&img, grid, None, Interpolation::Nearest)?);
    }
    // The image's exact geometry, so that both resample onto one grid.
    Ok(img.with_geometry(*grid)?)
}

/// Brings an image to the configured orientation and spacing (`interpolation` linear for
/// intensities, nearest for label maps).
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage};
/// use medburn_datasets::{reorient_and_resample, PreprocessConfig};
/// let img = MedImage::from_vec(vec![1.0; 64], 1, Geometry::unit([4, 4, 4])?, &Device::flex())?;
/// let cfg = PreprocessConfig { spacing: Some([2.0, 2.0, 2.0]), ..Default::default() };
/// let out = reorient_and_resample(&img, &cfg, medburn_spatial::Interpolation::Linear)?;
/// assert_eq!(out.geometry().size(), [2, 2, 2]);
/// assert_eq!(out.geometry().orientation().to_string(), "RAS");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reorient_and_resample(
    image: &MedImage,
    config: &PreprocessConfig,
    interpolation: Interpolation,
) -> Result<MedImage> {
    let oriented = change_orientation(image, config.orientation()?)?;
    let grid = match (config.spacing, config.size) {
        (None, None) => return Ok(oriented),
        (Some(spacing), None) => medburn_spatial::grid_at_spacing(oriented.geometry(), spacing)?,
        (spacing, Some(size)) => fov_centred_grid(oriented.geometry(), spacing, size)?,
    };
    Ok(resample(&oriented, &grid, None, interpolation)?)
}

/// The grid of `size` voxels at `spacing` (the image's own when `None`) with the image's
/// direction whose centre is the centre of the image's field of view.
///
/// ```
/// use medburn_core::Geometry;
/// let g = Geometry::unit([10, 20, 30])?;
/// let c = medburn_datasets::fov_centred_grid(&g, Some([2.0, 2.0, 2.0]), [8, 8, 8])?;
/// assert_eq!(c.centre(), g.centre());
/// assert_eq!(c.spacing(), [2.0, 2.0, 2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fov_centred_grid(
    geometry: &Geometry,
    spacing: Option<[f64; 3]>,
    size: [usize; 3],
) -> Result<Geometry> {
    let spacing = spacing.unwrap_or(geometry.spacing());
    let unit = Geometry::new(size, [0.0; 3], spacing, geometry.direction())
        .map_err(|e| DatasetError::Invalid(format!("grid of {size:?} at {spacing:?}: {e}")))?;
    let (want, have) = (geometry.centre(), unit.centre());
    let origin = [0, 1, 2].map(|a| want[a] - have[a]);
    unit.with_origin(origin)
        .map_err(|e| DatasetError::Invalid(format!("grid of {size:?} at {spacing:?}: {e}")))
}

/// The channels `channels` of `image`, in that order; an empty list keeps every channel.
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage};
/// let g = Geometry::unit([2, 1, 1])?;
/// let img = MedImage::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3, g, &Device::flex())?;
/// let two = medburn_datasets::select_channels(img, &[2, 0], "a")?;
/// assert_eq!(two.to_vec()?, vec![5.0, 6.0, 1.0, 2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn select_channels(image: MedImage, channels: &[usize], case: &str) -> Result<MedImage> {
    if channels.is_empty() {
        return Ok(image);
    }
    let have = image.channels();
    if let Some(c) = channels.iter().find(|&&c| c >= have) {
        return Err(DatasetError::Case {
            case: case.to_string(),
            message: format!("channel {c} asked for, the image has {have}"),
        });
    }
    if channels.iter().copied().eq(0..have) {
        return Ok(image);
    }
    let device = image.voxels().device();
    let index = burn::tensor::Tensor::<1, burn::tensor::Int>::from_data(
        burn::tensor::TensorData::new(
            channels.iter().map(|&c| c as i64).collect::<Vec<_>>(),
            [channels.len()],
        ),
        &device,
    );
    let voxels = image.voxels().clone().select(1, index);
    Ok(image.with_voxels(voxels)?)
}

/// Z-scores each channel of `[C, D, H, W]` values in place with the mean and standard deviation
/// of its voxels above the channel mean; returns each channel's `(mean, std)`, which take a
/// network's output back to the input's intensities (a constant channel is only centred:
/// `(mean, 1)`).
///
/// ```
/// let mut v = vec![0.0, 0.0, 10.0, 12.0];
/// let stats = medburn_datasets::zscore_foreground(&mut v, 1);
/// assert_eq!(v[2], -1.0);
/// assert_eq!(v[3], 1.0);
/// assert_eq!(stats, vec![(11.0, 1.0)]);
/// ```
pub fn zscore_foreground(values: &mut [f32], channels: usize) -> Vec<(f64, f64)> {
    let n = values.len() / channels.max(1);
    let mut stats = Vec::with_capacity(channels);
    for c in values.chunks_mut(n.max(1)) {
        let mean_all = c.iter().map(|&v| v as f64).sum::<f64>() / c.len().max(1) as f64;
        let (mut s, mut s2, mut k) = (0.0f64, 0.0f64, 0usize);
        for &v in c.iter().filter(|&&v| v as f64 > mean_all) {
            s += v as f64;
            s2 += (v as f64) * (v as f64);
            k += 1;
        }
        if k == 0 {
            // A constant channel: centre it.
            c.iter_mut()
                .for_each(|v| *v = (*v as f64 - mean_all) as f32);
            stats.push((mean_all, 1.0));
            continue;
        }
        let mean = s / k as f64;
        let std = (s2 / k as f64 - mean * mean).max(0.0).sqrt().max(1e-8);
        c.iter_mut()
            .for_each(|v| *v = ((*v as f64 - mean) / std) as f32);
        stats.push((mean, std));
    }
    stats
}

/// Prepares one case: read, stack channels and keep those of `channels` (every one when it is
/// empty), check the label map's grid and values, reorient, resample (labels nearest),
/// normalize; the result lives on the host, without targets (the task adds them).
///
/// ```no_run
/// use medburn_datasets::{prepare_case, Manifest, PreprocessConfig};
/// let m = Manifest::open("data/synth".as_ref())?;
/// let t1 = m.channel_indices(&["T1".into()])?;
/// let case = prepare_case(&m.training[0], &PreprocessConfig::default(), &t1)?;
/// println!("{}: {:?}", case.id, case.geometry.size());
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
pub fn prepare_case(
    case: &CaseFiles,
    config: &PreprocessConfig,
    channels: &[usize],
) -> Result<PreparedCase> {
    Ok(prepare_case_scaled(case, config, channels)?.0)
}

/// [`prepare_case`], and each channel's intensity scale `(mean, std)` that the normalization
/// took out (`(0, 1)` without normalization): `value * std + mean` gives the intensities back,
/// as predictions written in the input's units need.
///
/// ```no_run
/// use medburn_datasets::{prepare_case_scaled, Manifest, PreprocessConfig};
/// let m = Manifest::open("data/synth".as_ref())?;
/// let (case, scale) = prepare_case_scaled(&m.training[0], &PreprocessConfig::default(), &[0])?;
/// assert_eq!(scale.len(), case.channels);
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
pub fn prepare_case_scaled(
    case: &CaseFiles,
    config: &PreprocessConfig,
    channels: &[usize],
) -> Result<(PreparedCase, Vec<(f64, f64)>)> {
    let options = ReadOptions {
        resample_channels: config.resample_channels,
    };
    prepare_case_with(case, config, channels, &options)
}

/// [`prepare_case_scaled`] with channels and label maps off the first channel's grid resampled
/// onto it when `options.resample_channels` (linear for channels, nearest for label maps).
///
/// ```
/// use medburn_datasets::{prepare_case_with, Manifest, PreprocessConfig, ReadOptions};
/// // The repository's BIDS fixture: T1w at 1 mm, FLAIR at 2 mm.
/// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/layouts/bids");
/// let m = Manifest::open(dir.as_ref())?;
/// let options = ReadOptions { resample_channels: true };
/// let (case, _) = prepare_case_with(&m.training[0], &PreprocessConfig::default(), &[], &options)?;
/// assert_eq!((case.channels, case.geometry.size()), (2, [8, 8, 8]));
/// assert!(case.label.unwrap().contains(&1));
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
pub fn prepare_case_with(
    case: &CaseFiles,
    config: &PreprocessConfig,
    channels: &[usize],
    options: &ReadOptions,
) -> Result<(PreparedCase, Vec<(f64, f64)>)> {
    let device = Device::flex();
    let image = select_channels(
        read_channels_with(case, &device, options)?,
        channels,
        &case.id,
    )?;
    let source_geometry = *image.geometry();
    let label = read_case_label(case, &source_geometry, options, &device)?;
    let image = reorient_and_resample(&image, config, Interpolation::Linear)?;
    let mut values = image.to_vec()?;
    let scale = if config.normalize {
        zscore_foreground(&mut values, image.channels())
    } else {
        vec![(0.0, 1.0); image.channels()]
    };
    let label = match label {
        Some(l) => {
            let l = reorient_and_resample(&l, config, Interpolation::Nearest)?;
            Some(l.to_vec()?.iter().map(|&v| v.round() as u8).collect())
        }
        None => None,
    };
    let prepared = PreparedCase {
        id: case.id.clone(),
        channels: image.channels(),
        image: values,
        label,
        targets: Vec::new(),
        geometry: *image.geometry(),
        source_geometry,
    };
    Ok((prepared, scale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use medburn_io::{Volume, WriteOptions};

    fn write(dir: &Path, name: &str, values: Vec<f32>, g: Geometry) -> std::path::PathBuf {
        let img = MedImage::from_vec(values, 1, g, &Device::flex()).unwrap();
        let p = dir.join(name);
        medburn_io::write(
            &Volume::from_image(&img).unwrap(),
            &p,
            &WriteOptions::default(),
        )
        .unwrap();
        p
    }

    #[test]
    fn label_follows_image_through_reorientation_and_resampling() {
        let dir = tempfile::tempdir().unwrap();
        let g = Geometry::new(
            [8, 6, 4],
            [10.0, -3.0, 5.0],
            [1.0, 1.0, 2.0],
            Orientation::LPS.to_direction(),
        )
        .unwrap();
        // Label 1 in the voxels with i >= 4, the image bright there.
        let mut img = vec![0.0; 192];
        let mut lab = vec![0.0; 192];
        for k in 0..4 {
            for j in 0..6 {
                for i in 4..8 {
                    lab[(k * 6 + j) * 8 + i] = 1.0;
                    img[(k * 6 + j) * 8 + i] = 100.0;
                }
            }
        }
        let case = CaseFiles::new(
            vec![write(dir.path(), "a.nii", img, g)],
            Some(write(dir.path(), "a_seg.nii", lab, g)),
        );
        let cfg = PreprocessConfig {
            orientation: "RAS".into(),
            spacing: Some([1.0, 1.0, 1.0]),
            size: None,
            normalize: false,
            ..Default::default()
        };
        let p = prepare_case(&case, &cfg, &[]).unwrap();
        assert_eq!(p.geometry.orientation().to_string(), "RAS");
        assert_eq!(p.geometry.size(), [8, 6, 8]);
        let label = p.label.as_ref().unwrap();
        // Every labelled voxel is bright and every bright voxel labelled, after the flips.
        for (l, v) in label.iter().zip(&p.image) {
            assert_eq!(*l == 1, *v > 50.0, "label {l} value {v}");
        }
        // Half of each slice, in the 7 slices inside the input (the 8th lies past its last
        // voxel's half-open buffer and reads 0, as in SimpleITK).
        assert_eq!(label.iter().filter(|&&l| l == 1).count(), 7 * 24);
        // Physical check: the labelled half is where i >= 4 was (LPS axes: x = 10 + i, so
        // x >= 14), whatever the reorientation did to the index.
        let idx = p
            .geometry
            .physical_to_nearest_index([15.0, -1.0, 9.0])
            .unwrap();
        let [i, j, k] = idx;
        let [w, h, _] = p.geometry.size();
        assert_eq!(label[(k * h + j) * w + i], 1);
    }

    #[test]
    fn bad_cases_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let g = Geometry::unit([4, 4, 4]).unwrap();
        let img = write(dir.path(), "a.nii", vec![1.0; 64], g);
        let shifted = g.with_origin([0.5, 0.0, 0.0]).unwrap();
        let off = write(dir.path(), "off.nii", vec![0.0; 64], shifted);
        let cfg = PreprocessConfig::default();
        let e = prepare_case(
            &CaseFiles::new(vec![img.clone()], Some(off.clone())),
            &cfg,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("off its image's grid"), "{e}");
        let e = prepare_case(&CaseFiles::new(vec![img.clone(), off], None), &cfg, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("different grid"), "{e}");
        let neg = write(dir.path(), "neg.nii", vec![-1.0; 64], g);
        let e = prepare_case(&CaseFiles::new(vec![img.clone()], Some(neg)), &cfg, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("labels must be whole numbers from 0 to 255"),
            "{e}"
        );
        let half = write(dir.path(), "half.nii", vec![0.5; 64], g);
        let e = prepare_case(&CaseFiles::new(vec![img.clone()], Some(half)), &cfg, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds the value 0.5"), "{e}");
        let mut with_nan = vec![1.0; 64];
        with_nan[7] = f32::NAN;
        let nan = write(dir.path(), "nan.nii", with_nan, g);
        let e = prepare_case(&CaseFiles::new(vec![nan], None), &cfg, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("nan.nii") && e.contains("1 voxel"), "{e}");
        let e = prepare_case(
            &CaseFiles::new(vec![dir.path().join("missing.nii")], None),
            &cfg,
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("missing.nii"), "{e}");
        let bad = PreprocessConfig {
            orientation: "XYZ".into(),
            ..Default::default()
        };
        assert!(prepare_case(&CaseFiles::new(vec![img.clone()], None), &bad, &[]).is_err());
        let e = prepare_case(&CaseFiles::new(vec![img], None), &cfg, &[1])
            .unwrap_err()
            .to_string();
        assert!(e.contains("channel 1 asked for, the image has 1"), "{e}");
    }

    #[test]
    fn off_grid_channels_and_labels_are_resampled_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let g = Geometry::unit([4, 4, 4]).unwrap();
        // A 2 mm grid over the same field of view: voxel centres 0.5 mm further.
        let coarse =
            Geometry::new([2, 2, 2], [0.5, 0.5, 0.5], [2.0, 2.0, 2.0], g.direction()).unwrap();
        let img = write(dir.path(), "a.nii", vec![1.0; 64], g);
        let other = write(dir.path(), "b.nii", vec![5.0; 8], coarse);
        // Label 1 in the coarse voxel with i = 1 (fine voxels i = 2, 3).
        let mut lab = vec![0.0; 8];
        for k in 0..2 {
            for j in 0..2 {
                lab[(k * 2 + j) * 2 + 1] = 1.0;
            }
        }
        let lab = write(dir.path(), "lab.nii", lab, coarse);
        let case = CaseFiles::new(vec![img.clone(), other], Some(lab));
        let cfg = PreprocessConfig {
            normalize: false,
            ..Default::default()
        };
        let e = prepare_case(&case, &cfg, &[]).unwrap_err().to_string();
        assert!(
            e.contains("b.nii (size 2x2x2, spacing 2x2x2 mm, origin (0.5, 0.5, 0.5) mm")
                && e.contains("a.nii (size 4x4x4, spacing 1x1x1 mm, origin (0, 0, 0) mm"),
            "{e}"
        );
        let e = prepare_case(&CaseFiles::new(vec![img], case.label.clone()), &cfg, &[])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("lab.nii is off its image's grid (size 2x2x2")
                && e.contains("image ")
                && e.contains("a.nii: size 4x4x4"),
            "{e}"
        );
        let options = ReadOptions {
            resample_channels: true,
        };
        let (p, _) = prepare_case_with(&case, &cfg, &[], &options).unwrap();
        assert_eq!((p.channels, p.geometry.size()), (2, [4, 4, 4]));
        // The second channel is 5 inside the coarse image's field of view.
        let second = &p.image[64..];
        assert!(second.iter().all(|&v| (v - 5.0).abs() < 1e-4), "{second:?}");
        // Nearest labels: 1 where the fine voxel lies in the labelled coarse voxel. The
        // grid is reoriented to RAS: i flips, so the labelled half has i = 0, 1.
        let label = p.label.unwrap();
        for (n, &l) in label.iter().enumerate() {
            assert_eq!(l == 1, n % 4 < 2, "voxel {n}: {l}");
        }
    }

    #[test]
    fn zscore_uses_the_foreground() {
        // Background zeros, head 10 +- 2: the head gets mean 0, std 1.
        let mut v: Vec<f32> = vec![0.0; 50];
        v.extend((0..50).map(|k| if k % 2 == 0 { 8.0 } else { 12.0 }));
        zscore_foreground(&mut v, 1);
        assert!((v[50] + 1.0).abs() < 1e-6 && (v[51] - 1.0).abs() < 1e-6);
        assert!((v[0] + 5.0).abs() < 1e-5);
    }

    #[test]
    fn a_fixed_grid_is_centred_on_the_field_of_view_and_keeps_the_chosen_channels() {
        let dir = tempfile::tempdir().unwrap();
        // An oblique LPS grid; a bright cube at its centre in channel 1, channel 0 uniform.
        let g = Geometry::new(
            [20, 16, 12],
            [-30.0, 12.0, 7.0],
            [1.5, 1.5, 2.0],
            Orientation::LPS.to_direction(),
        )
        .unwrap();
        let n = g.num_voxels();
        let mut two = vec![1.0f32; 2 * n];
        for k in 4..8 {
            for j in 6..10 {
                for i in 8..12 {
                    two[n + (k * 16 + j) * 20 + i] = 9.0;
                }
            }
        }
        let img = MedImage::from_vec(two, 2, g, &Device::flex()).unwrap();
        let path = dir.path().join("two.nii");
        medburn_io::write(
            &Volume::from_image(&img).unwrap(),
            &path,
            &WriteOptions::default(),
        )
        .unwrap();
        let cfg = PreprocessConfig {
            orientation: "RAS".into(),
            spacing: Some([3.0, 3.0, 3.0]),
            size: Some([9, 9, 9]),
            normalize: false,
            ..Default::default()
        };
        let p = prepare_case(&CaseFiles::new(vec![path], None), &cfg, &[1]).unwrap();
        assert_eq!((p.channels, p.geometry.size()), (1, [9, 9, 9]));
        assert_eq!(p.geometry.orientation().to_string(), "RAS");
        // The grid's centre is the input's field-of-view centre; the cube lands there.
        let (a, b) = (p.geometry.centre(), g.centre());
        assert!((0..3).all(|k| (a[k] - b[k]).abs() < 1e-9), "{a:?} {b:?}");
        assert!(p.image[(4 * 9 + 4) * 9 + 4] > 5.0);
        assert!(p.image[0] < 2.0);
    }
}
