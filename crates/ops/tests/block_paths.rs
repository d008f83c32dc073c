//! The CPU's block loops (eight points at a time, compiled for the CPU's vector width) give the
//! same values, to the bit, as the per-point path they stand in for. A block takes the fast loop
//! only when all its points lie strictly inside the volume; moving one point of every block
//! outside sends the other seven through the per-point path, so both can be compared.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::seeded_uniform;
use medburn_ops::{grid_sample_3d, Padding, SampleOptions};

/// A grid `[1, 2, 3, 37, 3]` of points inside a `[4, 6, 9]` volume (rows of 37: four blocks and
/// a tail), and the same grid with the last point of every block moved outside.
fn grids() -> (Vec<f32>, Vec<f32>) {
    let inside: Vec<f32> = seeded_uniform([1, 2, 3, 37, 3], -0.6, 0.6)
        .try_to_vec::<f32>()
        .unwrap();
    let mut split = inside.clone();
    for row in 0..6 {
        for block in 0..4 {
            let point = row * 37 + block * 8 + 7;
            split[point * 3] = 1.5;
        }
    }
    (inside, split)
}

fn sample(input: &Tensor<5>, grid: Vec<f32>, o: SampleOptions, device: &Device) -> Vec<f32> {
    let g = Tensor::<5>::from_data(TensorData::new(grid, [1, 2, 3, 37, 3]), device);
    grid_sample_3d(input.clone(), g, o)
        .unwrap()
        .into_data()
        .try_to_vec::<f32>()
        .unwrap()
}

#[test]
fn grid_blocks_equal_the_per_point_path_to_the_bit() {
    let device = Device::flex();
    let input = Tensor::<5>::from_data(seeded_uniform([1, 2, 4, 6, 9], -1.0, 1.0), &device);
    let (inside, split) = grids();
    for padding in [
        Padding::Zeros,
        Padding::Border,
        Padding::Reflection,
        Padding::Itk,
    ] {
        for align_corners in [false, true] {
            let o = SampleOptions::default()
                .with_padding(padding)
                .with_align_corners(align_corners);
            let blocks = sample(&input, inside.clone(), o, &device);
            let points = sample(&input, split.clone(), o, &device);
            let mut compared = 0;
            for (i, (a, b)) in blocks.iter().zip(&points).enumerate() {
                let x = i % 37;
                if x % 8 == 7 && x < 32 {
                    continue; // moved outside in `split`
                }
                assert_eq!(a.to_bits(), b.to_bits(), "point {i}, {o:?}: {a} vs {b}");
                compared += 1;
            }
            assert_eq!(compared, 2 * 6 * (37 - 4));
        }
    }
}

#[test]
fn grid_nearest_rounds_as_the_per_point_path() {
    // Positions on voxel centres and exactly halfway between them, inside and outside, with
    // `align_corners = true` (exact in f32): the row loop must round as `Rounding` says and
    // leave the outside points to the padding rule.
    use medburn_ops::{Interpolation, Rounding};
    let device = Device::flex();
    let input = Tensor::<5>::from_data(seeded_uniform([1, 1, 3, 3, 9], -1.0, 1.0), &device);
    let voxels = input.clone().into_data().try_to_vec::<f32>().unwrap();
    // x from -1 to 9 in half voxels: 21 points; y = z = 1.
    let xs: Vec<f32> = (0..21).map(|s| s as f32 * 0.5 - 1.0).collect();
    let grid: Vec<f32> = xs.iter().flat_map(|&x| [x / 4.0 - 1.0, 0.0, 0.0]).collect();
    let g = Tensor::<5>::from_data(TensorData::new(grid, [1, 1, 1, 21, 3]), &device);
    for rounding in [Rounding::HalfToEven, Rounding::HalfUp] {
        for padding in [Padding::Zeros, Padding::Border, Padding::Itk] {
            let o = SampleOptions::new(Interpolation::Nearest)
                .with_padding(padding)
                .with_rounding(rounding)
                .with_align_corners(true);
            let out = grid_sample_3d(input.clone(), g.clone(), o)
                .unwrap()
                .into_data()
                .try_to_vec::<f32>()
                .unwrap();
            for (&x, got) in xs.iter().zip(&out) {
                let f = x.floor();
                let up = match rounding {
                    Rounding::HalfUp => x - f >= 0.5,
                    Rounding::HalfToEven => x - f > 0.5 || (x - f == 0.5 && f as i64 % 2 != 0),
                };
                let i = f as i64 + up as i64;
                let want = match padding {
                    // ITK: beyond the outer voxel faces reads 0, within them the clamped voxel.
                    Padding::Itk if !(-0.5..8.5).contains(&x) => 0.0,
                    Padding::Itk | Padding::Border => voxels[36 + i.clamp(0, 8) as usize],
                    _ if (0..9).contains(&i) => voxels[36 + i as usize],
                    _ => 0.0,
                };
                assert_eq!(
                    got.to_bits(),
                    want.to_bits(),
                    "x {x}, {rounding:?}, {padding:?}"
                );
            }
        }
    }
}
