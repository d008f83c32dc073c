//! The spatial-transform benchmarks of `medburn bench` (issue 4's list) on a 256 x 256 x 128
//! float32 volume; tests/scripts/bench_spatial.py times SimpleITK on the same jobs.

use burn::tensor::{Device, Distribution, Tensor};
use medburn_core::{Direction, Geometry, MedImage};
use medburn_spatial::{resample_to_spacing, rotate, Axis, Interpolation};

use super::case::Case;

/// A 256 x 256 x 128 volume of 0.9 x 0.9 x 2 mm voxels (values do not change the timing).
fn volume(device: &Device) -> Result<MedImage, Box<dyn std::error::Error>> {
    let g = Geometry::new(
        [256, 256, 128],
        [-115.0, -115.0, -128.0],
        [0.9, 0.9, 2.0],
        Direction::identity(),
    )?;
    let voxels = Tensor::<5>::random([1, 1, 128, 256, 256], Distribution::Default, device);
    Ok(MedImage::new(voxels, g)?)
}

/// Ends a case on the device: its first voxel read back, which waits for the queued work on a
/// GPU. SimpleITK's `Resample` returns the image and reads nothing more, so neither does this
/// (a sum would add a pass over the output that SimpleITK's timing does not have).
fn sync(img: MedImage) -> f32 {
    img.into_voxels()
        .slice([0..1, 0..1, 0..1, 0..1, 0..1])
        .into_scalar::<f32>()
}

/// The cases whose names `wanted` accepts; the input is made once, outside the timing.
pub fn cases(
    device: &Device,
    wanted: &dyn Fn(&str) -> bool,
) -> Result<Vec<Case>, Box<dyn std::error::Error>> {
    let spacing = [
        (
            "resample_half_spacing_linear_256x256x128",
            Interpolation::Linear,
        ),
        (
            "resample_half_spacing_bspline_256x256x128",
            Interpolation::BSpline,
        ),
    ];
    let rotation = [
        ("rotate15_nearest_256x256x128", Interpolation::Nearest),
        ("rotate15_linear_256x256x128", Interpolation::Linear),
        ("rotate15_bspline_256x256x128", Interpolation::BSpline),
    ];
    let any = spacing.iter().chain(&rotation).any(|(n, _)| wanted(n));
    if !any {
        return Ok(vec![]);
    }
    let img = volume(device)?;
    let mut cases = Vec::new();
    for (name, interp) in spacing.into_iter().filter(|(n, _)| wanted(n)) {
        let img = img.clone();
        cases.push(Case {
            name,
            run: Box::new(move || {
                let half = img.geometry().spacing().map(|s| s / 2.0);
                std::hint::black_box(sync(resample_to_spacing(&img, half, interp)?));
                Ok(())
            }),
        });
    }
    for (name, interp) in rotation.into_iter().filter(|(n, _)| wanted(n)) {
        let img = img.clone();
        cases.push(Case {
            name,
            run: Box::new(move || {
                std::hint::black_box(sync(rotate(&img, Axis::Z, 15.0, None, interp)?));
                Ok(())
            }),
        });
    }
    Ok(cases)
}
