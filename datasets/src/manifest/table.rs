//! CSV and TSV manifests (one row per case) and BIDS-style participants tables, read with the
//! `csv` crate. Column names are matched case-insensitively.
//!
//! A manifest's columns: `image`, or one column per channel (`image_0000`, `image_0001`, ...
//! as nnU-Net numbers them, or `image_T1`, `image_FLAIR`, ..., which also name the channels);
//! optional `label` (an empty cell: no label map), `id` (default: the first image's file name
//! without extension) and `split` (`train`, `val`, `test`); every other column is a target,
//! kept as text. Paths are relative to the table's folder.

use std::collections::BTreeMap;
use std::path::Path;

use super::{existing_file, split_off_test, CaseFiles, Manifest, Split};
use crate::error::{DatasetError, Result};

/// The rows of a CSV (or, by extension, TSV) file: the header (lower-cased, trimmed) and the
/// records.
fn read_rows(path: &Path) -> Result<(Vec<String>, Vec<Vec<String>>)> {
    let err = |message: String| DatasetError::Manifest {
        path: path.to_path_buf(),
        message,
    };
    let tsv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("tsv"));
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(if tsv { b'\t' } else { b',' })
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| err(e.to_string()))?;
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| err(e.to_string()))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let mut rows = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(|e| err(format!("row {}: {e}", n + 2)))?;
        rows.push(record.iter().map(str::to_string).collect());
    }
    Ok((header, rows))
}

/// The channel columns of a header: `image` alone, or `image_*` columns ordered by their
/// number (`image_0000`) or as written (`image_T1`), with the channel names the latter give.
fn channel_columns(header: &[String]) -> Option<(Vec<usize>, Vec<String>)> {
    if let Some(i) = header.iter().position(|h| h.eq_ignore_ascii_case("image")) {
        return Some((vec![i], Vec::new()));
    }
    let mut columns: Vec<(usize, String)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            let lower = h.to_ascii_lowercase();
            lower
                .strip_prefix("image_")
                .map(|_| (i, h["image_".len()..].to_string()))
        })
        .collect();
    if columns.is_empty() {
        return None;
    }
    let numbered = columns
        .iter()
        .all(|(_, s)| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    if numbered {
        columns.sort_by_key(|(_, s)| s.parse::<u64>().unwrap_or(u64::MAX));
        Some((columns.iter().map(|(i, _)| *i).collect(), Vec::new()))
    } else {
        let names = columns.iter().map(|(_, s)| s.clone()).collect();
        Some((columns.iter().map(|(i, _)| *i).collect(), names))
    }
}

impl Manifest {
    /// Reads a CSV or TSV manifest (see [the module](self)). Every file named must exist; a
    /// row with an unknown split is refused, naming the row.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// for f in ["t1_a.nii.gz", "fl_a.nii.gz", "seg_a.nii.gz"] { std::fs::write(dir.path().join(f), b"")?; }
    /// std::fs::write(dir.path().join("cases.csv"),
    ///     "id,image_T1,image_FLAIR,label,age,sex\nsub-1,t1_a.nii.gz,fl_a.nii.gz,seg_a.nii.gz,54,F\n")?;
    /// let m = medburn_datasets::Manifest::from_table(&dir.path().join("cases.csv"))?;
    /// assert_eq!(m.channel_names, ["T1", "FLAIR"]);
    /// let c = &m.training[0];
    /// assert_eq!((c.id.as_str(), c.images.len(), c.label.is_some()), ("sub-1", 2, true));
    /// assert_eq!(c.targets["sex"], "F");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_table(path: &Path) -> Result<Manifest> {
        let err = |message: String| DatasetError::Manifest {
            path: path.to_path_buf(),
            message,
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let (header, rows) = read_rows(path)?;
        let (image_columns, channel_names) = channel_columns(&header).ok_or_else(|| {
            err("no image column (expected `image`, or `image_0000`, `image_0001`, ...)".into())
        })?;
        let find = |name: &str| header.iter().position(|h| h.eq_ignore_ascii_case(name));
        let (label_col, id_col, split_col) = (find("label"), find("id"), find("split"));
        let mut cases = Vec::new();
        for (n, row) in rows.iter().enumerate() {
            let line = n + 2;
            let cell = |i: usize| row.get(i).map(String::as_str).unwrap_or("");
            let mut images = Vec::new();
            for &c in &image_columns {
                if cell(c).is_empty() {
                    return Err(err(format!("row {line}: empty {} cell", header[c])));
                }
                images.push(existing_file(dir, cell(c), path)?);
            }
            let label = match label_col.map(cell).filter(|s| !s.is_empty()) {
                Some(l) => Some(existing_file(dir, l, path)?),
                None => None,
            };
            let mut case = CaseFiles::new(images, label);
            if let Some(id) = id_col.map(cell).filter(|s| !s.is_empty()) {
                case.id = id.to_string();
            }
            if let Some(s) = split_col.map(cell).filter(|s| !s.is_empty()) {
                case.split = Some(
                    s.parse::<Split>()
                        .map_err(|e| err(format!("row {line}: {e}")))?,
                );
            }
            let special = |i: usize| {
                image_columns.contains(&i) || [label_col, id_col, split_col].contains(&Some(i))
            };
            for (i, name) in header.iter().enumerate().filter(|(i, _)| !special(*i)) {
                if !cell(i).is_empty() {
                    case.targets.insert(name.clone(), cell(i).to_string());
                }
            }
            cases.push(case);
        }
        if cases.is_empty() {
            return Err(err("no cases".into()));
        }
        let (training, test) = split_off_test(cases);
        Ok(Manifest {
            name: path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default(),
            channel_names,
            label_names: BTreeMap::new(),
            training,
            test,
        })
    }
}

