//! nnU-Net v2's raw layout: a `dataset.json` with `channel_names`, `labels` (name -> value),
//! `file_ending` and `numTraining` but no `training` list; the cases are found by their file
//! names:
//!
//! ```text
//! DIR/dataset.json
//! DIR/imagesTr/CASE_0000.nii.gz   channel 0 of case CASE (CASE_0001... for the others)
//! DIR/labelsTr/CASE.nii.gz        its label map
//! DIR/imagesTs/...                held-out cases, the same way
//! DIR/labelsTs/CASE.nii.gz        their label maps, where the folder holds them
//! ```
//!
//! Every case must have every channel (`_0000` to `_{n-1}`, n the number of `channel_names`)
//! and, for training, a label map; `numTraining` must be the number of training cases found.
//! Errors name every missing file (the first ten). Region-based labels are refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::msd::{channel_names, label_names, read_dataset_json};
use super::{table, CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

/// The file endings medburn reads (nnU-Net's `.mha`, `.nrrd`, `.png` and `.tif` are not).
const READABLE: [&str; 6] = [".nii.gz", ".nii", ".hdr", ".h5", ".hdf5", ".dcm"];

impl Manifest {
    /// Reads an nnU-Net v2 raw folder (see [the module](self)): `DIR/dataset.json` and the
    /// cases of `imagesTr/` (with `labelsTr/`), `imagesTs/` (with `labelsTs/` where present).
    /// Case ids are the `CASE` part of the file names; test cases get [`Split::Test`]; a
    /// `participants.tsv` / `.csv` beside `dataset.json` is joined by id.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// for f in ["imagesTr/a_0000.nii.gz", "imagesTr/a_0001.nii.gz", "labelsTr/a.nii.gz",
    ///           "imagesTs/b_0000.nii.gz", "imagesTs/b_0001.nii.gz"] {
    ///     let p = dir.path().join(f);
    ///     std::fs::create_dir_all(p.parent().unwrap())?;
    ///     std::fs::write(p, b"")?;
    /// }
    /// std::fs::write(dir.path().join("dataset.json"), r#"{"channel_names": {"0": "T1", "1": "FLAIR"},
    ///   "labels": {"background": 0, "lesion": 1}, "numTraining": 1, "file_ending": ".nii.gz"}"#)?;
    /// let m = medburn_datasets::Manifest::from_nnunet(dir.path())?;
    /// assert_eq!(m.channel_names, ["T1", "FLAIR"]);
    /// assert_eq!((m.training[0].id.as_str(), m.training[0].images.len()), ("a", 2));
    /// assert!(m.training[0].images[1].ends_with("imagesTr/a_0001.nii.gz"));
    /// assert!(m.test[0].label.is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_nnunet(dir: &Path) -> Result<Manifest> {
        let path = dir.join("dataset.json");
        let err = |message: String| DatasetError::Manifest {
            path: path.clone(),
            message,
        };
        let json = read_dataset_json(&path)?;
        let channel_names = channel_names(&json, &path)?;
        if channel_names.is_empty() {
            return Err(err(
                "no `channel_names` (nnU-Net v2: {\"0\": \"T1\", \"1\": \"FLAIR\"})".into(),
            ));
        }
        let label_names = label_names(&json, &path)?;
        let file_ending = json["file_ending"]
            .as_str()
            .ok_or_else(|| err("no `file_ending` (nnU-Net v2: \".nii.gz\")".into()))?;
        if !READABLE.contains(&file_ending.to_ascii_lowercase().as_str()) {
            return Err(err(format!(
                "file_ending {file_ending:?}: medburn reads {} (convert the images to NIfTI)",
                READABLE.join(", ")
            )));
        }
        let num_training = json["numTraining"]
            .as_u64()
            .ok_or_else(|| err("no `numTraining` (the number of training cases)".into()))?;
        let mut missing = Vec::new();
        let n = channel_names.len();
        let mut training = find_cases(dir, "imagesTr", &channel_names, file_ending, &mut missing)?;
        attach_labels(
            dir,
            "labelsTr",
            &mut training,
            file_ending,
            true,
            &mut missing,
        )?;
        let mut test = if dir.join("imagesTs").is_dir() {
            find_cases(dir, "imagesTs", &channel_names, file_ending, &mut missing)?
        } else {
            Vec::new()
        };
        if dir.join("labelsTs").is_dir() {
            attach_labels(dir, "labelsTs", &mut test, file_ending, false, &mut missing)?;
        }
        if let Some((first, what)) = missing.first() {
            let more = if missing.len() > 1 {
                let shown: Vec<String> = missing
                    .iter()
                    .skip(1)
                    .take(9)
                    .map(|(p, _)| p.display().to_string())
                    .collect();
                let all = if missing.len() > 10 {
                    format!(", ... {} in all", missing.len())
                } else {
                    String::new()
                };
                format!("; also missing: {}{all}", shown.join(", "))
            } else {
                String::new()
            };
            return Err(DatasetError::Manifest {
                path: first.clone(),
                message: format!(
                    "missing: {what} (nnU-Net raw layout: one file per channel, \
                     CASE_0000{file_ending} to CASE_{:04}{file_ending} for {}, and \
                     labelsTr/CASE{file_ending}){more}",
                    n - 1,
                    channel_names.join(", ")
                ),
            });
        }
        if training.len() as u64 != num_training {
            return Err(err(format!(
                "numTraining is {num_training} but imagesTr holds {} case(s){}",
                training.len(),
                if training.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        training
                            .iter()
                            .take(10)
                            .map(|c| c.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                }
            )));
        }
        for case in &mut test {
            case.split = Some(Split::Test);
        }
        table::join_participants(dir, training.iter_mut().chain(test.iter_mut()))?;
        Ok(Manifest {
            name: json["name"].as_str().unwrap_or("").to_string(),
            channel_names,
            label_names,
            training,
            test,
        })
    }
}

