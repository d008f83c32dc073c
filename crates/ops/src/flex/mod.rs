//! [`SamplingBackend`] for Burn's Flex CPU backend: multithreaded Rust kernels (rayon) in f32
//! or f64, whichever the input is; other float types run in f32.

mod activation;
mod band;
mod buffer;
mod conv;
mod isa;
mod norm;
mod pool;
mod prefilter;
mod sample;
pub(crate) mod taps;

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::ops::FloatTensorOps;
use burn::backend::{Flex, TensorMetadata};
use burn::tensor::{Bytes, DType, Element, FloatDType, Shape};

use crate::backend::{ActivationBackend, ConvBackend, NormBackend, PoolBackend, SamplingBackend};
use crate::bspline::Tridiagonal;
use crate::contract::{self, enforce, Spec};
use crate::conv::Conv3dOptions;
use crate::conv_transpose::ConvTranspose3dOptions;
use crate::options::SampleOptions;
use crate::pool::Pool3dOptions;
use sample::{AffinePositions, Dims, GridPositions};
use taps::Real;

/// A contiguous copy (or the tensor itself) in the compute type `T`.
fn contiguous<T: Real + Element>(t: FlexTensor) -> FlexTensor {
    let t = if t.dtype() == T::dtype() {
        t
    } else {
        let target = if T::dtype() == DType::F64 {
            FloatDType::F64
        } else {
            FloatDType::F32
        };
        Flex::float_cast(t, target)
    };
    t.to_contiguous()
}

fn dims<const D: usize>(t: &FlexTensor) -> [usize; D] {
    t.shape().dims()
}

/// Wraps a result, cast back to `dtype` when the compute type differs.
fn output<T: Real + Element>(v: Vec<T>, shape: &[usize], dtype: DType) -> FlexTensor {
    let t = FlexTensor::new(
        Bytes::from_elems(v),
        Layout::contiguous(Shape::from(shape.to_vec())),
        T::dtype(),
    );
    if dtype == T::dtype() {
        t
    } else {
        Flex::float_cast(t, dtype.into())
    }
}

/// Runs `$body` with `$t` bound to f64 for f64 inputs and to f32 otherwise.
macro_rules! by_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        if $dtype == DType::F64 {
            type $t = f64;
            $body
        } else {
            type $t = f32;
            $body
        }
    };
}

impl SamplingBackend for Flex {
    fn bspline_prefilter_axis(input: FlexTensor, axis: usize, transpose: bool) -> FlexTensor {
        enforce(contract::prefilter(
            "bspline_prefilter_axis",
            &Spec::of(&input),
            axis,
        ));
        let dtype = input.dtype();
        let shape = dims::<5>(&input);
        let (len, inner) = (shape[axis], shape[axis + 1..].iter().product());
        let system = Tridiagonal::prefilter(len, transpose);
        by_dtype!(dtype, T => {
            let mut v = contiguous::<T>(input).storage::<T>().to_vec();
            prefilter::solve_lines(&mut v, len, inner, &system);
            output(v, &shape, dtype)
        })
    }

    fn band_filter_axis(
        input: FlexTensor,
        band: FlexTensor,
        axis: usize,
        transpose: bool,
    ) -> FlexTensor {
        enforce(contract::band_filter(
            "band_filter_axis",
            &Spec::of(&input),
            &Spec::of(&band),
            axis,
        ));
        let dtype = input.dtype();
        let shape = dims::<5>(&input);
        let [k, len] = dims::<2>(&band);
        let inner = shape[axis + 1..].iter().product();
        by_dtype!(dtype, T => {
            let (x, b) = (contiguous::<T>(input), contiguous::<T>(band));
            let v = band::filter_lines(x.storage::<T>(), b.storage::<T>(), k, len, inner, transpose);
            output(v, &shape, dtype)
        })
    }

