//! The Medical Segmentation Decathlon layout: `dataset.json` with `training` and `test` lists, in
//! MSD's own form and nnU-Net v2's, test label maps from the entries or `labelsTs/`, and a
//! BIDS-style participants table beside it whose columns (`age`, `sex`, ...) are joined to the
//! cases by `participant_id`.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{json_paths, table, CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

impl Manifest {
    /// Reads `DIR/dataset.json` of a Decathlon-layout folder. Accepts MSD's own form (`modality`
    /// and `labels` as index -> name, `test` as a list of paths) and nnU-Net v2's (`channel_names`,
    /// `labels` as name -> index), and an `image` entry that is one path or a list of paths.
    /// Paths are relative to `DIR`. Every file named must exist. Test cases get
    /// [`Split::Test`] and a label map when their entry names one (`{"image": ..., "label":
    /// ...}`) or, for the others, when `DIR/labelsTs/` holds a file of their image's name (as
    /// `medburn synth` writes). A `participants.tsv` or `participants.csv` in `DIR` (BIDS: a
    /// `participant_id` column, or `id`) adds its other columns to the cases of those ids.
    ///
    /// A `dataset.json` without a `training` list but with a `file_ending` is nnU-Net v2's raw
    /// layout: it is read by [`Manifest::from_nnunet`].
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// for f in ["img.nii.gz", "lab.nii.gz", "imagesTs/t.nii.gz", "labelsTs/t.nii.gz"] {
    ///     let p = dir.path().join(f);
    ///     std::fs::create_dir_all(p.parent().unwrap())?;
    ///     std::fs::write(p, b"")?;
    /// }
    /// std::fs::write(dir.path().join("dataset.json"), r#"{"name": "demo",
    ///   "channel_names": {"0": "T1"}, "labels": {"0": "background", "1": "tumour"},
    ///   "training": [{"image": "./img.nii.gz", "label": "./lab.nii.gz"}],
    ///   "test": ["./imagesTs/t.nii.gz"]}"#)?;
    /// let m = medburn_datasets::Manifest::from_msd(dir.path())?;
    /// assert_eq!(m.training.len(), 1);
    /// assert_eq!(m.label_names[&1], "tumour");
    /// assert!(m.test[0].label.as_ref().unwrap().ends_with("labelsTs/t.nii.gz"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_msd(dir: &Path) -> Result<Manifest> {
        let path = dir.join("dataset.json");
        let err = |message: String| DatasetError::Manifest {
            path: path.clone(),
            message,
        };
        let json = read_dataset_json(&path)?;
        if !json["training"].is_array() && json.get("file_ending").is_some() {
            return Manifest::from_nnunet(dir);
        }
        let name = json["name"].as_str().unwrap_or("").to_string();
        let channel_names = channel_names(&json, &path)?;
        let label_names = label_names(&json, &path)?;
        let paths = |v: &Value, what: &str| json_paths(v, dir, &path, what);
        let mut training = Vec::new();
        for (n, entry) in json["training"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
        {
            let images = paths(&entry["image"], &format!("training[{n}].image"))?;
            let label = paths(&entry["label"], &format!("training[{n}].label"))?;
            if label.len() != 1 {
                return Err(err(format!("training[{n}].label: expected one file")));
            }
            training.push(CaseFiles::new(images, label.into_iter().next()));
        }
        let mut test = Vec::new();
        for (n, entry) in json["test"].as_array().into_iter().flatten().enumerate() {
            let v = if entry.is_object() {
                &entry["image"]
            } else {
                entry
            };
            let images = paths(v, &format!("test[{n}]"))?;
            let label = match entry.get("label") {
                Some(Value::Null) => None,
                Some(l) => {
                    let l = paths(l, &format!("test[{n}].label"))?;
                    if l.len() != 1 {
                        return Err(err(format!("test[{n}].label: expected one file")));
                    }
                    l.into_iter().next()
                }
                // `labelsTs/<the image's file name>`, where the folder holds one.
                None => images
                    .first()
                    .and_then(|i| i.file_name())
                    .map(|f| dir.join("labelsTs").join(f))
                    .filter(|l| l.is_file()),
            };
            let mut case = CaseFiles::new(images, label);
            case.split = Some(Split::Test);
            test.push(case);
        }
        if training.is_empty() && test.is_empty() {
            return Err(err("no cases in `training` or `test` (an nnU-Net v2 raw \
                 dataset.json, whose cases are found in imagesTr/, needs `file_ending` and \
                 `numTraining`)"
                .into()));
        }
        table::join_participants(dir, training.iter_mut().chain(test.iter_mut()))?;
        Ok(Manifest {
            name,
            channel_names,
            label_names,
            training,
            test,
        })
    }
}