/// The cases of `dir/folder`: files `CASE_XXXX{ending}` grouped by `CASE`, channels `0..n` in
/// order. A channel file that is absent goes to `missing`; a file not named that way, or a
/// channel number `>= n`, is an error.
fn find_cases(
    dir: &Path,
    folder: &str,
    names: &[String],
    ending: &str,
    missing: &mut Vec<(PathBuf, String)>,
) -> Result<Vec<CaseFiles>> {
    let n = names.len();
    let root = dir.join(folder);
    let entries = std::fs::read_dir(&root).map_err(|e| DatasetError::Manifest {
        path: root.clone(),
        message: format!("cannot list the folder: {e} (the nnU-Net layout keeps its cases there)"),
    })?;
    let mut cases: BTreeMap<String, BTreeMap<usize, PathBuf>> = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|e| DatasetError::Manifest {
            path: root.clone(),
            message: e.to_string(),
        })?;
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(stem) = name.strip_suffix(ending) else {
            continue;
        };
        if name.starts_with('.') || !entry.path().is_file() {
            continue;
        }
        let bad = |why: String| DatasetError::Manifest {
            path: entry.path(),
            message: why,
        };
        let (case, channel) = stem
            .rsplit_once('_')
            .filter(|(c, x)| !c.is_empty() && x.len() == 4 && x.bytes().all(|b| b.is_ascii_digit()))
            .ok_or_else(|| {
                bad(format!(
                    "not named CASE_XXXX{ending} (XXXX: the channel number, 0000 for the first)"
                ))
            })?;
        let channel: usize = channel.parse().unwrap_or(usize::MAX);
        if channel >= n {
            return Err(bad(format!(
                "channel {channel}, but dataset.json names {n} channel(s) (_0000 to _{:04})",
                n.saturating_sub(1)
            )));
        }
        cases
            .entry(case.to_string())
            .or_default()
            .insert(channel, entry.path());
    }
    let mut out = Vec::new();
    for (id, channels) in cases {
        let mut images = Vec::with_capacity(n);
        for (c, name) in names.iter().enumerate() {
            match channels.get(&c) {
                Some(p) => images.push(p.clone()),
                None => missing.push((
                    root.join(format!("{id}_{c:04}{ending}")),
                    format!("channel {c} ({name}) of case {id}"),
                )),
            }
        }
        let mut case = CaseFiles::new(images, None);
        case.id = id;
        out.push(case);
    }
    Ok(out)
}

