//! CubeCL kernels of the sampling core (wgpu and CUDA). The same rules as the CPU taps in
//! `flex/taps.rs`: PyTorch's padding with its gradient multipliers, tap weights and their
//! derivatives, a tensor product over the three axes.
//!
//! Threads: forward, input gradient and grid gradient run one thread per output point and loop
//! over channels (positions and weights computed once); the matrix gradient runs one thread per
//! output row and writes 12 partial sums per row, reduced afterwards. The input gradient
//! scatters with float atomics (native where the device has them, else atomic exchanges).
//!
//! Tensors are read and written in their storage type `F`; positions, weights and sums are
//! computed in `C`, which is f32 for f16 and bf16 (as PyTorch does: bf16 steps by 2 between 256
//! and 512, so positions in bf16 land voxels away) and the storage type otherwise.

use cubecl::prelude::*;
use cubecl::std::FastDivmod;

use crate::options::{Padding, Rounding, SamplingKernel};

/// Where the sampling positions come from (compile-time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A normalized grid `[N, Do, Ho, Wo, 3]`.
    Grid,
    /// A voxel affine `[N, 3, 4]`.
    Affine,
}

/// Taps per axis.
pub(crate) fn taps_of(interpolation: SamplingKernel) -> usize {
    match interpolation {
        SamplingKernel::Nearest => 1,
        SamplingKernel::Linear => 2,
        SamplingKernel::BSpline => 4,
    }
}

/// Clamps to `[0, size - 1]`, with PyTorch's gradient multiplier.
#[cube]
fn clip<F: Float>(x: F, size: i32) -> (F, F) {
    let max = F::cast_from(size - 1);
    let low = x <= F::new(0.0);
    let high = x >= max;
    let v = select(low, F::new(0.0), select(high, max, x));
    let g = select(low || high, F::new(0.0), F::new(1.0));
    (v, g)
}

/// Reflects into `[twice_low / 2, twice_high / 2]`, with the gradient multiplier.
#[cube]
fn reflect<F: Float>(x: F, twice_low: i32, twice_high: i32) -> (F, F) {
    let min = F::cast_from(twice_low) / F::new(2.0);
    let span = F::cast_from(twice_high - twice_low) / F::new(2.0);
    let degenerate = twice_low == twice_high;
    let safe_span = select(degenerate, F::new(1.0), span);
    let v = x - min;
    let mult = select(v < F::new(0.0), F::new(-1.0), F::new(1.0));
    let v = F::abs(v);
    let flips = F::floor(v / safe_span);
    let extra = v - flips * safe_span;
    let odd = flips - F::new(2.0) * F::floor(flips / F::new(2.0)) != F::new(0.0);
    let r = select(odd, safe_span - extra + min, extra + min);
    let m = select(odd, -mult, mult);
    (
        select(degenerate, F::new(0.0), r),
        select(degenerate, F::new(0.0), m),
    )
}

#[cube]
fn pad_position<F: Float>(
    x: F,
    size: i32,
    #[comptime] padding: Padding,
    #[comptime] align: bool,
) -> (F, F) {
    match padding {
        Padding::Zeros => (x, F::new(1.0)),
        Padding::Border | Padding::Itk => clip::<F>(x, size),
        Padding::Reflection => {
            let (r, g) = if align {
                reflect::<F>(x, 0, 2 * (size - 1))
            } else {
                reflect::<F>(x, -1, 2 * size - 1)
            };
            let (c, g2) = clip::<F>(r, size);
            (c, g * g2)
        }
    }
}

/// Round half to even, whatever the target's `round` does.
#[cube]
fn round_even<F: Float>(x: F) -> F {
    let f = F::floor(x);
    let d = x - f;
    let f_even = f - F::new(2.0) * F::floor(f / F::new(2.0)) == F::new(0.0);
    let up = d > F::new(0.5) || (d == F::new(0.5) && !f_even);
    select(up, f + F::new(1.0), f)
}

/// ITK's mirror boundary for B-spline coefficients.
#[cube]
fn mirror(i: i32, size: i32) -> i32 {
    let period = select(size > 1, 2 * (size - 1), 1);
    let m = ((i % period) + period) % period;
    let m = select(m >= size, period - m, m);
    select(size > 1, m, 0)
}

