//! JSON manifests: the table form as JSON, for users who write their lists from Python.
//!
//! ```json
//! {"name": "ages", "channel_names": ["T1"], "labels": {"0": "background", "1": "lesion"},
//!  "cases": [{"image": "sub-1/t1.nii.gz", "label": "sub-1/seg.nii.gz", "age": 63.5,
//!             "sex": "F", "split": "train"}]}
//! ```
//!
//! `image` is one path or a list (one per channel); `channel_names` a list or an index -> name
//! object; a bare list of cases is accepted too. A JSON file with a `series` object and no
//! `cases` is a DICOM series rule (the `dicom` layout), its folder holding the case folders. Every other key of a case is a target: numbers
//! and strings are kept as text, as a table would hold them.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{json_paths, split_off_test, CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

impl Manifest {
    /// Reads a JSON case list (see [the module](self)).
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("a.nii.gz"), b"")?;
    /// std::fs::write(dir.path().join("m.json"),
    ///     r#"{"channel_names": ["T1"], "cases": [{"image": "a.nii.gz", "age": 40, "split": "val"}]}"#)?;
    /// let m = medburn_datasets::Manifest::from_json(&dir.path().join("m.json"))?;
    /// assert_eq!(m.training[0].number("age")?, 40.0);
    /// assert_eq!(m.channel_names, ["T1"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_json(path: &Path) -> Result<Manifest> {
        let err = |message: String| DatasetError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let json: Value = serde_json::from_str(&text).map_err(|e| err(format!("not JSON: {e}")))?;
        if json.get("training").is_some() {
            // A Decathlon dataset.json under another name.
            return Manifest::from_msd(dir);
        }
        if json.get("cases").is_none()
            && json
                .get("series")
                .is_some_and(|s| s.is_object() || s.is_array())
        {
            // A DICOM series rule: its folder holds the case folders.
            return Manifest::from_dicom_rule_file(path);
        }
        let list = match &json {
            Value::Array(a) => a,
            Value::Object(o) => match o.get("cases") {
                Some(Value::Array(a)) => a,
                _ => return Err(err("expected a `cases` list".into())),
            },
            _ => {
                return Err(err(
                    "expected a list of cases or an object with `cases`".into()
                ))
            }
        };
        let channel_names = match &json["channel_names"] {
            Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().unwrap_or("").to_string())
                .collect(),
            Value::Object(o) => {
                let mut named: Vec<(u32, String)> = o
                    .iter()
                    .filter_map(|(k, v)| Some((k.parse().ok()?, v.as_str()?.to_string())))
                    .collect();
                named.sort();
                named.into_iter().map(|(_, n)| n).collect()
            }
            _ => Vec::new(),
        };
        let mut label_names = BTreeMap::new();
        if let Some(map) = json["labels"].as_object() {
            for (k, v) in map {
                if let (Ok(i), Some(name)) = (k.parse::<u32>(), v.as_str()) {
                    label_names.insert(i, name.to_string());
                }
            }
        }
        let mut cases = Vec::new();
        for (n, entry) in list.iter().enumerate() {
            let obj = entry
                .as_object()
                .ok_or_else(|| err(format!("cases[{n}] is not an object")))?;
            let files =
                |v: &Value, what: &str| json_paths(v, dir, path, &format!("cases[{n}].{what}"));
            let images = files(
                obj.get("image")
                    .ok_or_else(|| err(format!("cases[{n}] has no image")))?,
                "image",
            )?;
            let label = match obj.get("label") {
                None | Some(Value::Null) => None,
                Some(v) => files(v, "label")?.into_iter().next(),
            };
            let mut case = CaseFiles::new(images, label);
            for (key, value) in obj {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(x) => x.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                match key.as_str() {
                    "image" | "label" => {}
                    "id" => case.id = text,
                    "split" => {
                        case.split = Some(
                            text.parse::<Split>()
                                .map_err(|e| err(format!("cases[{n}]: {e}")))?,
                        )
                    }
                    _ => {
                        case.targets.insert(key.clone(), text);
                    }
                }
            }
            cases.push(case);
        }
        if cases.is_empty() {
            return Err(err("no cases".into()));
        }
        let (training, test) = split_off_test(cases);
        Ok(Manifest {
            name: json["name"].as_str().unwrap_or("").to_string(),
            channel_names,
            label_names,
            training,
            test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::touch;

    #[test]
    fn lists_objects_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("a.nii"));
        touch(&dir.path().join("b.nii"));
        let p = dir.path().join("m.json");
        std::fs::write(
            &p,
            r#"[{"image": ["a.nii", "b.nii"], "id": "x", "sex": "M", "split": "test"}]"#,
        )
        .unwrap();
        let m = Manifest::open(&p).unwrap();
        assert_eq!(m.test[0].id, "x");
        assert_eq!(m.test[0].images.len(), 2);
        assert_eq!(m.test[0].targets["sex"], "M");
        std::fs::write(&p, r#"{"cases": [{"label": "a.nii"}]}"#).unwrap();
        let e = Manifest::open(&p).unwrap_err().to_string();
        assert!(e.contains("cases[0] has no image"), "{e}");
        std::fs::write(&p, r#"{"cases": [{"image": "a.nii", "split": "dev"}]}"#).unwrap();
        let e = Manifest::open(&p).unwrap_err().to_string();
        assert!(e.contains("dev"), "{e}");
    }
}
