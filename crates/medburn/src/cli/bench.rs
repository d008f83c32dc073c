use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use medburn_core::Device;
use medburn_io::{Volume, VoxelArray, WriteOptions};
use serde_json::json;

use super::CliResult;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Run only the benchmarks whose name contains this.
    #[arg(long)]
    only: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Timed runs per benchmark (the median is reported).
    #[arg(long, default_value_t = 7)]
    runs: usize,
    /// A .nii.gz to read and write (default: a 256^3 int16 phantom made here).
    #[arg(long)]
    input: Option<PathBuf>,
    /// A DICOM series folder: adds `dicom_read_series` (read into a volume, as SimpleITK's
    /// ImageSeriesReader does).
    #[arg(long)]
    dicom: Option<PathBuf>,
    /// Device of the op benchmarks: cpu (Flex), wgpu, or cuda (with the `cuda` feature). The
    /// I/O benchmarks run on the CPU only.
    #[arg(long, default_value = "cpu")]
    device: String,
}

/// One benchmark: a name and a closure that runs it once.
pub(super) struct Case {
    pub name: &'static str,
    pub run: Box<dyn Fn() -> Result<(), Box<dyn std::error::Error>>>,
}

pub fn run(a: BenchArgs) -> CliResult {
    super::alloc::start_counting();
    let dev = super::parse_device(&a.device)?;
    let wanted = |name: &str| a.only.as_deref().is_none_or(|o| name.contains(o));
    let mut cases = Vec::new();
    let mut input_info = None;
    let io_names = ["nifti_read_gz", "nifti_write_gz", "dicom_read_series"];
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("bench_out.nii.gz");
    if a.device == "cpu" && io_names.iter().any(|n| wanted(n)) {
        let (io, input) = io_cases(&a, tmp.path(), &out)?;
        cases.extend(io);
        input_info = Some(input);
    }
    cases.extend(super::bench_ops::cases(&dev, &wanted));
    cases.extend(super::bench_spatial::cases(&dev, &wanted)?);
    cases.extend(super::bench_models::cases(&dev, &wanted)?);
    let mut results = Vec::new();
    for case in cases.iter().filter(|c| wanted(c.name)) {
        (case.run)()?; // warm-up
        let base = super::alloc::reset_peak();
        let mut times = Vec::with_capacity(a.runs);
        for _ in 0..a.runs.max(1) {
            let t = Instant::now();
            (case.run)()?;
            times.push(t.elapsed().as_secs_f64());
        }
        let peak = super::alloc::peak_since(base);
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        if !a.json {
            println!(
                "{:<36} median {:>8.4} s over {} runs, peak host allocation {:.1} MiB",
                case.name,
                median,
                times.len(),
                peak as f64 / (1 << 20) as f64
            );
        }
        let mut r = json!({"name": case.name, "median_s": median, "times_s": times, "peak_host_bytes": peak});
        if case.name.starts_with("nifti_write") {
            r["output_bytes"] = json!(std::fs::metadata(&out)?.len());
        }
        results.push(r);
    }
    if a.json {
        let mut j = json!({
            "device": a.device,
            "threads": rayon::current_num_threads(),
            "results": results,
        });
        if let Some(input) = input_info {
            j["input"] = json!(input.display().to_string());
            j["input_bytes"] = json!(std::fs::metadata(&input)?.len());
        }
        println!("{}", serde_json::to_string_pretty(&j)?);
    }
    Ok(())
}

type IoCases = (Vec<Case>, PathBuf);

/// The NIfTI (and, with `--dicom`, DICOM) benchmarks and the NIfTI file they read.
fn io_cases(
    a: &BenchArgs,
    tmp: &std::path::Path,
    out: &std::path::Path,
) -> Result<IoCases, Box<dyn std::error::Error>> {
    let input = match &a.input {
        Some(p) => p.clone(),
        None => {
            let p = tmp.join("bench_input.nii.gz");
            medburn_io::write(&noisy_phantom(256)?, &p, &WriteOptions::default())?;
            p
        }
    };
    let volume = medburn_io::read(&input)?;
    let out = out.to_path_buf();
    let one_thread = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let one_thread = std::sync::Arc::new(one_thread);
    let mut cases: Vec<Case> = vec![
        Case {
            name: "nifti_read_gz",
            run: {
                let p = input.clone();
                Box::new(move || {
                    medburn_io::read(&p)?;
                    Ok(())
                })
            },
        },
        Case {
            name: "nifti_read_gz_to_flex_image",
            run: {
                let p = input.clone();
                Box::new(move || {
                    medburn_io::read_image(&p, &Device::flex())?;
                    Ok(())
                })
            },
        },
        Case {
            name: "nifti_write_gz",
            run: {
                let (v, o) = (volume.clone(), out.clone());
                Box::new(move || {
                    medburn_io::write(&v, &o, &WriteOptions::default())?;
                    Ok(())
                })
            },
        },
        Case {
            name: "nifti_write_gz_1thread",
            run: {
                let (v, o, pool) = (volume.clone(), out.clone(), one_thread.clone());
                Box::new(move || {
                    pool.install(|| medburn_io::write(&v, &o, &WriteOptions::default()))?;
                    Ok(())
                })
            },
        },
    ];
    if let Some(dir) = a.dicom.clone() {
        cases.push(Case {
            name: "dicom_read_series",
            run: Box::new(move || {
                medburn_io::read(&dir)?;
                Ok(())
            }),
        });
    }
    Ok((cases, input))
}

/// A 256^3 int16 CT-like phantom with deterministic noise, for when no input is given.
fn noisy_phantom(n: usize) -> Result<Volume, Box<dyn std::error::Error>> {
    let spec = medburn_datasets::phantom::PhantomSpec::cube(n);
    let g = spec.geometry()?;
    let mut state = 0x9E3779B97F4A7C15u64;
    let values: Vec<i16> = g
        .physical_points()
        .into_iter()
        .map(|p| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = ((state >> 40) as f64 / (1u64 << 24) as f64 - 0.5) * 40.0;
            (-1000.0
                + 2000.0 * medburn_datasets::phantom::shepp_logan_at(p, spec.field_of_view_mm)
                + noise) as i16
        })
        .collect();
    let a = ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[1, n, n, n]), values)?;
    Ok(Volume::new(VoxelArray::I16(a), g)?)
}
