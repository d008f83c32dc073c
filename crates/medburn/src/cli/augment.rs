//! `medburn augment`: a pipeline of random transforms applied to one image (and its label map),
//! K times, written as NIfTI on the input's grid, with a PNG montage to look at.

use std::path::{Path, PathBuf};

use clap::Args;
use medburn_augment::{Drawn, Pipeline, PipelineParams};
use medburn_core::{Geometry, MedImage};
use medburn_io::preview::Canvas;
use medburn_io::{Volume, VoxelType, WriteOptions};
use rand::SeedableRng;

use super::CliResult;

#[derive(Debug, Args)]
pub struct AugmentArgs {
    /// Input image: NIfTI, DICOM file or folder, HDF5.
    input: PathBuf,
    /// Output (.nii, .nii.gz, .h5); with --count K above 1, `NAME_0.nii.gz` to `NAME_{K-1}.nii.gz`.
    output: PathBuf,
    /// The pipeline, TOML or JSON (`[[transforms]]` steps); default: the main job's
    /// (configs/brain_mr.toml of medburn-augment).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seed of every random draw: the same seed gives the same volumes again.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// A label map on the input's grid: moved with the image, never changed in value.
    #[arg(long, requires = "label_out")]
    label: Option<PathBuf>,
    /// Where the augmented label maps go (named like the output), in the label's integer type.
    #[arg(long, requires = "label")]
    label_out: Option<PathBuf>,
    /// How many augmented versions (drawn as one batch).
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Device: cpu, wgpu or cuda.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// The montage PNG (input and every output, three mid-slices each); default: beside the
    /// output, `NAME_montage.png`.
    #[arg(long)]
    montage: Option<PathBuf>,
    /// Also write the drawn parameters as JSON (to replay or log them).
    #[arg(long)]
    params_out: Option<PathBuf>,
}

/// Reads a pipeline from TOML or JSON (by extension).
pub(crate) fn read_pipeline(path: &Path) -> Result<Pipeline, Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let pipeline: Pipeline = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    } else {
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
    };
    pipeline
        .validate()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(pipeline)
}

/// `dir/name.nii.gz` -> `dir/name_{i}.nii.gz` (the first dot of the file name), or `path`
/// itself for a single output.
fn numbered(path: &Path, i: usize, count: usize) -> PathBuf {
    if count == 1 {
        return path.to_path_buf();
    }
    with_suffix(path, &format!("_{i}"), None)
}

/// Inserts `suffix` before the first dot of the file name, replacing the extension with `ext`
/// when given.
fn with_suffix(path: &Path, suffix: &str, ext: Option<&str>) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let (stem, rest) = match name.find('.') {
        Some(d) => (&name[..d], &name[d..]),
        None => (name.as_str(), ""),
    };
    let rest = ext.map_or(rest.to_string(), |e| format!(".{e}"));
    path.with_file_name(format!("{stem}{suffix}{rest}"))
}

/// Per sample, the grid the chain wrote: the patch's, or a crop of it (its first voxel moved).
fn output_geometries(
    params: &PipelineParams,
    g: &Geometry,
) -> Result<Vec<Geometry>, Box<dyn std::error::Error>> {
    let mut out = vec![*g; params.batch];
    for d in &params.drawn {
        if let Drawn::Crop(crops) = d {
            for (geometry, c) in out.iter_mut().zip(crops) {
                let origin = geometry.index_to_physical(c.offset.map(|v| v as f64));
                *geometry = geometry.with_size(c.size)?.with_origin(origin)?;
            }
        }
    }
    Ok(out)
}

pub fn run(a: AugmentArgs) -> CliResult {
    if a.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let pipeline = match &a.config {
        Some(p) => read_pipeline(p)?,
        None => Pipeline::default(),
    };
    super::transform::check_output(&a.output)?;
    if let Some(l) = &a.label_out {
        super::transform::check_output(l)?;
    }
    let device = super::parse_device(&a.device)?;
    let volume = super::read_input(&a.input, &None)?;
    let image = volume
        .to_image(&device)
        .map_err(|e| format!("{}: {e}", a.input.display()))?;
    let g = *image.geometry();
    let label_volume = match &a.label {
        Some(p) => {
            let v = super::read_input(p, &None)?;
            if v.geometry.size() != g.size() {
                return Err(format!(
                    "{}: label grid {:?} is not the image's {:?} (i, j, k)",
                    p.display(),
                    v.geometry.size(),
                    g.size()
                )
                .into());
            }
            Some(v)
        }
        None => None,
    };
    let k = a.count;
    let x = image.voxels().clone().repeat_dim(0, k);
    let label_image = label_volume
        .as_ref()
        .map(|v| v.to_image(&device))
        .transpose()?;
    if let (Some(path), Some(l)) = (&a.label, &label_image) {
        super::check_label_map(path, l)?;
    }
    let label = label_image
        .as_ref()
        .map(|l| l.voxels().clone().repeat_dim(0, k));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(a.seed);
    let params = pipeline.sample(&mut rng, &g, k)?;
    let (y, l) = pipeline.apply(&params, &g, x, label)?;
    let geometries = output_geometries(&params, &g)?;

    // Everything is computed before the first file is written: a refused input leaves nothing.
    for p in [
        Some(&a.output),
        a.label_out.as_ref(),
        a.montage.as_ref(),
        a.params_out.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if let Some(dir) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
    }
    let mut rows = vec![row(&image, None, label_image.as_ref())?];
    for (s, geometry) in geometries.iter().enumerate() {
        let [_, c, d, h, w] = y.dims();
        let ys = y.clone().slice([s..s + 1, 0..c, 0..d, 0..h, 0..w]);
        let out = MedImage::new(ys, *geometry)?.with_modality(image.modality.clone());
        let out_volume = Volume::from_image(&out)?;
        let path = numbered(&a.output, s, k);
        let options = WriteOptions {
            dtype: Some(VoxelType::F32),
            ..WriteOptions::default()
        };
        medburn_io::write(&out_volume, &path, &options)?;
        let mut out_label = None;
        if let (Some(l), Some(lv), Some(lo)) = (&l, &label_volume, &a.label_out) {
            let ls = l.clone().slice([s..s + 1, 0..1, 0..d, 0..h, 0..w]);
            let li = MedImage::new(ls, *geometry)?;
            let options = WriteOptions {
                dtype: Some(lv.natural_type()),
                lossy: true,
                ..WriteOptions::default()
            };
            medburn_io::write(&Volume::from_image(&li)?, &numbered(lo, s, k), &options)?;
            out_label = Some(li);
        }
        rows.push(row(&out, Some(s), out_label.as_ref())?);
        println!("{}", path.display());
    }
    let montage = a
        .montage
        .clone()
        .unwrap_or_else(|| with_suffix(&a.output, "_montage", Some("png")));
    write_montage(&rows, &montage)?;
    println!("{}", montage.display());
    if let Some(p) = &a.params_out {
        medburn_io::atomic::write_atomic(p, serde_json::to_string(&params)?.as_bytes())?;
    }
    Ok(())
}