/// Taps along one axis: element offsets, weights and weight derivatives.
#[cube]
#[allow(clippy::too_many_arguments)]
fn axis_taps<F: Float>(
    raw: F,
    size: i32,
    stride: usize,
    offsets: &mut Array<usize>,
    weights: &mut Array<F>,
    derivatives: &mut Array<F>,
    masks: &mut Array<F>,
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
) {
    let (x, g) = pad_position::<F>(raw, size, padding, align);
    // ITK's buffer test (Itk padding; B-spline also with zeros): beyond the outer faces, zero.
    let inside = raw >= F::new(-0.5) && raw < F::cast_from(size) - F::new(0.5);
    let itk = comptime!(padding == Padding::Itk);
    match interpolation {
        SamplingKernel::Nearest => {
            // PyTorch rounds half to even (nearbyint); ITK rounds half up.
            let r = if comptime!(rounding == Rounding::HalfUp) {
                F::floor(x + F::new(0.5))
            } else {
                round_even::<F>(x)
            };
            let i = i32::cast_from(r);
            let mut valid = i >= 0 && i < size;
            if itk {
                valid = valid && inside;
            }
            offsets[0] = usize::cast_from(select(valid, i, 0)) * stride;
            weights[0] = select(valid, F::new(1.0), F::new(0.0));
            masks[0] = weights[0];
            derivatives[0] = F::new(0.0);
        }
        SamplingKernel::Linear => {
            let x0 = F::floor(x);
            let t = x - x0;
            let i0 = i32::cast_from(x0);
            let i1 = i0 + 1;
            let mut v0 = i0 >= 0 && i0 < size;
            let mut v1 = i1 >= 0 && i1 < size;
            if itk {
                v0 = v0 && inside;
                v1 = v1 && inside;
            }
            offsets[0] = usize::cast_from(select(v0, i0, 0)) * stride;
            offsets[1] = usize::cast_from(select(v1, i1, 0)) * stride;
            weights[0] = select(v0, F::new(1.0) - t, F::new(0.0));
            weights[1] = select(v1, t, F::new(0.0));
            derivatives[0] = select(v0, -g, F::new(0.0));
            derivatives[1] = select(v1, g, F::new(0.0));
            masks[0] = select(v0, F::new(1.0), F::new(0.0));
            masks[1] = select(v1, F::new(1.0), F::new(0.0));
        }
        SamplingKernel::BSpline => {
            let keep = if comptime!(padding == Padding::Zeros || padding == Padding::Itk) {
                select(inside, F::new(1.0), F::new(0.0))
            } else {
                F::new(1.0)
            };
            // ITK evaluates the spline where the point is (mirrored coefficients), unclamped.
            let (x, g) = if comptime!(padding == Padding::Itk) {
                (raw, F::new(1.0))
            } else {
                (x, g)
            };
            let x = select(keep > F::new(0.0), x, F::new(0.0));
            let x0 = F::floor(x);
            let t = x - x0;
            let s = F::new(1.0) - t;
            let t2 = t * t;
            let t3 = t2 * t;
            let i0 = i32::cast_from(x0);
            let sixth = F::new(1.0) / F::new(6.0);
            weights[0] = keep * s * s * s * sixth;
            weights[1] = keep * (F::new(3.0) * t3 - F::new(6.0) * t2 + F::new(4.0)) * sixth;
            weights[2] = keep
                * (F::new(-3.0) * t3 + F::new(3.0) * t2 + F::new(3.0) * t + F::new(1.0))
                * sixth;
            weights[3] = keep * t3 * sixth;
            let kg = keep * g;
            derivatives[0] = kg * (-(s * s) / F::new(2.0));
            derivatives[1] = kg * (F::new(1.5) * t2 - F::new(2.0) * t);
            derivatives[2] =
                kg * ((F::new(-3.0) * t2 + F::new(2.0) * t + F::new(1.0)) / F::new(2.0));
            derivatives[3] = kg * (t2 / F::new(2.0));
            offsets[0] = usize::cast_from(mirror(i0 - 1, size)) * stride;
            offsets[1] = usize::cast_from(mirror(i0, size)) * stride;
            offsets[2] = usize::cast_from(mirror(i0 + 1, size)) * stride;
            offsets[3] = usize::cast_from(mirror(i0 + 2, size)) * stride;
            #[unroll]
            for k in 0..4 {
                masks[k] = keep;
            }
        }
    }
}

