use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use medburn_core::{Device, Orientation, Tensor};
use medburn_datasets::phantom::{shepp_logan, PhantomSpec};
use medburn_io::{Volume, VoxelType, WriteOptions};

use super::CliResult;

#[derive(Debug, Args)]
pub struct IoDemoArgs {
    /// Folder for the files the demo writes (created if missing).
    #[arg(long, default_value = "medburn-io-demo")]
    out: PathBuf,
    /// Voxels per side of the phantom.
    #[arg(long, default_value_t = 128)]
    size: usize,
}

pub fn run(a: IoDemoArgs) -> CliResult {
    if a.size < 4 || a.size > 1024 {
        return Err(format!("--size {} is out of range (4 to 1024)", a.size).into());
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    let device = Device::flex();
    let t = Instant::now();
    let step =
        |what: &str, t: &Instant| println!("  {:<52} {:>8.3} s", what, t.elapsed().as_secs_f64());

    println!(
        "medburn io-demo: a {0}^3 Shepp-Logan head phantom in LAS orientation, round-tripped through NIfTI and HDF5",
        a.size
    );
    let spec = PhantomSpec::cube(a.size).oriented(Orientation::LAS);
    let image = shepp_logan(&spec, &device)?;
    step("made the phantom on the Flex (CPU) device", &t);

    // CT values are integers: store them as int16, exactly.
    let volume = Volume::from_image(&image)?;
    let opts = WriteOptions {
        dtype: Some(VoxelType::I16),
        ..Default::default()
    };
    let nii = a.out.join("phantom.nii.gz");
    let written = vec![nii.clone(), a.out.join("phantom.h5")];
    for path in &written {
        let t = Instant::now();
        medburn_io::write(&volume, path, &opts)?;
        step(&format!("wrote {}", path.display()), &t);
    }

    let expect = volume.real_values(VoxelType::I16, false)?;
    for path in &written {
        let t = Instant::now();
        let back = medburn_io::read(path)?;
        step(&format!("read {}", path.display()), &t);
        if back.data != expect {
            return Err(format!("{}: voxels differ after the round trip", path.display()).into());
        }
        let (g, h) = (&back.geometry, &volume.geometry);
        let close = |x: &[f64], y: &[f64]| x.iter().zip(y).all(|(p, q)| (p - q).abs() < 1e-5);
        if !(close(&g.origin(), &h.origin())
            && close(&g.spacing(), &h.spacing())
            && close(&g.direction().row_major(), &h.direction().row_major()))
        {
            return Err(
                format!("{}: geometry differs after the round trip", path.display()).into(),
            );
        }
    }
    println!("  voxels and geometry identical after the round trips");

    // Some tensor work on the device: the brain's volume and centre of mass in physical space.
    let back = medburn_io::read_image(&nii, &device)?;
    let g = *back.geometry();
    let brain = back
        .voxels()
        .clone()
        .greater_elem(-700.0)
        .bool_and(back.voxels().clone().lower_elem(-500.0))
        .float();
    let voxels = brain.clone().sum().into_scalar::<f32>() as f64;
    let grid: Tensor<4> = g.physical_grid(&device);
    let [d, h, w] = g.dhw();
    let mask = brain.reshape([d, h, w, 1]);
    let com: Vec<f32> = (grid * mask)
        .sum_dim(0)
        .sum_dim(1)
        .sum_dim(2)
        .reshape([3])
        .into_data()
        .try_to_vec::<f32>()?;
    let ml = voxels * g.spacing().iter().product::<f64>() / 1000.0;
    let com: Vec<f64> = com.iter().map(|&c| c as f64 / voxels.max(1.0)).collect();

    let png = a.out.join("phantom_mid_slices.png");
    medburn_io::preview::write_mid_slices_png(&volume, &png, Some((-1000.0, 1000.0)))?;
    println!("  wrote {} (axial, coronal, sagittal)", png.display());

    let info = super::info::describe(&medburn_io::read(&nii)?);
    println!("\n{}", serde_json::to_string_pretty(&info)?);
    println!(
        "\nbrain (-700 < HU < -500): {ml:.1} ml, centre of mass (LPS mm) [{:.2}, {:.2}, {:.2}]",
        com[0], com[1], com[2]
    );
    println!("medburn io-demo: OK");
    Ok(())
}
