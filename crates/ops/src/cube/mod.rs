//! [`SamplingBackend`] for Burn's CubeCL backend: one set of kernels for wgpu and CUDA. Under
//! Burn's default fusion the generated `Fusion<CubeBackend>` implementation calls these.

mod activation;
mod band;
mod conv;
mod kernels;
mod norm;
mod pool;
mod prefilter;

use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::ops::FloatTensorOps;
use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::{cast, into_contiguous};
use burn_cubecl::ops::numeric::{empty_device_dtype, zeros_client};
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::CubeBackend;
use cubecl::features::AtomicUsage;
use cubecl::ir::Type;
use cubecl::prelude::*;
use cubecl::{calculate_cube_count_elemwise, CubeDim};

use crate::backend::{PoolBackend, SamplingBackend};
use crate::contract::{self, enforce, Spec};
use crate::options::SampleOptions;
use crate::pool::Pool3dOptions;
use kernels::{ExchangeAdd, Native, Source};

fn dims<const D: usize>(t: &CubeTensor) -> [usize; D] {
    t.meta.shape().dims()
}

/// One thread per unit of work over `units`, and the address width the tensors need.
fn launch_shape(
    client: &cubecl::client::Client,
    units: usize,
    tensors: &[&CubeTensor],
) -> (CubeCount, CubeDim, AddressType) {
    let cube_dim = CubeDim::new(client, units);
    let cube_count = calculate_cube_count_elemwise(client, units, cube_dim);
    let address = tensors
        .iter()
        .map(|t| t.required_address_type())
        .max()
        .unwrap_or_default();
    (cube_count, cube_dim, address)
}

/// The type positions, weights and sums are computed in: f32 for the half types, else the
/// storage type itself.
fn compute_dtype(storage: DType) -> DType {
    match storage {
        DType::F16 | DType::BF16 => DType::F32,
        other => other,
    }
}

/// The `#[define(F, C)]` types of a kernel: storage and compute.
fn storage_and_compute(storage: DType) -> [cubecl::ir::ElemType; 2] {
    [
        dtype_to_storage_type(storage),
        dtype_to_storage_type(compute_dtype(storage)),
    ]
}

/// The launch argument of a `Sequence<FastDivmod<usize>>`.
macro_rules! sequence {
    ($($d:expr),*) => {{
        let mut seq = SequenceArg::new();
        $(seq.push($d);)*
        seq
    }};
}

fn launch_sample(
    input: CubeTensor,
    positions: CubeTensor,
    output_size: [usize; 3],
    source: Source,
    o: SampleOptions,
) -> CubeTensor {
    let input = into_contiguous(input);
    let positions = into_contiguous(positions);
    let [n, c, ..] = dims::<5>(&input);
    let [od, oh, ow] = output_size;
    let output = empty_device_dtype(
        input.client.clone(),
        input.device.clone(),
        Shape::from(vec![n, c, od, oh, ow]),
        input.dtype,
    );
    let points = n * od * oh * ow;
    let client = input.client.clone();
    let (cube_count, cube_dim, address) =
        launch_shape(&client, points, &[&input, &positions, &output]);
    let dtype = input.dtype;
    kernels::sample_kernel::launch(
        &client,
        cube_count,
        cube_dim,
        address,
        input.into_tensor_arg(),
        positions.into_tensor_arg(),
        output.clone().into_tensor_arg(),
        sequence!(n, od, oh, ow),
        source,
        o.kernel(),
        o.padding,
        o.rounding,
        o.align_corners,
        storage_and_compute(dtype),
    );
    output
}

