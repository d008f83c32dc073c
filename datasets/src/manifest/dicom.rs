//! A folder of DICOM case folders, one series per channel chosen by a rule:
//!
//! ```text
//! DIR/dicom_series.json      the rule
//! DIR/case01/...             every DICOM file of case01, any sub-folders (several series)
//! DIR/case01/seg.nii.gz      optional: its label map (a NIfTI file, named by the rule)
//! DIR/case02/...
//! ```
//!
//! The rule names each channel and a text its series' SeriesDescription contains (without regard
//! to case), or the series' SeriesInstanceUID; channels are stacked in the rule's order:
//!
//! ```json
//! {"name": "glioma", "series": {"T1": "t1_mprage", "FLAIR": "flair"},
//!  "label": "seg.nii.gz", "labels": {"0": "background", "1": "lesion"}, "test": ["case09"]}
//! ```
//!
//! `label` is a file in each case folder (`{case}` stands for the case's folder name, so
//! `../labels/{case}.nii.gz` works too); a case without it has no label map. `labels` takes
//! MSD's (`"1": "lesion"`) or nnU-Net's (`"lesion": 1`) form; `test` lists held-out cases.
//! Each case is a [`CaseFiles`] whose images are the case folder once per channel, with the
//! chosen SeriesInstanceUIDs in [`CaseFiles::series`]; [`read_channels`](crate::read_channels)
//! reads those series. A case where a channel's rule matches no series, or several, is refused
//! with the series it holds.

use std::path::{Path, PathBuf};

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

use super::msd::label_names;
use super::{CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

/// The name of the rule file [`Manifest::open`] looks for in a folder.
pub(super) const RULE_FILE: &str = "dicom_series.json";

/// Which series of each DICOM case folder is which channel (see [the module](self)).
///
/// ```
/// let rule: medburn_datasets::DicomSeriesRule = serde_json::from_str(
///     r#"{"series": {"T1": "t1_mprage", "FLAIR": "flair"}, "label": "seg.nii.gz"}"#)?;
/// // The rule's order, not alphabetical.
/// assert_eq!(rule.series[0], ("T1".to_string(), "t1_mprage".to_string()));
/// assert_eq!(rule.label.as_deref(), Some("seg.nii.gz"));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DicomSeriesRule {
    /// The data set's name.
    #[serde(default)]
    pub name: String,
    /// (channel name, SeriesDescription text or SeriesInstanceUID), in channel order; in JSON
    /// an object (`{"T1": "mprage"}`, kept in the file's order) or a list of pairs.
    #[serde(deserialize_with = "ordered_pairs")]
    pub series: Vec<(String, String)>,
    /// The label map of each case: a file in its folder (`{case}` is replaced by its name).
    #[serde(default)]
    pub label: Option<String>,
    /// Label value -> name, in MSD's or nnU-Net's form.
    #[serde(default)]
    pub labels: serde_json::Value,
    /// Case folders held out for testing.
    #[serde(default)]
    pub test: Vec<String>,
}

/// A JSON object in document order, or a list of `[key, value]` pairs.
fn ordered_pairs<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> std::result::Result<Vec<(String, String)>, D::Error> {
    struct Pairs;
    impl<'de> Visitor<'de> for Pairs {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("an object {\"T1\": \"description text\", ...} or a list of pairs")
        }
        fn visit_map<A: MapAccess<'de>>(
            self,
            mut map: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some((k, v)) = map.next_entry::<String, String>()? {
                out.push((k, v));
            }
            Ok(out)
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(pair) = seq.next_element::<(String, String)>()? {
                out.push(pair);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_any(Pairs)
}

impl DicomSeriesRule {
    /// Reads a rule file (JSON), with errors naming it.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// let p = dir.path().join("dicom_series.json");
    /// std::fs::write(&p, r#"{"series": [["FLAIR", "flair"], ["T1", "mprage"]]}"#)?;
    /// let rule = medburn_datasets::DicomSeriesRule::from_file(&p)?;
    /// assert_eq!(rule.series[0].0, "FLAIR");
    /// std::fs::write(&p, r#"{"series": {}}"#)?;
    /// assert!(medburn_datasets::DicomSeriesRule::from_file(&p).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: &Path) -> Result<DicomSeriesRule> {
        let err = |message: String| DatasetError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let rule: DicomSeriesRule = serde_json::from_str(&text)
            .map_err(|e| err(format!("not a DICOM series rule: {e}")))?;
        rule.validate().map_err(err)?;
        Ok(rule)
    }

    /// At least one channel, each with a name and a non-empty text, no name twice.
    fn validate(&self) -> std::result::Result<(), String> {
        if self.series.is_empty() {
            return Err("`series` names no channel (e.g. {\"T1\": \"t1_mprage\"})".into());
        }
        for (n, (name, text)) in self.series.iter().enumerate() {
            if name.trim().is_empty() || text.trim().is_empty() {
                return Err(format!("series entry {n}: an empty channel name or text"));
            }
            if self.series[..n].iter().any(|(m, _)| m == name) {
                return Err(format!("channel {name:?} is named twice"));
            }
        }
        Ok(())
    }
}

