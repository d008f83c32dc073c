use std::path::PathBuf;

use clap::Args;
use medburn_io::{Format, Volume};
use serde_json::{json, Value};

use super::CliResult;

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A NIfTI file, a DICOM file or folder, or an HDF5 file.
    path: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
    /// For a DICOM folder with several series: the series to describe (UID or index).
    #[arg(long)]
    series: Option<String>,
}

pub fn run(a: InfoArgs) -> CliResult {
    let format = Format::from_path(&a.path)?;
    let mut j = if format == Format::Nifti {
        // The header says it all: no need to decompress the voxels.
        describe_nifti_header(&a.path)?
    } else {
        describe(&super::read_input(&a.path, &a.series)?)
    };
    j["path"] = json!(a.path.display().to_string());
    j["format"] = json!(format!("{format:?}").to_lowercase());
    if format == Format::Dicom {
        let series = medburn_io::dicom::list_series(&a.path)?;
        j["series"] = Value::Array(
            series
                .iter()
                .enumerate()
                .map(|(n, s)| {
                    json!({
                        "index": n,
                        "uid": s.uid,
                        "number": s.number,
                        "description": s.description,
                        "modality": s.modality.to_string(),
                        "files": s.files.len(),
                        "slices": s.slices,
                        "rows": s.rows,
                        "columns": s.columns,
                    })
                })
                .collect(),
        );
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&j)?);
    } else {
        print_text(&j);
    }
    Ok(())
}

/// The JSON description of a volume (shared with `demo`).
pub fn describe(v: &Volume) -> Value {
    describe_parts(
        &v.size(),
        &v.geometry,
        v.data.voxel_type(),
        v.rescale,
        &v.modality,
        v.subtype.as_deref(),
    )
}

/// The description of a NIfTI file from its header alone: no voxels decompressed.
fn describe_nifti_header(path: &std::path::Path) -> Result<Value, medburn_io::IoError> {
    let (h, _) = medburn_io::nifti::read_nifti_header(path)?;
    let at = |k| medburn_io::IoError::new(path, k);
    let size = h.dims().map_err(at)?;
    let g = h.geometry().map_err(at)?;
    let dtype = h.voxel_type().map_err(at)?;
    Ok(describe_parts(
        &size,
        &g,
        dtype,
        h.rescale(),
        &medburn_core::Modality::Unknown,
        None,
    ))
}

fn describe_parts(
    size: &[usize],
    g: &medburn_core::Geometry,
    dtype: medburn_io::VoxelType,
    rescale: medburn_io::Rescale,
    modality: &medburn_core::Modality,
    subtype: Option<&str>,
) -> Value {
    json!({
        "size": size,
        "spacing": g.spacing(),
        "origin": g.origin(),
        "direction": g.direction().row_major(),
        "orientation": g.orientation().to_string(),
        "dtype": dtype.to_string(),
        "rescale": {"slope": rescale.slope, "intercept": rescale.inter},
        "modality": modality.to_string(),
        "subtype": subtype,
    })
}

fn print_text(j: &Value) {
    let fmt = |v: &Value| -> String {
        match v {
            Value::Array(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|x| match x.as_f64() {
                        // `+ 0.0` prints -0 as 0.
                        Some(f) if x.is_f64() => format!("{}", (f * 1e6).round() / 1e6 + 0.0),
                        _ => x.to_string(),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            }
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    };
    for key in [
        "path",
        "format",
        "size",
        "spacing",
        "origin",
        "direction",
        "orientation",
        "dtype",
        "modality",
        "subtype",
    ] {
        if let Some(v) = j.get(key).filter(|v| !v.is_null()) {
            println!("{key:<12} {}", fmt(v));
        }
    }
    if let Some(r) = j.get("rescale") {
        if r["slope"] != json!(1.0) || r["intercept"] != json!(0.0) {
            println!(
                "{:<12} value * {} + {}",
                "rescale", r["slope"], r["intercept"]
            );
        }
    }
    if let Some(Value::Array(series)) = j.get("series") {
        println!("series       {} found", series.len());
        for s in series {
            println!(
                "  [{}] {} {} {} slices {}x{} {}",
                s["index"],
                s["uid"].as_str().unwrap_or(""),
                s["modality"].as_str().unwrap_or(""),
                s["slices"],
                s["columns"],
                s["rows"],
                s["description"].as_str().unwrap_or("")
            );
        }
    }
}