/// Raw voxel position `(x, y, z)` of output point `(n, z, y, x)`.
#[cube]
#[allow(clippy::too_many_arguments)]
fn raw_position<F: Float, C: Float>(
    positions: &Tensor<F>,
    n: usize,
    z: usize,
    y: usize,
    x: usize,
    sizes: (i32, i32, i32),
    #[comptime] source: Source,
    #[comptime] align: bool,
) -> (C, C, C) {
    let (w, h, d) = sizes;
    match source {
        Source::Grid => {
            let off = n * positions.stride(0)
                + z * positions.stride(1)
                + y * positions.stride(2)
                + x * positions.stride(3);
            let s = positions.stride(4);
            (
                unnormalize::<C>(C::cast_from(positions[off]), w, align),
                unnormalize::<C>(C::cast_from(positions[off + s]), h, align),
                unnormalize::<C>(C::cast_from(positions[off + 2 * s]), d, align),
            )
        }
        Source::Affine => {
            let base = n * positions.stride(0);
            let (r, c) = (positions.stride(1), positions.stride(2));
            let i = C::cast_from(x);
            let j = C::cast_from(y);
            let k = C::cast_from(z);
            let px = C::cast_from(positions[base]) * i
                + C::cast_from(positions[base + c]) * j
                + C::cast_from(positions[base + 2 * c]) * k
                + C::cast_from(positions[base + 3 * c]);
            let py = C::cast_from(positions[base + r]) * i
                + C::cast_from(positions[base + r + c]) * j
                + C::cast_from(positions[base + r + 2 * c]) * k
                + C::cast_from(positions[base + r + 3 * c]);
            let pz = C::cast_from(positions[base + 2 * r]) * i
                + C::cast_from(positions[base + 2 * r + c]) * j
                + C::cast_from(positions[base + 2 * r + 2 * c]) * k
                + C::cast_from(positions[base + 2 * r + 3 * c]);
            (px, py, pz)
        }
    }
}

/// `d(raw position)/d(grid coordinate)` on an axis of `size` voxels.
#[cube]
fn unnormalize_scale<F: Float>(size: i32, #[comptime] align: bool) -> F {
    if align {
        F::cast_from(size - 1) / F::new(2.0)
    } else {
        F::cast_from(size) / F::new(2.0)
    }
}

#[cube]
fn unnormalize<F: Float>(g: F, size: i32, #[comptime] align: bool) -> F {
    g * unnormalize_scale::<F>(size, align) + F::cast_from(size - 1) / F::new(2.0)
}

/// The taps of one point on the three axes, for a volume with element strides `strides`
/// `(W, H, D)`. A tap outside the volume has weight 0, offset 0 and mask 0: its voxel is read
/// (a harmless address) but never used, so a NaN or infinite voxel 0 does not reach points
/// outside the volume (`0 * NaN` would).
#[derive(CubeType)]
struct PointTaps<F: Float> {
    ox: Array<usize>,
    wx: Array<F>,
    dx: Array<F>,
    mx: Array<F>,
    oy: Array<usize>,
    wy: Array<F>,
    dy: Array<F>,
    my: Array<F>,
    oz: Array<usize>,
    wz: Array<F>,
    dz: Array<F>,
    mz: Array<F>,
}

/// The voxel `v` of tap `(a, b, e)`, or 0 where any of its axes is outside the volume.
#[cube]
fn masked<F: Float>(t: &PointTaps<F>, a: usize, b: usize, e: usize, v: F) -> F {
    select(t.mz[a] * t.my[b] * t.mx[e] > F::new(0.0), v, F::new(0.0))
}

#[cube]
#[allow(clippy::too_many_arguments)]
fn point_taps<F: Float>(
    p: (F, F, F),
    sizes: (i32, i32, i32),
    strides: (usize, usize, usize),
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
) -> PointTaps<F> {
    let k = comptime!(taps_of(interpolation));
    let mut t = PointTaps::<F> {
        ox: Array::new(k),
        wx: Array::new(k),
        dx: Array::new(k),
        mx: Array::new(k),
        oy: Array::new(k),
        wy: Array::new(k),
        dy: Array::new(k),
        my: Array::new(k),
        oz: Array::new(k),
        wz: Array::new(k),
        dz: Array::new(k),
        mz: Array::new(k),
    };
    let (px, py, pz) = p;
    let (w, h, d) = sizes;
    let (sw, sh, sd) = strides;
    axis_taps::<F>(
        px,
        w,
        sw,
        &mut t.ox,
        &mut t.wx,
        &mut t.dx,
        &mut t.mx,
        interpolation,
        padding,
        rounding,
        align,
    );
    axis_taps::<F>(
        py,
        h,
        sh,
        &mut t.oy,
        &mut t.wy,
        &mut t.dy,
        &mut t.my,
        interpolation,
        padding,
        rounding,
        align,
    );
    axis_taps::<F>(
        pz,
        d,
        sd,
        &mut t.oz,
        &mut t.wz,
        &mut t.dz,
        &mut t.mz,
        interpolation,
        padding,
        rounding,
        align,
    );
    t
}

