//! [`SamplingBackend`] for `Autodiff<B, C>`: the forward runs on `B` and registers a backward
//! step that calls `B`'s backward kernels. Second-order gradients are not implemented: the
//! backward methods refuse tracked tensors rather than return a silently detached result.

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::{tensor::FloatTensor, AutodiffBackend, TensorMetadata};

mod activation;
mod conv;
mod norm;
mod pool;

use crate::backend::SamplingBackend;
use crate::options::SampleOptions;

/// Which position source a sampling node used.
#[derive(Clone, Copy, Debug)]
enum Source {
    Grid,
    Affine([usize; 3]),
}

/// Backward step of a sampling op with parents `[input, positions]`.
#[derive(Debug)]
struct SampleBackward(Source);

impl<B: SamplingBackend> Backward<B, 2> for SampleBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, SampleOptions);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_input, node_positions] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (input, positions, o) = ops.state;
        let input_shape: [usize; 5] = input.shape().dims();
        if let (Source::Grid, Some(ni), Some(np)) = (self.0, &node_input, &node_positions) {
            let (gi, gg) = B::grid_sample_3d_backward(input, positions, grad, o);
            grads.register::<B>(np.id, gg);
            grads.register::<B>(ni.id, gi);
            return;
        }
        if let Some(node) = node_positions {
            let g = match self.0 {
                Source::Grid => {
                    B::grid_sample_3d_backward_grid(input, positions.clone(), grad.clone(), o)
                }
                Source::Affine(_) => {
                    B::affine_sample_3d_backward_matrix(input, positions.clone(), grad.clone(), o)
                }
            };
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_input {
            let g = match self.0 {
                Source::Grid => B::grid_sample_3d_backward_input(positions, grad, input_shape, o),
                Source::Affine(_) => {
                    B::affine_sample_3d_backward_input(positions, grad, input_shape, o)
                }
            };
            grads.register::<B>(node.id, g);
        }
    }
}

/// The prefilter is linear: its backward solves the transposed system along the same axis.
#[derive(Debug)]
struct PrefilterBackward {
    axis: usize,
    transpose: bool,
}

impl<B: SamplingBackend> Backward<B, 1> for PrefilterBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = parent {
            let g = B::bspline_prefilter_axis(grad, self.axis, !self.transpose);
            grads.register::<B>(node.id, g);
        }
    }
}

/// The band operator is linear in its input: its backward is the adjoint along the same axis.
#[derive(Debug)]
struct BandBackward {
    axis: usize,
    transpose: bool,
}

impl<B: SamplingBackend> Backward<B, 1> for BandBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        if let Some(node) = parent {
            let g = B::band_filter_axis(grad, ops.state, self.axis, !self.transpose);
            grads.register::<B>(node.id, g);
        }
    }
}

fn forward<B: SamplingBackend>(
    source: Source,
    input: FloatTensor<B>,
    positions: FloatTensor<B>,
    o: SampleOptions,
) -> FloatTensor<B> {
    match source {
        Source::Grid => B::grid_sample_3d(input, positions, o),
        Source::Affine(size) => B::affine_sample_3d(input, positions, size, o),
    }
}

