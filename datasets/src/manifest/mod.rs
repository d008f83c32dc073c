//! Which files make a dataset, and what is known about each case, in the layouts users keep:
//!
//! - a Medical Segmentation Decathlon folder (`dataset.json` with a `training` list, as MSD,
//!   MONAI's `load_decathlon_datalist` and nnU-Net read it); test cases take their label maps
//!   from a `label` in their entry or from `labelsTs/<same file name>` ([`msd`]);
//! - an nnU-Net v2 raw folder (`dataset.json` with `channel_names`, `labels`, `file_ending`,
//!   `numTraining` and no `training` list): `imagesTr/CASE_0000.nii.gz`, `CASE_0001...` (one
//!   file per channel), `labelsTr/CASE.nii.gz`, `imagesTs/` and `labelsTs/` ([`nnunet`]);
//! - a BIDS-like folder: `sub-*/[ses-*/]anat/*_<suffix>.nii[.gz]` (the suffixes T1w, T2w,
//!   FLAIR, ... are the channels), label maps from
//!   `derivatives/*/sub-*/[ses-*/]anat/*_dseg.nii[.gz]` (or `*_label-*`), one case per subject
//!   or session ([`bids`]);
//! - a folder of DICOM case folders with a rule (`dicom_series.json`) that picks one series per
//!   channel by its SeriesDescription ([`dicom`]);
//! - a CSV or TSV table, one row per case: `image` (or `image_0000`, `image_0001`, ... / `image_T1`,
//!   `image_FLAIR`, ... one column per channel), an optional `label`, `id` and `split`, and any
//!   number of named columns such as `age` or `sex` ([`table`]);
//! - the same as JSON: `{"cases": [{"image": ..., "label": ..., "age": 63, "split": "test"}]}`
//!   ([`json`]).
//!
//! The folder layouts join a BIDS-style `participants.tsv` / `participants.csv` beside them
//! whose columns (`age`, `sex`, ...) are added to the cases by `participant_id`.
//!
//! [`Manifest::open`] takes any of them and says what it looked for when a folder fits none.
//! Targets are kept as the text the file holds; a task reads them as numbers
//! ([`CaseFiles::number`]) or classes ([`CaseFiles::class`]) and says which case and value did
//! not fit.

mod bids;
mod dicom;
mod json;
mod msd;
mod nnunet;
mod table;

pub use bids::BidsOptions;
pub use dicom::DicomSeriesRule;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{DatasetError, Result};

/// Which part of a study a case belongs to, when the manifest says.
///
/// ```
/// use medburn_datasets::Split;
/// assert_eq!("validation".parse::<Split>()?, Split::Validation);
/// assert_eq!("Ts".parse::<Split>()?, Split::Test);
/// assert!("maybe".parse::<Split>().is_err());
/// # Ok::<(), medburn_datasets::DatasetError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// Training (`train`, `training`, `tr`).
    Train,
    /// Validation: model selection (`val`, `valid`, `validation`).
    Validation,
    /// Held-out test: neither training nor model selection sees it (`test`, `ts`).
    Test,
}

impl std::str::FromStr for Split {
    type Err = DatasetError;

    fn from_str(s: &str) -> Result<Split> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" | "tr" => Ok(Split::Train),
            "val" | "valid" | "validation" => Ok(Split::Validation),
            "test" | "testing" | "ts" => Ok(Split::Test),
            other => Err(DatasetError::Invalid(format!(
                "split {other:?}: expected train, val or test"
            ))),
        }
    }
}

/// One case: its image channels (one multi-channel file, or one file per channel, all on one
/// grid), its label map where it has one, its split where the manifest gives it, and the
/// values of the manifest's other columns (`age`, `sex`, ...) as written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseFiles {
    /// An identifier: the `id` column, else the image file name without its extension.
    pub id: String,
    /// Image files; their channels are stacked in this order.
    pub images: Vec<PathBuf>,
    /// For an image that is a DICOM folder holding several series, the SeriesInstanceUID to
    /// read from it, by position in `images`; empty, or `None` at a position, reads the file (or
    /// the folder's first series) as it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub series: Vec<Option<String>>,
    /// The label map, on the images' grid.
    pub label: Option<PathBuf>,
    /// The split the manifest assigns, if any.
    #[serde(default)]
    pub split: Option<Split>,
    /// Other columns by name, as text (`"63.2"`, `"F"`); empty cells are left out.
    #[serde(default)]
    pub targets: BTreeMap<String, String>,
}

