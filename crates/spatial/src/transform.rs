//! Physical-space transforms as tensors, differentiable in their parameters.
//!
//! A transform here is a `[N, 3, 4]` tensor `[A | t]` that maps a point of the *output* image
//! to the point of the *input* image it reads (`p_in = A p_out + t`, in LPS millimetres): the
//! convention of ITK and SimpleITK's `ResampleImageFilter`. The builders below take the motion
//! of the *content* (rotate by +angle, move by +offset, scale by +factor) and return its
//! inverse, the map resampling needs; their parameters are tensors, so a loss can be
//! differentiated with respect to them.

use burn::tensor::{Device, Tensor, TensorData};

/// `[N, 3, 4]` identity transforms.
///
/// ```
/// use burn::tensor::Device;
/// let t = medburn_spatial::transform::identity(2, &Device::flex());
/// assert_eq!(t.dims(), [2, 3, 4]);
/// ```
pub fn identity(n: usize, device: &Device) -> Tensor<3> {
    let eye: Vec<f32> = vec![1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.];
    Tensor::<1>::from_floats(eye.as_slice(), device)
        .reshape([1, 3, 4])
        .expand([n, 3, 4])
}

/// A constant `[1, r, c]` tensor from f64 values, in `dtype` on `device`.
pub(crate) fn constant(v: Vec<f64>, r: usize, c: usize, like: &Tensor<1>) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(v, [1, r, c]),
        (&like.device(), like.dtype()),
    )
}

/// Transform parameters from f64 values, in the image's dtype on its device: an f64 image gets
/// f64 transforms, with no f32 rounding on the way.
pub(crate) fn parameters<const D: usize>(
    v: impl Into<Vec<f64>>,
    shape: [usize; D],
    image: &medburn_core::MedImage,
) -> Tensor<D> {
    let v: Vec<f64> = v.into();
    Tensor::from_data(
        TensorData::new(v, shape),
        (&image.device(), image.voxels().dtype()),
    )
}

fn unit(axis: [f64; 3]) -> Option<[f64; 3]> {
    let n = (axis[0] * axis[0] + axis[1] * axis[1] + axis[2] * axis[2]).sqrt();
    (n.is_finite() && n > 0.0).then(|| axis.map(|v| v / n))
}

/// The transform that resamples content rotated by `angles` (radians, one per sample, `[N]`)
/// about the world (LPS) `axis` through `centre` (mm): the content turns by +angle by the
/// right-hand rule. `axis` need not be normalized. Differentiable with respect to `angles`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_spatial::transform::rotation;
/// let device = Device::flex();
/// let angle = Tensor::<1>::from_floats([std::f32::consts::FRAC_PI_2], &device);
/// let t = rotation([0.0, 0.0, 1.0], angle, [0.0; 3]).unwrap();
/// // Content turned +90 degrees about z: the output point (0, 1, 0) reads the input at (1, 0, 0).
/// let v = t.into_data().try_to_vec::<f32>().unwrap();
/// let p = [v[1], v[5], v[9]]; // the second column: the image of (0, 1, 0)
/// assert!((p[0] - 1.0).abs() < 1e-6 && p[1].abs() < 1e-6 && p[2].abs() < 1e-6);
/// ```
pub fn rotation(axis: [f64; 3], angles: Tensor<1>, centre: [f64; 3]) -> Option<Tensor<3>> {
    let [x, y, z] = unit(axis)?;
    let [n] = angles.dims();
    // K: the cross-product matrix of the axis; K^2 = u u^T - I.
    let k = vec![0.0, -z, y, 0.0, z, 0.0, -x, 0.0, -y, x, 0.0, 0.0];
    let k2_rows = [
        [x * x - 1.0, x * y, x * z],
        [y * x, y * y - 1.0, y * z],
        [z * x, z * y, z * z - 1.0],
    ];
    let k2: Vec<f64> = k2_rows
        .iter()
        .flat_map(|r| [r[0], r[1], r[2], 0.0])
        .collect();
    let eye = vec![1., 0., 0., 0., 0., 1., 0., 0., 0., 0., 1., 0.];
    let (k, k2, eye) = (
        constant(k, 3, 4, &angles),
        constant(k2, 3, 4, &angles),
        constant(eye, 3, 4, &angles),
    );
    let s = angles.clone().sin().reshape([n, 1, 1]);
    let c = angles.cos().reshape([n, 1, 1]);
    // The inverse rotation R^T = I - sin K + (1 - cos) K^2 (K is antisymmetric).
    let a = eye - k * s + k2 * (c.neg() + 1.0);
    Some(about_centre(a, centre))
}

