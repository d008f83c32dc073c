//! The integrity check of a data set, as nnU-Net's `verify_dataset_integrity`: every file of
//! every case read, its grid and channels described, and the problems that would stop or spoil
//! training listed with the file they are in: files that cannot be read, NaN or infinite voxels,
//! channels on different grids, a label map off its image's grid, with several channels, with
//! values that are not whole numbers from 0 to 255 or not among the declared labels, or empty;
//! cases with a different number of channels than the manifest names; training cases without a
//! label map among labelled ones; ids used twice. Declared labels that no label map holds are
//! noted, not counted as problems.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use medburn_core::Geometry;
use medburn_io::{Rescale, VoxelArray};
use rayon::prelude::*;
use serde::Serialize;

use crate::manifest::{CaseFiles, Manifest, Split};
use crate::preprocess::{describe_grid, image_name, read_image_file, same_grid, ReadOptions};

/// A grid as the check reports it.
///
/// ```
/// let g = medburn_core::Geometry::unit([4, 3, 2])?;
/// let info = medburn_datasets::GridInfo::from(&g);
/// assert_eq!((info.size, info.orientation.as_str()), ([4, 3, 2], "LPS"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GridInfo {
    /// Voxels along i, j, k.
    pub size: [usize; 3],
    /// Spacing in mm along i, j, k.
    pub spacing: [f64; 3],
    /// The centre of voxel (0, 0, 0), LPS, mm.
    pub origin: [f64; 3],
    /// The orientation code (where i, j, k point to).
    pub orientation: String,
    /// The direction matrix, row-major.
    pub direction: [f64; 9],
}

impl From<&Geometry> for GridInfo {
    fn from(g: &Geometry) -> GridInfo {
        GridInfo {
            size: g.size(),
            spacing: g.spacing(),
            origin: g.origin(),
            orientation: g.orientation().to_string(),
            direction: g.direction().row_major(),
        }
    }
}

/// One file of a case as read.
///
/// ```
/// let f = medburn_datasets::FileCheck { path: "a.nii".into(), series: None, channels: 1, grid: None, non_finite: 0 };
/// assert!(f.grid.is_none()); // not read
/// ```
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileCheck {
    /// The file (or DICOM folder).
    pub path: PathBuf,
    /// The DICOM series read from it, if the manifest chose one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub series: Option<String>,
    /// Channels it holds.
    pub channels: usize,
    /// Its grid; `None` when it could not be read.
    pub grid: Option<GridInfo>,
    /// Voxels that are NaN or infinite.
    pub non_finite: usize,
}

/// What the check found in one case.
///
/// ```
/// let c = medburn_datasets::CaseCheck::default();
/// assert!(c.problems.is_empty() && c.images.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CaseCheck {
    /// The case identifier.
    pub id: String,
    /// Its split, where the manifest gives one (`train`, `validation`, `test`).
    pub split: Option<Split>,
    /// Its image files, in channel order.
    pub images: Vec<FileCheck>,
    /// Channels read in all.
    pub channels: usize,
    /// Its label map.
    pub label: Option<FileCheck>,
    /// The values its label map holds, sorted.
    pub label_values: Vec<u32>,
    /// What is wrong, one line each, naming the file.
    pub problems: Vec<String>,
    /// What is worth knowing but not wrong (a channel to be resampled).
    pub notes: Vec<String>,
}

/// What the check found in a data set.
///
/// ```
/// let d = medburn_datasets::DatasetCheck::default();
/// assert!(d.is_clean() && d.problem_count() == 0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DatasetCheck {
    /// The data set's name.
    pub name: String,
    /// The manifest's channel names.
    pub channel_names: Vec<String>,
    /// The manifest's labels, value -> name.
    pub declared_labels: BTreeMap<u32, String>,
    /// Every value found in the label maps, sorted.
    pub found_labels: Vec<u32>,
    /// Each case, training cases first, then test cases.
    pub cases: Vec<CaseCheck>,
    /// Problems of the data set as a whole (an id used twice).
    pub problems: Vec<String>,
    /// Notes on the data set as a whole (declared labels found nowhere).
    pub notes: Vec<String>,
}

impl DatasetCheck {
    /// Problems in all: the data set's and every case's.
    ///
    /// ```
    /// let mut d = medburn_datasets::DatasetCheck::default();
    /// d.cases.push(medburn_datasets::CaseCheck { problems: vec!["x".into()], ..Default::default() });
    /// assert_eq!(d.problem_count(), 1);
    /// ```
    pub fn problem_count(&self) -> usize {
        self.problems.len() + self.cases.iter().map(|c| c.problems.len()).sum::<usize>()
    }

    /// Whether no problem was found.
    ///
    /// ```
    /// assert!(medburn_datasets::DatasetCheck::default().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.problem_count() == 0
    }
}

