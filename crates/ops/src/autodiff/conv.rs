//! [`ConvBackend`] for `Autodiff<B, C>`, convolution and transposed convolution: the forward keeps its input and weight, and the
//! backward computes each tracked parent's gradient with `B`'s kernels (the bias gradient is
//! the output gradient summed over batch and voxels).

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::tensor::FloatTensor;
use burn::backend::TensorMetadata;
use burn::tensor::Shape;

use super::{inner, refuse_tracked, untracked};
use crate::backend::ConvBackend;
use crate::conv::Conv3dOptions;
use crate::conv_transpose::ConvTranspose3dOptions;

/// The options of a convolution or a transposed one, with the backward kernels each takes.
trait ConvKind: Copy + std::fmt::Debug + Send + Sync + 'static {
    fn forward<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        b: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B>;
    fn backward_input<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B>;
    fn backward_weight<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B>;
}

impl ConvKind for Conv3dOptions {
    fn forward<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        b: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv3d_forward(x, w, b, o)
    }
    fn backward_input<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv3d_backward_input(x, w, grad, o)
    }
    fn backward_weight<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv3d_backward_weight(x, w, grad, o)
    }
}

impl ConvKind for ConvTranspose3dOptions {
    fn forward<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        b: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv_transpose3d_forward(x, w, b, o)
    }
    fn backward_input<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv_transpose3d_backward_input(x, w, grad, o)
    }
    fn backward_weight<B: ConvBackend>(
        x: FloatTensor<B>,
        w: FloatTensor<B>,
        grad: FloatTensor<B>,
        o: Self,
    ) -> FloatTensor<B> {
        B::conv_transpose3d_backward_weight(x, w, grad, o)
    }
}

#[derive(Debug)]
struct ConvBackward<O>(std::marker::PhantomData<O>);

/// `[N, C, D, H, W]` summed to `[C]`.
fn bias_grad<B: ConvBackend>(grad: FloatTensor<B>) -> FloatTensor<B> {
    let [n, c, d, h, w]: [usize; 5] = grad.shape().dims();
    let g = B::float_reshape(grad, Shape::from(vec![n, c, d * h * w]));
    let g = B::float_sum_dim(B::float_sum_dim(g, 2), 0);
    B::float_reshape(g, Shape::from(vec![c]))
}

impl<B: ConvBackend, O: ConvKind> Backward<B, 3> for ConvBackward<O> {
    type State = (FloatTensor<B>, FloatTensor<B>, O);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_w, node_b] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, w, o) = ops.state;
        if let Some(node) = node_b {
            grads.register::<B>(node.id, bias_grad::<B>(grad.clone()));
        }
        if let Some(node) = node_w {
            let g = O::backward_weight::<B>(x.clone(), w.clone(), grad.clone(), o);
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_x {
            grads.register::<B>(node.id, O::backward_input::<B>(x, w, grad, o));
        }
    }
}

/// A backward method called directly, on untracked tensors: `kernel` runs on `B` (tracked
/// tensors are refused, see `refuse_tracked`).
fn backward_on_inner<B: ConvBackend, C: CheckpointStrategy>(
    op: &str,
    [input, weight, grad]: [FloatTensor<Autodiff<B, C>>; 3],
    kernel: impl FnOnce(FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>> {
    refuse_tracked::<B, C>(op, &[&input, &weight, &grad]);
    untracked::<B, C>(kernel(
        inner::<B, C>(input),
        inner::<B, C>(weight),
        inner::<B, C>(grad),
    ))
}

/// The forward of either kind, recording its backward where a parent is tracked.
fn forward<B: ConvBackend, C: CheckpointStrategy, O: ConvKind>(
    input: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    options: O,
) -> FloatTensor<Autodiff<B, C>> {
    match ConvBackward::<O>(std::marker::PhantomData)
        .prepare::<C>([input.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (x, w) = (input.primitive().clone(), weight.primitive().clone());
            let y = O::forward::<B>(x.clone(), w.clone(), bias.into_primitive(), options);
            prep.finish((x, w, options), y)
        }
        OpsKind::UnTracked(prep) => prep.finish(O::forward::<B>(
            input.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
            options,
        )),
    }
}

impl<B: ConvBackend, C: CheckpointStrategy> ConvBackend for Autodiff<B, C> {
    fn conv3d_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self> {
        forward::<B, C, _>(input, weight, bias, options)
    }

    fn conv3d_backward_input(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self> {
        backward_on_inner::<B, C>(
            "conv3d_backward_input",
            [input, weight, grad_output],
            |x, w, g| B::conv3d_backward_input(x, w, g, options),
        )
    }

    fn conv3d_backward_weight(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Conv3dOptions,
    ) -> FloatTensor<Self> {
        backward_on_inner::<B, C>(
            "conv3d_backward_weight",
            [input, weight, grad_output],
            |x, w, g| B::conv3d_backward_weight(x, w, g, options),
        )
    }

    fn conv_transpose3d_forward(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self> {
        forward::<B, C, _>(input, weight, bias, options)
    }

    fn conv_transpose3d_backward_input(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self> {
        backward_on_inner::<B, C>(
            "conv_transpose3d_backward_input",
            [input, weight, grad_output],
            |x, w, g| B::conv_transpose3d_backward_input(x, w, g, options),
        )
    }

    fn conv_transpose3d_backward_weight(
        input: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: ConvTranspose3dOptions,
    ) -> FloatTensor<Self> {
        backward_on_inner::<B, C>(
            "conv_transpose3d_backward_weight",
            [input, weight, grad_output],
            |x, w, g| B::conv_transpose3d_backward_weight(x, w, g, options),
        )
    }
}