/// Adds the columns of `DIR/participants.tsv` (or `.csv`), BIDS-style, to the cases whose id
/// is in its `participant_id` (or `id`) column. Without the file, nothing changes.
pub(crate) fn join_participants<'a>(
    dir: &Path,
    cases: impl Iterator<Item = &'a mut CaseFiles>,
) -> Result<()> {
    join_participants_by(dir, cases, |c| vec![c.id.clone()]).map(|_| ())
}

/// [`join_participants`] with the keys under which each case may appear in the table (the
/// first found is used); returns the table's path when there is one.
pub(crate) fn join_participants_by<'a>(
    dir: &Path,
    cases: impl Iterator<Item = &'a mut CaseFiles>,
    keys: impl Fn(&CaseFiles) -> Vec<String>,
) -> Result<Option<std::path::PathBuf>> {
    let Some(path) = ["participants.tsv", "participants.csv"]
        .iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
    else {
        return Ok(None);
    };
    let (header, rows) = read_rows(&path)?;
    let id = header
        .iter()
        .position(|h| h.eq_ignore_ascii_case("participant_id") || h.eq_ignore_ascii_case("id"))
        .ok_or_else(|| DatasetError::Manifest {
            path: path.clone(),
            message: "no participant_id column".into(),
        })?;
    let mut by_id: BTreeMap<&str, &Vec<String>> = BTreeMap::new();
    for row in &rows {
        if let Some(key) = row.get(id) {
            by_id.insert(key.as_str(), row);
        }
    }
    for case in cases {
        let row = keys(case)
            .iter()
            .find_map(|k| by_id.get(k.as_str()).copied());
        if let Some(row) = row {
            for (i, name) in header.iter().enumerate().filter(|(i, _)| *i != id) {
                if let Some(v) = row.get(i).filter(|v| !v.is_empty() && *v != "n/a") {
                    case.targets.insert(name.clone(), v.clone());
                }
            }
        }
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::touch;

    #[test]
    fn numbered_channels_splits_and_targets() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "a_0001.nii",
            "a_0000.nii",
            "b_0000.nii",
            "b_0001.nii",
            "b_seg.nii",
        ] {
            touch(&dir.path().join("img").join(f));
        }
        std::fs::write(
            dir.path().join("list.csv"),
            "image_0001,image_0000,label,split,Age\n\
             img/a_0001.nii,img/a_0000.nii,,val,12\n\
             ./img/b_0001.nii,img/b_0000.nii,img/b_seg.nii,test,\n",
        )
        .unwrap();
        let m = Manifest::open(&dir.path().join("list.csv")).unwrap();
        assert!(m.channel_names.is_empty());
        let a = &m.training[0];
        // Channels in number order, whatever the column order.
        assert!(a.images[0].ends_with("img/a_0000.nii"), "{:?}", a.images);
        assert_eq!(a.id, "a_0000");
        assert_eq!(a.split, Some(Split::Validation));
        assert!(a.label.is_none());
        assert_eq!(a.number("Age").unwrap(), 12.0);
        let b = &m.test[0];
        assert!(b.label.is_some() && b.targets.is_empty());
    }

    #[test]
    fn bad_tables_name_their_problem() {
        let dir = tempfile::tempdir().unwrap();
        touch(&dir.path().join("a.nii"));
        let write = |text: &str| {
            let p = dir.path().join("m.csv");
            std::fs::write(&p, text).unwrap();
            Manifest::open(&p).unwrap_err().to_string()
        };
        let e = write("file,age\na.nii,3\n");
        assert!(e.contains("no image column"), "{e}");
        let e = write("image,age\nmissing.nii,3\n");
        assert!(e.contains("missing.nii") && e.contains("missing"), "{e}");
        let e = write("image,split\na.nii,later\n");
        assert!(e.contains("row 2") && e.contains("later"), "{e}");
        let e = write("image,age\n");
        assert!(e.contains("no cases"), "{e}");
        let e = write("image,age\na.nii,3,4\n");
        assert!(e.contains("row 2"), "{e}");
    }
}