impl CaseFiles {
    /// A case from its files; the id is taken from the first image's file name.
    ///
    /// ```
    /// use medburn_datasets::CaseFiles;
    /// let c = CaseFiles::new(vec!["imagesTr/case_001.nii.gz".into()], Some("labelsTr/case_001.nii.gz".into()));
    /// assert_eq!(c.id, "case_001");
    /// assert!(c.targets.is_empty() && c.split.is_none());
    /// ```
    pub fn new(images: Vec<PathBuf>, label: Option<PathBuf>) -> CaseFiles {
        let id = images.first().map(|p| case_id(p)).unwrap_or_default();
        CaseFiles {
            id,
            images,
            series: Vec::new(),
            label,
            split: None,
            targets: BTreeMap::new(),
        }
    }

    /// The SeriesInstanceUID to read from image `index` (a DICOM folder), if the manifest chose
    /// one.
    ///
    /// ```
    /// use medburn_datasets::CaseFiles;
    /// let mut c = CaseFiles::new(vec!["dicom/case1".into(), "dicom/case1".into()], None);
    /// assert_eq!(c.series_of(1), None);
    /// c.series = vec![Some("1.2.3".into()), Some("1.2.4".into())];
    /// assert_eq!(c.series_of(1), Some("1.2.4"));
    /// ```
    pub fn series_of(&self, index: usize) -> Option<&str> {
        self.series.get(index).and_then(|s| s.as_deref())
    }

    /// The value of column `name` as a number, with an error naming the case when the column is
    /// missing or not a finite number.
    ///
    /// ```
    /// use medburn_datasets::CaseFiles;
    /// let mut c = CaseFiles::new(vec!["a.nii.gz".into()], None);
    /// c.targets.insert("age".into(), "63.5".into());
    /// c.targets.insert("site".into(), "Oxford".into());
    /// assert_eq!(c.number("age")?, 63.5);
    /// assert!(c.number("site").unwrap_err().to_string().contains("not a number"));
    /// assert!(c.number("weight").unwrap_err().to_string().contains("no value"));
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn number(&self, name: &str) -> Result<f64> {
        let text = self.value(name)?;
        match text.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(DatasetError::Case {
                case: self.id.clone(),
                message: format!("{name} {text:?} is not a number"),
            }),
        }
    }

    /// The index of the class that column `name` names among `classes`, with an error naming
    /// the case, the value and the known classes when it is none of them.
    ///
    /// ```
    /// use medburn_datasets::CaseFiles;
    /// let mut c = CaseFiles::new(vec!["a.nii.gz".into()], None);
    /// c.targets.insert("sex".into(), "M".into());
    /// let classes = vec!["F".to_string(), "M".to_string()];
    /// assert_eq!(c.class("sex", &classes)?, 1);
    /// c.targets.insert("sex".into(), "X".into());
    /// let e = c.class("sex", &classes).unwrap_err().to_string();
    /// assert!(e.contains("\"X\"") && e.contains("F, M"), "{e}");
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn class(&self, name: &str, classes: &[String]) -> Result<usize> {
        let text = self.value(name)?.trim();
        classes
            .iter()
            .position(|c| c == text)
            .ok_or_else(|| DatasetError::Case {
                case: self.id.clone(),
                message: format!(
                    "{name} {text:?} is not a known class (known: {})",
                    classes.join(", ")
                ),
            })
    }

    /// The text of column `name`.
    fn value(&self, name: &str) -> Result<&str> {
        self.targets
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| DatasetError::Case {
                case: self.id.clone(),
                message: format!("no value for {name:?} in the manifest"),
            })
    }
}

/// A dataset's cases with the names of its channels and labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The dataset's name.
    pub name: String,
    /// Channel names in channel order ("T1", "FLAIR", ...); empty when unknown.
    pub channel_names: Vec<String>,
    /// Label value -> name ("0" background, ...); empty when unknown.
    pub label_names: BTreeMap<u32, String>,
    /// Cases for training and validation (a manifest's `train` and `val` rows, or a Decathlon
    /// `training` list).
    pub training: Vec<CaseFiles>,
    /// Held-out cases (`test` rows, or a Decathlon `test` list).
    pub test: Vec<CaseFiles>,
}