/// Completes `[A | 0]` into `p -> centre + A (p - centre)`: `t = centre - A centre`.
fn about_centre(a: Tensor<3>, centre: [f64; 3]) -> Tensor<3> {
    let [n, ..] = a.dims();
    let like: Tensor<1> = a.clone().reshape([n * 12]);
    let c = constant(vec![centre[0], centre[1], centre[2], 1.0], 4, 1, &like).expand([n, 4, 1]);
    let moved = a.clone().matmul(c); // [N, 3, 1] = A centre (+ t = 0)
    let centre3 = constant(centre.to_vec(), 3, 1, &like);
    let t = centre3 - moved;
    Tensor::cat(vec![a.slice([0..n, 0..3, 0..3]), t], 2)
}

/// The transform that resamples content moved by `offsets` (`[N, 3]`, mm, LPS):
/// `p_in = p_out - offset`. Differentiable with respect to `offsets`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let off = Tensor::<2>::from_floats([[1.0, 2.0, 3.0]], &Device::flex());
/// let t = medburn_spatial::transform::translation(off);
/// let v = t.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!([v[3], v[7], v[11]], [-1.0, -2.0, -3.0]);
/// ```
pub fn translation(offsets: Tensor<2>) -> Tensor<3> {
    let [n, _] = offsets.dims();
    let eye = identity(n, &offsets.device()).cast(offsets.dtype());
    let shift = offsets.neg().reshape([n, 3, 1]);
    Tensor::cat(vec![eye.slice([0..n, 0..3, 0..3]), shift], 2)
}

/// The transform that resamples content scaled by `factors` (`[N, 3]`, per world axis x, y,
/// z) about `centre` (mm): `p_in = centre + (p_out - centre) / factor`. Differentiable with
/// respect to `factors`.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// let f = Tensor::<2>::from_floats([[2.0, 2.0, 2.0]], &Device::flex());
/// let t = medburn_spatial::transform::scaling(f, [1.0, 0.0, 0.0]);
/// let v = t.into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!([v[0], v[3]], [0.5, 0.5]); // x_in = 1 + (x_out - 1) / 2
/// ```
pub fn scaling(factors: Tensor<2>, centre: [f64; 3]) -> Tensor<3> {
    let [n, _] = factors.dims();
    let inv = factors.recip();
    let like: Tensor<1> = inv.clone().reshape([n * 3]);
    // diag(1 / f) as [N, 3, 3]: the factors times the identity, column by column.
    let eye = constant(vec![1., 0., 0., 0., 1., 0., 0., 0., 1.], 3, 3, &like);
    let a = eye * inv.reshape([n, 1, 3]);
    let zeros = Tensor::<3>::zeros([n, 3, 1], (&like.device(), like.dtype()));
    about_centre(Tensor::cat(vec![a, zeros], 2), centre)
}

/// A transform from a 4x4 matrix (row-major, last row `0 0 0 1`) with ITK's meaning: it maps
/// output points to input points.
///
/// ```
/// use burn::tensor::Device;
/// let m = [[1.0, 0.0, 0.0, 5.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]];
/// let t = medburn_spatial::transform::from_matrix(m, &Device::flex());
/// assert_eq!(t.dims(), [1, 3, 4]);
/// ```
pub fn from_matrix(m: [[f64; 4]; 4], device: &Device) -> Tensor<3> {
    let v: Vec<f64> = m[..3].iter().flatten().copied().collect();
    Tensor::from_data(TensorData::new(v, [1, 3, 4]), device)
}

/// The composition `p -> outer(inner(p))` of two transforms `[N, 3, 4]` (output point ->
/// input point): `inner` is applied to the output point first. Differentiable with respect to
/// both.
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_spatial::transform::{compose, translation};
/// let d = Device::flex();
/// let a = translation(Tensor::<2>::from_floats([[1.0, 0.0, 0.0]], &d));
/// let b = translation(Tensor::<2>::from_floats([[0.0, 2.0, 0.0]], &d));
/// let v = compose(a, b).into_data().try_to_vec::<f32>().unwrap();
/// assert_eq!([v[3], v[7], v[11]], [-1.0, -2.0, 0.0]);
/// ```
pub fn compose(outer: Tensor<3>, inner: Tensor<3>) -> Tensor<3> {
    let [n, ..] = outer.dims();
    let [m, ..] = inner.dims();
    let n = n.max(m);
    let (outer, inner) = (outer.expand([n, 3, 4]), inner.expand([n, 3, 4]));
    let like: Tensor<1> = outer.clone().reshape([n * 12]);
    let last = constant(vec![0.0, 0.0, 0.0, 1.0], 1, 4, &like).expand([n, 1, 4]);
    let inner4 = Tensor::cat(vec![inner, last], 1);
    outer.matmul(inner4)
}
