//! The learning rate at each step: linear warm-up, then cosine, polynomial or no decay.

use crate::config::{Decay, OptimConfig};

/// The learning rate of `step` (0-based): `lr * (step + 1) / warmup` during warm-up, then the
/// decay from `lr` at the end of warm-up to `min_lr` (cosine) or 0 (poly) at the last step.
///
/// ```
/// use medburn_train::{learning_rate, OptimConfig};
/// let c = OptimConfig { lr: 1.0, min_lr: 0.0, warmup_steps: 10, steps: 110, ..Default::default() };
/// assert_eq!(learning_rate(&c, 4), 0.5);
/// assert!((learning_rate(&c, 60) - 0.5).abs() < 0.02);   // half-way through the cosine
/// assert!(learning_rate(&c, 109) < 1e-3);
/// ```
pub fn learning_rate(config: &OptimConfig, step: u64) -> f64 {
    let warmup = config.warmup_steps.min(config.steps.saturating_sub(1));
    if step < warmup {
        return config.lr * (step + 1) as f64 / warmup as f64;
    }
    let span = config.steps.saturating_sub(warmup).max(1) as f64;
    let t = ((step - warmup) as f64 / span).clamp(0.0, 1.0);
    match config.decay {
        Decay::Cosine => {
            config.min_lr
                + 0.5 * (config.lr - config.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
        }
        Decay::Poly => config.lr * (1.0 - t).powf(config.poly_power),
        Decay::Constant => config.lr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_rises_then_each_decay_falls() {
        for decay in [Decay::Cosine, Decay::Poly] {
            let c = OptimConfig {
                lr: 0.01,
                min_lr: 0.0,
                warmup_steps: 5,
                steps: 50,
                decay,
                ..Default::default()
            };
            let lrs: Vec<f64> = (0..50).map(|s| learning_rate(&c, s)).collect();
            assert!(lrs[..5].windows(2).all(|w| w[1] > w[0]), "{decay:?}");
            assert_eq!(lrs[4], 0.01);
            assert!(lrs[5..].windows(2).all(|w| w[1] <= w[0]), "{decay:?}");
            assert!(lrs[49] < 0.001, "{decay:?} {}", lrs[49]);
        }
        let c = OptimConfig {
            decay: Decay::Constant,
            warmup_steps: 0,
            ..Default::default()
        };
        assert_eq!(learning_rate(&c, 0), c.lr);
        assert_eq!(learning_rate(&c, 10_000), c.lr);
    }
}
