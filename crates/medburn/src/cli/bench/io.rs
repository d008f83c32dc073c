//! The I/O benchmarks: NIfTI read and write (tests/scripts/bench_io.py times nibabel and
//! SimpleITK), and with `--dicom` a DICOM series read.

use std::path::PathBuf;

use medburn_core::Device;
use medburn_io::{Volume, VoxelArray, WriteOptions};

use super::case::Case;
use super::BenchArgs;

type IoCases = (Vec<Case>, PathBuf);

/// The NIfTI (and, with `--dicom`, DICOM) benchmarks and the NIfTI file they read.
pub(super) fn cases(
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
