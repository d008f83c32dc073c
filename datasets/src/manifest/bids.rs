//! BIDS-like folders: anatomical images by subject (and session), their suffixes as channels,
//! label maps from a derivatives pipeline, and `participants.tsv`:
//!
//! ```text
//! DIR/dataset_description.json                       optional: "Name"
//! DIR/participants.tsv                               optional: participant_id, age, sex, split, ...
//! DIR/sub-01/anat/sub-01_T1w.nii.gz                  channel T1w of case sub-01
//! DIR/sub-01/anat/sub-01_FLAIR.nii.gz                channel FLAIR
//! DIR/sub-02/ses-1/anat/sub-02_ses-1_T1w.nii.gz      with sessions: one case per session (sub-02_ses-1)
//! DIR/derivatives/lesions/sub-01/anat/sub-01_dseg.nii.gz    the label map of sub-01
//! DIR/derivatives/lesions/dseg.tsv                   optional: index, name of each label
//! ```
//!
//! The suffix of a file is what follows its last `_` (`T1w`, `T2w`, `FLAIR`, ...). The channels
//! are the suffixes every case has, in BIDS order (T1w, T2w, PDw, T2starw, FLAIR, then the
//! others alphabetically), or those [`BidsOptions::channels`] names. A case with two files of a
//! channel's suffix (two runs) is refused, naming them. Label maps are `*_dseg.nii[.gz]` files
//! (or files with a `_label-` entity) under `derivatives/*/sub-*/[ses-*/]anat/`, matched to the
//! cases by their `sub-` and `ses-` entities. `participants.tsv` is joined by `participant_id`
//! (`sub-01`), and its `split` column, when it has one, assigns the splits.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::{split_off_test, table, CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

/// How [`Manifest::from_bids_with`] picks the channels of a BIDS-like folder.
///
/// ```
/// let o = medburn_datasets::BidsOptions { channels: vec!["FLAIR".into(), "T1w".into()] };
/// assert_eq!(o.channels.len(), 2);
/// assert!(medburn_datasets::BidsOptions::default().channels.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BidsOptions {
    /// The suffixes to stack as channels, in this order (`["T1w", "FLAIR"]`, matched without
    /// regard to case); empty: every suffix all cases share, in BIDS order.
    pub channels: Vec<String>,
}

/// Suffixes in the order BIDS lists the anatomical contrasts; others follow alphabetically.
const ORDER: [&str; 8] = [
    "T1w",
    "T2w",
    "PDw",
    "T2starw",
    "FLAIR",
    "inplaneT1",
    "inplaneT2",
    "PDT2",
];

/// Suffixes of raw `anat/` files that are not images to learn from.
const NOT_CHANNELS: [&str; 5] = ["dseg", "probseg", "mask", "defacemask", "roi"];

/// Whether `dir` holds a `sub-*` folder.
pub(super) fn has_subjects(dir: &Path) -> bool {
    sorted_dirs(dir, "sub-")
        .map(|d| !d.is_empty())
        .unwrap_or(false)
}

/// The folders of `dir` whose names start with `prefix`, sorted.
fn sorted_dirs(dir: &Path, prefix: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// The NIfTI files of `dir` (`.nii`, `.nii.gz`), sorted; none when it does not exist.
fn nifti_files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    !n.starts_with('.') && (n.ends_with(".nii") || n.ends_with(".nii.gz"))
                })
        })
        .collect();
    out.sort();
    out
}

/// The entities of a BIDS file name: (`sub-..`, `ses-..`, suffix, whether it has `label-`).
fn entities(path: &Path) -> (Option<String>, Option<String>, String, bool) {
    let stem = super::case_id(path);
    let parts: Vec<&str> = stem.split('_').collect();
    let find = |prefix: &str| {
        parts
            .iter()
            .find(|p| p.starts_with(prefix))
            .map(|s| s.to_string())
    };
    let suffix = parts.last().map(|s| s.to_string()).unwrap_or_default();
    let label = parts.iter().any(|p| p.starts_with("label-"));
    (find("sub-"), find("ses-"), suffix, label)
}