fn launch_backward_input(
    positions: CubeTensor,
    grad_output: CubeTensor,
    input_shape: [usize; 5],
    source: Source,
    o: SampleOptions,
) -> CubeTensor {
    let positions = into_contiguous(positions);
    let grad_output = into_contiguous(grad_output);
    let client = grad_output.client.clone();
    let device = grad_output.device.clone();
    let dtype = grad_output.dtype;
    // Half types accumulate in f32, natively where the device adds f32 atomically.
    let compute = compute_dtype(dtype);
    let native = client
        .properties()
        .atomic_type_usage(Type::atomic(burn::backend::cubecl::dtype_to_elem_type(
            compute,
        )))
        .contains(AtomicUsage::Add)
        // Forces the exchange path on devices with float atomics, so that it is tested
        // (tests/exchange_atomics.rs); Mesa's lavapipe has native f32 atomic add.
        && std::env::var_os("MEDBURN_OPS_EXCHANGE_ATOMICS").is_none();
    let accumulator_dtype = if native { compute } else { DType::F32 };
    let grad_input = zeros_client(
        client.clone(),
        device,
        Shape::from(input_shape.to_vec()),
        accumulator_dtype,
    );
    let [n, _, od, oh, ow] = dims::<5>(&grad_output);
    let points = n * od * oh * ow;
    let (cube_count, cube_dim, address) =
        launch_shape(&client, points, &[&positions, &grad_output, &grad_input]);
    let shape = sequence!(n, od, oh, ow);
    let dtypes = [
        dtype_to_storage_type(dtype),
        dtype_to_storage_type(compute),
        // The storage type of the exchange path is u32 whatever this says; f32 keeps the
        // kernel's defined types consistent.
        dtype_to_storage_type(accumulator_dtype),
    ];
    let launch = if native {
        kernels::sample_backward_input_kernel::launch_unchecked::<Native>
    } else {
        kernels::sample_backward_input_kernel::launch_unchecked::<ExchangeAdd>
    };
    // SAFETY: the contract checked by the caller (positions, grad_output and input_shape agree,
    // extents fit in i32) bounds every index the kernel forms: tap offsets are clamped or
    // mirrored into `input_shape`, skipped taps are never written, and threads past the last
    // point of `grad_output` return first.
    unsafe {
        launch(
            &client,
            cube_count,
            cube_dim,
            address,
            positions.into_tensor_arg(),
            grad_output.into_tensor_arg(),
            grad_input.clone().into_tensor_arg(),
            shape,
            source,
            o.kernel(),
            o.padding,
            o.rounding,
            o.align_corners,
            dtypes,
        );
    }
    if accumulator_dtype == dtype {
        grad_input
    } else {
        cast(grad_input, dtype)
    }
}

impl SamplingBackend for CubeBackend {
    fn bspline_prefilter_axis(input: CubeTensor, axis: usize, transpose: bool) -> CubeTensor {
        enforce(contract::prefilter(
            "bspline_prefilter_axis",
            &Spec::of(&input),
            axis,
        ));
        prefilter::prefilter(input, axis, transpose)
    }

    fn band_filter_axis(
        input: CubeTensor,
        band: CubeTensor,
        axis: usize,
        transpose: bool,
    ) -> CubeTensor {
        enforce(contract::band_filter(
            "band_filter_axis",
            &Spec::of(&input),
            &Spec::of(&band),
            axis,
        ));
        band::band_filter(input, band, axis, transpose)
    }

    fn grid_sample_3d(input: CubeTensor, grid: CubeTensor, o: SampleOptions) -> CubeTensor {
        enforce(contract::grid_sample(
            "grid_sample_3d",
            &Spec::of(&input),
            &Spec::of(&grid),
        ));
        let [_, od, oh, ow, _] = dims::<5>(&grid);
        launch_sample(input, grid, [od, oh, ow], Source::Grid, o)
    }

    fn grid_sample_3d_backward_input(
        grid: CubeTensor,
        grad_output: CubeTensor,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> CubeTensor {
        enforce(contract::grid_backward_input(
            "grid_sample_3d_backward_input",
            &Spec::of(&grid),
            &Spec::of(&grad_output),
            &input_shape,
        ));
        launch_backward_input(grid, grad_output, input_shape, Source::Grid, o)
    }

    fn grid_sample_3d_backward_grid(
        input: CubeTensor,
        grid: CubeTensor,
        grad_output: CubeTensor,
        o: SampleOptions,
    ) -> CubeTensor {
        enforce(contract::grid_backward(
            "grid_sample_3d_backward_grid",
            &Spec::of(&input),
            &Spec::of(&grid),
            &Spec::of(&grad_output),
        ));
        let input = into_contiguous(input);
        let grid = into_contiguous(grid);
        let grad_output = into_contiguous(grad_output);
        let client = grid.client.clone();
        let grad_grid = empty_device_dtype(
            client.clone(),
            grid.device.clone(),
            grid.meta.shape().clone(),
            grid.dtype,
        );
        let [n, od, oh, ow, _] = dims::<5>(&grid);
        let points = n * od * oh * ow;
        let (cube_count, cube_dim, address) =
            launch_shape(&client, points, &[&input, &grid, &grad_output, &grad_grid]);
        let dtype = grid.dtype;
        kernels::grid_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            address,
            input.into_tensor_arg(),
            grid.into_tensor_arg(),
            grad_output.into_tensor_arg(),
            grad_grid.clone().into_tensor_arg(),
            sequence!(n, od, oh, ow),
            o.kernel(),
            o.padding,
            o.rounding,
            o.align_corners,
            storage_and_compute(dtype),
        );
        grad_grid
    }

