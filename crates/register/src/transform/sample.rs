//! One sampling call for a registration's whole transform: the moving image read at
//! `y = A (x + u(x))` for every voxel centre `x` of the output grid, where `u` is a dense
//! displacement (LPS, mm) given on the output grid and `A` an affine. Both parts go into one
//! grid of positions, so the image is interpolated once, however many stages made the map.

use burn::tensor::{DType, Int, Tensor, TensorData};
use medburn_core::Geometry;
use medburn_ops::{grid_sample_3d, Interpolation, SampleOptions};

use crate::error::RegistrationError;

/// Host-side pieces of the map output index -> input index.
struct IndexMap {
    /// Input index of output index `(i, j, k)`: `m * (i, j, k, 1)`.
    m: [[f64; 4]; 3],
    /// Input-index change of one mm of displacement: `G_in^-1 A`.
    per_mm: [[f64; 3]; 3],
}

fn index_map(input: &Geometry, output: &Geometry, affine: &[[f64; 4]; 3]) -> IndexMap {
    let inv = input.physical_to_index_matrix();
    let to_phys = output.index_to_physical_matrix();
    let (o_out, o_in) = (output.origin(), input.origin());
    let lin = |r: usize, c: usize| affine[r][c];
    // per_mm = G_in^-1 A_lin.
    let per_mm: [[f64; 3]; 3] = std::array::from_fn(|r| {
        std::array::from_fn(|c| (0..3).map(|k| inv[r][k] * lin(k, c)).sum())
    });
    let mut m = [[0.0; 4]; 3];
    for r in 0..3 {
        for c in 0..3 {
            m[r][c] = (0..3).map(|k| per_mm[r][k] * to_phys[k][c]).sum();
        }
        // G_in^-1 (A o_out + a - o_in).
        let shifted: [f64; 3] = [0, 1, 2]
            .map(|k| (0..3).map(|q| lin(k, q) * o_out[q]).sum::<f64>() + affine[k][3] - o_in[k]);
        m[r][3] = (0..3).map(|k| inv[r][k] * shifted[k]).sum();
    }
    IndexMap { m, per_mm }
}