    fn grid_sample_3d(input: FlexTensor, grid: FlexTensor, o: SampleOptions) -> FlexTensor {
        enforce(contract::grid_sample(
            "grid_sample_3d",
            &Spec::of(&input),
            &Spec::of(&grid),
        ));
        let dtype = input.dtype();
        let [n, c, ..] = dims::<5>(&input);
        let [_, od, oh, ow, _] = dims::<5>(&grid);
        let d = Dims {
            input: dims(&input),
            output: [od, oh, ow],
        };
        by_dtype!(dtype, T => {
            let (x, g) = (contiguous::<T>(input), contiguous::<T>(grid));
            let positions = GridPositions::new(g.storage::<T>(), d, o.align_corners);
            let v = sample::forward(x.storage::<T>(), &positions, d, o);
            output(v, &[n, c, od, oh, ow], dtype)
        })
    }

    fn grid_sample_3d_backward_input(
        grid: FlexTensor,
        grad_output: FlexTensor,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> FlexTensor {
        enforce(contract::grid_backward_input(
            "grid_sample_3d_backward_input",
            &Spec::of(&grid),
            &Spec::of(&grad_output),
            &input_shape,
        ));
        let dtype = grad_output.dtype();
        let [_, _, od, oh, ow] = dims::<5>(&grad_output);
        let d = Dims {
            input: input_shape,
            output: [od, oh, ow],
        };
        by_dtype!(dtype, T => {
            let (g, dy) = (contiguous::<T>(grid), contiguous::<T>(grad_output));
            let positions = GridPositions::new(g.storage::<T>(), d, o.align_corners);
            let v = sample::backward_input(dy.storage::<T>(), &positions, d, o);
            output(v, &input_shape, dtype)
        })
    }

    fn grid_sample_3d_backward_grid(
        input: FlexTensor,
        grid: FlexTensor,
        grad_output: FlexTensor,
        o: SampleOptions,
    ) -> FlexTensor {
        enforce(contract::grid_backward(
            "grid_sample_3d_backward_grid",
            &Spec::of(&input),
            &Spec::of(&grid),
            &Spec::of(&grad_output),
        ));
        let dtype = grid.dtype();
        let grid_shape = dims::<5>(&grid);
        let d = Dims {
            input: dims(&input),
            output: [grid_shape[1], grid_shape[2], grid_shape[3]],
        };
        by_dtype!(dtype, T => {
            let x = contiguous::<T>(input);
            let g = contiguous::<T>(grid);
            let dy = contiguous::<T>(grad_output);
            let v = sample::backward_grid(x.storage::<T>(), g.storage::<T>(), dy.storage::<T>(), d, o);
            output(v, &grid_shape, dtype)
        })
    }

    fn grid_sample_3d_backward(
        input: FlexTensor,
        grid: FlexTensor,
        grad_output: FlexTensor,
        o: SampleOptions,
    ) -> (FlexTensor, FlexTensor) {
        enforce(contract::grid_backward(
            "grid_sample_3d_backward",
            &Spec::of(&input),
            &Spec::of(&grid),
            &Spec::of(&grad_output),
        ));
        let dtype = grid.dtype();
        let input_shape = dims::<5>(&input);
        let grid_shape = dims::<5>(&grid);
        let d = Dims {
            input: input_shape,
            output: [grid_shape[1], grid_shape[2], grid_shape[3]],
        };
        by_dtype!(dtype, T => {
            let x = contiguous::<T>(input);
            let g = contiguous::<T>(grid);
            let dy = contiguous::<T>(grad_output);
            let (gi, gg) = sample::backward_grid_and_input(
                x.storage::<T>(), g.storage::<T>(), dy.storage::<T>(), d, o);
            (output(gi, &input_shape, dtype), output(gg, &grid_shape, dtype))
        })
    }

    fn affine_sample_3d(
        input: FlexTensor,
        matrix: FlexTensor,
        output_size: [usize; 3],
        o: SampleOptions,
    ) -> FlexTensor {
        enforce(contract::affine_sample(
            "affine_sample_3d",
            &Spec::of(&input),
            &Spec::of(&matrix),
            &output_size,
        ));
        let dtype = input.dtype();
        let [n, c, ..] = dims::<5>(&input);
        let d = Dims {
            input: dims(&input),
            output: output_size,
        };
        let [od, oh, ow] = output_size;
        by_dtype!(dtype, T => {
            let (x, m) = (contiguous::<T>(input), contiguous::<T>(matrix));
            let positions = AffinePositions::new(m.storage::<T>());
            let v = sample::forward(x.storage::<T>(), &positions, d, o);
            output(v, &[n, c, od, oh, ow], dtype)
        })
    }

    fn affine_sample_3d_backward_input(
        matrix: FlexTensor,
        grad_output: FlexTensor,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> FlexTensor {
        enforce(contract::affine_backward_input(
            "affine_sample_3d_backward_input",
            &Spec::of(&matrix),
            &Spec::of(&grad_output),
            &input_shape,
        ));
        let dtype = grad_output.dtype();
        let [_, _, od, oh, ow] = dims::<5>(&grad_output);
        let d = Dims {
            input: input_shape,
            output: [od, oh, ow],
        };
        by_dtype!(dtype, T => {
            let (m, dy) = (contiguous::<T>(matrix), contiguous::<T>(grad_output));
            let positions = AffinePositions::new(m.storage::<T>());
            let v = sample::backward_input(dy.storage::<T>(), &positions, d, o);
            output(v, &input_shape, dtype)
        })
    }

    fn affine_sample_3d_backward_matrix(
        input: FlexTensor,
        matrix: FlexTensor,
        grad_output: FlexTensor,
        o: SampleOptions,
    ) -> FlexTensor {
        enforce(contract::affine_backward_matrix(
            "affine_sample_3d_backward_matrix",
            &Spec::of(&input),
            &Spec::of(&matrix),
            &Spec::of(&grad_output),
        ));
        let dtype = matrix.dtype();
        let [n, ..] = dims::<3>(&matrix);
        let [_, _, od, oh, ow] = dims::<5>(&grad_output);
        let d = Dims {
            input: dims(&input),
            output: [od, oh, ow],
        };
        by_dtype!(dtype, T => {
            let x = contiguous::<T>(input);
            let m = contiguous::<T>(matrix);
            let dy = contiguous::<T>(grad_output);
            let v = sample::backward_matrix(x.storage::<T>(), m.storage::<T>(), dy.storage::<T>(), d, o);
            output(v, &[n, 3, 4], dtype)
        })
    }
}

impl PoolBackend for Flex {
    fn max_pool3d(input: FlexTensor, options: Pool3dOptions) -> FlexTensor {
        enforce(contract::max_pool(
            "max_pool3d",
            &Spec::of(&input),
            &options,
        ));
        let dtype = input.dtype();
        let shape = dims::<5>(&input);
        let out = options
            .output_shape(&shape)
            .expect("checked by the contract");
        by_dtype!(dtype, T => {
            let x = contiguous::<T>(input);
            let v = pool::forward(x.storage::<T>(), shape, out, &options);
            output(v, &out, dtype)
        })
    }

    fn max_pool3d_backward(
        input: FlexTensor,
        pooled: FlexTensor,
        grad_output: FlexTensor,
        options: Pool3dOptions,
    ) -> FlexTensor {
        enforce(contract::max_pool_backward(
            "max_pool3d_backward",
            &Spec::of(&input),
            &Spec::of(&pooled),
            &Spec::of(&grad_output),
            &options,
        ));
        let dtype = input.dtype();
        let shape = dims::<5>(&input);
        let out = options
            .output_shape(&shape)
            .expect("checked by the contract");
        by_dtype!(dtype, T => {
            let (x, y) = (contiguous::<T>(input), contiguous::<T>(pooled));
            let g = contiguous::<T>(grad_output);
            let (x, y, g) = (x.storage::<T>(), y.storage::<T>(), g.storage::<T>());
            let v = pool::backward(x, y, g, shape, out, &options);
            output(v, &shape, dtype)
        })
    }
}

impl ConvBackend for Flex {
    fn conv3d_forward(
        input: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: Conv3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv("conv3d", [&input, &weight, &bias], &options);
        let dtype = input.dtype();
        by_dtype!(dtype, T => {
            let (x, w, b) = (contiguous::<T>(input), contiguous::<T>(weight), contiguous::<T>(bias));
            let v = conv::forward(x.storage::<T>(), w.storage::<T>(), b.storage::<T>(), &s);
            output(v, &s.output_dims(), dtype)
        })
    }

    fn conv3d_backward_input(
        input: FlexTensor,
        weight: FlexTensor,
        grad_output: FlexTensor,
        options: Conv3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv_backward(
            "conv3d_backward_input",
            [&input, &weight, &grad_output],
            &options,
        );
        drop(input);
        let dtype = grad_output.dtype();
        by_dtype!(dtype, T => {
            let (w, dy) = (contiguous::<T>(weight), contiguous::<T>(grad_output));
            let v = conv::backward_input(w.storage::<T>(), dy.storage::<T>(), &s, None);
            output(v, &s.input_dims(), dtype)
        })
    }

    fn conv3d_backward_weight(
        input: FlexTensor,
        weight: FlexTensor,
        grad_output: FlexTensor,
        options: Conv3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv_backward(
            "conv3d_backward_weight",
            [&input, &weight, &grad_output],
            &options,
        );
        drop(weight);
        let dtype = grad_output.dtype();
        by_dtype!(dtype, T => {
            let (x, dy) = (contiguous::<T>(input), contiguous::<T>(grad_output));
            let v = conv::backward_weight(x.storage::<T>(), dy.storage::<T>(), &s);
            output(v, &s.weight_dims(), dtype)
        })
    }

    // A transposed convolution runs the convolution kernels on the convolution it is the
    // adjoint of, `s`: its forward is their input gradient, and so on.

    fn conv_transpose3d_forward(
        input: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvTranspose3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv("conv_transpose3d", [&input, &weight, &bias], &options);
        let dtype = input.dtype();
        by_dtype!(dtype, T => {
            let (x, w, b) = (contiguous::<T>(input), contiguous::<T>(weight), contiguous::<T>(bias));
            let v = conv::backward_input(w.storage::<T>(), x.storage::<T>(), &s, Some(b.storage::<T>()));
            output(v, &s.input_dims(), dtype)
        })
    }

    fn conv_transpose3d_backward_input(
        input: FlexTensor,
        weight: FlexTensor,
        grad_output: FlexTensor,
        options: ConvTranspose3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv_backward(
            "conv_transpose3d_backward_input",
            [&input, &weight, &grad_output],
            &options,
        );
        drop(input);
        let dtype = grad_output.dtype();
        by_dtype!(dtype, T => {
            let (w, dy) = (contiguous::<T>(weight), contiguous::<T>(grad_output));
            let zeros = vec![T::ZERO; s.out_channels];
            let v = conv::forward(dy.storage::<T>(), w.storage::<T>(), &zeros, &s);
            output(v, &s.output_dims(), dtype)
        })
    }

    fn conv_transpose3d_backward_weight(
        input: FlexTensor,
        weight: FlexTensor,
        grad_output: FlexTensor,
        options: ConvTranspose3dOptions,
    ) -> FlexTensor {
        let s = contract::enforce_conv_backward(
            "conv_transpose3d_backward_weight",
            [&input, &weight, &grad_output],
            &options,
        );
        drop(weight);
        let dtype = grad_output.dtype();
        by_dtype!(dtype, T => {
            let (x, dy) = (contiguous::<T>(input), contiguous::<T>(grad_output));
            // The adjoint convolution's input is this op's output gradient, and its output
            // gradient this op's input.
            let v = conv::backward_weight(dy.storage::<T>(), x.storage::<T>(), &s);
            output(v, &s.weight_dims(), dtype)
        })
    }
}

impl NormBackend for Flex {
    fn instance_norm_3d(input: FlexTensor, epsilon: f64) -> FlexTensor {
        let si = Spec::of(&input);
        enforce(contract::instance_norm("instance_norm_3d", &si, epsilon));
        let volume = si.shape[2..].iter().product();
        by_dtype!(si.dtype, T => {
            let x = contiguous::<T>(input);
            output(norm::forward(x.storage::<T>(), volume, epsilon), &si.shape, si.dtype)
        })
    }

    fn instance_norm_3d_backward(
        input: FlexTensor,
        grad_output: FlexTensor,
        epsilon: f64,
    ) -> FlexTensor {
        let si = Spec::of(&input);
        let op = "instance_norm_3d_backward";
        enforce(contract::instance_norm_backward(
            op,
            &si,
            &Spec::of(&grad_output),
            epsilon,
        ));
        let volume = si.shape[2..].iter().product();
        by_dtype!(si.dtype, T => {
            let (x, dy) = (contiguous::<T>(input), contiguous::<T>(grad_output));
            let v = norm::backward(x.storage::<T>(), dy.storage::<T>(), volume, epsilon);
            output(v, &si.shape, si.dtype)
        })
    }
}

impl ActivationBackend for Flex {
    fn prelu_forward(input: FlexTensor, alpha: FlexTensor) -> FlexTensor {
        let si = Spec::of(&input);
        enforce(contract::prelu("prelu", &si, &Spec::of(&alpha)));
        let (c, volume) = (si.shape[1], si.shape[2..].iter().product());
        by_dtype!(si.dtype, T => {
            let (x, a) = (contiguous::<T>(input), contiguous::<T>(alpha));
            let v = activation::forward(x.storage::<T>(), a.storage::<T>(), c, volume);
            output(v, &si.shape, si.dtype)
        })
    }

    fn prelu_backward_input(
        input: FlexTensor,
        alpha: FlexTensor,
        grad_output: FlexTensor,
    ) -> FlexTensor {
        let (si, sa) = (Spec::of(&input), Spec::of(&alpha));
        let op = "prelu_backward_input";
        enforce(contract::prelu_backward(
            op,
            &si,
            &sa,
            &Spec::of(&grad_output),
        ));
        let (c, volume) = (si.shape[1], si.shape[2..].iter().product());
        by_dtype!(si.dtype, T => {
            let (x, a) = (contiguous::<T>(input), contiguous::<T>(alpha));
            let dy = contiguous::<T>(grad_output);
            let v = activation::backward_input(
                x.storage::<T>(), a.storage::<T>(), dy.storage::<T>(), c, volume);
            output(v, &si.shape, si.dtype)
        })
    }

    fn prelu_backward_alpha(
        input: FlexTensor,
        alpha: FlexTensor,
        grad_output: FlexTensor,
    ) -> FlexTensor {
        let (si, sa) = (Spec::of(&input), Spec::of(&alpha));
        let op = "prelu_backward_alpha";
        enforce(contract::prelu_backward(
            op,
            &si,
            &sa,
            &Spec::of(&grad_output),
        ));
        let (c, volume) = (si.shape[1], si.shape[2..].iter().product());
        let slopes = sa.shape[0];
        by_dtype!(si.dtype, T => {
            let (x, dy) = (contiguous::<T>(input), contiguous::<T>(grad_output));
            let v = activation::backward_alpha(x.storage::<T>(), dy.storage::<T>(), slopes, c, volume);
            output(v, &sa.shape, si.dtype)
        })
    }
}