fn tracked<B: SamplingBackend, C: CheckpointStrategy>(
    source: Source,
    input: FloatTensor<Autodiff<B, C>>,
    positions: FloatTensor<Autodiff<B, C>>,
    o: SampleOptions,
) -> FloatTensor<Autodiff<B, C>> {
    match SampleBackward(source)
        .prepare::<C>([input.node(), positions.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let x = input.primitive().clone();
            let p = positions.primitive().clone();
            let y = forward::<B>(source, x.clone(), p.clone(), o);
            prep.finish((x, p, o), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward::<B>(
            source,
            input.into_primitive(),
            positions.into_primitive(),
            o,
        )),
    }
}

type Inner<B, C> = <Autodiff<B, C> as AutodiffBackend>::InnerBackend;

fn untracked<B: burn::backend::Backend, C: CheckpointStrategy>(
    y: FloatTensor<Inner<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    <Autodiff<B, C> as AutodiffBackend>::from_inner(y)
}

/// The backward methods are not themselves differentiable: called on tracked tensors (a double
/// backward, or a gradient penalty through the sampling ops) they stop with a message instead of
/// returning a gradient that silently carries no graph. A backend method cannot return an
/// error, so this panics.
fn refuse_tracked<B: burn::backend::Backend, C: CheckpointStrategy>(
    op: &str,
    tensors: &[&FloatTensor<Autodiff<B, C>>],
) {
    if tensors.iter().any(|t| t.is_tracked()) {
        panic!(
            "{op}: second-order gradients through medburn's backend ops are not implemented; the \
             backward was called on tracked tensors (detach them to get a first-order gradient)"
        );
    }
}

fn inner<B: burn::backend::Backend, C: CheckpointStrategy>(
    t: FloatTensor<Autodiff<B, C>>,
) -> FloatTensor<B> {
    <Autodiff<B, C> as AutodiffBackend>::inner(t)
}

impl<B: SamplingBackend, C: CheckpointStrategy> SamplingBackend for Autodiff<B, C> {
    fn bspline_prefilter_axis(
        input: FloatTensor<Self>,
        axis: usize,
        transpose: bool,
    ) -> FloatTensor<Self> {
        let prep = PrefilterBackward { axis, transpose }
            .prepare::<C>([input.node()])
            .compute_bound();
        let output = B::bspline_prefilter_axis(input.into_primitive(), axis, transpose);
        prep.stateless(output)
    }

    fn band_filter_axis(
        input: FloatTensor<Self>,
        band: FloatTensor<Self>,
        axis: usize,
        transpose: bool,
    ) -> FloatTensor<Self> {
        // The band is a constant: a tracked one would silently get no gradient.
        if band.is_tracked() {
            panic!("band_filter_axis: the band takes no gradient; detach it");
        }
        let band = inner::<B, C>(band);
        match (BandBackward { axis, transpose })
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let y = B::band_filter_axis(input.into_primitive(), band.clone(), axis, transpose);
                prep.finish(band, y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::band_filter_axis(
                input.into_primitive(),
                band,
                axis,
                transpose,
            )),
        }
    }

    fn grid_sample_3d(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        tracked::<B, C>(Source::Grid, input, grid, o)
    }

    fn grid_sample_3d_backward_input(
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("grid_sample_3d_backward_input", &[&grid, &grad_output]);
        untracked::<B, C>(B::grid_sample_3d_backward_input(
            inner::<B, C>(grid),
            inner::<B, C>(grad_output),
            input_shape,
            o,
        ))
    }

    fn grid_sample_3d_backward_grid(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>(
            "grid_sample_3d_backward_grid",
            &[&input, &grid, &grad_output],
        );
        untracked::<B, C>(B::grid_sample_3d_backward_grid(
            inner::<B, C>(input),
            inner::<B, C>(grid),
            inner::<B, C>(grad_output),
            o,
        ))
    }

    fn grid_sample_3d_backward(
        input: FloatTensor<Self>,
        grid: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        o: SampleOptions,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        refuse_tracked::<B, C>("grid_sample_3d_backward", &[&input, &grid, &grad_output]);
        let (gi, gg) = B::grid_sample_3d_backward(
            inner::<B, C>(input),
            inner::<B, C>(grid),
            inner::<B, C>(grad_output),
            o,
        );
        (untracked::<B, C>(gi), untracked::<B, C>(gg))
    }

    fn affine_sample_3d(
        input: FloatTensor<Self>,
        matrix: FloatTensor<Self>,
        output_size: [usize; 3],
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        tracked::<B, C>(Source::Affine(output_size), input, matrix, o)
    }

    fn affine_sample_3d_backward_input(
        matrix: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        input_shape: [usize; 5],
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("affine_sample_3d_backward_input", &[&matrix, &grad_output]);
        untracked::<B, C>(B::affine_sample_3d_backward_input(
            inner::<B, C>(matrix),
            inner::<B, C>(grad_output),
            input_shape,
            o,
        ))
    }

    fn affine_sample_3d_backward_matrix(
        input: FloatTensor<Self>,
        matrix: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        o: SampleOptions,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>(
            "affine_sample_3d_backward_matrix",
            &[&input, &matrix, &grad_output],
        );
        untracked::<B, C>(B::affine_sample_3d_backward_matrix(
            inner::<B, C>(input),
            inner::<B, C>(matrix),
            inner::<B, C>(grad_output),
            o,
        ))
    }
}
