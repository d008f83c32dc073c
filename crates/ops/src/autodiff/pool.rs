//! [`PoolBackend`] for `Autodiff<B, C>`: the forward keeps its input and output, and the
//! backward sends each output's gradient to its window's arg-max through
//! `B::max_pool3d_backward`.

use burn::backend::autodiff::{
    checkpoint::{base::Checkpointer, strategy::CheckpointStrategy},
    grads::Gradients,
    ops::{Backward, Ops, OpsKind},
    Autodiff,
};
use burn::backend::tensor::FloatTensor;

use super::{inner, refuse_tracked, untracked};
use crate::backend::PoolBackend;
use crate::pool::Pool3dOptions;

#[derive(Debug)]
struct MaxPoolBackward;

impl<B: PoolBackend> Backward<B, 1> for MaxPoolBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, Pool3dOptions);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let (input, output, options) = ops.state;
        if let Some(node) = parent {
            let g = B::max_pool3d_backward(input, output, grad, options);
            grads.register::<B>(node.id, g);
        }
    }
}

impl<B: PoolBackend, C: CheckpointStrategy> PoolBackend for Autodiff<B, C> {
    fn max_pool3d(input: FloatTensor<Self>, options: Pool3dOptions) -> FloatTensor<Self> {
        match MaxPoolBackward
            .prepare::<C>([input.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => {
                let x = input.primitive().clone();
                let y = B::max_pool3d(x.clone(), options);
                prep.finish((x, y.clone(), options), y)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::max_pool3d(input.into_primitive(), options)),
        }
    }

    fn max_pool3d_backward(
        input: FloatTensor<Self>,
        output: FloatTensor<Self>,
        grad_output: FloatTensor<Self>,
        options: Pool3dOptions,
    ) -> FloatTensor<Self> {
        refuse_tracked::<B, C>("max_pool3d_backward", &[&input, &output, &grad_output]);
        untracked::<B, C>(B::max_pool3d_backward(
            inner::<B, C>(input),
            inner::<B, C>(output),
            inner::<B, C>(grad_output),
            options,
        ))
    }
}