/// Samples `voxels` `[N, C, D, H, W]` (on the `input` grid) onto the `output` grid through
/// `y = A (x + u(x))`: `affine` is `A` as rows of `[A | t]` (LPS mm, output point -> input
/// point, ITK's convention) and `displacement` an optional `u` `[1 or N, 3, D', H', W']` on the
/// output grid, its channels the L, P, S components in mm (ITK's `DisplacementFieldTransform`
/// convention). Points beyond the input read 0 as SimpleITK's `Resample` does
/// ([`SampleOptions::itk`]). Differentiable with respect to the voxels and the displacement
/// (not through nearest or label-linear interpolation).
///
/// The positions are one `[N, D', H', W', 3]` tensor: 12 bytes a voxel in f32, 1.6 GB for a
/// 512^3 output.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_core::Geometry;
/// use medburn_register::resample_through;
/// use medburn_spatial::Interpolation;
///
/// let device = Device::flex();
/// let g = Geometry::unit([4, 4, 4])?;
/// let ramp = Tensor::<1, burn::tensor::Int>::arange(0..4, &device).float()
///     .reshape([1, 1, 1, 1, 4]).expand([1, 1, 4, 4, 4]);
/// let identity = [[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]];
/// // A displacement of +1 mm along x: each voxel reads its neighbour.
/// let u = Tensor::<5>::zeros([1, 3, 4, 4, 4], &device)
///     .slice_assign([0..1, 0..1, 0..4, 0..4, 0..4], Tensor::ones([1, 1, 4, 4, 4], &device));
/// let out = resample_through(ramp, &g, &g, &identity, Some(u), Interpolation::Linear)?;
/// let row: Vec<f32> = out.slice([0..1, 0..1, 0..1, 0..1, 0..3]).into_data().try_to_vec().unwrap();
/// assert_eq!(row, vec![1.0, 2.0, 3.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn resample_through(
    voxels: Tensor<5>,
    input: &Geometry,
    output: &Geometry,
    affine: &[[f64; 4]; 3],
    displacement: Option<Tensor<5>>,
    interpolation: Interpolation,
) -> crate::Result<Tensor<5>> {
    let [n, _, d, h, w] = voxels.dims();
    if [d, h, w] != input.dhw() {
        return Err(RegistrationError::Shape(format!(
            "voxels {:?} do not fit the input grid of size {:?}",
            voxels.dims(),
            input.size()
        )));
    }
    if affine.iter().flatten().any(|v| !v.is_finite()) {
        return Err(RegistrationError::Option(format!(
            "the affine has a non-finite entry: {affine:?}"
        )));
    }
    let [od, oh, ow] = output.dhw();
    if let Some(u) = &displacement {
        let dims = u.dims();
        if !(dims[0] == 1 || dims[0] == n) || dims[1] != 3 || dims[2..] != [od, oh, ow] {
            return Err(RegistrationError::Shape(format!(
                "the displacement must be [1 or {n}, 3, {od}, {oh}, {ow}] on the output grid, \
                 got {dims:?}"
            )));
        }
    }
    let device = voxels.device();
    let dtype = voxels.dtype();
    let map = index_map(input, output, affine);
    let [ni, nj, nk] = input.size();
    let in_sizes = [ni, nj, nk];
    // Output indices along W (i), H (j), D (k), as broadcastable [1, 1, D', H', W'] tensors.
    let ramp = |len: usize, shape: [usize; 5]| {
        Tensor::<1, Int>::arange(0..len as i64, &device)
            .float()
            .cast(dtype)
            .reshape(shape)
    };
    let (i, j, k) = (
        ramp(ow, [1, 1, 1, 1, ow]),
        ramp(oh, [1, 1, 1, oh, 1]),
        ramp(od, [1, 1, od, 1, 1]),
    );
    let base: Vec<Tensor<5>> = (0..3)
        .map(|r| {
            let m = map.m[r];
            (i.clone().mul_scalar(m[0]) + j.clone().mul_scalar(m[1]))
                + k.clone().mul_scalar(m[2]).add_scalar(m[3])
        })
        .collect();
    let mut index: Tensor<5> = Tensor::cat(
        base.into_iter()
            .map(|b| b.expand([1, 1, od, oh, ow]))
            .collect(),
        1,
    );
    if let Some(u) = displacement {
        let m = u.dims()[0];
        let per_mm: Vec<f64> = map.per_mm.iter().flatten().copied().collect();
        let l = Tensor::<3>::from_data(TensorData::new(per_mm, [1, 3, 3]), (&device, DType::F64))
            .cast(dtype)
            .expand([m, 3, 3]);
        let moved = l
            .matmul(u.cast(dtype).reshape([m, 3, od * oh * ow]))
            .reshape([m, 3, od, oh, ow]);
        index = index + moved;
    }
    // Normalized coordinates with align_corners = true: -1 and 1 at the corner voxel centres.
    let scale: Vec<f64> = in_sizes
        .iter()
        .map(|&s| if s > 1 { 2.0 / (s as f64 - 1.0) } else { 0.0 })
        .collect();
    let s = Tensor::<1>::from_data(TensorData::new(scale, [3]), (&device, DType::F64))
        .cast(dtype)
        .reshape([1, 3, 1, 1, 1]);
    let grid = (index * s).sub_scalar(1.0).permute([0, 2, 3, 4, 1]);
    let grid = if grid.dims()[0] == n {
        grid
    } else {
        grid.expand([n, od, oh, ow, 3])
    };
    let options = SampleOptions::itk(interpolation).with_align_corners(true);
    Ok(grid_sample_3d(voxels, grid, options)?)
}