impl Manifest {
    /// The cases of a folder of DICOM case folders (every sub-folder of `dir`, sorted), each
    /// channel the one series that `rule` picks (see [the module](self)). Every DICOM file is
    /// parsed to list the series, so this takes a while on a large data set.
    ///
    /// ```
    /// use medburn_datasets::{read_channels_with, DicomSeriesRule, Manifest, ReadOptions};
    /// // The repository's fixture: case01 and case02, each with a localizer, a T1 and a FLAIR.
    /// let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/layouts/dicom_series");
    /// let rule = DicomSeriesRule {
    ///     series: vec![("T1".into(), "mprage".into()), ("FLAIR".into(), "flair".into())],
    ///     ..Default::default()
    /// };
    /// let m = Manifest::from_dicom_series(dir.as_ref(), &rule)?;
    /// assert_eq!(m.training.len(), 2); // no label maps or test cases without a rule for them
    /// // The FLAIR series has 2 mm voxels: resampled onto the T1 series' grid.
    /// let options = ReadOptions { resample_channels: true };
    /// let image = read_channels_with(&m.training[0], &medburn_core::Device::flex(), &options)?;
    /// assert_eq!((image.channels(), image.geometry().size()), (2, [8, 8, 8]));
    /// # Ok::<(), medburn_datasets::DatasetError>(())
    /// ```
    pub fn from_dicom_series(dir: &Path, rule: &DicomSeriesRule) -> Result<Manifest> {
        let rule_err = |message: String| DatasetError::Manifest {
            path: dir.to_path_buf(),
            message,
        };
        rule.validate().map_err(rule_err)?;
        let label_names = label_names(
            &serde_json::json!({ "labels": rule.labels }),
            &dir.join(RULE_FILE),
        )?;
        let mut folders: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| rule_err(format!("cannot list the folder: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_dir()
                    && p.file_name()
                        .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
            })
            .collect();
        folders.sort();
        if folders.is_empty() {
            return Err(rule_err(
                "no case folders (one sub-folder of DICOM files per case)".into(),
            ));
        }
        let mut cases = Vec::new();
        let mut problems: Vec<(PathBuf, String)> = Vec::new();
        for folder in &folders {
            match case_of(folder, rule) {
                Ok(case) => cases.push(case),
                Err((path, why)) => problems.push((path, why)),
            }
        }
        if let Some((path, why)) = problems.first() {
            let more = if problems.len() > 1 {
                format!(
                    " (and {} other case(s): {})",
                    problems.len() - 1,
                    problems
                        .iter()
                        .skip(1)
                        .take(5)
                        .map(|(p, _)| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            return Err(DatasetError::Manifest {
                path: path.clone(),
                message: format!("{why}{more}"),
            });
        }
        for name in &rule.test {
            let case = cases
                .iter_mut()
                .find(|c| &c.id == name)
                .ok_or_else(|| rule_err(format!("test case {name:?} is not a case folder")))?;
            case.split = Some(Split::Test);
        }
        let (training, test) = super::split_off_test(cases);
        Ok(Manifest {
            name: if rule.name.is_empty() {
                dir.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            } else {
                rule.name.clone()
            },
            channel_names: rule.series.iter().map(|(n, _)| n.clone()).collect(),
            label_names,
            training,
            test,
        })
    }

    /// The cases of the folder holding the rule file `path`.
    pub(super) fn from_dicom_rule_file(path: &Path) -> Result<Manifest> {
        let rule = DicomSeriesRule::from_file(path)?;
        Manifest::from_dicom_series(path.parent().unwrap_or(Path::new(".")), &rule)
    }
}

/// One case folder: the series of each channel and the label map.
fn case_of(
    folder: &Path,
    rule: &DicomSeriesRule,
) -> std::result::Result<CaseFiles, (PathBuf, String)> {
    let id = folder
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let series = medburn_io::dicom::list_series(folder)
        .map_err(|e| (folder.to_path_buf(), format!("case {id}: {e}")))?;
    let listed = || {
        series
            .iter()
            .map(|s| {
                format!(
                    "{:?} ({}, {} slices)",
                    s.description.clone().unwrap_or_default(),
                    s.uid,
                    s.slices
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut uids = Vec::new();
    for (channel, text) in &rule.series {
        let want = text.trim().to_lowercase();
        let by_uid: Vec<_> = series.iter().filter(|s| s.uid == text.trim()).collect();
        let matching: Vec<_> = if by_uid.is_empty() {
            series
                .iter()
                .filter(|s| {
                    s.description
                        .as_deref()
                        .is_some_and(|d| d.to_lowercase().contains(&want))
                })
                .collect()
        } else {
            by_uid
        };
        // Several contain the text: one whose description is exactly it wins.
        let exact: Vec<_> = matching
            .iter()
            .filter(|s| {
                s.description
                    .as_deref()
                    .is_some_and(|d| d.trim().to_lowercase() == want)
            })
            .collect();
        let chosen = match (matching.len(), exact.len()) {
            (1, _) => matching[0],
            (_, 1) => *exact[0],
            (0, _) => {
                return Err((
                    folder.to_path_buf(),
                    format!(
                        "case {id}: no series for channel {channel} (SeriesDescription \
                         containing {text:?}); the folder holds {}",
                        listed()
                    ),
                ))
            }
            _ => {
                return Err((
                    folder.to_path_buf(),
                    format!(
                        "case {id}: {} series match channel {channel} ({text:?}): {} (give a \
                         longer text or the SeriesInstanceUID)",
                        matching.len(),
                        matching
                            .iter()
                            .map(|s| format!(
                                "{:?} ({})",
                                s.description.clone().unwrap_or_default(),
                                s.uid
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ))
            }
        };
        uids.push(Some(chosen.uid.clone()));
    }
    let label = rule
        .label
        .as_ref()
        .map(|l| folder.join(l.replace("{case}", &id)))
        .filter(|p| p.is_file());
    let mut case = CaseFiles::new(vec![folder.to_path_buf(); rule.series.len()], label);
    case.id = id;
    case.series = uids;
    Ok(case)
}