/// Splits a point index over `[N, Do, Ho, Wo]` into `(n, z, y, x)`.
#[cube]
fn point_of(p: usize, shape: &Sequence<FastDivmod<usize>>) -> (usize, usize, usize, usize) {
    let (rem, x) = shape[3].div_mod(p);
    let (rem, y) = shape[2].div_mod(rem);
    let (n, z) = shape[1].div_mod(rem);
    (n, z, y, x)
}

#[cube]
fn input_sizes<F: Float>(input: &Tensor<F>) -> (i32, i32, i32) {
    (
        input.shape(4) as i32,
        input.shape(3) as i32,
        input.shape(2) as i32,
    )
}

/// Forward: one thread per output point, all channels.
#[cube(launch, address_type = "dynamic")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_kernel<F: Float, C: Float>(
    input: &Tensor<F>,
    positions: &Tensor<F>,
    output: &mut Tensor<F>,
    shape: Sequence<FastDivmod<usize>>,
    #[comptime] source: Source,
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
    #[define(F, C)] _dtypes: [ElemType; 2],
) {
    let points = output.shape(0) * output.shape(2) * output.shape(3) * output.shape(4);
    if ABSOLUTE_POS >= points {
        terminate!();
    }
    let (n, z, y, x) = point_of(ABSOLUTE_POS, &shape);
    let sizes = input_sizes::<F>(input);
    let p = raw_position::<F, C>(positions, n, z, y, x, sizes, source, align);
    let strides = (input.stride(4), input.stride(3), input.stride(2));
    let t = point_taps::<C>(p, sizes, strides, interpolation, padding, rounding, align);
    let k = comptime!(taps_of(interpolation));
    let out_base =
        n * output.stride(0) + z * output.stride(2) + y * output.stride(3) + x * output.stride(4);
    let out_channel = output.stride(1);
    for c in 0..input.shape(1) {
        let base = n * input.stride(0) + c * input.stride(1);
        let mut acc = C::new(0.0);
        #[unroll]
        for a in 0..k {
            #[unroll]
            for b in 0..k {
                let wab = t.wz[a] * t.wy[b];
                let off = base + t.oz[a] + t.oy[b];
                #[unroll]
                for e in 0..k {
                    acc += wab * t.wx[e] * masked(&t, a, b, e, C::cast_from(input[off + t.ox[e]]));
                }
            }
        }
        output[out_base + c * out_channel] = F::cast_from(acc);
    }
}

/// Float atomic addition into a slot of type `Storage`: natively where the device has float
/// atomics, else by atomic exchanges on the bits of an f32.
#[cube]
pub(crate) trait AtomicAccumulate: Send + Sync + 'static {
    type Storage: Numeric;
    fn add<F: Float>(slot: &mut Atomic<Self::Storage>, value: F);
}

/// Picks an [`AtomicAccumulate`] for a runtime-defined float type `S` (the kernel's `#[define]`
/// types cannot appear as launch generics, so the choice is a family over them).
pub(crate) trait AtomicFamily: Send + Sync + 'static {
    type Op<S: Float>: AtomicAccumulate;
}

/// Native float atomics on `S`.
pub(crate) struct NativeAdd<S: Float>(core::marker::PhantomData<S>);
/// Float addition by atomic exchanges on `u32` holding f32 bits.
pub(crate) struct ExchangeAdd;

/// The family of [`NativeAdd`].
pub(crate) struct Native;

impl AtomicFamily for Native {
    type Op<S: Float> = NativeAdd<S>;
}

impl AtomicFamily for ExchangeAdd {
    type Op<S: Float> = ExchangeAdd;
}

#[cube]
impl<S: Float> AtomicAccumulate for NativeAdd<S> {
    type Storage = S;
    fn add<F: Float>(slot: &mut Atomic<S>, value: F) {
        slot.fetch_add(S::cast_from(value));
    }
}