    fn grid_sample_3d_backward(
        input: CubeTensor,
        grid: CubeTensor,
        grad_output: CubeTensor,
        o: SampleOptions,
    ) -> (CubeTensor, CubeTensor) {
        // Two kernels: the scatter and the per-point gradient have different thread needs.
        let input_shape = dims::<5>(&input);
        let grad_grid =
            Self::grid_sample_3d_backward_grid(input, grid.clone(), grad_output.clone(), o);
        let grad_input = Self::grid_sample_3d_backward_input(grid, grad_output, input_shape, o);
        (grad_input, grad_grid)
    }

    fn affine_sample_3d(
        input: CubeTensor,
        matrix: CubeTensor,
        output_size: [usize; 3],
        o: SampleOptions,
    ) -> CubeTensor {
        enforce(contract::affine_sample(
            "affine_sample_3d",
            &Spec::of(&input),
            &Spec::of(&matrix),
            &output_size,
        ));
        launch_sample(input, matrix, output_size, Source::Affine, o)
    }

    fn affine_sample_3d_backward_input(
        matrix: CubeTensor,
        grad_output: CubeTensor,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> CubeTensor {
        enforce(contract::affine_backward_input(
            "affine_sample_3d_backward_input",
            &Spec::of(&matrix),
            &Spec::of(&grad_output),
            &input_shape,
        ));
        launch_backward_input(matrix, grad_output, input_shape, Source::Affine, o)
    }

    fn affine_sample_3d_backward_matrix(
        input: CubeTensor,
        matrix: CubeTensor,
        grad_output: CubeTensor,
        o: SampleOptions,
    ) -> CubeTensor {
        enforce(contract::affine_backward_matrix(
            "affine_sample_3d_backward_matrix",
            &Spec::of(&input),
            &Spec::of(&matrix),
            &Spec::of(&grad_output),
        ));
        let input = into_contiguous(input);
        let matrix = into_contiguous(matrix);
        let grad_output = into_contiguous(grad_output);
        let client = matrix.client.clone();
        let [n, _, od, oh, _] = dims::<5>(&grad_output);
        let rows = n * od * oh;
        let partials = empty_device_dtype(
            client.clone(),
            matrix.device.clone(),
            Shape::from(vec![n, od * oh, 12]),
            matrix.dtype,
        );
        let (cube_count, cube_dim, address) =
            launch_shape(&client, rows, &[&input, &matrix, &grad_output, &partials]);
        let dtype = matrix.dtype;
        kernels::matrix_backward_kernel::launch(
            &client,
            cube_count,
            cube_dim,
            address,
            input.into_tensor_arg(),
            matrix.into_tensor_arg(),
            grad_output.into_tensor_arg(),
            partials.clone().into_tensor_arg(),
            sequence!(n, od, oh),
            o.kernel(),
            o.padding,
            o.rounding,
            o.align_corners,
            storage_and_compute(dtype),
        );
        let summed = CubeBackend::float_sum_dim(partials, 1);
        CubeBackend::float_reshape(summed, Shape::from(vec![n, 3, 4]))
    }
}

impl PoolBackend for CubeBackend {
    fn max_pool3d(input: CubeTensor, options: Pool3dOptions) -> CubeTensor {
        enforce(contract::max_pool(
            "max_pool3d",
            &Spec::of(&input),
            &options,
        ));
        pool::forward(input, &options)
    }

    fn max_pool3d_backward(
        input: CubeTensor,
        output: CubeTensor,
        grad_output: CubeTensor,
        options: Pool3dOptions,
    ) -> CubeTensor {
        enforce(contract::max_pool_backward(
            "max_pool3d_backward",
            &Spec::of(&input),
            &Spec::of(&output),
            &Spec::of(&grad_output),
            &options,
        ));
        // Burn's 2D pools keep their own indices; the pooled values are not needed.
        drop(output);
        pool::backward(input, grad_output, &options)
    }
}