impl Manifest {
    /// Opens a manifest in any of the layouts of [this module](self): a folder holding
    /// `dataset.json` (Decathlon with a `training` list, else nnU-Net v2 raw), a BIDS-like folder
    /// (`sub-*` folders), a folder of DICOM case folders with its `dicom_series.json` rule, a
    /// `dataset.json` file, a `.csv` or `.tsv` table, or a `.json` case list (or DICOM rule). A
    /// folder that fits none is refused with what was looked for.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.nii.gz"), b"")?;
    /// std::fs::write(dir.path().join("b.nii.gz"), b"")?;
    /// std::fs::write(dir.path().join("cases.csv"), "image,age,split\na.nii.gz,40,train\nb.nii.gz,71,test\n")?;
    /// let m = medburn_datasets::Manifest::open(&dir.path().join("cases.csv"))?;
    /// assert_eq!((m.training.len(), m.test.len()), (1, 1));
    /// assert_eq!(m.test[0].number("age")?, 71.0);
    /// // An empty folder fits no layout; the error says what was looked for.
    /// std::fs::create_dir(dir.path().join("empty"))?;
    /// let e = medburn_datasets::Manifest::open(&dir.path().join("empty")).unwrap_err().to_string();
    /// assert!(e.contains("dataset.json") && e.contains("sub-*") && e.contains("dicom_series.json"), "{e}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(path: &Path) -> Result<Manifest> {
        if path.is_dir() {
            return Manifest::open_folder(path);
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if name == "dataset.json" {
            return Manifest::from_msd(path.parent().unwrap_or(Path::new(".")));
        }
        if !path.is_file() {
            return Err(DatasetError::Manifest {
                path: path.to_path_buf(),
                message: "no such folder or file (expected a data set folder: Decathlon or \
                          nnU-Net with dataset.json, BIDS with sub-* folders, DICOM case folders \
                          with dicom_series.json; or a .csv, .tsv or .json manifest)"
                    .into(),
            });
        }
        if name.ends_with(".csv") || name.ends_with(".tsv") {
            Manifest::from_table(path)
        } else if name.ends_with(".json") {
            Manifest::from_json(path)
        } else {
            Err(DatasetError::Manifest {
                path: path.to_path_buf(),
                message: "unknown manifest type (expected .csv, .tsv, .json or a folder)".into(),
            })
        }
    }

    /// A data set folder: `dataset.json` (Decathlon, or nnU-Net raw without a `training` list),
    /// `dicom_series.json` (DICOM case folders), or `sub-*` folders (BIDS), in that order.
    fn open_folder(dir: &Path) -> Result<Manifest> {
        if dir.join("dataset.json").is_file() {
            return Manifest::from_msd(dir);
        }
        if dir.join(dicom::RULE_FILE).is_file() {
            return Manifest::from_dicom_rule_file(&dir.join(dicom::RULE_FILE));
        }
        if bids::has_subjects(dir) {
            return Manifest::from_bids(dir);
        }
        Err(DatasetError::Manifest {
            path: dir.to_path_buf(),
            message: format!(
                "no data set layout fits this folder: looked for dataset.json (Decathlon or \
                 nnU-Net v2 raw), sub-* folders (BIDS) and {} (a folder of DICOM case folders); \
                 a .csv, .tsv or .json manifest file is read too",
                dicom::RULE_FILE
            ),
        })
    }

