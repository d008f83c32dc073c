//! Gradient clipping by the global L2 norm over every parameter, as PyTorch's
//! `clip_grad_norm_` (burn-train clips each tensor on its own, which changes the direction of
//! the update).

use burn::optim::GradientsParams;
use burn::tensor::Tensor;

use super::sync::ParamList;

/// The global L2 norm of the gradients of `params`.
///
/// ```
/// use burn::tensor::{Device, Tensor, TensorData};
/// use burn::optim::GradientsParams;
/// use burn::nn::LinearConfig;
/// let device = Device::flex();
/// let model = LinearConfig::new(1, 1).init(&device);
/// let params = medburn_train::ParamList::of(&model);
/// let mut grads = GradientsParams::new();
/// grads.register::<2>(params.ids[0].0, Tensor::from_data(TensorData::new(vec![3.0f32], [1, 1]), &device));
/// grads.register::<1>(params.ids[1].0, Tensor::from_data(TensorData::new(vec![4.0f32], [1]), &device));
/// assert_eq!(medburn_train::global_grad_norm(&grads, &params), Some(5.0));
/// ```
pub fn global_grad_norm(grads: &GradientsParams, params: &ParamList) -> Option<f64> {
    let mut total: Option<Tensor<1>> = None;
    for &(id, rank) in &params.ids {
        let sq = match rank {
            1 => grads.get::<1>(id).map(|g| g.powi_scalar(2).sum()),
            2 => grads.get::<2>(id).map(|g| g.powi_scalar(2).sum()),
            3 => grads.get::<3>(id).map(|g| g.powi_scalar(2).sum()),
            4 => grads.get::<4>(id).map(|g| g.powi_scalar(2).sum()),
            5 => grads.get::<5>(id).map(|g| g.powi_scalar(2).sum()),
            _ => None,
        };
        if let Some(sq) = sq {
            total = Some(match total {
                Some(t) => t + sq,
                None => sq,
            });
        }
    }
    total.map(|t| (t.into_scalar::<f32>() as f64).sqrt())
}

/// Scales every gradient of `params` by `factor`.
fn scale_grads(grads: &mut GradientsParams, params: &ParamList, factor: f64) {
    fn scale<const D: usize>(g: &mut GradientsParams, id: burn::module::ParamId, f: f64) {
        if let Some(t) = g.remove::<D>(id) {
            g.register::<D>(id, t * f);
        }
    }
    for &(id, rank) in &params.ids {
        match rank {
            1 => scale::<1>(grads, id, factor),
            2 => scale::<2>(grads, id, factor),
            3 => scale::<3>(grads, id, factor),
            4 => scale::<4>(grads, id, factor),
            5 => scale::<5>(grads, id, factor),
            _ => {}
        }
    }
}

/// Clips the gradients to a global norm of at most `max_norm` (PyTorch: a factor of
/// `max_norm / (norm + 1e-6)` when that is below 1). Returns the norm before clipping.
///
/// ```
/// use burn::tensor::{Device, Tensor, TensorData};
/// use burn::optim::GradientsParams;
/// use burn::nn::LinearConfig;
/// let device = Device::flex();
/// let model = LinearConfig::new(2, 1).with_bias(false).init(&device);
/// let params = medburn_train::ParamList::of(&model);
/// let mut grads = GradientsParams::new();
/// grads.register::<2>(params.ids[0].0, Tensor::from_data(TensorData::new(vec![6.0f32, 8.0], [2, 1]), &device));
/// assert_eq!(medburn_train::clip_grad_norm(&mut grads, &params, 1.0), Some(10.0));
/// let g: Vec<f32> = grads.get::<2>(params.ids[0].0).unwrap().into_data().try_to_vec().unwrap();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(
    grads: &mut GradientsParams,
    params: &ParamList,
    max_norm: f64,
) -> Option<f64> {
    let norm = global_grad_norm(grads, params)?;
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        scale_grads(grads, params, factor);
    }
    Some(norm)
}
