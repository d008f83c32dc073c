//! Writing cases in the Medical Segmentation Decathlon layout:
//! `imagesTr/`, `labelsTr/`, `imagesTs/` (plus `labelsTs/` for evaluation), `dataset.json`,
//! and a `participants.csv` (BIDS columns: `participant_id`, `age`, `sex`) for every case.

use std::fs;
use std::path::{Path, PathBuf};

use medburn_io::WriteOptions;
use serde_json::{json, Value};

use super::{generate_case, SynthCase, SynthConfig, SynthError, CHANNEL_NAMES, LABEL_NAMES};

/// The file stem of case `index`: `case_000`, `case_001`, ...
///
/// ```
/// assert_eq!(medburn_datasets::synth::case_name(7), "case_007");
/// assert_eq!(medburn_datasets::synth::case_name(1234), "case_1234");
/// ```
pub fn case_name(index: usize) -> String {
    format!("case_{index:03}")
}

/// The `dataset.json` of a data set of `n_train` training cases (indices
/// `0..n_train`) and `n_test` test cases (indices `n_train..n_train + n_test`):
/// MSD's keys (`name`, `description`, `tensorImageSize`, `modality`, `labels`,
/// `numTraining`, `numTest`, `training`, `test`), nnU-Net v2's `channel_names` and
/// `file_ending`, and the generator's configuration under `medburn_synth`.
///
/// ```
/// use medburn_datasets::synth::{dataset_json, SynthConfig};
/// let j = dataset_json(&SynthConfig::default(), 2, 1);
/// assert_eq!(j["numTraining"], 2);
/// assert_eq!(j["training"][1]["label"], "./labelsTr/case_001.nii.gz");
/// assert_eq!(j["test"][0], "./imagesTs/case_002.nii.gz");
/// assert_eq!(j["labels"]["4"], "lesion");
/// assert_eq!(j["channel_names"]["2"], "FLAIR");
/// ```
pub fn dataset_json(config: &SynthConfig, n_train: usize, n_test: usize) -> Value {
    let numbered = |names: &[&str]| -> Value {
        names
            .iter()
            .enumerate()
            .map(|(n, s)| (n.to_string(), Value::from(*s)))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let training: Vec<Value> = (0..n_train)
        .map(|i| {
            json!({
                "image": format!("./imagesTr/{}.nii.gz", case_name(i)),
                "label": format!("./labelsTr/{}.nii.gz", case_name(i)),
            })
        })
        .collect();
    let test: Vec<Value> = (n_train..n_train + n_test)
        .map(|i| Value::from(format!("./imagesTs/{}.nii.gz", case_name(i))))
        .collect();
    json!({
        "name": "MedburnSynthBrain",
        "description": "Synthetic brain MR (T1, T2, FLAIR) with CSF, grey matter, white matter and lesion labels, made by `medburn synth`",
        "reference": "medburn synthetic phantom (no patient data)",
        "licence": "CC0",
        "release": env!("CARGO_PKG_VERSION"),
        "tensorImageSize": "4D",
        "modality": numbered(&CHANNEL_NAMES),
        "channel_names": numbered(&CHANNEL_NAMES),
        "labels": numbered(&LABEL_NAMES),
        "numTraining": n_train,
        "numTest": n_test,
        "file_ending": ".nii.gz",
        "training": training,
        "test": test,
        "medburn_synth": serde_json::to_value(config).unwrap_or(Value::Null),
    })
}

/// The `participants.csv` of cases `0..n` (BIDS's columns, comma-separated: `participant_id`,
/// `age` in years, `sex` as `F` or `M`); the ids are the case names, so a manifest joins the
/// rows to the cases.
///
/// ```
/// use medburn_datasets::synth::{participants_csv, SynthConfig};
/// let text = participants_csv(&SynthConfig::default(), 2);
/// let lines: Vec<&str> = text.lines().collect();
/// assert_eq!(lines[0], "participant_id,age,sex");
/// assert!(lines[2].starts_with("case_001,"));
/// ```
pub fn participants_csv(config: &SynthConfig, n: usize) -> String {
    let mut text = String::from("participant_id,age,sex\n");
    for index in 0..n {
        let p =
            super::Participant::draw(config.seed, index, config.age_years, config.male_fraction);
        text.push_str(&format!(
            "{},{:.1},{}\n",
            case_name(index),
            p.age,
            p.sex.code()
        ));
    }
    text
}

/// Writes a case's images (float32, 4D `X x Y x Z x 3`) and labels (uint8, 3D)
/// as NIfTI, each to a temporary name first and renamed when complete.
///
/// ```
/// use medburn_datasets::synth::{generate_case, write_case, SynthConfig};
/// let dir = tempfile::tempdir()?;
/// let case = generate_case(&SynthConfig { size: 16, ..SynthConfig::default() }, 0)?;
/// let (img, lab) = (dir.path().join("i.nii.gz"), dir.path().join("l.nii.gz"));
/// write_case(&case, &img, Some(&lab))?;
/// assert_eq!(medburn_io::read(&lab)?.data.voxel_type(), medburn_io::VoxelType::U8);
/// assert_eq!(medburn_io::read(&img)?.size(), vec![16, 16, 16, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_case(
    case: &SynthCase,
    image_path: &Path,
    label_path: Option<&Path>,
) -> Result<(), SynthError> {
    let options = WriteOptions::default();
    medburn_io::nifti::write_nifti(&case.images, image_path, &options)?;
    if let Some(label_path) = label_path {
        medburn_io::nifti::write_nifti(&case.label, label_path, &options)?;
    }
    Ok(())
}

