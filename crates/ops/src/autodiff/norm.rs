//! [`NormBackend`] for `Autodiff<B, C>`: the forward keeps its input; the backward is
//! `B::instance_norm_3d_backward`.

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::tensor::FloatTensor;

use super::{inner, refuse_tracked, untracked};
use crate::backend::NormBackend;

#[derive(Debug)]
struct InstanceNormBackward;

impl<B: NormBackend> Backward<B, 1> for InstanceNormBackward {
    type State = (FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (x, epsilon) = ops.state;
        if let Some(node) = parent {
            grads.register::<B>(node.id, B::instance_norm_3d_backward(x, grad, epsilon));
        }
    }
}

impl<B: NormBackend, C: CheckpointStrategy> NormBackend for Autodiff<B, C> {
    fn instance_norm_3d(input: FloatTensor<Self>, epsilon: f64) -> FloatTensor<Self> {
        match InstanceNormBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = input.primitive().clone();
                let y = B::instance_norm_3d(x.clone(), epsilon);
                prep.finish((x, epsilon), y)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::instance_norm_3d(input.into_primitive(), epsilon))
            }
        }
    }

    fn instance_norm_3d_backward(
        input: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("instance_norm_3d_backward", &[&input, &grad_output]);
        untracked::<B, C>(B::instance_norm_3d_backward(
            inner::<B, C>(input),
            inner::<B, C>(grad_output),
            epsilon,
        ))
    }
}