#[cube]
impl AtomicAccumulate for ExchangeAdd {
    type Storage = u32;
    /// Takes the slot's sum out (leaving 0), puts back that sum plus ours, and carries on with
    /// whatever other threads stored in between, until nothing is displaced. Exchanges always
    /// succeed, so no update is lost: CubeCL offers only a weak compare-exchange that returns the
    /// old value, and on targets where it may fail spuriously (WGSL's
    /// `atomicCompareExchangeWeak`) that old value equals the expected one, so a loop testing
    /// "old == expected" would take a failed exchange for a success.
    fn add<F: Float>(slot: &mut Atomic<u32>, value: F) {
        let mut carry = f32::cast_from(value);
        loop {
            if carry == 0.0 {
                break;
            }
            let taken = f32::from_bits(slot.exchange(0u32));
            carry = f32::from_bits(slot.exchange((taken + carry).to_bits()));
        }
    }
}

type Slot<A, S> = <<A as AtomicFamily>::Op<S> as AtomicAccumulate>::Storage;

/// Gradient with respect to the input: one thread per output point, scattering into a
/// zeroed, contiguous `grad_input` with atomics.
#[cube(launch_unchecked, address_type = "dynamic")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn sample_backward_input_kernel<F: Float, C: Float, S: Float, A: AtomicFamily>(
    positions: &Tensor<F>,
    grad_output: &Tensor<F>,
    grad_input: &mut Tensor<Atomic<Slot<A, S>>>,
    shape: Sequence<FastDivmod<usize>>,
    #[comptime] source: Source,
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
    #[define(F, C, S)] _dtypes: [ElemType; 3],
) {
    let points =
        grad_output.shape(0) * grad_output.shape(2) * grad_output.shape(3) * grad_output.shape(4);
    if ABSOLUTE_POS >= points {
        terminate!();
    }
    let (n, z, y, x) = point_of(ABSOLUTE_POS, &shape);
    let sizes = (
        grad_input.shape(4) as i32,
        grad_input.shape(3) as i32,
        grad_input.shape(2) as i32,
    );
    let p = raw_position::<F, C>(positions, n, z, y, x, sizes, source, align);
    let strides = (
        grad_input.stride(4),
        grad_input.stride(3),
        grad_input.stride(2),
    );
    let t = point_taps::<C>(p, sizes, strides, interpolation, padding, rounding, align);
    let k = comptime!(taps_of(interpolation));
    let dy_base = n * grad_output.stride(0)
        + z * grad_output.stride(2)
        + y * grad_output.stride(3)
        + x * grad_output.stride(4);
    for c in 0..grad_input.shape(1) {
        let g = C::cast_from(grad_output[dy_base + c * grad_output.stride(1)]);
        if g != C::new(0.0) {
            let base = n * grad_input.stride(0) + c * grad_input.stride(1);
            #[unroll]
            for a in 0..k {
                #[unroll]
                for b in 0..k {
                    let gab = g * t.wz[a] * t.wy[b];
                    let off = base + t.oz[a] + t.oy[b];
                    #[unroll]
                    for e in 0..k {
                        // Taps outside the volume carry weight 0 and offset 0: skipping them
                        // keeps every such tap from serialising on element (n, c, 0, 0, 0).
                        let v = gab * t.wx[e];
                        if v != C::new(0.0) {
                            A::Op::<S>::add::<C>(&mut grad_input[off + t.ox[e]], v);
                        }
                    }
                }
            }
        }
    }
}

/// `d(loss)/d(raw position)` at one point, summed over channels.
#[cube]
fn position_gradient<F: Float, C: Float>(
    input: &Tensor<F>,
    grad_output: &Tensor<F>,
    t: &PointTaps<C>,
    n: usize,
    dy_base: usize,
    #[comptime] interpolation: SamplingKernel,
) -> (C, C, C) {
    let k = comptime!(taps_of(interpolation));
    let mut gx = C::new(0.0);
    let mut gy = C::new(0.0);
    let mut gz = C::new(0.0);
    for c in 0..input.shape(1) {
        let g = C::cast_from(grad_output[dy_base + c * grad_output.stride(1)]);
        let base = n * input.stride(0) + c * input.stride(1);
        #[unroll]
        for a in 0..k {
            #[unroll]
            for b in 0..k {
                let off = base + t.oz[a] + t.oy[b];
                #[unroll]
                for e in 0..k {
                    let v = g * masked(t, a, b, e, C::cast_from(input[off + t.ox[e]]));
                    gx += t.wz[a] * t.wy[b] * t.dx[e] * v;
                    gy += t.wz[a] * t.dy[b] * t.wx[e] * v;
                    gz += t.dz[a] * t.wy[b] * t.wx[e] * v;
                }
            }
        }
    }
    (gx, gy, gz)
}