/// One montage row: a title, the first channel's values `[k][j][i]` and optional labels.
struct Row {
    title: String,
    size: [usize; 3],
    values: Vec<f32>,
    labels: Option<Vec<f32>>,
}

fn row(
    image: &MedImage,
    sample: Option<usize>,
    label: Option<&MedImage>,
) -> Result<Row, Box<dyn std::error::Error>> {
    let size = image.geometry().size();
    let n = size.iter().product::<usize>();
    let mut values = image.to_vec()?;
    values.truncate(n);
    let labels = match label {
        Some(l) => {
            let mut v = l.to_vec()?;
            v.truncate(n);
            Some(v)
        }
        None => None,
    };
    let title = match sample {
        None => "input".to_string(),
        Some(s) => format!("augmented #{s}"),
    };
    Ok(Row {
        title,
        size,
        values,
        labels,
    })
}

/// Rows of three mid-slices (axial k, coronal j, sagittal i; k drawn upwards), intensities
/// windowed on the input's 1st to 99th percentile, labels tinted by value.
fn write_montage(rows: &[Row], path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut sorted: Vec<f32> = rows[0]
        .values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .collect();
    sorted.sort_by(f32::total_cmp);
    let pct = |q: f64| {
        sorted
            .get(((sorted.len().max(1) - 1) as f64 * q) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let (lo, hi) = (pct(0.01), pct(0.99).max(pct(0.01) + 1e-6));
    let largest = rows.iter().flat_map(|r| r.size).max().unwrap_or(1);
    let scale = (160 / largest).clamp(1, 8);
    let (gap, title_h) = (6, 12);
    let row_w = |r: &Row| (r.size[0] + r.size[0] + r.size[1]) * scale + 4 * gap;
    let row_h = |r: &Row| r.size[1].max(r.size[2]) * scale + title_h + gap;
    let width = rows.iter().map(row_w).max().unwrap_or(1);
    let height: usize = rows.iter().map(row_h).sum::<usize>() + gap;
    let mut canvas = Canvas::new(width, height, [0, 0, 0]);
    const PALETTE: [[u8; 3]; 6] = [
        [230, 60, 60],
        [60, 200, 60],
        [70, 110, 240],
        [240, 200, 40],
        [200, 70, 220],
        [40, 210, 210],
    ];
    let mut y0 = gap;
    for r in rows {
        canvas.text(gap as i64, y0 as i64, &r.title, [255, 255, 255]);
        let top = y0 + title_h;
        let [ni, nj, nk] = r.size;
        let at = |i: usize, j: usize, k: usize| i + ni * (j + nj * k);
        // (panel width, height, voxel of panel pixel (x, y)).
        type Sampler<'a> = Box<dyn Fn(usize, usize) -> usize + 'a>;
        let panels: [(usize, usize, Sampler); 3] = [
            (ni, nj, Box::new(|x, y| at(x, y, nk / 2))),
            (ni, nk, Box::new(|x, y| at(x, nj / 2, nk - 1 - y))),
            (nj, nk, Box::new(|x, y| at(ni / 2, x, nk - 1 - y))),
        ];
        let mut x0 = gap;
        for (pw, ph, voxel) in panels.iter() {
            for py in 0..ph * scale {
                for px in 0..pw * scale {
                    let v = voxel(px / scale, py / scale);
                    let grey =
                        (((r.values[v] - lo) / (hi - lo)).clamp(0.0, 1.0) * 255.0).round() as u8;
                    let (cx, cy) = (x0 + px, top + py);
                    canvas.set(cx as i64, cy as i64, [grey; 3]);
                    if let Some(l) = &r.labels {
                        if l[v] > 0.0 {
                            canvas.blend(cx, cy, PALETTE[(l[v] as usize - 1) % PALETTE.len()], 0.4);
                        }
                    }
                }
            }
            x0 += pw * scale + gap;
        }
        y0 += row_h(r);
    }
    canvas.save_png(path)?;
    Ok(())
}