    /// A manifest from image/label pairs (one image file per case), each file checked to exist.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let (img, lab) = (dir.path().join("a.nii"), dir.path().join("a_seg.nii"));
    /// std::fs::write(&img, b"")?;
    /// std::fs::write(&lab, b"")?;
    /// let m = medburn_datasets::Manifest::from_pairs(&[(img, lab)])?;
    /// assert_eq!(m.training[0].id, "a");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_pairs(pairs: &[(PathBuf, PathBuf)]) -> Result<Manifest> {
        let mut training = Vec::new();
        for (image, label) in pairs {
            for p in [image, label] {
                if !p.is_file() {
                    return Err(DatasetError::Manifest {
                        path: p.clone(),
                        message: "no such file".into(),
                    });
                }
            }
            training.push(CaseFiles::new(vec![image.clone()], Some(label.clone())));
        }
        Ok(Manifest {
            name: String::new(),
            channel_names: Vec::new(),
            label_names: BTreeMap::new(),
            training,
            test: Vec::new(),
        })
    }

    /// The indices of the named channels: names of [`channel_names`](Self::channel_names)
    /// (case-insensitive), or channel numbers ("0", "2"). Empty `names` selects every channel
    /// (an empty result).
    ///
    /// ```
    /// let m = medburn_datasets::Manifest {
    ///     name: String::new(), channel_names: vec!["T1".into(), "T2".into(), "FLAIR".into()],
    ///     label_names: Default::default(), training: vec![], test: vec![] };
    /// assert_eq!(m.channel_indices(&["flair".into(), "T1".into()])?, vec![2, 0]);
    /// assert_eq!(m.channel_indices(&["1".into()])?, vec![1]);
    /// assert!(m.channel_indices(&["PD".into()]).unwrap_err().to_string().contains("T1, T2, FLAIR"));
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn channel_indices(&self, names: &[String]) -> Result<Vec<usize>> {
        names
            .iter()
            .map(|name| {
                if let Some(i) = self
                    .channel_names
                    .iter()
                    .position(|c| c.eq_ignore_ascii_case(name.trim()))
                {
                    return Ok(i);
                }
                match name.trim().parse::<usize>() {
                    Ok(i) if self.channel_names.is_empty() || i < self.channel_names.len() => Ok(i),
                    _ => Err(DatasetError::Invalid(format!(
                        "channel {name:?} is not in the data set (channels: {})",
                        if self.channel_names.is_empty() {
                            "unnamed; give their numbers".to_string()
                        } else {
                            self.channel_names.join(", ")
                        }
                    ))),
                }
            })
            .collect()
    }

    /// The distinct values of column `name` over `cases`, sorted (the classes of a
    /// classification target).
    ///
    /// ```
    /// use medburn_datasets::{CaseFiles, Manifest};
    /// let mut cases = Vec::new();
    /// for s in ["M", "F", "M"] {
    ///     let mut c = CaseFiles::new(vec!["x.nii".into()], None);
    ///     c.targets.insert("sex".into(), s.into());
    ///     cases.push(c);
    /// }
    /// assert_eq!(Manifest::classes(&cases, "sex")?, vec!["F", "M"]);
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn classes(cases: &[CaseFiles], name: &str) -> Result<Vec<String>> {
        let mut classes = Vec::new();
        for case in cases {
            let v = case.value(name)?.trim().to_string();
            if !classes.contains(&v) {
                classes.push(v);
            }
        }
        classes.sort();
        Ok(classes)
    }
}

/// A file name without its image extension (`.nii.gz`, `.nii`, `.hdr`, `.h5`, `.mha`).
pub(crate) fn case_id(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    for ext in [
        ".nii.gz", ".nii", ".hdr.gz", ".hdr", ".h5", ".hdf5", ".mha", ".dcm",
    ] {
        if let Some(stem) = name.strip_suffix(ext) {
            return stem.to_string();
        }
    }
    name
}

/// `path` relative to the manifest's folder `dir` (a leading `./` dropped), checked to exist;
/// `named_in` is the manifest, for the error.
pub(crate) fn existing_file(dir: &Path, path: &str, named_in: &Path) -> Result<PathBuf> {
    let p = Path::new(path.trim().trim_start_matches("./"));
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        dir.join(p)
    };
    if !full.is_file() {
        return Err(DatasetError::Manifest {
            path: full,
            message: format!("named in {} but missing", named_in.display()),
        });
    }
    Ok(full)
}

/// The files a JSON manifest's entry names: one path or a list of paths, each relative to `dir`
/// and checked to exist; `what` names the entry for the error (`training[3].image`).
pub(crate) fn json_paths(
    value: &serde_json::Value,
    dir: &Path,
    manifest: &Path,
    what: &str,
) -> Result<Vec<PathBuf>> {
    let err = |message: String| DatasetError::Manifest {
        path: manifest.to_path_buf(),
        message,
    };
    let list: Vec<&serde_json::Value> = match value {
        serde_json::Value::String(_) => vec![value],
        serde_json::Value::Array(a) => a.iter().collect(),
        _ => return Err(err(format!("{what}: expected a path or a list of paths"))),
    };
    list.iter()
        .map(|p| {
            let p = p
                .as_str()
                .ok_or_else(|| err(format!("{what}: {p} is not a path")))?;
            existing_file(dir, p, manifest)
        })
        .collect()
}

/// Moves the cases whose split is [`Split::Test`] out of `cases`: (training and validation,
/// test).
pub(crate) fn split_off_test(cases: Vec<CaseFiles>) -> (Vec<CaseFiles>, Vec<CaseFiles>) {
    cases
        .into_iter()
        .partition(|c| c.split != Some(Split::Test))
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

    #[test]
    fn open_refuses_what_it_cannot_read() {
        let dir = tempfile::tempdir().unwrap();
        let e = Manifest::open(&dir.path().join("nope.csv"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.csv") && e.contains("no such"), "{e}");
        touch(&dir.path().join("cases.xlsx"));
        let e = Manifest::open(&dir.path().join("cases.xlsx"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown manifest type"), "{e}");
        // A folder without dataset.json.
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("dataset.json"), "{e}");
    }
}