/// Gradient with respect to a normalized grid: one thread per output point.
#[cube(launch, address_type = "dynamic")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn grid_backward_kernel<F: Float, C: Float>(
    input: &Tensor<F>,
    grid: &Tensor<F>,
    grad_output: &Tensor<F>,
    grad_grid: &mut Tensor<F>,
    shape: Sequence<FastDivmod<usize>>,
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
    #[define(F, C)] _dtypes: [ElemType; 2],
) {
    let points = grid.shape(0) * grid.shape(1) * grid.shape(2) * grid.shape(3);
    if ABSOLUTE_POS >= points {
        terminate!();
    }
    let (n, z, y, x) = point_of(ABSOLUTE_POS, &shape);
    let sizes = input_sizes::<F>(input);
    let p = raw_position::<F, C>(grid, n, z, y, x, sizes, Source::Grid, align);
    let strides = (input.stride(4), input.stride(3), input.stride(2));
    let t = point_taps::<C>(p, sizes, strides, interpolation, padding, rounding, align);
    let dy_base = n * grad_output.stride(0)
        + z * grad_output.stride(2)
        + y * grad_output.stride(3)
        + x * grad_output.stride(4);
    let (gx, gy, gz) = position_gradient::<F, C>(input, grad_output, &t, n, dy_base, interpolation);
    let (w, h, d) = sizes;
    let out = n * grad_grid.stride(0)
        + z * grad_grid.stride(1)
        + y * grad_grid.stride(2)
        + x * grad_grid.stride(3);
    let s = grad_grid.stride(4);
    grad_grid[out] = F::cast_from(gx * unnormalize_scale::<C>(w, align));
    grad_grid[out + s] = F::cast_from(gy * unnormalize_scale::<C>(h, align));
    grad_grid[out + 2 * s] = F::cast_from(gz * unnormalize_scale::<C>(d, align));
}

/// Gradient with respect to a voxel affine: one thread per output row `(n, z, y)`, writing the
/// row's 12 partial sums to `partials` `[N * Do * Ho, 12]`.
#[cube(launch, address_type = "dynamic")]
#[allow(clippy::too_many_arguments)]
pub(crate) fn matrix_backward_kernel<F: Float, C: Float>(
    input: &Tensor<F>,
    matrix: &Tensor<F>,
    grad_output: &Tensor<F>,
    partials: &mut Tensor<F>,
    rows: Sequence<FastDivmod<usize>>,
    #[comptime] interpolation: SamplingKernel,
    #[comptime] padding: Padding,
    #[comptime] rounding: Rounding,
    #[comptime] align: bool,
    #[define(F, C)] _dtypes: [ElemType; 2],
) {
    let count = grad_output.shape(0) * grad_output.shape(2) * grad_output.shape(3);
    if ABSOLUTE_POS >= count {
        terminate!();
    }
    // rows = [N, Do, Ho]
    let (rem, y) = rows[2].div_mod(ABSOLUTE_POS);
    let (n, z) = rows[1].div_mod(rem);
    let sizes = input_sizes::<F>(input);
    let strides = (input.stride(4), input.stride(3), input.stride(2));
    let mut acc = Array::<C>::new(12usize);
    #[unroll]
    for i in 0..12 {
        acc[i] = C::new(0.0);
    }
    for x in 0..grad_output.shape(4) {
        let p = raw_position::<F, C>(matrix, n, z, y, x, sizes, Source::Affine, align);
        let t = point_taps::<C>(p, sizes, strides, interpolation, padding, rounding, align);
        let dy_base = n * grad_output.stride(0)
            + z * grad_output.stride(2)
            + y * grad_output.stride(3)
            + x * grad_output.stride(4);
        let (gx, gy, gz) =
            position_gradient::<F, C>(input, grad_output, &t, n, dy_base, interpolation);
        let (fi, fj, fk) = (C::cast_from(x), C::cast_from(y), C::cast_from(z));
        acc[0] += gx * fi;
        acc[1] += gx * fj;
        acc[2] += gx * fk;
        acc[3] += gx;
        acc[4] += gy * fi;
        acc[5] += gy * fj;
        acc[6] += gy * fk;
        acc[7] += gy;
        acc[8] += gz * fi;
        acc[9] += gz * fj;
        acc[10] += gz * fk;
        acc[11] += gz;
    }
    #[unroll]
    for i in 0..12 {
        partials[ABSOLUTE_POS * 12 + i] = F::cast_from(acc[i]);
    }
}