/// What [`write_msd_dataset`] wrote.
///
/// ```
/// let s = medburn_datasets::synth::MsdSummary::default();
/// assert!(s.training.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MsdSummary {
    /// The data set folder.
    pub root: PathBuf,
    /// `(image, label)` of each training case.
    pub training: Vec<(PathBuf, PathBuf)>,
    /// `(image, label)` of each test case (`imagesTs/`, `labelsTs/`).
    pub test: Vec<(PathBuf, PathBuf)>,
    /// The `dataset.json`.
    pub dataset_json: PathBuf,
}

/// Generates and writes `n_train` training and `n_test` test cases into `dir`
/// (created if missing) in the Decathlon layout, then `participants.csv` and
/// `dataset.json` (last, so a data set with a `dataset.json` is complete). Training cases are indices
/// `0..n_train`, test cases `n_train..n_train + n_test`: a case's name fixes its
/// content for a seed. Test labels go to `labelsTs/` (for evaluation; MSD's
/// `dataset.json` lists only the test images). `progress(done, &case)` is called
/// after each case is written.
///
/// ```
/// use medburn_datasets::synth::{write_msd_dataset, SynthConfig};
/// let dir = tempfile::tempdir()?;
/// let cfg = SynthConfig { size: 16, ..SynthConfig::default() };
/// let mut done = 0;
/// let s = write_msd_dataset(dir.path(), &cfg, 2, 1, &mut |n, _| done = n)?;
/// assert_eq!(done, 3);
/// assert!(dir.path().join("imagesTs/case_002.nii.gz").exists());
/// let j: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&s.dataset_json)?)?;
/// assert_eq!(j["numTest"], 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_msd_dataset(
    dir: &Path,
    config: &SynthConfig,
    n_train: usize,
    n_test: usize,
    progress: &mut dyn FnMut(usize, &SynthCase),
) -> Result<MsdSummary, SynthError> {
    config.validate()?;
    if n_train == 0 {
        return Err(SynthError::Config(
            "at least one training case is needed".into(),
        ));
    }
    let out_err = |path: &Path, message: String| SynthError::Output {
        path: path.to_path_buf(),
        message,
    };
    if dir.exists() && !dir.is_dir() {
        return Err(out_err(
            dir,
            "exists and is not a directory: the data set needs a folder".into(),
        ));
    }
    let folders = ["imagesTr", "labelsTr", "imagesTs", "labelsTs"];
    for f in folders {
        let p = dir.join(f);
        fs::create_dir_all(&p).map_err(|e| out_err(&p, format!("cannot create: {e}")))?;
    }
    let mut summary = MsdSummary {
        root: dir.to_path_buf(),
        dataset_json: dir.join("dataset.json"),
        ..Default::default()
    };
    for index in 0..n_train + n_test {
        let case = generate_case(config, index)?;
        let name = format!("{}.nii.gz", case_name(index));
        let (images, labels) = if index < n_train {
            ("imagesTr", "labelsTr")
        } else {
            ("imagesTs", "labelsTs")
        };
        let image = dir.join(images).join(&name);
        let label = dir.join(labels).join(&name);
        write_case(&case, &image, Some(&label))?;
        if index < n_train {
            summary.training.push((image, label));
        } else {
            summary.test.push((image, label));
        }
        progress(index + 1, &case);
    }
    let participants = dir.join("participants.csv");
    medburn_io::atomic::write_atomic(
        &participants,
        participants_csv(config, n_train + n_test).as_bytes(),
    )?;
    let text = serde_json::to_string_pretty(&dataset_json(config, n_train, n_test))
        .map_err(|e| SynthError::Internal(e.to_string()))?;
    medburn_io::atomic::write_atomic(&summary.dataset_json, (text + "\n").as_bytes())?;
    Ok(summary)
}
