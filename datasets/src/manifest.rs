//! Which files make a dataset: the Medical Segmentation Decathlon layout (`dataset.json` with
//! `training` and `test` lists, as MSD, MONAI's `load_decathlon_datalist` and nnU-Net read it),
//! or a plain list of image/label pairs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{DatasetError, Result};

/// One case: its image channels (one multi-channel file, or one file per channel, all on one
/// grid) and, for training cases, its label map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CaseFiles {
    /// An identifier: the image file name without its extension.
    pub id: String,
    /// Image files; their channels are stacked in this order.
    pub images: Vec<PathBuf>,
    /// The label map, on the images' grid.
    pub label: Option<PathBuf>,
}

impl CaseFiles {
    /// A case from its files; the id is taken from the first image's file name.
    ///
    /// ```
    /// use medburn_datasets::CaseFiles;
    /// let c = CaseFiles::new(vec!["imagesTr/case_001.nii.gz".into()], Some("labelsTr/case_001.nii.gz".into()));
    /// assert_eq!(c.id, "case_001");
    /// ```
    pub fn new(images: Vec<PathBuf>, label: Option<PathBuf>) -> CaseFiles {
        let id = images.first().map(|p| case_id(p)).unwrap_or_default();
        CaseFiles { id, images, label }
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
    /// Cases with labels.
    pub training: Vec<CaseFiles>,
    /// Cases without labels.
    pub test: Vec<CaseFiles>,
}

impl Manifest {
    /// Reads `DIR/dataset.json` of a Decathlon-layout folder. Accepts MSD's own form (`modality`
    /// and `labels` as index -> name, `test` as a list of paths) and nnU-Net v2's (`channel_names`,
    /// `labels` as name -> index), and an `image` entry that is one path or a list of paths.
    /// Paths are relative to `DIR`. Every file named must exist.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("img.nii.gz"), b"")?;
    /// std::fs::write(dir.path().join("lab.nii.gz"), b"")?;
    /// std::fs::write(dir.path().join("dataset.json"), r#"{"name": "demo",
    ///   "channel_names": {"0": "T1"}, "labels": {"0": "background", "1": "tumour"},
    ///   "training": [{"image": "./img.nii.gz", "label": "./lab.nii.gz"}], "test": []}"#)?;
    /// let m = medburn_datasets::Manifest::from_msd(dir.path())?;
    /// assert_eq!(m.training.len(), 1);
    /// assert_eq!(m.label_names[&1], "tumour");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_msd(dir: &Path) -> Result<Manifest> {
        let path = dir.join("dataset.json");
        let err = |message: String| DatasetError::Manifest {
            path: path.clone(),
            message,
        };
        let text = std::fs::read_to_string(&path).map_err(|e| err(e.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        let name = json["name"].as_str().unwrap_or("").to_string();
        let channels = if json["channel_names"].is_object() {
            &json["channel_names"]
        } else {
            &json["modality"]
        };
        let mut channel_names: Vec<(u32, String)> = Vec::new();
        if let Some(map) = channels.as_object() {
            for (k, v) in map {
                let index = k
                    .parse()
                    .map_err(|_| err(format!("channel index {k:?} is not a number")))?;
                channel_names.push((index, v.as_str().unwrap_or("").to_string()));
            }
        }
        channel_names.sort();
        let mut label_names = BTreeMap::new();
        if let Some(map) = json["labels"].as_object() {
            for (k, v) in map {
                // MSD: "1": "tumour"; nnU-Net v2: "tumour": 1.
                let (index, name) = match (k.parse::<u32>(), v.as_u64()) {
                    (Ok(i), _) => (i, v.as_str().unwrap_or("").to_string()),
                    (Err(_), Some(i)) => (i as u32, k.clone()),
                    _ => return Err(err(format!("label entry {k:?}: {v} is neither form"))),
                };
                label_names.insert(index, name);
            }
        }
        let paths = |v: &Value, what: &str| -> Result<Vec<PathBuf>> {
            let list: Vec<&Value> = match v {
                Value::String(_) => vec![v],
                Value::Array(a) => a.iter().collect(),
                _ => return Err(err(format!("{what}: expected a path or a list of paths"))),
            };
            list.iter()
                .map(|p| {
                    let p = p
                        .as_str()
                        .ok_or_else(|| err(format!("{what}: {p} is not a path")))?;
                    let full = dir.join(p.trim_start_matches("./"));
                    if !full.is_file() {
                        return Err(DatasetError::Manifest {
                            path: full,
                            message: format!("named in {} but missing", path.display()),
                        });
                    }
                    Ok(full)
                })
                .collect()
        };
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
            test.push(CaseFiles::new(paths(v, &format!("test[{n}]"))?, None));
        }
        if training.is_empty() && test.is_empty() {
            return Err(err("no cases in `training` or `test`".into()));
        }
        Ok(Manifest {
            name,
            channel_names: channel_names.into_iter().map(|(_, n)| n).collect(),
            label_names,
            training,
            test,
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
}

/// A file name without its image extension (`.nii.gz`, `.nii`, `.hdr`, `.h5`, `.mha`).
fn case_id(path: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn touch(p: &Path) {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"").unwrap();
    }

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
}