/// A `dataset.json` as JSON, with errors naming it.
pub(super) fn read_dataset_json(path: &Path) -> Result<Value> {
    let err = |message: String| DatasetError::Manifest {
        path: path.to_path_buf(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))
}

/// The channel names of a `dataset.json` in channel order: nnU-Net v2's `channel_names` or
/// MSD's `modality`, both index -> name.
pub(super) fn channel_names(json: &Value, path: &Path) -> Result<Vec<String>> {
    let channels = if json["channel_names"].is_object() {
        &json["channel_names"]
    } else {
        &json["modality"]
    };
    let mut names: Vec<(u32, String)> = Vec::new();
    if let Some(map) = channels.as_object() {
        for (k, v) in map {
            let index = k.parse().map_err(|_| DatasetError::Manifest {
                path: path.to_path_buf(),
                message: format!("channel index {k:?} is not a number"),
            })?;
            names.push((index, v.as_str().unwrap_or("").to_string()));
        }
    }
    names.sort();
    Ok(names.into_iter().map(|(_, n)| n).collect())
}

/// The labels of a `dataset.json`, value -> name: MSD's `"1": "tumour"` or nnU-Net v2's
/// `"tumour": 1`. nnU-Net's regions (`"whole tumour": [1, 2, 3]`) are refused, as is a value
/// given two names.
pub(super) fn label_names(json: &Value, path: &Path) -> Result<BTreeMap<u32, String>> {
    let err = |message: String| DatasetError::Manifest {
        path: path.to_path_buf(),
        message,
    };
    let mut label_names = BTreeMap::new();
    if let Some(map) = json["labels"].as_object() {
        for (k, v) in map {
            if v.is_array() {
                return Err(err(format!(
                    "label {k:?} is a region ({v}): nnU-Net's region-based labels are not \
                     supported; give each label one value (\"{k}\": 1)"
                )));
            }
            // MSD: "1": "tumour"; nnU-Net v2: "tumour": 1.
            let (index, name) = match (k.parse::<u32>(), v.as_u64()) {
                (Ok(i), _) => (i, v.as_str().unwrap_or("").to_string()),
                (Err(_), Some(i)) if i <= u32::MAX as u64 => (i as u32, k.clone()),
                _ => return Err(err(format!("label entry {k:?}: {v} is neither form"))),
            };
            if let Some(other) = label_names.insert(index, name.clone()) {
                return Err(err(format!(
                    "label value {index} has two names, {other:?} and {name:?}"
                )));
            }
        }
    }
    Ok(label_names)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::touch;

    #[test]
    fn msd_form_with_lists_and_string_tests_is_read() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "imagesTr/a.nii.gz",
            "labelsTr/a.nii.gz",
            "imagesTs/b.nii.gz",
            "t2/a.nii.gz",
        ] {
            touch(&dir.path().join(f));
        }
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"name": "X", "modality": {"1": "T2", "0": "T1"},
                "labels": {"0": "background", "2": "lesion"},
                "training": [{"image": ["./imagesTr/a.nii.gz", "./t2/a.nii.gz"], "label": "./labelsTr/a.nii.gz"}],
                "test": ["./imagesTs/b.nii.gz"]}"#,
        )
        .unwrap();
        let m = Manifest::from_msd(dir.path()).unwrap();
        assert_eq!(m.channel_names, ["T1", "T2"]);
        assert_eq!(m.label_names[&2], "lesion");
        assert_eq!(m.training[0].images.len(), 2);
        assert_eq!(m.training[0].id, "a");
        assert_eq!(m.test[0].id, "b");
        assert!(m.test[0].label.is_none());
    }

    #[test]
    fn test_cases_take_labels_from_their_entry_or_labels_ts() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "imagesTs/a.nii.gz",
            "labelsTs/a.nii.gz",
            "imagesTs/b.nii.gz",
            "seg/b.nii.gz",
            "imagesTs/c.nii.gz",
            "labelsTs/d.nii.gz",
        ] {
            touch(&dir.path().join(f));
        }
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"test": ["./imagesTs/a.nii.gz", {"image": "./imagesTs/b.nii.gz", "label": "./seg/b.nii.gz"},
                         {"image": "./imagesTs/c.nii.gz"}, {"image": "./imagesTs/a.nii.gz", "label": null}]}"#,
        )
        .unwrap();
        let m = Manifest::from_msd(dir.path()).unwrap();
        let labels: Vec<Option<String>> = m
            .test
            .iter()
            .map(|c| {
                c.label
                    .as_ref()
                    .map(|l| l.strip_prefix(dir.path()).unwrap().display().to_string())
            })
            .collect();
        assert_eq!(
            labels,
            [
                Some("labelsTs/a.nii.gz".into()),
                Some("seg/b.nii.gz".into()),
                None,
                None
            ]
        );
        // A label named but missing is refused.
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"test": [{"image": "./imagesTs/c.nii.gz", "label": "./labelsTs/c.nii.gz"}]}"#,
        )
        .unwrap();
        let e = Manifest::from_msd(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("labelsTs/c.nii.gz") && e.contains("missing"),
            "{e}"
        );
        // Regions and labels given twice are refused.
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"labels": {"background": 0, "a": 1, "b": 1}, "test": ["./imagesTs/c.nii.gz"]}"#,
        )
        .unwrap();
        let e = Manifest::from_msd(dir.path()).unwrap_err().to_string();
        assert!(e.contains("label value 1 has two names"), "{e}");
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("imagesTr/a.nii.gz"));
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz"}]}"#,
        )
        .unwrap();
        let e = Manifest::from_msd(dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("labelsTr/a.nii.gz") && e.contains("missing"),
            "{e}"
        );
        let e = Manifest::from_pairs(&[(
            dir.path().join("imagesTr/a.nii.gz"),
            dir.path().join("x.nii"),
        )])
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.nii") && e.contains("no such file"), "{e}");
    }

    #[test]
    fn nnunet_v2_labels_are_name_to_index() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("i.nii"));
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1},
                "test": [{"image": "./i.nii"}]}"#,
        )
        .unwrap();
        let m = Manifest::from_msd(dir.path()).unwrap();
        assert_eq!(m.label_names[&1], "liver");
        assert_eq!(m.channel_names, ["CT"]);
    }

    #[test]
    fn participants_are_joined_by_id() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "imagesTr/a.nii.gz",
            "labelsTr/a.nii.gz",
            "imagesTs/b.nii.gz",
        ] {
            touch(&dir.path().join(f));
        }
        std::fs::write(
            dir.path().join("dataset.json"),
            r#"{"training": [{"image": "./imagesTr/a.nii.gz", "label": "./labelsTr/a.nii.gz"}],
                "test": ["./imagesTs/b.nii.gz"]}"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("participants.tsv"),
            "participant_id\tage\tsex\nb\t71.5\tF\na\t33\tM\nc\t50\tF\n",
        )
        .unwrap();
        let m = Manifest::from_msd(dir.path()).unwrap();
        assert_eq!(m.training[0].number("age").unwrap(), 33.0);
        assert_eq!(m.test[0].targets["sex"], "F");
        assert_eq!(m.test[0].split, Some(Split::Test));
        // A row without an id column is refused.
        std::fs::write(dir.path().join("participants.tsv"), "age\tsex\n3\tF\n").unwrap();
        let e = Manifest::from_msd(dir.path()).unwrap_err().to_string();
        assert!(e.contains("participant_id"), "{e}");
    }
}
