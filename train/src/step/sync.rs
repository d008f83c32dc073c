//! The gradient-sync hook: called once per optimizer step, between the backward passes and
//! the optimizer, with the step's gradients. Data-parallel training across processes plugs in
//! here (all-reduce, divide by the world size); a single process does nothing.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use crate::error::Result;

/// The float parameters of a model in module order (the order every process visits them in),
/// with each one's rank, so that a hook can take each gradient out of [`GradientsParams`]
/// (`grads.remove::<D>(id)`), flatten it into one buffer and put it back.
///
/// ```
/// use burn::nn::LinearConfig;
/// let model = LinearConfig::new(3, 2).init(&burn::tensor::Device::flex());
/// let params = medburn_train::ParamList::of(&model);
/// assert_eq!(params.ids.len(), 2);
/// assert_eq!(params.ids[0].1, 2); // the weight matrix; then the bias, rank 1
/// ```
#[derive(Clone, Debug, Default)]
pub struct ParamList {
    /// (parameter, rank) in module order.
    pub ids: Vec<(ParamId, usize)>,
}

impl ParamList {
    /// The float parameters of `model`.
    pub fn of<M: Module>(model: &M) -> ParamList {
        struct Collect(Vec<(ParamId, usize)>);
        impl ModuleVisitor for Collect {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
                self.0.push((param.id, D));
            }
        }
        let mut c = Collect(Vec::new());
        model.visit(&mut c);
        ParamList { ids: c.0 }
    }
}

/// Synchronizes gradients across the processes of a data-parallel run.
pub trait GradientSync {
    /// Called with step `step`'s gradients (the mean over its micro-batches) before the
    /// optimizer step; `params` lists the model's parameters in module order. An error stops
    /// the run.
    fn sync(&mut self, step: u64, grads: &mut GradientsParams, params: &ParamList) -> Result<()>;
}

/// One process: the gradients are already the whole batch's.
///
/// ```
/// use medburn_train::{GradientSync, ParamList, SingleProcess};
/// let mut grads = burn::optim::GradientsParams::new();
/// SingleProcess.sync(0, &mut grads, &ParamList::default())?;
/// assert!(grads.is_empty());
/// # Ok::<(), medburn_train::TrainError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl GradientSync for SingleProcess {
    fn sync(&mut self, _: u64, _: &mut GradientsParams, _: &ParamList) -> Result<()> {
        Ok(())
    }
}