/// Calls `f` with every voxel value after the rescale, without a copy of the volume.
fn each_value(data: &VoxelArray, rescale: Rescale, mut f: impl FnMut(f64)) {
    let (slope, inter) = (rescale.slope, rescale.inter);
    macro_rules! go {
        ($a:expr) => {
            for v in $a.iter() {
                f(*v as f64 * slope + inter)
            }
        };
    }
    match data {
        VoxelArray::U8(a) => go!(a),
        VoxelArray::I8(a) => go!(a),
        VoxelArray::I16(a) => go!(a),
        VoxelArray::U16(a) => go!(a),
        VoxelArray::I32(a) => go!(a),
        VoxelArray::U32(a) => go!(a),
        VoxelArray::I64(a) => go!(a),
        VoxelArray::U64(a) => go!(a),
        VoxelArray::F32(a) => go!(a),
        VoxelArray::F64(a) => go!(a),
    }
}

/// The declared labels in one line (`0 background, 1 lesion`).
fn declared_list(declared: &BTreeMap<u32, String>) -> String {
    declared
        .iter()
        .map(|(v, n)| format!("{v} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads every file of `case` and reports its grids, channels, label values and problems
/// (see [the module](self)); `manifest` gives the channel names and declared labels.
/// Channels and label maps off the first channel's grid are notes, not problems, with
/// `options.resample_channels`.
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage};
/// use medburn_datasets::{check_case, CaseFiles, Manifest, ReadOptions};
/// let dir = tempfile::tempdir()?;
/// let (img, lab) = (dir.path().join("a.nii"), dir.path().join("a_seg.nii"));
/// let g = Geometry::unit([4, 4, 4])?;
/// medburn_io::write_image(&MedImage::from_vec(vec![1.0; 64], 1, g, &Device::flex())?, &img)?;
/// let mut labels = vec![0.0; 64];
/// labels[5] = 3.0;
/// medburn_io::write_image(&MedImage::from_vec(labels, 1, g, &Device::flex())?, &lab)?;
/// let mut m = Manifest::from_pairs(&[(img, lab)])?;
/// m.label_names = [(0, "background".to_string()), (1, "lesion".to_string())].into();
/// let c = check_case(&m.training[0], &m, &ReadOptions::default());
/// assert_eq!(c.label_values, vec![0, 3]);
/// assert!(c.problems[0].contains("a_seg.nii") && c.problems[0].contains("3"), "{:?}", c.problems);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_case(case: &CaseFiles, manifest: &Manifest, options: &ReadOptions) -> CaseCheck {
    let mut out = CaseCheck {
        id: case.id.clone(),
        split: case.split,
        ..Default::default()
    };
    let mut first_grid: Option<Geometry> = None;
    for (index, path) in case.images.iter().enumerate() {
        let mut file = FileCheck {
            path: path.clone(),
            series: case.series_of(index).map(str::to_string),
            channels: 0,
            grid: None,
            non_finite: 0,
        };
        match read_image_file(case, index) {
            Err(e) => out.problems.push(e.to_string()),
            Ok(v) => {
                let mut bad = 0usize;
                each_value(&v.data, v.rescale, |x| bad += usize::from(!x.is_finite()));
                file.non_finite = bad;
                file.channels = v.channels();
                file.grid = Some(GridInfo::from(&v.geometry));
                out.channels += v.channels();
                let name = image_name(case, index);
                if bad > 0 {
                    out.problems.push(format!(
                        "{name}: {bad} voxel(s) are NaN or infinite (replace them, e.g. with 0)"
                    ));
                }
                match &first_grid {
                    None if index == 0 => first_grid = Some(v.geometry),
                    Some(first) if !same_grid(first, &v.geometry) => {
                        let line = format!(
                            "channel {name} ({}) is on a different grid than {} ({})",
                            describe_grid(&v.geometry),
                            image_name(case, 0),
                            describe_grid(first)
                        );
                        if options.resample_channels {
                            out.notes
                                .push(format!("{line}: resampled onto it (linear)"));
                        } else {
                            out.problems.push(line);
                        }
                    }
                    _ => {}
                }
            }
        }
        out.images.push(file);
    }
    let expected = manifest.channel_names.len();
    if expected > 0
        && out.channels > 0
        && out.images.iter().all(|f| f.grid.is_some())
        && out.channels != expected
    {
        out.problems.push(format!(
            "{} channel(s) read, the manifest names {expected} ({})",
            out.channels,
            manifest.channel_names.join(", ")
        ));
    }
    if let Some(path) = &case.label {
        let mut file = FileCheck {
            path: path.clone(),
            series: None,
            channels: 0,
            grid: None,
            non_finite: 0,
        };
        match medburn_io::read(path) {
            Err(e) => out.problems.push(e.to_string()),
            Ok(v) => {
                file.channels = v.channels();
                file.grid = Some(GridInfo::from(&v.geometry));
                let shown = path.display();
                if v.channels() != 1 {
                    out.problems.push(format!(
                        "label map {shown} has {} channels, expected 1",
                        v.channels()
                    ));
                }
                if let Some(first) = &first_grid {
                    if !same_grid(first, &v.geometry) {
                        let line = format!(
                            "label map {shown} is off its image's grid ({}; image {}: {})",
                            describe_grid(&v.geometry),
                            image_name(case, 0),
                            describe_grid(first)
                        );
                        if options.resample_channels {
                            out.notes
                                .push(format!("{line}: resampled onto it (nearest)"));
                        } else {
                            out.problems.push(line);
                        }
                    }
                }
                let mut seen = [false; 256];
                let (mut bad, mut first_bad) = (0usize, None);
                each_value(&v.data, v.rescale, |x| {
                    if x.is_finite() && x.fract() == 0.0 && (0.0..=255.0).contains(&x) {
                        seen[x as usize] = true;
                    } else {
                        bad += 1;
                        first_bad.get_or_insert(x);
                    }
                });
                out.label_values = (0..256u32).filter(|&v| seen[v as usize]).collect();
                if let Some(x) = first_bad {
                    out.problems.push(format!(
                        "label map {shown} holds {bad} value(s) that are not whole numbers from \
                         0 to 255 (e.g. {x})"
                    ));
                }
                let declared = &manifest.label_names;
                let undeclared: Vec<String> = out
                    .label_values
                    .iter()
                    .filter(|v| !declared.is_empty() && !declared.contains_key(v))
                    .map(|v| v.to_string())
                    .collect();
                if !undeclared.is_empty() {
                    out.problems.push(format!(
                        "label map {shown} holds value(s) {} not among the declared labels ({})",
                        undeclared.join(", "),
                        declared_list(declared)
                    ));
                }
                if first_bad.is_none() && out.label_values.iter().all(|&v| v == 0) {
                    out.problems.push(format!(
                        "label map {shown} is empty (it holds only 0, the background)"
                    ));
                }
            }
        }
        out.label = Some(file);
    }
    out
}

/// Checks every case of `manifest` (training, then test), several at a time, calling
/// `on_case` as each is done (a progress bar), then the data set as a whole.
///
/// ```
/// use medburn_core::{Device, Geometry, MedImage};
/// use medburn_datasets::{check_dataset, Manifest, ReadOptions};
/// let dir = tempfile::tempdir()?;
/// let (img, lab) = (dir.path().join("a.nii"), dir.path().join("a_seg.nii"));
/// let g = Geometry::unit([4, 4, 4])?;
/// medburn_io::write_image(&MedImage::from_vec(vec![1.0; 64], 1, g, &Device::flex())?, &img)?;
/// let mut labels = vec![0.0; 64];
/// labels[5] = 1.0;
/// medburn_io::write_image(&MedImage::from_vec(labels, 1, g, &Device::flex())?, &lab)?;
/// let m = Manifest::from_pairs(&[(img, lab)])?;
/// let report = check_dataset(&m, &ReadOptions::default(), &|_| {});
/// assert!(report.is_clean(), "{:?}", report);
/// assert_eq!(report.found_labels, vec![0, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_dataset(
    manifest: &Manifest,
    options: &ReadOptions,
    on_case: &(dyn Fn(&CaseCheck) + Sync),
) -> DatasetCheck {
    let all: Vec<&CaseFiles> = manifest.training.iter().chain(&manifest.test).collect();
    let mut cases: Vec<CaseCheck> = all
        .par_iter()
        .map(|c| {
            let r = check_case(c, manifest, options);
            on_case(&r);
            r
        })
        .collect();
    let mut problems = Vec::new();
    let mut notes = Vec::new();
    let mut ids = BTreeSet::new();
    for c in &cases {
        if !ids.insert(c.id.as_str()) {
            problems.push(format!("case id {} is used by two cases", c.id));
        }
    }
    // Every case as many channels as the first (when the manifest names none).
    if manifest.channel_names.is_empty() {
        if let Some(n) = cases.iter().map(|c| c.channels).find(|&n| n > 0) {
            let first = cases
                .iter()
                .find(|c| c.channels > 0)
                .map(|c| c.id.clone())
                .unwrap_or_default();
            for c in cases
                .iter_mut()
                .filter(|c| c.channels > 0 && c.channels != n)
            {
                c.problems
                    .push(format!("{} channel(s), case {first} has {n}", c.channels));
            }
        }
    }
    // Training cases without a label map among labelled ones.
    let n_train = manifest.training.len();
    let labelled = manifest
        .training
        .iter()
        .filter(|c| c.label.is_some())
        .count();
    if labelled > 0 && labelled < n_train {
        for c in cases[..n_train].iter_mut().filter(|c| c.label.is_none()) {
            c.problems.push(format!(
                "no label map ({labelled} of {n_train} training cases have one)"
            ));
        }
    }
    let mut found = BTreeSet::new();
    for c in &cases {
        found.extend(c.label_values.iter().copied());
    }
    let missing: Vec<String> = manifest
        .label_names
        .iter()
        .filter(|(v, _)| !found.contains(*v))
        .map(|(v, n)| format!("{v} {n}"))
        .collect();
    if !missing.is_empty() && cases.iter().any(|c| c.label.is_some()) {
        notes.push(format!(
            "declared label(s) found in no label map: {}",
            missing.join(", ")
        ));
    }
    DatasetCheck {
        name: manifest.name.clone(),
        channel_names: manifest.channel_names.clone(),
        declared_labels: manifest.label_names.clone(),
        found_labels: found.into_iter().collect(),
        cases,
        problems,
        notes,
    }
}
