//! [`ActivationBackend`] for `Autodiff<B, C>`: the forward keeps its input and slope; the
//! backward computes each tracked parent's gradient with `B`'s kernels.

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::tensor::FloatTensor;

use super::{inner, refuse_tracked, untracked};
use crate::backend::ActivationBackend;

#[derive(Debug)]
struct PreluBackward;

impl<B: ActivationBackend> Backward<B, 2> for PreluBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_a] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, a) = ops.state;
        if let Some(node) = node_a {
            let g = B::prelu_backward_alpha(x.clone(), a.clone(), grad.clone());
            grads.register::<B>(node.id, g);
        }
        if let Some(node) = node_x {
            grads.register::<B>(node.id, B::prelu_backward_input(x, a, grad));
        }
    }
}

impl<B: ActivationBackend, C: CheckpointStrategy> ActivationBackend for Autodiff<B, C> {
    fn prelu_forward(input: FloatTensor<Self>, alpha: FloatTensor<Self>) -> FloatTensor<Self> {
        match PreluBackward
            .prepare::<C>([input.node(), alpha.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let (x, a) = (input.primitive().clone(), alpha.primitive().clone());
                let y = B::prelu_forward(x.clone(), a.clone());
                prep.finish((x, a), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::prelu_forward(
                input.into_primitive(),
                alpha.into_primitive(),
            )),
        }
    }

    fn prelu_backward_input(
        input: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("prelu_backward_input", &[&input, &alpha, &grad_output]);
        untracked::<B, C>(B::prelu_backward_input(
            inner::<B, C>(input),
            inner::<B, C>(alpha),
            inner::<B, C>(grad_output),
        ))
    }

    fn prelu_backward_alpha(
        input: FloatTensor<Self>,
        alpha: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("prelu_backward_alpha", &[&input, &alpha, &grad_output]);
        untracked::<B, C>(B::prelu_backward_alpha(
            inner::<B, C>(input),
            inner::<B, C>(alpha),
            inner::<B, C>(grad_output),
        ))
    }
}
