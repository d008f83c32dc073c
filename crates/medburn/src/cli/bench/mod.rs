use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use serde_json::json;

use super::CliResult;

mod augment;
mod case;
mod conv;
mod io;
mod models;
mod ops;
mod reconstruction;
mod rss;
mod spatial;
mod voxelmorph;
mod whole_volume;

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Run only the benchmarks whose name contains this, or one of these (comma-separated;
    /// `resnet`: ResNet18's and the Regressor's).
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

pub fn run(a: BenchArgs) -> CliResult {
    super::alloc::start_counting();
    let dev = super::parse_device(&a.device)?;
    let wanted = |name: &str| whole_volume::wanted_by(a.only.as_deref(), name);
    let mut cases = Vec::new();
    let mut input_info = None;
    let io_names = ["nifti_read_gz", "nifti_write_gz", "dicom_read_series"];
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("bench_out.nii.gz");
    if a.device == "cpu" && io_names.iter().any(|n| wanted(n)) {
        let (io, input) = io::cases(&a, tmp.path(), &out)?;
        cases.extend(io);
        input_info = Some(input);
    }
    cases.extend(ops::cases(&dev, &wanted));
    cases.extend(spatial::cases(&dev, &wanted)?);
    cases.extend(models::cases(&dev, &wanted)?);
    cases.extend(whole_volume::cases(&dev, &wanted)?);
    cases.extend(voxelmorph::cases(&dev, &wanted)?);
    cases.extend(reconstruction::cases(&dev, &wanted)?);
    cases.extend(conv::cases(&dev, &wanted));
    cases.extend(augment::cases(&dev, &wanted)?);
    let mut results = Vec::new();
    for case in cases.iter().filter(|c| wanted(c.name)) {
        (case.run)()?; // warm-up
        let base = super::alloc::reset_peak();
        let resident = rss::reset_peak();
        let mut times = Vec::with_capacity(a.runs);
        for _ in 0..a.runs.max(1) {
            let t = Instant::now();
            (case.run)()?;
            times.push(t.elapsed().as_secs_f64());
        }
        let peak = super::alloc::peak_since(base);
        let peak_rss = resident.zip(rss::peak()).map(|(r, p)| p.saturating_sub(r));
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
        let mut r = json!({
            "name": case.name,
            "median_s": median,
            "times_s": times,
            "peak_host_bytes": peak,
            "peak_rss_bytes": peak_rss,
        });
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