/// Gives each case its label map `dir/folder/CASE{ending}`; an absent one goes to `missing`
/// when `required`. A label map without images is an error.
fn attach_labels(
    dir: &Path,
    folder: &str,
    cases: &mut [CaseFiles],
    ending: &str,
    required: bool,
    missing: &mut Vec<(PathBuf, String)>,
) -> Result<()> {
    let root = dir.join(folder);
    for case in cases.iter_mut() {
        let p = root.join(format!("{}{ending}", case.id));
        if p.is_file() {
            case.label = Some(p);
        } else if required {
            missing.push((p, format!("the label map of case {}", case.id)));
        }
    }
    if let Ok(entries) = std::fs::read_dir(&root) {
        let mut orphans: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy())
                    .and_then(|n| n.strip_suffix(ending).map(str::to_string))
                    .is_some_and(|id| !id.starts_with('.') && !cases.iter().any(|c| c.id == id))
            })
            .collect();
        orphans.sort();
        if let Some(first) = orphans.first() {
            let images = folder.replace("labels", "images");
            return Err(DatasetError::Manifest {
                path: first.clone(),
                message: format!(
                    "a label map without images in {images}/ (expected {images}/{}_0000{ending}); \
                     {} such file(s)",
                    super::case_id(first),
                    orphans.len()
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::touch;

    fn layout(files: &[&str], json: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            touch(&dir.path().join(f));
        }
        std::fs::write(dir.path().join("dataset.json"), json).unwrap();
        dir
    }

    const TWO: &str = r#"{"channel_names": {"0": "T1", "1": "FLAIR"},
        "labels": {"background": 0, "lesion": 1}, "numTraining": 2, "file_ending": ".nii.gz"}"#;

    #[test]
    fn cases_are_found_by_name_and_open_detects_the_layout() {
        let dir = layout(
            &[
                "imagesTr/b_0001.nii.gz",
                "imagesTr/b_0000.nii.gz",
                "imagesTr/a_x_0000.nii.gz",
                "imagesTr/a_x_0001.nii.gz",
                "imagesTr/notes.txt",
                "labelsTr/a_x.nii.gz",
                "labelsTr/b.nii.gz",
                "imagesTs/c_0000.nii.gz",
                "imagesTs/c_0001.nii.gz",
                "labelsTs/c.nii.gz",
            ],
            TWO,
        );
        let m = Manifest::open(dir.path()).unwrap();
        assert_eq!(m.channel_names, ["T1", "FLAIR"]);
        assert_eq!(m.label_names[&1], "lesion");
        let ids: Vec<&str> = m.training.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["a_x", "b"]);
        assert!(m.training[1].images[0].ends_with("imagesTr/b_0000.nii.gz"));
        assert!(m.training[1].images[1].ends_with("imagesTr/b_0001.nii.gz"));
        assert!(m.training[1]
            .label
            .as_ref()
            .unwrap()
            .ends_with("labelsTr/b.nii.gz"));
        assert_eq!(m.test[0].split, Some(Split::Test));
        assert!(m.test[0].label.is_some());
    }

    #[test]
    fn broken_layouts_name_the_file() {
        // A missing channel file, and a missing label map.
        let dir = layout(
            &[
                "imagesTr/a_0000.nii.gz",
                "imagesTr/a_0001.nii.gz",
                "imagesTr/b_0000.nii.gz",
                "labelsTr/a.nii.gz",
            ],
            TWO,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("imagesTr/b_0001.nii.gz") && e.contains("labelsTr/b.nii.gz"),
            "{e}"
        );
        // numTraining off.
        let dir = layout(
            &[
                "imagesTr/a_0000.nii.gz",
                "imagesTr/a_0001.nii.gz",
                "labelsTr/a.nii.gz",
            ],
            TWO,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("numTraining is 2 but imagesTr holds 1 case(s) (a)"),
            "{e}"
        );
        // A channel beyond channel_names, a badly named file, an orphan label, regions.
        let dir = layout(
            &[
                "imagesTr/a_0000.nii.gz",
                "imagesTr/a_0001.nii.gz",
                "imagesTr/a_0002.nii.gz",
            ],
            TWO,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("a_0002.nii.gz") && e.contains("channel 2"),
            "{e}"
        );
        let dir = layout(&["imagesTr/a.nii.gz"], TWO);
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("not named CASE_XXXX.nii.gz"), "{e}");
        let dir = layout(
            &[
                "imagesTr/a_0000.nii.gz",
                "imagesTr/a_0001.nii.gz",
                "labelsTr/a.nii.gz",
                "labelsTr/z.nii.gz",
            ],
            TWO,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("labelsTr/z.nii.gz") && e.contains("without images"),
            "{e}"
        );
        let dir = layout(
            &["imagesTr/a_0000.nii.gz", "labelsTr/a.nii.gz"],
            r#"{"channel_names": {"0": "T1"}, "labels": {"background": 0, "whole": [1, 2]},
                "numTraining": 1, "file_ending": ".nii.gz"}"#,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("\"whole\" is a region"), "{e}");
        let dir = layout(
            &["imagesTr/a_0000.mha"],
            r#"{"channel_names": {"0": "T1"}, "numTraining": 1, "file_ending": ".mha"}"#,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("file_ending \".mha\""), "{e}");
        let dir = layout(
            &[],
            r#"{"channel_names": {"0": "T1"}, "file_ending": ".nii.gz"}"#,
        );
        let e = Manifest::open(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no `numTraining`"), "{e}");
    }
}