/// The name of a folder's last component, for messages.
fn name_of(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// One case: its subject, session, `anat/` folder and images by suffix.
struct Unit {
    subject: String,
    session: Option<String>,
    anat: PathBuf,
    by_suffix: BTreeMap<String, Vec<PathBuf>>,
}

impl Unit {
    fn id(&self) -> String {
        match &self.session {
            Some(s) => format!("{}_{s}", self.subject),
            None => self.subject.clone(),
        }
    }
}

impl Manifest {
    /// Reads a BIDS-like folder (see [the module](self)) with the channels every case shares.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// for f in ["sub-01/anat/sub-01_T1w.nii.gz", "sub-01/anat/sub-01_FLAIR.nii.gz",
    ///           "sub-02/anat/sub-02_FLAIR.nii.gz", "sub-02/anat/sub-02_T1w.nii.gz",
    ///           "sub-02/anat/sub-02_T2w.nii.gz",
    ///           "derivatives/manual/sub-01/anat/sub-01_dseg.nii.gz"] {
    ///     let p = dir.path().join(f);
    ///     std::fs::create_dir_all(p.parent().unwrap())?;
    ///     std::fs::write(p, b"")?;
    /// }
    /// std::fs::write(dir.path().join("participants.tsv"), "participant_id\tage\nsub-01\t40\nsub-02\t61\n")?;
    /// let m = medburn_datasets::Manifest::from_bids(dir.path())?;
    /// assert_eq!(m.channel_names, ["T1w", "FLAIR"]); // T2w is not in every case
    /// assert_eq!(m.training[0].id, "sub-01");
    /// assert!(m.training[0].label.is_some() && m.training[1].label.is_none());
    /// assert_eq!(m.training[1].number("age")?, 61.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bids(dir: &Path) -> Result<Manifest> {
        Manifest::from_bids_with(dir, &BidsOptions::default())
    }

    /// Reads a BIDS-like folder (see [the module](self)) with the channels `options` names.
    ///
    /// ```
    /// use medburn_datasets::{BidsOptions, Manifest};
    /// let dir = tempfile::tempdir()?;
    /// for f in ["sub-01/ses-1/anat/sub-01_ses-1_T1w.nii", "sub-01/ses-1/anat/sub-01_ses-1_T2w.nii",
    ///           "sub-01/ses-2/anat/sub-01_ses-2_T1w.nii", "sub-01/ses-2/anat/sub-01_ses-2_T2w.nii"] {
    ///     let p = dir.path().join(f);
    ///     std::fs::create_dir_all(p.parent().unwrap())?;
    ///     std::fs::write(p, b"")?;
    /// }
    /// let m = Manifest::from_bids_with(dir.path(), &BidsOptions { channels: vec!["t2w".into()] })?;
    /// assert_eq!(m.channel_names, ["T2w"]);
    /// let ids: Vec<&str> = m.training.iter().map(|c| c.id.as_str()).collect();
    /// assert_eq!(ids, ["sub-01_ses-1", "sub-01_ses-2"]);
    /// let e = Manifest::from_bids_with(dir.path(), &BidsOptions { channels: vec!["FLAIR".into()] });
    /// assert!(e.unwrap_err().to_string().contains("no sub-01_ses-1_FLAIR.nii[.gz]"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_bids_with(dir: &Path, options: &BidsOptions) -> Result<Manifest> {
        let io = |path: &Path, e: std::io::Error| DatasetError::Manifest {
            path: path.to_path_buf(),
            message: format!("cannot list the folder: {e}"),
        };
        let subjects = sorted_dirs(dir, "sub-").map_err(|e| io(dir, e))?;
        if subjects.is_empty() {
            return Err(DatasetError::Manifest {
                path: dir.to_path_buf(),
                message: "no sub-* folders (BIDS: sub-<label>/[ses-<label>/]anat/)".into(),
            });
        }
        let mut units = Vec::new();
        for sub in &subjects {
            let sessions = sorted_dirs(sub, "ses-").map_err(|e| io(sub, e))?;
            let places: Vec<(Option<String>, PathBuf)> = if sessions.is_empty() {
                vec![(None, sub.join("anat"))]
            } else {
                sessions
                    .iter()
                    .map(|s| (Some(name_of(s)), s.join("anat")))
                    .collect()
            };
            for (session, anat) in places {
                let mut by_suffix: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
                for f in nifti_files(&anat) {
                    let (_, _, suffix, label) = entities(&f);
                    if label || NOT_CHANNELS.contains(&suffix.as_str()) {
                        continue;
                    }
                    by_suffix.entry(suffix).or_default().push(f);
                }
                if by_suffix.is_empty() {
                    return Err(DatasetError::Manifest {
                        path: anat,
                        message: "no anatomical image (*_<suffix>.nii[.gz], e.g. *_T1w.nii.gz) \
                                  for this subject"
                            .into(),
                    });
                }
                units.push(Unit {
                    subject: name_of(sub),
                    session,
                    anat,
                    by_suffix,
                });
            }
        }
        let channels = choose_channels(&units, options)?;
        let labels = find_labels(dir)?;
        let mut cases = Vec::new();
        let mut label_names = BTreeMap::new();
        for unit in &units {
            let mut images = Vec::new();
            for suffix in &channels {
                let files = &unit.by_suffix[suffix];
                if files.len() > 1 {
                    return Err(DatasetError::Manifest {
                        path: unit.anat.clone(),
                        message: format!(
                            "{} files with suffix {suffix} ({}): one per case is read (keep one \
                             run, or list the cases in a .csv manifest)",
                            files.len(),
                            files
                                .iter()
                                .map(|f| name_of(f))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    });
                }
                images.push(files[0].clone());
            }
            let key = (unit.subject.clone(), unit.session.clone());
            let label = match labels.get(&key) {
                None => None,
                Some(found) => {
                    let dseg: Vec<&(PathBuf, PathBuf)> = found
                        .iter()
                        .filter(|(f, _)| entities(f).2 == "dseg")
                        .collect();
                    let chosen = match (dseg.len(), found.len()) {
                        (1, _) => dseg[0],
                        (0, 1) => &found[0],
                        _ => {
                            return Err(DatasetError::Manifest {
                                path: found[0].0.clone(),
                                message: format!(
                                    "{} label maps for case {} ({}): keep one",
                                    found.len(),
                                    unit.id(),
                                    found
                                        .iter()
                                        .map(|(f, _)| f.display().to_string())
                                        .collect::<Vec<_>>()
                                        .join(", ")
                                ),
                            })
                        }
                    };
                    if label_names.is_empty() {
                        label_names = read_dseg_tsv(&chosen.1)?;
                    }
                    Some(chosen.0.clone())
                }
            };
            let mut case = CaseFiles::new(images, label);
            case.id = unit.id();
            cases.push(case);
        }
        let participants = table::join_participants_by(dir, cases.iter_mut(), |c| {
            let sub = c.id.split('_').next().unwrap_or("").to_string();
            let bare = sub.trim_start_matches("sub-").to_string();
            vec![sub, bare]
        })?;
        for case in &mut cases {
            if let Some(split) = case.targets.remove("split") {
                case.split = Some(split.parse::<Split>().map_err(|e| DatasetError::Manifest {
                    path: participants.clone().unwrap_or_default(),
                    message: format!("{}: {e}", case.id),
                })?);
            }
        }
        let name = std::fs::read_to_string(dir.join("dataset_description.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|j| j["Name"].as_str().map(str::to_string))
            .unwrap_or_else(|| name_of(dir));
        let (training, test) = split_off_test(cases);
        Ok(Manifest {
            name,
            channel_names: channels,
            label_names,
            training,
            test,
        })
    }
}

/// The channel suffixes: those `options` names (each case must have them), or those every case
/// has, in BIDS order.
fn choose_channels(units: &[Unit], options: &BidsOptions) -> Result<Vec<String>> {
    if !options.channels.is_empty() {
        let mut chosen = Vec::new();
        for want in &options.channels {
            // The spelling the files use, where one matches.
            let spelled = units
                .iter()
                .flat_map(|u| u.by_suffix.keys())
                .find(|s| s.eq_ignore_ascii_case(want.trim()))
                .cloned()
                .unwrap_or_else(|| want.trim().to_string());
            chosen.push(spelled);
        }
        for unit in units {
            if let Some(s) = chosen.iter().find(|s| !unit.by_suffix.contains_key(*s)) {
                return Err(DatasetError::Manifest {
                    path: unit.anat.clone(),
                    message: format!(
                        "no {}_{s}.nii[.gz] (channel {s} was asked for; this case has {})",
                        unit.id(),
                        unit.by_suffix
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        return Ok(chosen);
    }
    let mut shared: BTreeSet<String> = units[0].by_suffix.keys().cloned().collect();
    for unit in &units[1..] {
        shared.retain(|s| unit.by_suffix.contains_key(s));
    }
    if shared.is_empty() {
        // Name the cases without the most common suffix.
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for unit in units {
            for s in unit.by_suffix.keys() {
                *count.entry(s).or_default() += 1;
            }
        }
        let (common, n) = count
            .iter()
            .max_by_key(|(_, n)| **n)
            .map(|(s, n)| (s.to_string(), *n))
            .unwrap_or_default();
        let lacking: Vec<&Unit> = units
            .iter()
            .filter(|u| !u.by_suffix.contains_key(&common))
            .collect();
        let first = lacking.first().map(|u| u.anat.clone()).unwrap_or_default();
        return Err(DatasetError::Manifest {
            path: first,
            message: format!(
                "no suffix is shared by every case: {common} is in {n} of {} cases; {} \
                 lack it ({})",
                units.len(),
                lacking.len(),
                lacking
                    .iter()
                    .take(10)
                    .map(|u| format!(
                        "{} has {}",
                        u.id(),
                        u.by_suffix.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        });
    }
    let mut ordered: Vec<String> = ORDER
        .iter()
        .filter(|s| shared.contains(**s))
        .map(|s| s.to_string())
        .collect();
    ordered.extend(shared.into_iter().filter(|s| !ORDER.contains(&s.as_str())));
    Ok(ordered)
}

/// Label maps under `DIR/derivatives/*/sub-*/[ses-*/]anat/` by (subject, session), each with
/// its pipeline folder.
#[allow(clippy::type_complexity)]
fn find_labels(dir: &Path) -> Result<BTreeMap<(String, Option<String>), Vec<(PathBuf, PathBuf)>>> {
    let mut out: BTreeMap<(String, Option<String>), Vec<(PathBuf, PathBuf)>> = BTreeMap::new();
    let derivatives = dir.join("derivatives");
    let Ok(pipelines) = sorted_dirs(&derivatives, "") else {
        return Ok(out);
    };
    for pipeline in pipelines {
        for sub in sorted_dirs(&pipeline, "sub-").unwrap_or_default() {
            let mut places = vec![(None, sub.join("anat"))];
            for ses in sorted_dirs(&sub, "ses-").unwrap_or_default() {
                places.push((Some(name_of(&ses)), ses.join("anat")));
            }
            for (folder_session, anat) in places {
                for f in nifti_files(&anat) {
                    let (subject, session, suffix, label) = entities(&f);
                    if suffix != "dseg" && !label {
                        continue;
                    }
                    let subject = subject.unwrap_or_else(|| name_of(&sub));
                    let session = session.or(folder_session.clone());
                    out.entry((subject, session))
                        .or_default()
                        .push((f, pipeline.clone()));
                }
            }
        }
    }
    Ok(out)
}

/// The label names of a pipeline's `dseg.tsv` (BIDS: `index` and `name` columns); none when
/// there is no such file.
fn read_dseg_tsv(pipeline: &Path) -> Result<BTreeMap<u32, String>> {
    let path = pipeline.join("dseg.tsv");
    let mut out = BTreeMap::new();
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(out);
    };
    let err = |message: String| DatasetError::Manifest {
        path: path.clone(),
        message,
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .unwrap_or("")
        .split('\t')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let (Some(index), Some(name)) = (
        header.iter().position(|h| h == "index"),
        header.iter().position(|h| h == "name"),
    ) else {
        return Err(err("expected `index` and `name` columns".into()));
    };
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split('\t').map(str::trim).collect();
        let value = cells
            .get(index)
            .and_then(|v| v.parse::<u32>().ok())
            .ok_or_else(|| err(format!("row {}: index is not a whole number", n + 2)))?;
        out.insert(value, cells.get(name).unwrap_or(&"").to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::touch;

    fn layout(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            touch(&dir.path().join(f));
        }
        dir
    }

    #[test]
    fn sessions_labels_participants_and_splits() {
        let dir = layout(&[
            "sub-01/ses-a/anat/sub-01_ses-a_FLAIR.nii.gz",
            "sub-01/ses-a/anat/sub-01_ses-a_T1w.nii.gz",
            "sub-01/ses-a/anat/sub-01_ses-a_T1w.json",
            "sub-01/ses-b/anat/sub-01_ses-b_FLAIR.nii.gz",
            "sub-01/ses-b/anat/sub-01_ses-b_T1w.nii.gz",
            "sub-02/anat/sub-02_FLAIR.nii",
            "sub-02/anat/sub-02_T1w.nii",
            "sub-02/anat/sub-02_defacemask.nii",
            "derivatives/seg/sub-01/ses-b/anat/sub-01_ses-b_dseg.nii.gz",
            "derivatives/seg/sub-02/anat/sub-02_space-orig_dseg.nii.gz",
            "derivatives/seg/sub-02/anat/sub-02_label-lesion_mask.nii.gz",
        ]);
        std::fs::write(
            dir.path().join("derivatives/seg/dseg.tsv"),
            "index\tname\n0\tbackground\n1\tlesion\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("participants.tsv"),
            "participant_id\tsex\tsplit\nsub-01\tF\ttrain\nsub-02\tM\ttest\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("dataset_description.json"),
            r#"{"Name": "tiny", "BIDSVersion": "1.9.0"}"#,
        )
        .unwrap();
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.name, "tiny");
        assert_eq!(m.channel_names, ["T1w", "FLAIR"]);
        assert_eq!(m.label_names[&1], "lesion");
        let ids: Vec<&str> = m.training.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["sub-01_ses-a", "sub-01_ses-b"]);
        assert!(m.training[0].label.is_none());
        assert!(m.training[1].label.is_some());
        assert_eq!(m.training[0].targets["sex"], "F");
        assert!(!m.training[0].targets.contains_key("split"));
        // sub-02 is a test case; its dseg wins over the label- mask.
        assert_eq!(m.test[0].id, "sub-02");
        assert!(m.test[0]
            .label
            .as_ref()
            .unwrap()
            .ends_with("sub-02_space-orig_dseg.nii.gz"));
        assert!(m.test[0].images[0].ends_with("sub-02_T1w.nii"));
    }

    #[test]
    fn broken_folders_are_named() {
        let dir = layout(&[
            "sub-01/anat/sub-01_T1w.nii.gz",
            "sub-02/anat/sub-02_T1w.nii.gz",
            "sub-03/anat/sub-03_T2w.nii.gz",
        ]);
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("sub-03/anat")
                && e.contains("no suffix is shared")
                && e.contains("sub-03 has T2w"),
            "{e}"
        );
        let dir = layout(&[
            "sub-01/anat/sub-01_run-1_T1w.nii.gz",
            "sub-01/anat/sub-01_run-2_T1w.nii.gz",
        ]);
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("2 files with suffix T1w"), "{e}");
        let dir = layout(&["sub-01/anat/sub-01_T1w.nii.gz", "sub-02/func/x_bold.nii.gz"]);
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("sub-02/anat") && e.contains("no anatomical image"),
            "{e}"
        );
        let dir = layout(&["sub-01/anat/sub-01_T1w.nii.gz"]);
        std::fs::write(
            dir.path().join("participants.tsv"),
            "participant_id\tsplit\nsub-01\tlater\n",
        )
        .unwrap();
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("participants.tsv") && e.contains("later"), "{e}");
    }
}
