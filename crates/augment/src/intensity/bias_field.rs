//! Random bias field (TorchIO `RandomBiasField`): a smooth multiplicative field, the
//! exponential of a polynomial in the patch coordinates, as MR coil inhomogeneity makes.

use burn::tensor::{Tensor, TensorData};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::batch::{column, select};
use crate::error::{check_magnitudes, check_prob, AugmentError, Result};
use crate::random::uniform;

/// Multiplies a sample by `exp(sum c_abc x^a y^b z^c)` over all monomials with
/// `a + b + c <= order`, coordinates in [-1, 1] across the patch, coefficients uniform in
/// `[-coefficients, coefficients]` (TorchIO's defaults: order 3, 0.5).
///
/// ```
/// use burn::tensor::{Device, Tensor};
/// use medburn_augment::{Pipeline, RandomBiasField, Transform};
/// let b = RandomBiasField { prob: 1.0, ..Default::default() };
/// let x = Tensor::<5>::ones([1, 1, 4, 4, 4], &Device::flex());
/// let (y, _) = Pipeline::new(vec![Transform::BiasField(b)]).run(3, x, None)?;
/// assert!(y.min().into_scalar::<f32>() > 0.0); // a positive field
/// # Ok::<(), medburn_augment::AugmentError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomBiasField {
    /// Probability that a sample gets a field.
    pub prob: f64,
    /// Largest magnitude of a coefficient.
    pub coefficients: f64,
    /// Polynomial order.
    pub order: usize,
}

impl Default for RandomBiasField {
    fn default() -> Self {
        Self {
            prob: 0.1,
            coefficients: 0.5,
            order: 3,
        }
    }
}

/// The monomial exponents `(a, b, c)` (x = i, y = j, z = k) of an order, in a fixed order.
fn monomials(order: usize) -> Vec<[usize; 3]> {
    let mut m = Vec::new();
    for a in 0..=order {
        for b in 0..=order - a {
            for c in 0..=order - a - b {
                m.push([a, b, c]);
            }
        }
    }
    m
}

impl RandomBiasField {
    /// Fails on a probability outside [0, 1], a negative coefficient range or an order above 6.
    ///
    /// ```
    /// assert!(medburn_augment::RandomBiasField { order: 9, ..Default::default() }.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        check_prob("bias_field.prob", self.prob)?;
        check_magnitudes("bias_field.coefficients", &[self.coefficients])?;
        if self.order > 6 {
            return Err(AugmentError::Config(format!(
                "bias_field.order = {} is above 6",
                self.order
            )));
        }
        Ok(())
    }

    /// One coefficient per monomial.
    pub(crate) fn draw(&self, rng: &mut dyn RngCore) -> Vec<f64> {
        let c = self.coefficients;
        monomials(self.order)
            .iter()
            .map(|_| uniform(rng, -c, c))
            .collect()
    }
}

/// Applies drawn coefficients (`None`: untouched).
pub(crate) fn apply_bias_field(
    samples: &[Option<Vec<f64>>],
    image: Tensor<5>,
) -> Result<Tensor<5>> {
    let Some(first) = samples.iter().flatten().next() else {
        return Ok(image);
    };
    let count = first.len();
    let order = (0..=6)
        .find(|&o| monomials(o).len() == count)
        .ok_or_else(|| {
            AugmentError::Params(format!(
                "{count} bias field coefficients is no polynomial order"
            ))
        })?;
    if samples
        .iter()
        .flatten()
        .any(|s| s.len() != count || s.iter().any(|v| !v.is_finite()))
    {
        return Err(AugmentError::Params(
            "bias field samples differ in length or are not finite".into(),
        ));
    }
    let [_, _, d, h, w] = image.dims();
    let (device, dtype) = (image.device(), image.dtype());
    let axis = |n: usize, shape: [usize; 5]| {
        let v: Vec<f32> = (0..n)
            .map(|x| {
                if n > 1 {
                    2.0 * x as f32 / (n - 1) as f32 - 1.0
                } else {
                    0.0
                }
            })
            .collect();
        Tensor::<5>::from_data(TensorData::new(v, shape), (&device, dtype))
    };
    let (x, y, z) = (
        axis(w, [1, 1, 1, 1, w]),
        axis(h, [1, 1, 1, h, 1]),
        axis(d, [1, 1, d, 1, 1]),
    );
    let pow = |t: &Tensor<5>, e: usize| {
        if e == 0 {
            t.ones_like()
        } else {
            t.clone().powi_scalar(e as i32)
        }
    };
    let mut log_field = Tensor::<5>::zeros([samples.len(), 1, d, h, w], (&device, dtype));
    for (m, [a, b, c]) in monomials(order).into_iter().enumerate() {
        let mono = pow(&x, a) * pow(&y, b) * pow(&z, c);
        log_field = log_field + mono * column(samples, 0.0, |s| s[m], &image);
    }
    let field = log_field.exp();
    Ok(select(samples, image.clone(), image * field))
}
